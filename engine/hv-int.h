/* hv-int.h - engine internals shared by the engine files; not for front ends. */
#ifndef HV_INT_H
#define HV_INT_H

#include <sqlite3.h>

#include "engine/hv.h"

#define HV_MAX_SPAWNED	64

struct hv_ctx {
	struct hv_config cfg;
	sqlite3 *db;
	/* workers this process spawned: reaped when they end (long-lived
	 * front ends like the TUI must not collect zombies) */
	int nspawned;
	pid_t spawned[HV_MAX_SPAWNED];
};

/* config.c */
int config_load(struct hv_config *cfg, const char *home, struct hv_err *err);

/* lifecycle.c: a VM whose worker died reads as "Failed" */
void lifecycle_refresh(struct hv_ctx *hv, struct hv_vm *vm);
/* collect the exit status of spawned workers that have ended */
void lifecycle_reap(struct hv_ctx *hv);
/* vm-file.c: a definition file into vm, nothing registered; and vm
   written as one (beside, then renamed into place) */
int vm_file_read(struct hv_ctx *hv, const char *path, struct hv_vm *vm, struct hv_err *err);
int vm_file_write(const struct hv_vm *vm, const char *path, struct hv_err *err);
/* lifecycle.c: a connection to a running VM's worker */
int lifecycle_connect(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* a request its worker answers with progress lines ({"progress": {"done",
   "total"}}, passed to progress when not NULL), then {"ok": ...}: that
   last line in *reply when reply is not NULL and it said ok */
struct cJSON;
int lifecycle_job(struct hv_ctx *hv, const char *name, const char *json,
		  void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
		  struct cJSON **reply, struct hv_err *err);
/* run an incoming migration's worker on fd (engine/cluster/migrate.c);
   returns once the VM runs here, or failed to arrive */
int lifecycle_incoming(struct hv_ctx *hv, struct hv_vm *vm, int fd, bool storage,
		       struct hv_err *err);


/* files.c: copy src to dst (0600), synced; dst's directory is made
   (0700) when missing; a failed copy leaves no dst */
int file_copy(const char *src, const char *dst, struct hv_err *err);

/* store.c */
int store_open(struct hv_ctx *hv, struct hv_err *err);
void store_close(struct hv_ctx *hv);
/* BEGIN IMMEDIATE (waits for the write lock), COMMIT, ROLLBACK */
int store_begin(struct hv_ctx *hv, struct hv_err *err);
int store_commit(struct hv_ctx *hv, struct hv_err *err);
void store_rollback(struct hv_ctx *hv);
int store_fail(struct hv_ctx *hv, struct hv_err *err, const char *what);
/* room for element n of an array read row by row: v itself while n <
   *cap, else v grown (doubling, from 16); NULL, v freed, out of memory */
void *store_grow(void *v, size_t *cap, size_t n, size_t elem);
/* prepare or fail with the db message */
sqlite3_stmt *store_prepare(struct hv_ctx *hv, const char *sql,
			    struct hv_err *err);

#endif
