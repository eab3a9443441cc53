/*
 * migrate.c - live migration between hosts (hv vm migrate, hv migrate
 * receive, hv host serve): the TCP connection, the shared secret, the VM's
 * definition on both inventories; the VM's state itself moves between the
 * two workers (engine/vm/state/precopy.c).
 *
 * On the connection, before the workers take it over (JSON, a line each):
 *	dest -> src	{"hv": "migrate", "version": 1, "nonce": N1}
 *	src -> dest	{"nonce": N2, "mac": HMAC(secret, "src" N1 N2),
 *			 "vm": definition, "storage": bool, "disks": [...]}
 *	dest -> src	{"ok": true, "mac": HMAC(secret, "dst" N2 N1)}
 *			or {"ok": false, "error": why}
 * Both sides prove they hold migration.secret (hv.conf) without sending
 * it; no secret, no migration. Then the source's worker streams the VM to
 * a worker the destination started for it (--incoming-fd).
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/hv-int.h"

#define HELLO_MS	10000
#define IO_TIMEOUT_S	10	/* a link silent this long is cut */
#define NONCE_LEN	32

/* --- the connection ------------------------------------------------------ */

static void
sock_opts(int fd)
{
	int one = 1, user_timeout = IO_TIMEOUT_S * 1000;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* "host", "host:port", "[v6]:port"; port 0 when none is given */
static int
split_hostport(const char *s, char *host, size_t hlen, int *port, struct hv_err *err)
{
	const char *colon;
	size_t n;

	*port = 0;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return hv_fail(err, HV_EUSAGE, "'%s': no ']' after an IPv6 address", s);
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= hlen)
		return hv_fail(err, HV_EUSAGE, "'%s': not HOST[:PORT]", s);
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);

		if (*end != '\0' || p < 1 || p > 65535)
			return hv_fail(err, HV_EUSAGE, "'%s': the port is not 1..65535", colon + 1);
		*port = (int)p;
	}
	return 0;
}

static int
dial(const char *to, int default_port, struct hv_err *err)
{
	char host[256], port_s[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *a;
	int port, fd = -1, rc, e = 0;

	if (split_hostport(to, host, sizeof host, &port, err) != 0)
		return -1;
	snprintf(port_s, sizeof port_s, "%d", port ? port : default_port);
	rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc != 0)
		return hv_fail(err, HV_EINVAL, "%s: %s", host, gai_strerror(rc));
	for (a = res; a != NULL && fd < 0; a = a->ai_next) {
		struct pollfd p;
		socklen_t len = sizeof e;

		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
			e = errno;
			close(fd);
			fd = -1;
			continue;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e) {
			if (e == 0)
				e = ETIMEDOUT;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot reach %s port %s: %s", host, port_s, strerror(e));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	sock_opts(fd);
	return fd;
}

static int
send_json(int fd, cJSON *j, struct hv_err *err)
{
	char *s = cJSON_PrintUnformatted(j);
	size_t n, off = 0;

	cJSON_Delete(j);
	if (s == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	n = strlen(s);
	s[n++] = '\n';	/* over the NUL */
	while (off < n) {
		ssize_t r = send(fd, s + off, n - off, MSG_NOSIGNAL);

		if (r <= 0) {
			free(s);
			return hv_fail(err, HV_EIO, "sending: %s", r < 0 ? strerror(errno) : "closed");
		}
		off += (size_t)r;
	}
	free(s);
	return 0;
}

/* one line, byte by byte: what follows it belongs to the workers */
static cJSON *
recv_json(int fd, int timeout_ms, struct hv_err *err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	cJSON *j;

	if (buf == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory"), NULL;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) != 1) {
			free(buf);
			return hv_fail(err, HV_EIO, "no answer in %d s", timeout_ms / 1000), NULL;
		}
		if (read(fd, buf + n, 1) != 1) {
			free(buf);
			return hv_fail(err, HV_EIO, "the other host closed the connection"), NULL;
		}
		if (buf[n] == '\n')
			break;
		if (++n == cap) {
			char *nb = cap >= (4u << 20) ? NULL : realloc(buf, cap *= 2);

			if (nb == NULL) {
				free(buf);
				return hv_fail(err, HV_EIO, "the other host sent a line too long"), NULL;
			}
			buf = nb;
		}
	}
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return hv_fail(err, HV_EIO, "the other host is not an hv migration peer"), NULL;
	}
	return j;
}

static const char *
jstr(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(j, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- the secret ------------------------------------------------------------- */

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int
nonce_new(char out[2 * NONCE_LEN + 1])
{
	uint8_t b[NONCE_LEN];

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		return -1;
	hex(b, sizeof b, out);
	return 0;
}

/* HMAC-SHA256(secret, role || a || b), in hex */
static void
mac(const char *secret, const char *role, const char *a, const char *b, char out[65])
{
	char msg[16 + 4 * NONCE_LEN + 2];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	snprintf(msg, sizeof msg, "%s%.64s%.64s", role, a, b);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)msg, strlen(msg), md, &mdlen);
	hex(md, mdlen < 32 ? mdlen : 32, out);
}

static bool
mac_ok(const char *secret, const char *role, const char *a, const char *b, const char *got)
{
	char want[65];

	mac(secret, role, a, b, want);
	return got != NULL && strlen(got) == 64 && CRYPTO_memcmp(want, got, 64) == 0;
}

static int
need_secret(struct hv_ctx *hv, struct hv_err *err)
{
	if (hv_config(hv)->migration_secret[0] == '\0')
		return hv_fail(err, HV_EINVAL, "no migration.secret in %s/hv.conf: migration is off "
			       "(set the same secret on both hosts)", hv_config(hv)->home);
	return 0;
}

/* --- the source ---------------------------------------------------------------- */

/* the definition as hv vm export writes it */
static char *
definition_text(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	char path[] = "/tmp/hv-migrate-XXXXXX";
	int fd = mkstemp(path);
	char *text = NULL;
	struct stat sb;

	if (fd < 0)
		return hv_fail(err, HV_EIO, "mkstemp: %s", strerror(errno)), NULL;
	if (hv_vm_export(hv, name, path, err) == 0 && stat(path, &sb) == 0 &&
	    (text = calloc(1, (size_t)sb.st_size + 1)) != NULL) {
		int f = open(path, O_RDONLY | O_CLOEXEC);

		if (f < 0 || read(f, text, (size_t)sb.st_size) != sb.st_size) {
			free(text);
			text = NULL;
			hv_fail(err, HV_EIO, "reading the definition back");
		}
		if (f >= 0)
			close(f);
	}
	close(fd);
	unlink(path);
	return text;
}

/* the handshake, from the source's side: 0 when the destination is ready */
static int
offer(struct hv_ctx *hv, int fd, const struct hv_vm *vm, const struct hv_migrate_opts *o,
      struct hv_err *err)
{
	const char *secret = hv_config(hv)->migration_secret;
	char n2[2 * NONCE_LEN + 1], m[65], *text;
	cJSON *hello, *req, *disks, *rep;
	const char *n1;
	int rc = -1;

	hello = recv_json(fd, HELLO_MS, err);
	if (hello == NULL)
		return -1;
	n1 = jstr(hello, "nonce");
	if (jstr(hello, "hv") == NULL || n1 == NULL || strlen(n1) != 2 * NONCE_LEN) {
		cJSON_Delete(hello);
		return hv_fail(err, HV_EIO, "the other host is not an hv migration peer");
	}
	if (nonce_new(n2) != 0 || (text = definition_text(hv, vm->name, err)) == NULL) {
		cJSON_Delete(hello);
		return err->msg[0] ? -1 : hv_fail(err, HV_EIO, "getrandom failed");
	}
	mac(secret, "src", n1, n2, m);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "nonce", n2);
	cJSON_AddStringToObject(req, "mac", m);
	cJSON_AddStringToObject(req, "vm", text);
	cJSON_AddBoolToObject(req, "storage", o->storage);
	free(text);
	disks = cJSON_AddArrayToObject(req, "disks");
	for (int i = 0; i < vm->ndisks; i++) {
		struct disk *d;
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "path", vm->disks[i]);
		if (disk_open(&d, vm->disks[i], DISK_RDONLY, err) != 0) {
			cJSON_Delete(e);
			cJSON_Delete(req);
			cJSON_Delete(hello);
			return -1;
		}
		cJSON_AddStringToObject(e, "format", disk_format_name(disk_format_of(d)));
		cJSON_AddNumberToObject(e, "size", (double)disk_size(d));
		disk_close(d);
		cJSON_AddItemToArray(disks, e);
	}
	if (send_json(fd, req, err) != 0 || (rep = recv_json(fd, HELLO_MS * 3, err)) == NULL) {
		cJSON_Delete(hello);
		return -1;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItem(rep, "ok")))
		hv_fail(err, HV_EINVAL, "the destination refused: %s",
			jstr(rep, "error") ? jstr(rep, "error") : "no reason given");
	else if (!mac_ok(secret, "dst", n2, n1, jstr(rep, "mac")))
		hv_fail(err, HV_EINVAL, "the destination does not know the secret: not migrating to it");
	else
		rc = 0;
	cJSON_Delete(rep);
	cJSON_Delete(hello);
	return rc;
}

/* the worker's request, with the connection passed along (SCM_RIGHTS) */
static int
hand_to_worker(int wfd, int fd, const char *json, struct hv_err *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)json, .iov_len = strlen(json) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(wfd, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return hv_fail(err, HV_EIO, "handing the connection to the VM's worker: %s", strerror(errno));
	return 0;
}

static uint64_t
num(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(j, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

/* the worker's lines: progress, then the result */
static int
follow_worker(int wfd, hv_migrate_progress_fn fn, void *ctx, struct hv_migrate_result *r,
	      struct hv_err *err)
{
	for (;;) {
		cJSON *j = recv_json(wfd, 120000, err), *p;
		int rc;

		if (j == NULL)
			return hv_fail(err, HV_EIO, "the VM's worker stopped answering: %s", err->msg);
		p = cJSON_GetObjectItem(j, "progress");
		if (cJSON_IsObject(p)) {
			struct hv_migrate_progress pr = {
				.phase = jstr(p, "phase") ? jstr(p, "phase") : "",
				.pass = (int)num(p, "pass"), .sent_bytes = num(p, "sent_bytes"),
				.remaining_bytes = num(p, "remaining_bytes"), .rate = num(p, "rate"),
				.elapsed_ms = num(p, "elapsed_ms"),
			};

			if (fn)
				fn(ctx, &pr);
			cJSON_Delete(j);
			continue;
		}
		r->passes = (int)num(j, "passes");
		r->total_ms = num(j, "total_ms");
		r->downtime_ms = num(j, "downtime_ms");
		r->bytes = num(j, "bytes");
		r->pages = num(j, "pages");
		r->zero_pages = num(j, "zero_pages");
		r->disk_bytes = num(j, "disk_bytes");
		r->unconfirmed = cJSON_IsTrue(cJSON_GetObjectItem(j, "unconfirmed"));
		if (cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")))
			rc = 0;
		else
			rc = hv_fail(err, HV_EIO, "%s", jstr(j, "error") ? jstr(j, "error") :
				     "the migration failed");
		cJSON_Delete(j);
		return rc;
	}
}

int
hv_vm_migrate(struct hv_ctx *hv, const char *name, const struct hv_migrate_opts *o,
	      hv_migrate_progress_fn fn, void *ctx, struct hv_migrate_result *r,
	      struct hv_err *err)
{
	struct hv_vm vm;
	char req[512];
	int fd, wfd, rc;

	memset(r, 0, sizeof *r);
	if (need_secret(hv, err) != 0 || hv_vm_get(hv, name, &vm, err) != 0)
		return -1;
	if (strcmp(vm.state, "Running") != 0 && strcmp(vm.state, "Paused") != 0)
		return hv_fail(err, HV_EINVAL, "VM '%s' is %s: only a running VM migrates live "
			       "(export and import an Off one)", vm.name, vm.state);
	{	/* the checkpoint tree (its images, its states) stays here */
		struct hv_checkpoint *cks = NULL;
		size_t ncks = 0;

		if (hv_checkpoint_list(hv, vm.name, &cks, &ncks, err) != 0)
			return -1;
		free(cks);
		if (ncks > 0)
			return hv_fail(err, HV_ENOTSUP, "VM '%s' has %zu checkpoint%s: they do not "
				       "migrate; delete them first (hv checkpoint delete)", vm.name,
				       ncks, ncks == 1 ? "" : "s");
	}
	fd = dial(o->to, hv_config(hv)->migration_port, err);
	if (fd < 0)
		return -1;
	if (offer(hv, fd, &vm, o, err) != 0) {
		close(fd);
		return -1;
	}
	wfd = lifecycle_connect(hv, vm.name, err);
	if (wfd < 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof req, "{\"cmd\": \"migrate\", \"max_downtime_ms\": %llu, \"storage\": %s, "
		 "\"to\": \"%.200s\"}\n", (unsigned long long)o->max_downtime_ms,
		 o->storage ? "true" : "false", o->to);
	rc = hand_to_worker(wfd, fd, req, err);
	close(fd);	/* the worker has its own copy now */
	if (rc == 0)
		rc = follow_worker(wfd, fn, ctx, r, err);
	close(wfd);
	if (rc != 0)
		return -1;
	/* it runs there: the worker here ends, the VM leaves this inventory */
	for (int t = 0; t < 10000; t += 20) {
		struct hv_vm now;

		if (hv_vm_get(hv, vm.name, &now, err) != 0 || strcmp(now.state, "Off") == 0)
			break;
		usleep(20000);
	}
	hv_event_add(hv, vm.name, "live-migrated to %s (downtime %llu ms)", o->to,
		     (unsigned long long)r->downtime_ms);
	if (hv_vm_delete(hv, vm.name, err) != 0)
		return hv_fail(err, HV_EIO, "VM '%s' runs on %s now, but removing it here failed: %s",
			       vm.name, o->to, err->msg);
	return 0;
}

/* --- the destination ----------------------------------------------------------- */

struct incoming {
	struct hv_ctx *hv;
	int fd;
	char peer[64];
	struct hv_vm vm;
	bool storage, registered;
	int ncreated;
	char created[HV_MAX_DISKS][HV_PATH_MAX];
};

static void
say(hv_migrate_log_fn log, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(hv_migrate_log_fn log, void *ctx, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (log)
		log(ctx, line);
}

/* storage: a new, empty image of each disk's format and size, here */
static int
make_disks(struct incoming *in, const cJSON *disks, struct hv_err *err)
{
	char dir[HV_PATH_MAX];

	if (snprintf(dir, sizeof dir, "%s/vms/%s", hv_config(in->hv)->home, in->vm.name) >= (int)sizeof dir)
		return hv_fail(err, HV_EINVAL, "HV_HOME path too long");
	mkdir(dir, 0755);
	for (int i = 0; i < in->vm.ndisks; i++) {
		const cJSON *e = cJSON_GetArrayItem(disks, i);
		const char *fmt = jstr(e, "format");
		struct disk_create_opts c = { .fmt = fmt ? disk_format_parse(fmt) : DISK_FMT_NONE,
					      .size = num(e, "size") };
		char src[HV_PATH_MAX], path[HV_PATH_MAX];

		if (c.fmt == DISK_FMT_NONE || c.size == 0 || c.size % DISK_SECTOR)
			return hv_fail(err, HV_EINVAL, "disk %d: no format or size in the request", i);
		if (c.fmt == DISK_FMT_VMDK)	/* written here as what qemu-img reads best */
			c.fmt = DISK_FMT_QCOW2;
		snprintf(src, sizeof src, "%s", in->vm.disks[i]);
		if (snprintf(path, sizeof path, "%s/%s", dir, basename(src)) >= (int)sizeof path)
			return hv_fail(err, HV_EINVAL, "disk path too long");
		if (access(path, F_OK) == 0)
			return hv_fail(err, HV_EEXIST, "%s already exists here", path);
		if (disk_create(path, &c, err) != 0)
			return -1;
		snprintf(in->created[in->ncreated++], HV_PATH_MAX, "%s", path);
		snprintf(in->vm.disks[i], sizeof in->vm.disks[i], "%s", path);
	}
	return 0;
}

/* the request: check it, register the VM; 0 when we can take it */
static int
accept_vm(struct incoming *in, const cJSON *req, struct hv_err *err)
{
	char path[] = "/tmp/hv-incoming-XXXXXX";
	const char *text = jstr(req, "vm");
	const cJSON *disks = cJSON_GetObjectItem(req, "disks");
	struct hv_vm old;
	int fd, rc;

	if (text == NULL || !cJSON_IsArray(disks))
		return hv_fail(err, HV_EINVAL, "the request has no VM definition");
	fd = mkstemp(path);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "mkstemp: %s", strerror(errno));
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	if (rc == 0)
		rc = vm_file_read(in->hv, path, &in->vm, err);
	else
		hv_fail(err, HV_EIO, "writing the definition: %s", strerror(errno));
	unlink(path);
	if (rc != 0)
		return -1;
	if (hv_vm_get(in->hv, in->vm.name, &old, err) == 0 || hv_vm_get(in->hv, in->vm.uuid, &old, err) == 0)
		return hv_fail(err, HV_EEXIST, "a VM named '%s' (or with its UUID) is already here", old.name);
	if (cJSON_GetArraySize(disks) != in->vm.ndisks)
		return hv_fail(err, HV_EINVAL, "the request's disks do not match the definition");
	in->storage = cJSON_IsTrue(cJSON_GetObjectItem(req, "storage"));
	if (in->storage) {
		if (make_disks(in, disks, err) != 0)
			return -1;
	} else {
		for (int i = 0; i < in->vm.ndisks; i++)
			if (access(in->vm.disks[i], R_OK | W_OK) != 0)
				return hv_fail(err, HV_ENOENT, "disk %s is not reachable on this host "
					       "(shared storage?); migrate with --storage to copy it",
					       in->vm.disks[i]);
	}
	/* ISOs are not copied, not even with --storage */
	for (int i = 0; i < in->vm.ndvds; i++)
		if (in->vm.dvds[i][0] != '\0' && access(in->vm.dvds[i], R_OK) != 0)
			return hv_fail(err, HV_ENOENT, "ISO %s in DVD drive %d is not on this host; put it "
				       "there at the same path, or eject it first (hv vm dvd set %s %d --eject)",
				       in->vm.dvds[i], i, in->vm.name, i);
	in->vm.state[0] = '\0';
	if (hv_vm_create(in->hv, &in->vm, err) != 0)
		return -1;
	in->registered = true;
	return 0;
}

/* a failed arrival leaves nothing here */
static void
incoming_undo(struct incoming *in)
{
	struct hv_err e;

	/* the worker is gone (its pipe closed): whatever it last recorded,
	   a killed one Starting, the VM never ran here */
	if (in->registered &&
	    (hv_vm_set_runtime(in->hv, in->vm.name, "Off", 0, "the migration failed", &e) != 0 ||
	     hv_vm_delete(in->hv, in->vm.name, &e) != 0))
		hv_event_add(in->hv, in->vm.name, "an arrival that failed is left here: %s", e.msg);
	for (int i = 0; i < in->ncreated; i++)
		unlink(in->created[i]);
}

static int
incoming(struct hv_ctx *hv, int fd, const char *peer, hv_migrate_log_fn log, void *ctx,
	 struct hv_err *err)
{
	const char *secret = hv_config(hv)->migration_secret;
	struct incoming in = { .hv = hv, .fd = fd };
	char n1[2 * NONCE_LEN + 1], m[65];
	cJSON *hello, *req, *rep;
	const char *n2;

	snprintf(in.peer, sizeof in.peer, "%s", peer);
	sock_opts(fd);
	if (nonce_new(n1) != 0)
		return hv_fail(err, HV_EIO, "getrandom failed");
	hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "hv", "migrate");
	cJSON_AddNumberToObject(hello, "version", 1);
	cJSON_AddStringToObject(hello, "nonce", n1);
	if (send_json(fd, hello, err) != 0 || (req = recv_json(fd, HELLO_MS, err)) == NULL)
		return -1;
	n2 = jstr(req, "nonce");
	rep = cJSON_CreateObject();
	if (n2 == NULL || strlen(n2) != 2 * NONCE_LEN ||
	    !mac_ok(secret, "src", n1, n2, jstr(req, "mac"))) {
		hv_fail(err, HV_EINVAL, "%s does not know the secret: refused", peer);
		cJSON_AddBoolToObject(rep, "ok", false);
		cJSON_AddStringToObject(rep, "error", "authentication failed: the hosts' migration secrets differ");
		send_json(fd, rep, &(struct hv_err){ 0 });
		cJSON_Delete(req);
		return -1;
	}
	if (accept_vm(&in, req, err) != 0) {
		cJSON_AddBoolToObject(rep, "ok", false);
		cJSON_AddStringToObject(rep, "error", err->msg);
		send_json(fd, rep, &(struct hv_err){ 0 });
		cJSON_Delete(req);
		incoming_undo(&in);
		return -1;
	}
	mac(secret, "dst", n2, n1, m);
	cJSON_Delete(req);
	cJSON_AddBoolToObject(rep, "ok", true);
	cJSON_AddStringToObject(rep, "mac", m);
	if (send_json(fd, rep, err) != 0) {
		incoming_undo(&in);
		return -1;
	}
	say(log, ctx, "VM %s arriving from %s%s", in.vm.name, peer, in.storage ? " with its storage" : "");
	if (lifecycle_incoming(hv, &in.vm, fd, in.storage, err) != 0) {
		incoming_undo(&in);
		return -1;
	}
	hv_event_add(hv, in.vm.name, "live-migrated here from %s", peer);
	say(log, ctx, "VM %s runs here now", in.vm.name);
	return 0;
}

static int
listen_on(const char *addr, int default_port, struct hv_err *err)
{
	char host[256] = "0.0.0.0";
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int port = 0, fd, one = 1;
	bool v6;

	if (addr != NULL && addr[0] == ':' ) {
		char *end;
		long p = strtol(addr + 1, &end, 10);

		if (*end != '\0' || p < 1 || p > 65535)
			return hv_fail(err, HV_EUSAGE, "'%s': the port is not 1..65535", addr);
		port = (int)p;
	} else if (addr != NULL && addr[0] != '\0' &&
		   split_hostport(addr, host, sizeof host, &port, err) != 0) {
		return -1;
	}
	if (port == 0)
		port = default_port;
	v6 = strchr(host, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, host, &sa6.sin6_addr) != 1 : inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return hv_fail(err, HV_EUSAGE, "'%s': not an IP address to listen on", host);
	sa.sin_port = htons((uint16_t)port);
	sa6.sin6_port = htons((uint16_t)port);
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if ((v6 ? bind(fd, (struct sockaddr *)&sa6, sizeof sa6) : bind(fd, (struct sockaddr *)&sa, sizeof sa)) != 0 ||
	    listen(fd, 4) != 0) {
		int e = errno;

		close(fd);
		return hv_fail(err, HV_EIO, "listening on %s port %d: %s", host, port, strerror(e));
	}
	return fd;
}

int
hv_migrate_serve(struct hv_ctx *hv, const char *addr, bool once, hv_migrate_log_fn log,
		 void *ctx, struct hv_err *err)
{
	int lfd, rc = 0;

	if (need_secret(hv, err) != 0)
		return -1;
	lfd = listen_on(addr, hv_config(hv)->migration_port, err);
	if (lfd < 0)
		return -1;
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char host[64] = "?", port[8] = "?";

		getsockname(lfd, (struct sockaddr *)&ss, &len);
		getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
			    NI_NUMERICHOST | NI_NUMERICSERV);
		say(log, ctx, "listening on %s port %s for migrations", host, port);
	}
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char peer[64] = "?";
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			rc = hv_fail(err, HV_EIO, "accept: %s", strerror(errno));
			break;
		}
		getnameinfo((struct sockaddr *)&ss, len, peer, sizeof peer, NULL, 0, NI_NUMERICHOST);
		rc = incoming(hv, fd, peer, log, ctx, err);
		close(fd);
		if (rc != 0)
			say(log, ctx, "migration from %s failed: %s", peer, err->msg);
		if (once)
			break;
	}
	close(lfd);
	return rc;
}
