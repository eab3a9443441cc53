/*
 * worker-migrate.c - the worker's side of live migration.
 *
 * Leaving: {"cmd": "migrate", ...} arrives with the connection to the
 * destination (engine/cluster/migrate.c authenticated it). A thread runs the
 * pre-copy (engine/vm/state/precopy.c) and writes progress lines to the
 * requesting client while the event loop goes on serving the console;
 * when it is done, the loop either ends the worker (the VM runs there)
 * or carries on as before (it failed: the VM never stopped here).
 *
 * Arriving: hv-worker --incoming-fd N builds the VM to restore, reads
 * the stream into it, and starts it when the source hands it over.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/vm/worker/worker.h"

static void merge_done(struct worker *w);

static void
progress(void *opaque, const struct vmm_migrate_progress *p)
{
	struct worker *w = opaque;
	cJSON *j = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(j, "progress");

	cJSON_AddStringToObject(o, "phase", p->phase);
	cJSON_AddNumberToObject(o, "pass", p->pass);
	cJSON_AddNumberToObject(o, "sent_bytes", (double)p->sent_bytes);
	cJSON_AddNumberToObject(o, "remaining_bytes", (double)p->remaining_bytes);
	cJSON_AddNumberToObject(o, "rate", (double)p->rate);
	cJSON_AddNumberToObject(o, "elapsed_ms", (double)p->elapsed_ms);
	client_line(w->mig_client, j);
}

static void *
migrate_thread(void *arg)
{
	struct worker *w = arg;
	struct vmm_migrate_opts o = {
		.max_downtime_ms = w->mig_downtime_ms, .storage = w->mig_storage,
		.progress = progress, .opaque = w,
	};
	struct vmm_migrate_result r;
	struct hv_err err = { 0 };
	cJSON *j = cJSON_CreateObject();
	uint64_t one = 1;
	int rc;

	rc = vmm_migrate_send(w->vmm, w->mig_fd, &o, &r, &err);
	w->mig_ok = rc == 0;
	w->mig_committed = r.committed;
	cJSON_AddBoolToObject(j, "ok", rc == 0);
	if (rc != 0)
		cJSON_AddStringToObject(j, "error", err.msg);
	cJSON_AddNumberToObject(j, "passes", r.passes);
	cJSON_AddNumberToObject(j, "total_ms", (double)r.total_ms);
	cJSON_AddNumberToObject(j, "downtime_ms", (double)r.downtime_ms);
	cJSON_AddNumberToObject(j, "bytes", (double)r.bytes);
	cJSON_AddNumberToObject(j, "pages", (double)r.pages);
	cJSON_AddNumberToObject(j, "zero_pages", (double)r.zero_pages);
	cJSON_AddNumberToObject(j, "disk_bytes", (double)r.disk_bytes);
	cJSON_AddBoolToObject(j, "unconfirmed", r.unconfirmed);
	if (rc == 0)
		logf_("migrated to %s: %d passes, %llu ms, downtime %llu ms, %llu MiB", w->mig_to,
		      r.passes, (unsigned long long)r.total_ms, (unsigned long long)r.downtime_ms,
		      (unsigned long long)(r.bytes >> 20));
	else
		logf_("migration to %s failed%s: %s", w->mig_to,
		      r.committed ? " after the handover" : ", the VM runs on here", err.msg);
	w->job_reply = j;	/* the loop sends it, once it is itself done */
	if (write(w->mig_event, &one, sizeof one) != sizeof one)
		logf_("migration: eventfd: %s", strerror(errno));
	return NULL;
}

void
migrate_request(struct worker *w, struct client *c, const char *to, uint64_t max_downtime_ms,
		bool storage)
{
	if (c->passed_fd < 0) {
		reply_err(c, "migrate: no connection came with the request");
		return;
	}
	if (w->paused) {
		reply_err(c, "the VM is paused: resume it to migrate it live");
		return;
	}
	w->mig_fd = c->passed_fd;
	c->passed_fd = -1;
	w->mig_downtime_ms = max_downtime_ms;
	w->mig_storage = storage;
	snprintf(w->mig_to, sizeof w->mig_to, "%s", to);
	set_state(w, "Migrating", NULL);
	hv_event_add(w->hv, w->vm.name, "live migration to %s begins", to);
	if (job_start(w, c, &w->migrating, migrate_thread, "migration") != 0) {
		set_state(w, "Running", NULL);
		close(w->mig_fd);
		w->mig_fd = -1;
	}
}

/* the thread is done: end here, or go on as before */
void
migrate_done(struct worker *w)
{
	uint64_t v;

	if (read(w->mig_event, &v, sizeof v) != sizeof v)
		return;
	if (w->merging) {
		merge_done(w);
		return;
	}
	if (w->exporting) {
		export_done(w);
		return;
	}
	if (!w->migrating)
		return;
	pthread_join(w->mig_thread, NULL);
	w->migrating = false;
	close(w->mig_fd);
	w->mig_fd = -1;
	console_output(w);
	if (w->mig_ok || w->mig_committed) {
		snprintf(w->exit_why, sizeof w->exit_why, "live-migrated to %.100s", w->mig_to);
		w->quit = true;
	} else {
		set_state(w, "Running", NULL);
		hv_event_add(w->hv, w->vm.name, "live migration to %s failed: the VM runs on here",
			     w->mig_to);
	}
	client_line(w->mig_client, w->job_reply);
	w->job_reply = NULL;
	client_close(w, w->mig_client);
	w->mig_client = NULL;
}

/* --incoming-fd: the VM (built to restore) arrives; then it runs */
int
migrate_arrive(struct worker *w, struct hv_err *err)
{
	struct vmm_migrate_result r;

	/* either way the source hears why from here, once */
	w->incoming_told = true;
	if (vmm_migrate_receive(w->vmm, w->incoming_fd, w->incoming_storage, &r, err) != 0)
		return -1;
	if (vmm_start(w->vmm, err) != 0) {
		vmm_migrate_refuse(w->incoming_fd, err->msg);
		return -1;
	}
	vmm_announce(w->vmm);
	if (write(w->incoming_fd, "K", 1) != 1)
		logf_("migration: the source did not hear that the VM runs: %s", strerror(errno));
	logf_("arrived: %llu pages, %llu MiB of disk, %llu MiB in %llu ms",
	      (unsigned long long)r.pages, (unsigned long long)(r.disk_bytes >> 20),
	      (unsigned long long)(r.bytes >> 20), (unsigned long long)r.total_ms);
	return 0;
}

/* --- online merge: hv checkpoint delete while the VM runs ------------------ */

static void
merge_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct worker *w = opaque;
	cJSON *j = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(j, "progress");

	cJSON_AddNumberToObject(o, "done", (double)done);
	cJSON_AddNumberToObject(o, "total", (double)total);
	client_line(w->mig_client, j);
}

static void *
merge_thread(void *arg)
{
	struct worker *w = arg;
	struct hv_err err = { 0 };
	cJSON *j = cJSON_CreateObject();
	uint64_t one = 1;
	int rc = vmm_disk_merge(w->vmm, w->merge_disk, w->merge_parent, merge_progress, w, &err);

	w->mig_ok = rc == 0;
	cJSON_AddBoolToObject(j, "ok", rc == 0);
	if (rc != 0)
		cJSON_AddStringToObject(j, "error", err.msg);
	logf_("disk %d %s into %s%s%s", w->merge_disk, rc == 0 ? "merged" : "not merged",
	      w->merge_parent, rc == 0 ? "" : ": ", rc == 0 ? "" : err.msg);
	w->job_reply = j;
	if (write(w->mig_event, &one, sizeof one) != sizeof one)
		logf_("merge: eventfd: %s", strerror(errno));
	return NULL;
}

int
job_event(struct worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (w->mig_event >= 0)
		return 0;
	w->mig_event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->mig_event < 0)
		return -1;
	ev.data.ptr = &w->mig_event;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->mig_event, &ev);
}

/*
 * fn on the job thread, c its client from now on (the loop leaves it
 * alone, the thread writes to it); *flag says a job runs. -1 when no
 * thread could start: c heard why and is closed, *flag is down again.
 */
int
job_start(struct worker *w, struct client *c, bool *flag, void *(*fn)(void *),
	  const char *what)
{
	char msg[96];

	if (job_event(w) != 0) {
		reply_err(c, "eventfd failed");
		return -1;
	}
	w->mig_client = c;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	*flag = true;
	if (pthread_create(&w->mig_thread, NULL, fn, w) == 0)
		return 0;
	*flag = false;
	w->mig_client = NULL;
	snprintf(msg, sizeof msg, "cannot start the %s thread", what);
	reply_err(c, msg);
	client_close(w, c);
	return -1;
}

void
merge_request(struct worker *w, struct client *c, int disk, const char *parent)
{
	if (disk < 0 || disk >= w->vm.ndisks) {
		reply_err(c, "merge: no such disk");
		return;
	}
	w->merge_disk = disk;
	snprintf(w->merge_parent, sizeof w->merge_parent, "%s", parent);
	job_start(w, c, &w->merging, merge_thread, "merge");
}

static void
merge_done(struct worker *w)
{
	pthread_join(w->mig_thread, NULL);
	w->merging = false;
	if (w->mig_ok)	/* what vm stats shows, and a later migration sends */
		snprintf(w->vm.disks[w->merge_disk], sizeof w->vm.disks[0], "%s", w->merge_parent);
	/* the answer goes once all is as it says: a next request finds it so */
	client_line(w->mig_client, w->job_reply);
	w->job_reply = NULL;
	client_close(w, w->mig_client);
	w->mig_client = NULL;
}
