/*
 * worker.h - what the two halves of build/hv-worker share: the worker's
 * state (one running VM), and the calls between its main loop
 * (worker-main.c: setup, the VM, the event loop) and its control socket
 * (worker-ctl.c: clients, requests, the console ring, stats).
 */
#ifndef HV_VM_WORKER_H
#define HV_VM_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/hv.h"
#include "engine/vm/host/disk-arbiter.h"
#include "engine/vm/host/mem-arbiter.h"
#include "engine/vm/vmm.h"

#define RING_SIZE	(64 * 1024)
#define MAX_CLIENTS	32
#define LINE_MAX_LEN	4096
#define CONSOLE_IN_MAX	16384	/* typing queued for the guest's UART */

struct client {
	int fd;
	int passed_fd;		/* an fd that came with its request, or -1 */
	bool console;		/* raw console stream after {"cmd":"console"} */
	char buf[LINE_MAX_LEN];
	size_t len;
	const char *rest;	/* in buf, behind the request being handled */
	size_t rest_len;
};

struct worker {
	struct hv_ctx *hv;
	struct hv_vm vm;
	struct vmm *vmm;
	int epfd, listen_fd, sig_fd, console_fd, wait_fd, log_fd;
	struct client clients[MAX_CLIENTS];
	char ring[RING_SIZE];	/* console output nobody may have seen yet */
	size_t ring_head;	/* total bytes ever written */
	bool paused, quit;
	/* typing for the guest that its UART's FIFO has no room for yet: the
	   console clients are not read while this is full, and it outlives a
	   client that typed a line and left (console_flush) */
	char cin[CONSOLE_IN_MAX];
	size_t cin_len;
	bool cin_held;		/* console clients out of epoll for now */
	char exit_why[128];
	char sock_path[HV_PATH_MAX + 128];
	const char *home;
	bool open_failed;	/* the inventory thread could not open it */
	struct hv_err open_err;
	int tick_fd;		/* a second: dynamic memory, metering */
	int64_t started_ms;	/* unix ms: resource samples count from here */
	unsigned ticks;
	struct vmm_nic_stats metered[VMM_MAX_NICS];	/* what it has so far */
	struct disk_arbiter *arb;	/* storage QoS shared with the host's VMs */
	struct mem_arbiter *mem;	/* dynamic memory, budget, smart paging */
	uint64_t budget;		/* hv.conf memory.budget */
	const char *restore;		/* --restore FILE: a saved state */
	char nvram[HV_PATH_MAX];	/* Gen2 UEFI: its variable store */
	bool saved;			/* "save" wrote it: the VM is Saved */
	/* live migration (worker-migrate.c) */
	int incoming_fd;		/* --incoming-fd: the VM arrives on it */
	bool incoming_storage;		/* ... with its disks */
	bool incoming_told;		/* the source heard of a failure already */
	bool migrating;			/* leaving: a thread sends it */
	int mig_event;			/* eventfd: that thread is done */
	int mig_fd;			/* its connection to the destination */
	struct client *mig_client;	/* hv vm migrate, waiting for the end */
	pthread_t mig_thread;
	uint64_t mig_downtime_ms;
	bool mig_storage, mig_ok, mig_committed;
	char mig_to[256];
	bool merging;			/* an online merge runs on that thread */
	struct cJSON *job_reply;	/* what the thread's client is told last */
	int merge_disk;
	char merge_parent[HV_PATH_MAX];
	bool exporting;			/* a live export runs on that thread */
	struct export_job *exp;		/* its request and result (worker-export.c) */
};

#define METER_SECONDS	5

/* worker-main.c */
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void meter_flush(struct worker *w);
void sample_take(struct worker *w);

/* worker-migrate.c: a job on a thread (migrate, merge, export) answers
   its client with lines (false: the client is gone) and, when done,
   through the job eventfd */
bool client_line(struct client *c, struct cJSON *j);
int job_event(struct worker *w);
int job_start(struct worker *w, struct client *c, bool *flag, void *(*fn)(void *),
	      const char *what);
void migrate_request(struct worker *w, struct client *c, const char *to,
		     uint64_t max_downtime_ms, bool storage);
void migrate_done(struct worker *w);	/* and merge's, export's: the job event */
void merge_request(struct worker *w, struct client *c, int disk, const char *parent);
int migrate_arrive(struct worker *w, struct hv_err *err);

/* worker-export.c */
void export_request(struct worker *w, struct client *c, const struct cJSON *req);
void export_done(struct worker *w);
void export_abort(struct worker *w);	/* the worker ends mid-way */

/* worker-ctl.c */
void client_close(struct worker *w, struct client *c);
void reply_err(struct client *c, const char *msg);
int listen_socket(struct worker *w, struct hv_err *err);
void accept_client(struct worker *w);
void client_input(struct worker *w, struct client *c);
/* what waits for the guest's UART goes in as it makes room; true while
   some still waits (the main loop then looks again in 10 ms) */
bool console_flush(struct worker *w);
void console_output(struct worker *w);
void set_state(struct worker *w, const char *state, const char *why);

#endif
