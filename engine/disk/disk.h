/*
 * disk.h - the disk engine: one block-driver interface over raw, VHD,
 * VHDX, qcow2 and VMDK images, with backing (parent) chains, and the
 * image tools built on it (create, info, check, convert, resize,
 * compact, merge).
 *
 * Conventions:
 *  - every call that can fail returns 0 (or a non-negative value) on
 *    success and -1 on failure with *err filled (one line, no newline,
 *    naming the file and the problem);
 *  - offsets and lengths are bytes, multiples of DISK_SECTOR;
 *  - a struct disk is used by one thread at a time.
 */
#ifndef HV_DISK_H
#define HV_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define DISK_SECTOR	512u
#define DISK_MAX_CHAIN	64	/* longest parent chain we follow */

enum disk_format {
	DISK_FMT_NONE = -1,
	DISK_FMT_RAW = 0,
	DISK_FMT_VHD,
	DISK_FMT_VHDX,
	DISK_FMT_QCOW2,
	DISK_FMT_VMDK,
	DISK_FMT_COUNT,
};

/* disk_open() flags */
#define DISK_RDONLY	0x1u	/* open read-only (also opens parents r/o) */
#define DISK_NOBACKING	0x2u	/* do not open the parent chain */

/* block status: what one layer knows about a range */
enum disk_status {
	DISK_ST_DATA = 1,	/* allocated in this layer: read it here */
	DISK_ST_ZERO,		/* reads as zeros, known at this layer */
	DISK_ST_UNALLOC,	/* not allocated here: falls through to the
				   parent (zeros when there is none) */
};

struct disk;

struct disk_create_opts {
	enum disk_format fmt;
	uint64_t size;		/* virtual size in bytes; 0 with a parent:
				   take the parent's */
	bool fixed;		/* preallocated (VHD/VHDX fixed, raw full) */
	const char *parent;	/* differencing child / backing file */
	uint32_t block_size;	/* 0: the format's default */
};

struct disk_info {
	enum disk_format fmt;
	char subformat[32];	/* "fixed", "dynamic", "differencing",
				   "monolithicSparse", ... */
	uint64_t size;		/* virtual size */
	uint64_t file_size;	/* bytes of the image file */
	uint64_t allocated;	/* bytes the file really uses on the host */
	uint32_t block_size;	/* allocation unit, 0 if none */
	char parent[4096];	/* parent path as stored ("" if none) */
	/* VHD only */
	char creator_app[8];	/* e.g. "win ", "qemu", printable */
	uint32_t creator_version;
	uint16_t cyls;
	uint8_t heads, spt;
};

struct disk_check_result {
	uint64_t errors;	/* corruptions found */
	uint64_t leaks;		/* space allocated but unused */
	uint64_t repaired;	/* fixed with repair */
	char first[256];	/* first problem, for humans */
};

typedef void (*disk_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* names */
const char *disk_format_name(enum disk_format fmt);
enum disk_format disk_format_parse(const char *name);	/* NONE if unknown */

/* Guess the format of a file from its content (not its name). */
enum disk_format disk_probe(const char *path, struct hv_err *err);

int disk_open(struct disk **out, const char *path, unsigned flags,
	      struct hv_err *err);
void disk_close(struct disk *d);
int disk_create(const char *path, const struct disk_create_opts *o,
		struct hv_err *err);

uint64_t disk_size(const struct disk *d);
enum disk_format disk_format_of(const struct disk *d);
struct disk *disk_parent(const struct disk *d);
const char *disk_path(const struct disk *d);

/* I/O through the whole chain: unallocated ranges read from the parent. */
int disk_read(struct disk *d, uint64_t off, void *buf, size_t len,
	      struct hv_err *err);
int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	       struct hv_err *err);
int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		      struct hv_err *err);
int disk_discard(struct disk *d, uint64_t off, uint64_t len,
		 struct hv_err *err);
int disk_flush(struct disk *d, struct hv_err *err);

/*
 * Status of [off, off+len) in this layer only. Returns a DISK_ST_* value
 * and sets *pnum to the length (>= DISK_SECTOR, <= len) it applies to.
 */
int disk_block_status(struct disk *d, uint64_t off, uint64_t len,
		      uint64_t *pnum, struct hv_err *err);

int disk_get_info(struct disk *d, struct disk_info *info, struct hv_err *err);
int disk_check(struct disk *d, bool repair, struct disk_check_result *r,
	       struct hv_err *err);

/* image tools */
struct disk_convert_opts {
	enum disk_format fmt;
	int fixed;		/* -1: like the source, 0: dynamic, 1: fixed */
	uint32_t block_size;	/* 0: default */
	disk_progress_fn progress;
	void *progress_ctx;
};
int disk_convert(const char *src, const char *dst,
		 const struct disk_convert_opts *o, struct hv_err *err);
int disk_resize(const char *path, uint64_t size, bool shrink,
		struct hv_err *err);
int disk_compact(const char *path, disk_progress_fn progress, void *ctx,
		 struct hv_err *err);
int disk_merge(const char *child, disk_progress_fn progress, void *ctx,
	       struct hv_err *err);

#endif
