/*
 * vhdx.h - private to the VHDX driver ([MS-VHDX]): the in-memory state
 * and the helpers vhdx.c, vhdx-meta.c and vhdx-log.c share.
 *
 * Layout of an image (offsets in the file):
 *   0       file type identifier "vhdxfile" + creator (UTF-16)
 *   64K     header 1, 128K header 2 (4 KiB each, CRC-32C, sequence no.)
 *   192K    region table 1, 256K region table 2 (64 KiB each)
 *   regions log, BAT and metadata (1 MiB aligned), then payload blocks.
 */
#ifndef HV_VHDX_H
#define HV_VHDX_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/disk/disk-int.h"

#define KiB			1024ull
#define MiB			(1024ull * 1024)
#define VHDX_HDR1_OFF		(64 * KiB)
#define VHDX_HDR2_OFF		(128 * KiB)
#define VHDX_HDR_SIZE		(4 * KiB)
#define VHDX_RT1_OFF		(192 * KiB)
#define VHDX_RT2_OFF		(256 * KiB)
#define VHDX_RT_SIZE		(64 * KiB)
#define VHDX_RT_MAX_ENTRIES	2047
#define VHDX_META_TABLE_SIZE	(64 * KiB)
#define VHDX_META_MAX_ENTRIES	2047
#define VHDX_MAX_SIZE		(64ull * 1024 * 1024 * MiB)	/* 64 TiB */
#define VHDX_MIN_BLOCK		(1 * MiB)
#define VHDX_MAX_BLOCK		(256 * MiB)
#define VHDX_MAX_LOG		(256 * MiB)	/* we refuse bigger logs */
#define VHDX_SB_SIZE		(1 * MiB)	/* a sector bitmap block */
#define VHDX_LOG_SECTOR		4096u

/* BAT entry: state in bits 0-2, file offset in MiB in bits 20-63 */
enum {
	VHDX_PB_NOT_PRESENT = 0,
	VHDX_PB_UNDEFINED = 1,
	VHDX_PB_ZERO = 2,
	VHDX_PB_UNMAPPED = 3,
	VHDX_PB_FULLY_PRESENT = 6,
	VHDX_PB_PARTIALLY_PRESENT = 7,
	VHDX_SB_NOT_PRESENT = 0,
	VHDX_SB_PRESENT = 6,
};
#define VHDX_BAT_STATE(e)	((unsigned)((e) & 7))
#define VHDX_BAT_OFF(e)		(((e) >> 20) << 20)
#define VHDX_BAT_MAKE(st, off)	((uint64_t)(st) | ((off) >> 20) << 20)

struct vhdx_header {
	uint64_t seq;
	uint8_t file_write_guid[16];
	uint8_t data_write_guid[16];
	uint8_t log_guid[16];
	uint16_t log_version;
	uint16_t version;
	uint32_t log_length;
	uint64_t log_offset;
};

/* a log replayed in memory (read-only open of a dirty image) */
struct vhdx_patch {
	uint64_t off;
	uint64_t len;
	uint8_t *data;		/* NULL: zeros */
};

struct vhdx {
	struct vhdx_header hdr;
	int cur_hdr;			/* 0 or 1: the valid one */
	uint64_t file_size;		/* end of file as we know it */

	uint64_t bat_off, bat_len;
	uint64_t meta_off, meta_len;
	uint32_t block_size;
	uint32_t lsec, psec;
	bool leave_alloc, has_parent;
	uint64_t vsize;
	uint8_t page83[16];
	uint64_t vsize_item_off;	/* file offset of the size item */

	uint64_t chunk_ratio;		/* payload blocks per bitmap block */
	uint64_t nblocks;		/* payload blocks */
	uint64_t bat_entries;
	uint64_t *bat;

	/* parent locator (differencing) */
	char parent_linkage[40];
	char *parent_rel, *parent_abs, *parent_vol;
	bool parent_checked;

	/* write session: guids changed, log guid set */
	bool writing;
	bool apply_unsynced;		/* log applied in place, no fsync yet */
	uint64_t log_seq;

	struct vhdx_patch *patches;
	size_t npatches;
	bool replayed;			/* a dirty log was replayed on open */
};

/* one 4 KiB-aligned change to log: a copy of the new sector contents */
struct vhdx_logsec {
	uint64_t off;
	uint8_t data[VHDX_LOG_SECTOR];
};

/* vhdx-meta.c */
extern const uint8_t vhdx_guid_bat[16], vhdx_guid_meta[16];
int vhdx_read_headers(struct disk *d, struct vhdx *s, struct hv_err *err);
int vhdx_write_header(struct disk *d, struct vhdx *s, struct hv_err *err);
bool vhdx_region_valid(const uint8_t *b);
int vhdx_read_regions(struct disk *d, struct vhdx *s, struct hv_err *err);
int vhdx_read_metadata(struct disk *d, struct vhdx *s, struct hv_err *err);
void vhdx_geometry(struct vhdx *s);
uint64_t vhdx_bat_count(uint64_t vsize, uint32_t bs, uint32_t lsec,
			bool diff);
void vhdx_guid_new(uint8_t g[16]);
bool vhdx_guid_zero(const uint8_t g[16]);
void vhdx_guid_fmt(char out[40], const uint8_t g[16]);
void vhdx_header_encode(uint8_t *buf, const struct vhdx_header *h);
int vhdx_make_metadata(uint8_t *buf, size_t len, uint32_t bs, bool fixed,
		       uint64_t vsize, uint32_t lsec, const char *linkage,
		       const char *rel, const char *abs);

/* vhdx-log.c */
int vhdx_log_replay(struct disk *d, struct vhdx *s, struct hv_err *err);
int vhdx_log_write(struct disk *d, struct vhdx *s, struct vhdx_logsec *secs,
		   size_t n, struct hv_err *err);

/* vhdx.c: file I/O with the in-memory log patches and EOF zero-fill */
int vhdx_pread(struct disk *d, struct vhdx *s, void *buf, size_t len,
	       uint64_t off, struct hv_err *err);
int vhdx_pwrite(struct disk *d, void *buf, size_t len, uint64_t off,
		struct hv_err *err);
int vhdx_fsync(struct disk *d, struct hv_err *err);
int vhdx_begin_write(struct disk *d, struct vhdx *s, struct hv_err *err);
int vhdx_open(struct disk *d, struct hv_err *err);
void vhdx_close(struct disk *d);
int vhdx_alloc(struct disk *d, struct vhdx *s, uint64_t len, uint64_t *off,
	       struct hv_err *err);
int vhdx_set_bat(struct disk *d, struct vhdx *s, const uint64_t *idx,
		 const uint64_t *val, size_t n, struct vhdx_logsec *extra,
		 size_t nextra, struct hv_err *err);

/* vhdx-ops.c: the image tools */
int vhdx_create(const char *path, const struct disk_create_opts *o,
		struct hv_err *err);
int vhdx_check(struct disk *d, bool repair, struct disk_check_result *r,
	       struct hv_err *err);
int vhdx_resize(struct disk *d, uint64_t size, struct hv_err *err);
int vhdx_discard(struct disk *d, uint64_t off, uint64_t len,
		 struct hv_err *err);
int vhdx_compact(struct disk *d, disk_progress_fn progress, void *ctx,
		 struct hv_err *err);

#endif
