/*
 * worker-ctl.c - the worker's control socket, run/NAME.sock (0600): one
 * JSON object a line (status, stats, pause, resume, stop, shutdown, save,
 * flush, sample, console; merge, migrate and export run on a thread),
 * the console ring every attached client gets first, and the state the
 * worker records in the inventory.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/vm/worker/worker.h"

static void console_queue(struct worker *w, const char *p, size_t n);

/* --- console ----------------------------------------------------------- */

static void
ring_put(struct worker *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w->ring[(w->ring_head + i) % RING_SIZE] = p[i];
	w->ring_head += n;
}

void
console_output(struct worker *w)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(w->console_fd, buf, sizeof buf)) > 0) {
		ring_put(w, buf, (size_t)n);
		if (w->log_fd >= 0 && write(w->log_fd, buf, (size_t)n) != n)
			logf_("console log write failed: %s", strerror(errno));
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &w->clients[i];

			/* a console client that cannot keep up is dropped, not waited for */
			if (c->fd >= 0 && c->console &&
			    send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
				client_close(w, c);
		}
	}
}

static void
console_backlog(struct worker *w, struct client *c)
{
	size_t have = w->ring_head < RING_SIZE ? w->ring_head : RING_SIZE;
	size_t start = w->ring_head - have;

	for (size_t done = 0; done < have;) {
		size_t off = (start + done) % RING_SIZE;
		size_t chunk = RING_SIZE - off < have - done ? RING_SIZE - off : have - done;

		if (send(c->fd, w->ring + off, chunk, MSG_NOSIGNAL) != (ssize_t)chunk)
			return;
		done += chunk;
	}
}

/* --- control socket ---------------------------------------------------- */

void
client_close(struct worker *w, struct client *c)
{
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	c->passed_fd = -1;
	c->console = false;
	c->len = 0;
}

/* a line to a client, whole (its socket is nonblocking: a short send
   waits up to a second); false when the client went or stalled */
bool
client_line(struct client *c, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (s == NULL)
		return false;
	size_t n = strlen(s), off = 0;

	s[n++] = '\n';
	for (int waits = 0; off < n;) {
		ssize_t r = send(c->fd, s + off, n - off, MSG_NOSIGNAL);

		/* a client that reads nothing for a second is not waited for */
		if (r < 0 && (errno == EAGAIN || errno == EINTR) && waits++ < 1000) {
			usleep(1000);
			continue;
		}
		if (r <= 0)
			break;	/* the admin's shell went away: migrate on */
		off += (size_t)r;
	}
	free(s);
	return off == n;
}

static void
reply(struct client *c, cJSON *j)
{
	if (!client_line(c, j))
		logf_("reply: %s", strerror(errno));
}

static void
reply_ok(struct client *c)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddBoolToObject(j, "ok", true);
	reply(c, j);
}

void
reply_err(struct client *c, const char *msg)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddBoolToObject(j, "ok", false);
	cJSON_AddStringToObject(j, "error", msg);
	reply(c, j);
}

void
set_state(struct worker *w, const char *state, const char *why)
{
	struct hv_err err;

	bool gone = strcmp(state, "Off") == 0 || strcmp(state, "Saved") == 0;

	if (hv_vm_set_runtime(w->hv, w->vm.name, state, gone ? 0 : (int)getpid(), why, &err) != 0)
		logf_("cannot record state %s: %s", state, err.msg);
}

static cJSON *
stats_json(struct worker *w)
{
	struct vmm_stats s;
	cJSON *j = cJSON_CreateObject(), *e, *d;

	vmm_stats(w->vmm, &s);
	e = cJSON_AddObjectToObject(j, "exits");
	for (int i = 0; i < VMM_NR_EXIT_KINDS; i++)
		if (s.exits[i] != 0)
			cJSON_AddNumberToObject(e, vmm_exit_name(i), (double)s.exits[i]);
	cJSON_AddNumberToObject(j, "exits_total", (double)s.exits_total);
	d = cJSON_AddArrayToObject(j, "disks");
	for (int i = 0; i < s.ndisks; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", w->vm.disks[i]);
		cJSON_AddNumberToObject(o, "read_requests", (double)s.disks[i].reads);
		cJSON_AddNumberToObject(o, "read_bytes", (double)s.disks[i].read_bytes);
		cJSON_AddNumberToObject(o, "write_requests", (double)s.disks[i].writes);
		cJSON_AddNumberToObject(o, "write_bytes", (double)s.disks[i].write_bytes);
		cJSON_AddNumberToObject(o, "flush_requests", (double)s.disks[i].flushes);
		cJSON_AddNumberToObject(o, "discard_requests", (double)s.disks[i].discards);
		cJSON_AddNumberToObject(o, "errors", (double)s.disks[i].errors);
		cJSON_AddNumberToObject(o, "normalized_ios", (double)s.disks[i].normalized_ios);
		cJSON_AddNumberToObject(o, "throttled", (double)s.disks[i].throttled);
		cJSON_AddItemToArray(d, o);
	}
	d = cJSON_AddArrayToObject(j, "nics");
	for (int i = 0; i < s.nnics; i++) {
		const struct vmm_nic_stats *n = &s.nics[i];
		cJSON *o = cJSON_CreateObject(), *dr;

		cJSON_AddStringToObject(o, "switch", w->vm.nics[i].switch_name);
		cJSON_AddStringToObject(o, "mac", w->vm.nics[i].mac);
		cJSON_AddNumberToObject(o, "rx_packets", (double)n->rx_packets);
		cJSON_AddNumberToObject(o, "rx_bytes", (double)n->rx_bytes);
		cJSON_AddNumberToObject(o, "tx_packets", (double)n->tx_packets);
		cJSON_AddNumberToObject(o, "tx_bytes", (double)n->tx_bytes);
		cJSON_AddNumberToObject(o, "rx_too_big", (double)n->rx_too_big);
		cJSON_AddNumberToObject(o, "tx_errors", (double)n->tx_errors);
		cJSON_AddNumberToObject(o, "throttled", (double)n->throttled);
		dr = cJSON_AddObjectToObject(o, "drops");
		for (int v = 1; v < NET_VERDICTS; v++)
			cJSON_AddNumberToObject(dr, net_verdict_name((enum net_verdict)v), (double)n->drops[v]);
		cJSON_AddItemToArray(d, o);
	}
	if (w->mem != NULL)
		cJSON_AddItemToObject(j, "memory", mem_arbiter_json(w->mem, w->vmm));
	cJSON_AddNumberToObject(j, "device_resets", (double)s.needs_reset);
	cJSON_AddNumberToObject(j, "console_bytes", (double)w->ring_head);
	return j;
}

/* Save: pause, write the state file, and stop; a failure resumes */
static void
save_request(struct worker *w, struct client *c)
{
	char path[HV_PATH_MAX + 256];
	struct hv_err err;

	if (vmm_state_path(w->home, w->vm.name, path, sizeof path) != 0) {
		reply_err(c, "state file path too long");
		return;
	}
	if (vmm_pause(w->vmm) != 0) {
		reply_err(c, "cannot pause the vCPUs");
		return;
	}
	if (vmm_save_file(w->vmm, path, &err) != 0) {
		logf_("save: %s", err.msg);
		if (!w->paused)
			vmm_resume(w->vmm);
		reply_err(c, err.msg);
		return;
	}
	console_output(w);	/* all the guest said before it was saved */
	w->saved = true;
	w->quit = true;
	snprintf(w->exit_why, sizeof w->exit_why, "saved to %.100s", path);
	reply_ok(c);
}

/* a job on a thread (migrate, merge, export) refuses what would change
   the VM under it; turning it off cuts the job short instead (a
   migration not yet handed over then ends here, the destination cleans
   up; a merge finishes first), and so does a shutdown an export */
static bool
busy(struct worker *w, const char *what)
{
	static const char *const free_[] = { "status", "stats", "console", "flush", "sample" };

	if (!w->migrating && !w->merging && !w->exporting)
		return false;
	for (size_t i = 0; i < sizeof free_ / sizeof free_[0]; i++)
		if (strcmp(what, free_[i]) == 0)
			return false;
	return !(strcmp(what, "stop") == 0 || (w->exporting && strcmp(what, "shutdown") == 0));
}

/* {"cmd":"dvd","slot":N,"iso":PATH or ""}: the medium of a
   DVD drive changes under the running guest (the inventory follows,
   engine side, once this answered ok) */
static void
dvd_request(struct worker *w, struct client *c, const cJSON *req)
{
	const cJSON *slot = cJSON_GetObjectItem(req, "slot"), *iso = cJSON_GetObjectItem(req, "iso");
	struct hv_err err;
	int n;

	if (!cJSON_IsNumber(slot) || !cJSON_IsString(iso) || slot->valuedouble < 0 ||
	    slot->valuedouble >= w->vm.ndvds) {
		reply_err(c, "dvd: needs a slot of one of the VM's DVD drives and an iso");
		return;
	}
	n = (int)slot->valuedouble;
	if (vmm_dvd_set(w->vmm, n, iso->valuestring, &err) != 0) {
		reply_err(c, err.msg);
		return;
	}
	snprintf(w->vm.dvds[n], sizeof w->vm.dvds[n], "%s", iso->valuestring);
	logf_("DVD drive %d: %s", n, iso->valuestring[0] ? iso->valuestring : "ejected");
	reply_ok(c);
}

static void
handle_request(struct worker *w, struct client *c, const char *line)
{
	cJSON *req = cJSON_Parse(line), *cmd = cJSON_GetObjectItem(req, "cmd");
	const char *what = cJSON_IsString(cmd) ? cmd->valuestring : "";

	if (busy(w, what)) {
		reply_err(c, w->merging ? "a disk of the VM is being merged" :
			  w->exporting ? "the VM is being exported" :
			  "the VM is being live-migrated");
		cJSON_Delete(req);
		return;
	}
	if (strcmp(what, "status") == 0 || strcmp(what, "stats") == 0) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddBoolToObject(j, "ok", true);
		cJSON_AddStringToObject(j, "state", w->paused ? "Paused" : "Running");
		cJSON_AddNumberToObject(j, "pid", getpid());
		cJSON_AddItemToObject(j, "stats", stats_json(w));
		reply(c, j);
	} else if (strcmp(what, "pause") == 0) {
		if (w->paused) {
			reply_err(c, "the VM is already paused");
		} else if (vmm_pause(w->vmm) != 0) {
			reply_err(c, "cannot pause the vCPUs");
		} else {
			w->paused = true;
			set_state(w, "Paused", NULL);
			reply_ok(c);
		}
	} else if (strcmp(what, "resume") == 0) {
		if (!w->paused) {
			reply_err(c, "the VM is not paused");
		} else if (vmm_resume(w->vmm) != 0) {
			reply_err(c, "cannot resume the vCPUs");
		} else {
			w->paused = false;
			set_state(w, "Running", NULL);
			reply_ok(c);
		}
	} else if (strcmp(what, "stop") == 0) {
		snprintf(w->exit_why, sizeof w->exit_why, "turned off");
		w->quit = true;
		reply_ok(c);
	} else if (strcmp(what, "save") == 0) {
		save_request(w, c);
	} else if (strcmp(what, "merge") == 0) {
		const cJSON *disk = cJSON_GetObjectItem(req, "disk");
		const cJSON *parent = cJSON_GetObjectItem(req, "parent");

		if (!cJSON_IsNumber(disk) || !cJSON_IsString(parent))
			reply_err(c, "merge: needs disk and parent");
		else
			merge_request(w, c, (int)disk->valuedouble, parent->valuestring);
	} else if (strcmp(what, "export") == 0) {
		export_request(w, c, req);
	} else if (strcmp(what, "migrate") == 0) {
		const cJSON *to = cJSON_GetObjectItem(req, "to");
		const cJSON *md = cJSON_GetObjectItem(req, "max_downtime_ms");

		migrate_request(w, c, cJSON_IsString(to) ? to->valuestring : "?",
				cJSON_IsNumber(md) && md->valuedouble >= 1 ? (uint64_t)md->valuedouble : 300,
				cJSON_IsTrue(cJSON_GetObjectItem(req, "storage")));
	} else if (strcmp(what, "shutdown") == 0) {
		/* the ACPI power button, as on a physical server: the guest's OS
		   decides what to do (an idle probe powers off through S5) */
		if (vmm_power_button(w->vmm) != 0)
			reply_err(c, "the VM is not running");
		else
			reply_ok(c);
	} else if (strcmp(what, "dvd") == 0) {
		dvd_request(w, c, req);
	} else if (strcmp(what, "flush") == 0) {
		meter_flush(w);	/* hv vm metrics reads fresh totals */
		reply_ok(c);
	} else if (strcmp(what, "sample") == 0) {
		sample_take(w);	/* and a fresh resource sample */
		reply_ok(c);
	} else if (strcmp(what, "console") == 0) {
		/* what came behind the request in the same read is typing for
		   the guest, also when the client did not wait for the reply
		   and has gone (a slow host reads it all at once) */
		c->console = true;
		if (c->rest_len > 0)
			console_queue(w, c->rest, c->rest_len);
		c->rest_len = 0;
		reply_ok(c);
		if (c->fd >= 0)
			console_backlog(w, c);
	} else {
		reply_err(c, "unknown request");
	}
	cJSON_Delete(req);
}

/*
 * Typing for the guest. Its UART holds 256 bytes, and a guest reads them
 * at its own pace (slowly under emulation): what does not fit waits here,
 * in order, and the console clients are not read while this is full. A
 * line typed faster than that was cut short before (a real server's shell
 * then waited for the rest of a quoted string for ever).
 */
static void
console_hold(struct worker *w, bool hold)
{
	if (!hold && !w->cin_held)
		return;		/* (holding again also covers a client new since) */
	w->cin_held = hold;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->clients[i];
		struct epoll_event ev = { .events = hold ? 0 : EPOLLIN, .data.ptr = c };

		if (c->fd >= 0 && c->console)
			epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void
console_queue(struct worker *w, const char *p, size_t n)
{
	size_t room = sizeof w->cin - w->cin_len;

	if (n > room)		/* only "rest" can be more than asked for */
		n = room;
	memcpy(w->cin + w->cin_len, p, n);
	w->cin_len += n;
	console_flush(w);
}

bool
console_flush(struct worker *w)
{
	if (w->cin_len > 0) {
		int k = vmm_console_input(w->vmm, w->cin, w->cin_len);

		if (k > 0) {
			memmove(w->cin, w->cin + k, w->cin_len - (size_t)k);
			w->cin_len -= (size_t)k;
		}
	}
	if (w->cin_len < sizeof w->cin)
		console_hold(w, false);
	return w->cin_len > 0;
}

void
client_input(struct worker *w, struct client *c)
{
	ssize_t n;
	char *nl;

	if (c->console) {
		char buf[1024];
		size_t room = sizeof w->cin - w->cin_len;

		if (room == 0) {	/* the guest is behind: wait for it */
			console_hold(w, true);
			return;
		}
		n = read(c->fd, buf, room < sizeof buf ? room : sizeof buf);
		if (n <= 0) {
			client_close(w, c);
			return;
		}
		console_queue(w, buf, (size_t)n);
		return;
	}
	{	/* hv vm migrate passes its connection with the request */
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = c->buf + c->len, .iov_len = sizeof c->buf - 1 - c->len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof cbuf };
		struct cmsghdr *cm;

		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
		for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int fd;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
			if (c->passed_fd >= 0)
				close(c->passed_fd);
			c->passed_fd = fd;
		}
	}
	if (n <= 0) {
		client_close(w, c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while (!c->console && (nl = strchr(c->buf, '\n')) != NULL) {
		*nl = '\0';
		c->rest = nl + 1;
		c->rest_len = c->len - (size_t)(nl + 1 - c->buf);
		handle_request(w, c, c->buf);
		if (c->fd < 0)
			return;
		if (c->console) {	/* it took what followed */
			c->len = 0;
			break;
		}
		c->len = c->rest_len;
		memmove(c->buf, nl + 1, c->len + 1);
	}
	if (c->len == sizeof c->buf - 1) {
		reply_err(c, "request too long");
		client_close(w, c);
	}
}

void
accept_client(struct worker *w)
{
	int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->clients[i];

		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->passed_fd = -1;
		c->len = 0;
		c->rest_len = 0;
		c->console = false;
		ev.data.ptr = c;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
		return;
	}
	close(fd);	/* too many clients */
}

/* --- setup ------------------------------------------------------------- */

int
listen_socket(struct worker *w, struct hv_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (hv_vm_path(w->hv, w->vm.name, "sock", sa.sun_path, sizeof sa.sun_path) != 0)
		return hv_fail(err, HV_EINVAL, "HV_HOME path too long for a socket");
	snprintf(w->sock_path, sizeof w->sock_path, "%s", sa.sun_path);
	unlink(sa.sun_path);	/* stale, from a worker that died: we hold the lock */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "socket: %s", strerror(errno));
	old = umask(077);	/* the socket is born 0600 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
		umask(old);
		close(fd);
		return hv_fail(err, HV_EIO, "%s: %s", sa.sun_path, strerror(errno));
	}
	umask(old);
	chmod(sa.sun_path, 0600);
	w->listen_fd = fd;
	return 0;
}

