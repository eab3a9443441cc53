/*
 * lifecycle.c - starting VMs in detached workers and talking to them.
 *
 * Each running VM is one build/hv-worker process (setsid, its own log)
 * that holds an flock on run/NAME.lock for as long as it lives and
 * serves run/NAME.sock (0600, one JSON object a line). The inventory
 * says what the worker last reported; the lock says whether it still
 * lives, so a worker killed with SIGKILL reads as Failed at once, with
 * no daemon watching it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/hv-int.h"
#include "engine/vm/vmm.h"

#define START_TIMEOUT_MS	30000
#define REQUEST_TIMEOUT_MS	10000
#define STOP_TIMEOUT_MS		10000
#define SAVE_TIMEOUT_MS		(3600 * 1000)

int
hv_vm_path(const struct hv_ctx *hv, const char *name, const char *what,
	   char *buf, size_t len)
{
	const char *dir = strcmp(what, "log") == 0 || strcmp(what, "console") == 0 ?
			  "log" : "run";
	const char *ext = strcmp(what, "console") == 0 ? "console.log" : what;
	int n = snprintf(buf, len, "%s/%s/%s.%s", hv->cfg.home, dir, name, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* 1: a worker holds the VM's lock; 0: none does */
static int
worker_alive(const struct hv_ctx *hv, const char *name)
{
	char path[HV_PATH_MAX + 128];
	int fd, alive = 0;

	if (hv_vm_path(hv, name, "lock", path, sizeof path) != 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
		alive = 1;
	close(fd);
	return alive;
}

void
lifecycle_refresh(struct hv_ctx *hv, struct hv_vm *vm)
{
	if (strcmp(vm->state, "Off") == 0 || strcmp(vm->state, "Failed") == 0 ||
	    strcmp(vm->state, "Saved") == 0)
		return;
	if (!worker_alive(hv, vm->name))
		snprintf(vm->state, sizeof vm->state, "Failed");
}

int
hv_vm_set_runtime(struct hv_ctx *hv, const char *name, const char *state,
		  int pid, const char *last_exit, struct hv_err *err)
{
	sqlite3_stmt *st;
	int rc;

	st = store_prepare(hv, "UPDATE vms SET state = ?, pid = ?, "
			   "started = CASE WHEN ?2 = 0 THEN 0 WHEN pid = ?2 THEN started ELSE ?3 END, "
			   "last_exit = coalesce(?4, last_exit) WHERE name = ?5", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	if (last_exit != NULL)
		sqlite3_bind_text(st, 4, last_exit, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "recording VM state");
	sqlite3_finalize(st);
	return rc;
}

int
hv_vm_log_tail(struct hv_ctx *hv, const char *name, int lines, char *buf,
	       size_t len)
{
	char path[HV_PATH_MAX + 128], chunk[8192];
	ssize_t n;
	int fd, seen = 0;
	off_t end;
	char *p;

	buf[0] = '\0';
	if (hv_vm_path(hv, name, "log", path, sizeof path) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	end = lseek(fd, 0, SEEK_END);
	n = pread(fd, chunk, sizeof chunk - 1, end > (off_t)sizeof chunk - 1 ?
		  end - (off_t)sizeof chunk + 1 : 0);
	close(fd);
	if (n <= 0)
		return 0;
	chunk[n] = '\0';
	while (n > 0 && chunk[n - 1] == '\n')
		chunk[--n] = '\0';
	for (p = chunk + n; p > chunk; p--)
		if (p[-1] == '\n' && ++seen == lines)
			break;
	snprintf(buf, len, "%s", p);
	return 0;
}

/* --- talking to a worker ----------------------------------------------- */

static int
connect_worker(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (hv_vm_path(hv, name, "sock", sa.sun_path, sizeof sa.sun_path) != 0)
		return hv_fail(err, HV_EINVAL, "HV_HOME path too long for a socket");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;

		close(fd);
		return hv_fail(err, HV_EIO, "VM '%s': its worker does not answer (%s)",
			       name, strerror(e));
	}
	return fd;
}

int
lifecycle_connect(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	return connect_worker(hv, name, err);
}

static int read_line(int fd, char **out, int timeout_ms, struct hv_err *err);
static int send_line(int fd, const char *json, struct hv_err *err);

/* a request the worker answers with progress lines, then {"ok": ...} */
int
lifecycle_job(struct hv_ctx *hv, const char *name, const char *json,
	      void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
	      struct cJSON **reply, struct hv_err *err)
{
	int fd = connect_worker(hv, name, err), rc = -1;
	char *line = NULL;

	if (fd < 0)
		return -1;
	if (send_line(fd, json, err) != 0)
		goto out;
	for (;;) {
		cJSON *j, *p;

		if (read_line(fd, &line, 3600 * 1000, err) != 0)
			goto out;
		j = cJSON_Parse(line);
		free(line);
		line = NULL;
		if ((p = cJSON_GetObjectItem(j, "progress")) != NULL) {
			const cJSON *d = cJSON_GetObjectItem(p, "done"), *t = cJSON_GetObjectItem(p, "total");

			if (progress != NULL && cJSON_IsNumber(d) && cJSON_IsNumber(t))
				progress(ctx, (uint64_t)d->valuedouble, (uint64_t)t->valuedouble);
			cJSON_Delete(j);
			continue;
		}
		if (cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")))
			rc = 0;
		else
			hv_fail(err, HV_EIO, "%s", cJSON_IsString(cJSON_GetObjectItem(j, "error")) ?
				cJSON_GetObjectItem(j, "error")->valuestring : "the VM's worker refused");
		if (rc == 0 && reply != NULL)
			*reply = j;
		else
			cJSON_Delete(j);
		break;
	}
out:
	close(fd);
	return rc;
}

/* read one line (without the newline) within timeout_ms */
static int
read_line(int fd, char **out, int timeout_ms, struct hv_err *err)
{
	size_t cap = 256, n = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0) {
			free(buf);
			return hv_fail(err, HV_EIO, "the VM's worker did not answer in time");
		}
		r = read(fd, buf + n, 1);
		if (r <= 0) {
			free(buf);
			return hv_fail(err, HV_EIO, "the VM's worker closed the connection");
		}
		if (buf[n] == '\n')
			break;
		if (++n + 1 >= cap) {
			char *nb = cap > (1u << 20) ? NULL : realloc(buf, cap *= 2);

			if (nb == NULL) {
				free(buf);
				return hv_fail(err, HV_EIO, "the VM's worker sent a huge line");
			}
			buf = nb;
		}
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int
send_line(int fd, const char *json, struct hv_err *err)
{
	size_t len = strlen(json);

	if (write(fd, json, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return hv_fail(err, HV_EIO, "writing to the VM's worker: %s", strerror(errno));
	return 0;
}

/* send a request on fd; 0 if the worker said {"ok": true} */
static int
transact_within(int fd, const char *json, char **reply, int timeout_ms, struct hv_err *err)
{
	cJSON *j, *okv, *msg;
	char *line = NULL;
	int rc;

	if (send_line(fd, json, err) != 0 ||
	    read_line(fd, &line, timeout_ms, err) != 0)
		return -1;
	j = cJSON_Parse(line);
	okv = cJSON_GetObjectItem(j, "ok");
	msg = cJSON_GetObjectItem(j, "error");
	if (cJSON_IsTrue(okv)) {
		rc = 0;
	} else {
		rc = hv_fail(err, HV_EINVAL, "%s", cJSON_IsString(msg) ? msg->valuestring :
			     "the VM's worker refused the request");
	}
	cJSON_Delete(j);
	if (rc == 0 && reply != NULL)
		*reply = line;
	else
		free(line);
	return rc;
}

static int
transact(int fd, const char *json, char **reply, struct hv_err *err)
{
	return transact_within(fd, json, reply, REQUEST_TIMEOUT_MS, err);
}

static int
need_running(struct hv_ctx *hv, const char *name, struct hv_vm *vm,
	     struct hv_err *err)
{
	if (hv_vm_get(hv, name, vm, err) != 0)
		return -1;
	if (strcmp(vm->state, "Off") == 0)
		return hv_fail(err, HV_EINVAL, "VM '%s' is not running", vm->name);
	if (strcmp(vm->state, "Saved") == 0)
		return hv_fail(err, HV_EINVAL, "VM '%s' is saved, not running (`hv vm start %s` restores it)",
			       vm->name, vm->name);
	if (strcmp(vm->state, "Failed") == 0)
		return hv_fail(err, HV_EINVAL, "VM '%s' has failed (its worker died); `hv vm stop %s` clears it",
			       vm->name, vm->name);
	return 0;
}

/* a request to a running VM's worker, its answer awaited up to timeout_ms */
static int
request_within(struct hv_ctx *hv, const char *name, const char *json, char **reply,
	       int timeout_ms, struct hv_err *err)
{
	struct hv_vm vm;
	int fd, rc;

	if (need_running(hv, name, &vm, err) != 0)
		return -1;
	fd = connect_worker(hv, vm.name, err);
	if (fd < 0)
		return -1;
	rc = transact_within(fd, json, reply, timeout_ms, err);
	close(fd);
	return rc;
}

int
hv_vm_request(struct hv_ctx *hv, const char *name, const char *json,
	      char **reply, struct hv_err *err)
{
	return request_within(hv, name, json, reply, REQUEST_TIMEOUT_MS, err);
}

int
hv_vm_pause(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	return hv_vm_request(hv, name, "{\"cmd\": \"pause\"}", NULL, err);
}

int
hv_vm_resume(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	return hv_vm_request(hv, name, "{\"cmd\": \"resume\"}", NULL, err);
}

/* wait until the worker is gone; 0 if it went within timeout_ms */
static int wait_gone(struct hv_ctx *hv, const char *name, int timeout_ms);

/* Save: the worker pauses the VM, writes its state file and exits */
int
hv_vm_save(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct hv_vm vm;

	/* the worker answers once all its memory is written: a big VM on a
	   slow disk takes minutes (a real 768M server in the lab took more
	   than the 10 s other requests get, and hv said "did not answer"
	   while the save went on) */
	if (hv_vm_get(hv, name, &vm, err) != 0 ||
	    request_within(hv, vm.name, "{\"cmd\": \"save\"}", NULL, SAVE_TIMEOUT_MS, err) != 0)
		return -1;
	if (wait_gone(hv, vm.name, STOP_TIMEOUT_MS) != 0)
		return hv_fail(err, HV_EBUSY, "VM '%s': its state is saved but worker %d lingers",
			       vm.name, vm.pid);
	return 0;
}

static int
wait_gone(struct hv_ctx *hv, const char *name, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 20) {
		if (!worker_alive(hv, name))
			return 0;
		usleep(20000);
	}
	return -1;
}

int
hv_vm_stop(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct hv_vm vm;
	int fd;

	if (hv_vm_get(hv, name, &vm, err) != 0)
		return -1;
	if (strcmp(vm.state, "Off") == 0)
		return hv_fail(err, HV_EINVAL, "VM '%s' is already off", vm.name);
	if (strcmp(vm.state, "Saved") == 0 && !worker_alive(hv, vm.name)) {
		char path[HV_PATH_MAX + 256];

		if (vmm_state_path(hv->cfg.home, vm.name, path, sizeof path) == 0 &&
		    unlink(path) != 0 && errno != ENOENT)
			return hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
		if (hv_vm_set_runtime(hv, vm.name, "Off", 0, "saved state discarded", err) != 0)
			return -1;
		hv_event_add(hv, vm.name, "turned off: saved state discarded");
		return 0;
	}
	if (worker_alive(hv, vm.name)) {
		fd = connect_worker(hv, vm.name, err);
		if (fd >= 0) {
			transact(fd, "{\"cmd\": \"stop\"}", NULL, err);
			close(fd);
		}
		if (wait_gone(hv, vm.name, STOP_TIMEOUT_MS) != 0) {
			/* a wedged worker: it owns nothing we can't take back */
			if (vm.pid > 0)
				kill(vm.pid, SIGKILL);
			if (wait_gone(hv, vm.name, 2000) != 0)
				return hv_fail(err, HV_EBUSY, "VM '%s': worker %d will not stop",
					       vm.name, vm.pid);
		}
	}
	if (hv_vm_set_runtime(hv, vm.name, "Off", 0,
			      strcmp(vm.state, "Failed") == 0 ? "worker failed" : NULL, err) != 0)
		return -1;
	hv_event_add(hv, vm.name, "turned off");
	return 0;
}

int
hv_vm_shutdown(struct hv_ctx *hv, const char *name, int timeout_s, bool force,
	       struct hv_err *err)
{
	struct hv_vm vm;

	if (hv_vm_request(hv, name, "{\"cmd\": \"shutdown\"}", NULL, err) != 0)
		return -1;
	if (timeout_s <= 0)
		return 0;
	if (hv_vm_get(hv, name, &vm, err) != 0)
		return -1;
	if (wait_gone(hv, vm.name, timeout_s * 1000) == 0) {
		hv_event_add(hv, vm.name, "shut down by the guest");
		return 0;
	}
	if (!force)
		return hv_fail(err, HV_EBUSY, "VM '%s' did not shut down within %d s",
			       vm.name, timeout_s);
	if (hv_vm_stop(hv, vm.name, err) != 0)
		return -1;
	hv_event_add(hv, vm.name, "turned off after a %d s shutdown timeout", timeout_s);
	return 1;
}

int
hv_vm_console(struct hv_ctx *hv, const char *name, int *fd, struct hv_err *err)
{
	struct hv_vm vm;
	int s;

	if (need_running(hv, name, &vm, err) != 0)
		return -1;
	s = connect_worker(hv, vm.name, err);
	if (s < 0)
		return -1;
	if (transact(s, "{\"cmd\": \"console\"}", NULL, err) != 0) {
		close(s);
		return -1;
	}
	*fd = s;
	return 0;
}

/* --- starting ---------------------------------------------------------- */

/* build/hv-worker beside the running binary, or $HV_WORKER */
static int
worker_path(char *buf, size_t len, struct hv_err *err)
{
	const char *env = getenv("HV_WORKER");
	char self[HV_PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return hv_fail(err, HV_EIO, "cannot find myself: %s", strerror(errno));
	self[n] = '\0';
	snprintf(buf, len, "%s/hv-worker", dirname(self));
	if (access(buf, X_OK) != 0)
		return hv_fail(err, HV_EIO, "%s: %s (is the build complete?)", buf, strerror(errno));
	return 0;
}

void
lifecycle_reap(struct hv_ctx *hv)
{
	int i = 0;

	while (i < hv->nspawned) {
		if (waitpid(hv->spawned[i], NULL, WNOHANG) != 0)	/* gone, or not ours */
			hv->spawned[i] = hv->spawned[--hv->nspawned];
		else
			i++;
	}
}

/*
 * posix_spawn (a vfork, not a copy of this process's page tables) straight
 * into a new session: the worker outlives us, and whoever is left to reap
 * it (init, or lifecycle_reap while we live) does.
 */
static int
spawn_worker(struct hv_ctx *hv, const char *worker, const struct hv_vm *vm, int log_fd,
	     int ready_fd, const char *restore, int incoming_fd, bool storage,
	     struct hv_err *err)
{
	char *argv[16];
	int argc = 0;
	extern char **environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int devnull, r;
	pid_t pid;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return hv_fail(err, HV_EIO, "/dev/null: %s", strerror(errno));
	/* the definition we just read, so the worker builds the VM before it
	   has the inventory open (worker-main.c: read_definition) */
	uint32_t size = sizeof *vm;
	int def = memfd_create("hv-vm", MFD_CLOEXEC);

	if (def >= 0 && (pwrite(def, "HVVM", 4, 0) != 4 || pwrite(def, &size, 4, 4) != 4 ||
			 pwrite(def, vm, sizeof *vm, 8) != (ssize_t)sizeof *vm)) {
		close(def);
		def = -1;
	}
	argv[argc++] = "hv-worker";
	argv[argc++] = "--home";
	argv[argc++] = hv->cfg.home;
	argv[argc++] = "--ready-fd";
	argv[argc++] = "3";
	if (def >= 0) {		/* else it reads the inventory */
		argv[argc++] = "--vm-fd";
		argv[argc++] = "4";
	}
	if (restore) {
		argv[argc++] = "--restore";
		argv[argc++] = (char *)restore;
	}
	if (incoming_fd >= 0) {
		argv[argc++] = "--incoming-fd";
		argv[argc++] = "5";
		if (storage)
			argv[argc++] = "--incoming-storage";
	}
	argv[argc++] = (char *)vm->name;
	argv[argc] = NULL;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
	posix_spawn_file_actions_adddup2(&fa, ready_fd, 3);
	posix_spawn_file_actions_adddup2(&fa, def >= 0 ? def : devnull, 4);
	if (incoming_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, incoming_fd, 5);
	posix_spawn_file_actions_addclosefrom_np(&fa, incoming_fd >= 0 ? 6 : 5);
	r = posix_spawn(&pid, worker, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(devnull);
	if (def >= 0)
		close(def);
	if (r != 0)
		return hv_fail(err, HV_EIO, "cannot run %s: %s", worker, strerror(r));
	lifecycle_reap(hv);
	if (hv->nspawned < HV_MAX_SPAWNED)
		hv->spawned[hv->nspawned++] = pid;
	return 0;
}

/*
 * Run vm's worker and wait for its word on the ready pipe: "ok PID" once
 * the VM runs, or "error: why". restore: a state file to run from;
 * incoming_fd: a migration stream to run from (no time limit: the
 * worker's pipe closes if it dies).
 */
static int
run_worker(struct hv_ctx *hv, struct hv_vm *vm, const char *restore, int incoming_fd,
	   bool storage, struct hv_err *err)
{
	char worker[HV_PATH_MAX], log[HV_PATH_MAX + 128], msg[600];
	int pipefd[2], log_fd;
	ssize_t n = 0;

	if (worker_path(worker, sizeof worker, err) != 0 ||
	    hv_vm_path(hv, vm->name, "log", log, sizeof log) != 0)
		return -1;
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0)
		return hv_fail(err, HV_EIO, "%s: %s", log, strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		close(log_fd);
		return hv_fail(err, HV_EIO, "pipe: %s", strerror(errno));
	}
	if (vm->generation == 1 && vm->firmware[0] == '\0')
		snprintf(vm->firmware, sizeof vm->firmware, "%s", hv->cfg.firmware);
	if (spawn_worker(hv, worker, vm, log_fd, pipefd[1], restore, incoming_fd, storage,
			 err) != 0) {
		close(log_fd);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	close(log_fd);
	close(pipefd[1]);

	struct pollfd p = { .fd = pipefd[0], .events = POLLIN };

	while (n < (ssize_t)sizeof msg - 1 &&
	       poll(&p, 1, incoming_fd >= 0 ? -1 : START_TIMEOUT_MS) > 0) {
		ssize_t r = read(pipefd[0], msg + n, sizeof msg - 1 - (size_t)n);

		if (r <= 0)
			break;
		n += r;
		if (memchr(msg, '\n', (size_t)n) != NULL)
			break;
	}
	close(pipefd[0]);
	msg[n] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	if (strncmp(msg, "ok", 2) == 0)
		return 0;
	if (strncmp(msg, "error: ", 7) == 0)
		return hv_fail(err, HV_EIO, "VM '%s' failed to start: %s", vm->name, msg + 7);
	hv_vm_log_tail(hv, vm->name, 1, msg, sizeof msg);
	return hv_fail(err, HV_EIO, "VM '%s' failed to start (worker log: %s)", vm->name,
		       msg[0] ? msg : "empty");
}

int
lifecycle_incoming(struct hv_ctx *hv, struct hv_vm *vm, int fd, bool storage,
		   struct hv_err *err)
{
	for (int i = 0; i < vm->nnics; i++)
		if (hv_switch_ensure(hv, vm->nics[i].switch_name, err) != 0)
			return -1;
	return run_worker(hv, vm, NULL, fd, storage, err);
}

/* an ISO may have gone, or changed, since it went into its drive */
static int
check_dvds(const struct hv_vm *vm, struct hv_err *err)
{
	char abs[HV_PATH_MAX];
	struct hv_err e;

	for (int i = 0; i < vm->ndvds; i++)
		if (vm->dvds[i][0] != '\0' && hv_iso_check(vm->dvds[i], abs, &e) != 0)
			return hv_fail(err, e.code, "VM '%s', DVD drive %d: %.400s (hv vm dvd set %s %d "
				       "--eject empties the drive)", vm->name, i, e.msg, vm->name, i);
	return 0;
}

int
hv_vm_start(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct hv_vm vm;

	if (hv_vm_get(hv, name, &vm, err) != 0)
		return -1;
	if (worker_alive(hv, vm.name))
		return hv_fail(err, HV_EBUSY, "VM '%s' is already %s", vm.name, vm.state);
	/* a Saved VM restores from its state file instead of booting */
	bool saved = strcmp(vm.state, "Saved") == 0;
	char state[HV_PATH_MAX + 256];

	if (saved && (vmm_state_path(hv->cfg.home, vm.name, state, sizeof state) != 0 ||
		      access(state, R_OK) != 0))
		return hv_fail(err, HV_EIO, "VM '%s' is Saved but its state file is gone "
			       "(`hv vm stop %s` turns it off)", vm.name, vm.name);
	/* UEFI (OVMF on the VM's i440FX, a CFI flash for its variables) runs
	   through SEC and PEI into DXE, where CpuDxe faults in the lab: not
	   for admins until a guest boots through it (issue 18) */
	if (vm.generation == 2 && vm.kernel[0] == '\0' && getenv("HV_EXPERIMENTAL_UEFI") == NULL)
		return hv_fail(err, HV_EINVAL, "VM '%s' has no kernel to boot (hv vm set %s --kernel FILE)",
			       vm.name, vm.name);
	if (check_dvds(&vm, err) != 0)
		return -1;
	/* a switch's bridge is gone after a host reboot: make it again */
	for (int i = 0; i < vm.nnics; i++)
		if (hv_switch_ensure(hv, vm.nics[i].switch_name, err) != 0)
			return -1;
	return run_worker(hv, &vm, saved ? state : NULL, -1, false, err);
}
