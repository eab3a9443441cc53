/*
 * worker-export.c - the worker's side of a live export (hv vm export NAME
 * DIR while the VM runs):
 *
 *	{"cmd": "export", "dir": D, "disks": [{"path": P, "format": F}, ...],
 *	 "state": S}			(state: only with --memory)
 *
 * A thread runs vmm_export() (state/live-export.c) and writes
 * {"progress": {"done", "total"}} lines to the requesting client while
 * the event loop serves the console; the last line ({"ok": ..., rounds,
 * pause_us, ...}) goes from the loop once the thread is done, through
 * the job eventfd the migration and merge threads use. The VM runs on in
 * this worker.
 * If the client is gone before the end, nobody would write the export's
 * definition: what the thread made is removed, and D (and D/disks) with
 * it when empty.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine/vm/worker/worker.h"

struct export_job {
	char dir[HV_PATH_MAX];
	char paths[VMM_MAX_DISKS][HV_PATH_MAX];
	char formats[VMM_MAX_DISKS][16];
	char state[HV_PATH_MAX];
	struct vmm_export_opts o;
	struct vmm_export_result r;
	int last_pct;
	bool client_gone, ok;
	atomic_bool cancel;
	struct worker *w;
};

static bool
export_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct export_job *x = opaque;
	int pct = total ? (int)(done * 100 / total) : 100;
	struct pollfd pfd = { .fd = x->w->mig_client->fd, .events = POLLRDHUP };

	/* a client that went away between two progress lines is seen at
	   once, not a percent of a big disk later (in the lab that took
	   minutes) */
	if (!x->client_gone && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		x->client_gone = true;
	if (pct != x->last_pct && !x->client_gone) {
		cJSON *j = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(j, "progress");

		x->last_pct = pct;
		cJSON_AddNumberToObject(o, "done", (double)done);
		cJSON_AddNumberToObject(o, "total", (double)total);
		x->client_gone = !client_line(x->w->mig_client, j);
	}
	return !x->client_gone && !atomic_load(&x->cancel);
}

static void *
export_thread(void *arg)
{
	struct worker *w = arg;
	struct export_job *x = w->exp;
	struct hv_err err = { 0 };
	cJSON *j = cJSON_CreateObject();
	uint64_t one = 1;

	x->ok = vmm_export(w->vmm, &x->o, &x->r, &err) == 0;
	cJSON_AddBoolToObject(j, "ok", x->ok);
	if (!x->ok)
		cJSON_AddStringToObject(j, "error", err.msg);
	cJSON_AddNumberToObject(j, "rounds", x->r.rounds);
	cJSON_AddNumberToObject(j, "total_ms", (double)x->r.total_ms);
	cJSON_AddNumberToObject(j, "pause_us", (double)x->r.pause_us);
	cJSON_AddNumberToObject(j, "disk_bytes", (double)x->r.disk_bytes);
	cJSON_AddNumberToObject(j, "state_bytes", (double)x->r.state_bytes);
	cJSON_AddNumberToObject(j, "last_blocks", (double)x->r.last_blocks);
	if (x->ok)
		logf_("exported to %s: %llu ms, %d rounds, paused %llu us", x->dir,
		      (unsigned long long)x->r.total_ms, x->r.rounds,
		      (unsigned long long)x->r.pause_us);
	else
		logf_("export to %s failed, the VM runs on: %s", x->dir, err.msg);
	w->job_reply = j;
	if (write(w->mig_event, &one, sizeof one) != sizeof one)
		logf_("export: eventfd: %s", strerror(errno));
	return NULL;
}

/* one string member, copied; -1 when missing or too long */
static int
member(const cJSON *o, const char *name, char *out, size_t len)
{
	const cJSON *s = cJSON_GetObjectItem(o, name);

	if (!cJSON_IsString(s) || strlen(s->valuestring) >= len || s->valuestring[0] == '\0')
		return -1;
	snprintf(out, len, "%s", s->valuestring);
	return 0;
}

static int
parse(struct worker *w, struct export_job *x, const cJSON *req)
{
	const cJSON *disks = cJSON_GetObjectItem(req, "disks");
	int n = cJSON_GetArraySize(disks);

	if (member(req, "dir", x->dir, sizeof x->dir) != 0 || !cJSON_IsArray(disks) ||
	    n != w->vm.ndisks || n > VMM_MAX_DISKS)
		return -1;
	for (int i = 0; i < n; i++) {
		const cJSON *d = cJSON_GetArrayItem(disks, i);

		if (member(d, "path", x->paths[i], sizeof x->paths[i]) != 0 ||
		    member(d, "format", x->formats[i], sizeof x->formats[i]) != 0)
			return -1;
		x->o.disks[i].path = x->paths[i];
		x->o.disks[i].format = x->formats[i];
	}
	x->o.ndisks = n;
	if (cJSON_GetObjectItem(req, "state") != NULL) {
		if (member(req, "state", x->state, sizeof x->state) != 0)
			return -1;
		x->o.state = x->state;
	}
	return 0;
}

void
export_request(struct worker *w, struct client *c, const cJSON *req)
{
	struct export_job *x = calloc(1, sizeof *x);

	if (x == NULL || parse(w, x, req) != 0) {
		reply_err(c, x ? "export: needs dir, a path and format for each disk, and "
			  "optionally state" : "out of memory");
		free(x);
		return;
	}
	x->last_pct = -1;
	x->w = w;
	atomic_init(&x->cancel, false);
	x->o.progress = export_progress;
	x->o.opaque = x;
	w->exp = x;
	if (job_start(w, c, &w->exporting, export_thread, "export") != 0) {
		w->exp = NULL;
		free(x);
	}
}

/* nobody will finish the export: take back what it made (a failed one
   took back its files itself), and its folders when they are empty */
static void
remove_made(struct export_job *x)
{
	char disks[HV_PATH_MAX + 8];

	for (int i = 0; x->ok && i < x->o.ndisks; i++)
		unlink(x->paths[i]);
	if (x->ok && x->o.state != NULL)
		unlink(x->state);
	snprintf(disks, sizeof disks, "%s/disks", x->dir);
	rmdir(disks);
	rmdir(x->dir);
}

static void
job_free(struct worker *w)
{
	cJSON_Delete(w->job_reply);
	w->job_reply = NULL;
	w->exporting = false;
	free(w->exp);
	w->exp = NULL;
}

void
export_done(struct worker *w)
{
	struct export_job *x = w->exp;
	cJSON *j = w->job_reply;

	pthread_join(w->mig_thread, NULL);
	w->job_reply = NULL;
	if (!client_line(w->mig_client, j) || x->client_gone) {
		logf_("export to %s: its client is gone, so is what it made", x->dir);
		remove_made(x);
	}
	client_close(w, w->mig_client);
	w->mig_client = NULL;
	job_free(w);
}

void
export_abort(struct worker *w)
{
	atomic_store(&w->exp->cancel, true);
	pthread_join(w->mig_thread, NULL);
	remove_made(w->exp);
	job_free(w);
}
