/*
 * vhd-int.h - what the VHD driver's files (vhd.c, vhd-write.c,
 * vhd-create.c, vhd-check.c) share: on-disk layout constants and the
 * open image's state.
 *
 * Layout of a dynamic or differencing VHD (all fields big-endian):
 *	0	footer copy (512 bytes, "conectix")
 *	512	dynamic header (1024 bytes, "cxsparse")
 *	...	BAT: one 32-bit sector number per block, 0xFFFFFFFF = none
 *	...	parent locator data (differencing disks)
 *	...	blocks: sector bitmap (rounded up to 512) then block data
 *	end-512	footer
 * A fixed VHD is the raw data followed by the footer.
 */
#ifndef HV_VHD_INT_H
#define HV_VHD_INT_H

#include <stdbool.h>

#include "engine/disk/disk-int.h"

#define VHD_FOOTER_SIZE		512u
#define VHD_HEADER_SIZE		1024u
#define VHD_TYPE_FIXED		2u
#define VHD_TYPE_DYNAMIC	3u
#define VHD_TYPE_DIFF		4u
#define VHD_BAT_FREE		0xFFFFFFFFu
#define VHD_BLOCK_DEFAULT	(2u << 20)
#define VHD_BLOCK_MAX		(256u << 20)
#define VHD_EPOCH		946684800	/* 2000-01-01 00:00:00 UTC */
/* the largest CHS geometry; an image with it is sized by current_size */
#define VHD_MAX_GEOMETRY	(65535ull * 16 * 255)
/* the largest size qemu accepts, just over 2040 GiB */
#define VHD_MAX_SECTORS		(65535ull * 255 * 255)

/* footer field offsets */
#define VF_COOKIE	0
#define VF_FEATURES	8
#define VF_VERSION	12
#define VF_DATA_OFF	16
#define VF_TIME		24
#define VF_APP		28
#define VF_APP_VER	32
#define VF_HOST		36
#define VF_ORIG_SIZE	40
#define VF_CUR_SIZE	48
#define VF_CYLS		56
#define VF_HEADS	58
#define VF_SPT		59
#define VF_TYPE		60
#define VF_CSUM		64
#define VF_UUID		68

/* dynamic header field offsets */
#define VH_COOKIE	0
#define VH_DATA_OFF	8
#define VH_BAT_OFF	16
#define VH_VERSION	24
#define VH_ENTRIES	28
#define VH_BLOCK	32
#define VH_CSUM		36
#define VH_PUUID	40
#define VH_PTIME	56
#define VH_PNAME	64
#define VH_PNAME_LEN	512
#define VH_LOC		576
#define VH_LOC_SIZE	24
#define VH_NLOC		8

/* per-block bitmap knowledge, so full blocks need no bitmap reads */
enum { VHD_BM_UNKNOWN, VHD_BM_FULL, VHD_BM_PARTIAL };

struct vhd {
	uint8_t footer[VHD_FOOTER_SIZE];	/* as on disk, checksum valid */
	uint8_t header[VHD_HEADER_SIZE];
	uint32_t type;
	bool head_ok, tail_ok;	/* footer copy at 0 / footer at end valid */
	bool parent_checked;	/* parent's unique id compared */
	uint64_t file_size;
	uint64_t hdr_off, bat_off;
	uint32_t entries;	/* BAT entries in the file */
	uint32_t nblocks;	/* entries the virtual size uses */
	uint32_t block_size, bm_size;
	uint32_t *bat;		/* host order */
	uint8_t *bmstate;	/* VHD_BM_* per entry */
	uint8_t *bm;		/* cached bitmap of block bm_idx */
	int64_t bm_idx;
	uint64_t meta_end;	/* end of header, BAT and locators */
	uint64_t next_alloc;	/* where the next block goes */
};

static inline struct vhd *vhd_of(struct disk *d) { return d->priv; }

static inline uint64_t vhd_round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static inline bool vhd_bit(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] & (0x80u >> (i % 8));
}

/* vhd.c */
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off);
bool vhd_footer_valid(const uint8_t *f);
uint64_t vhd_footer_size(const uint8_t *f);
void vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads,
		  uint8_t *spt);
int vhd_bitmap(struct disk *d, uint32_t idx, const uint8_t **bm,
	       struct hv_err *err);
int vhd_io_fail(struct disk *d, const char *what, ssize_t rc,
		struct hv_err *err);

/* vhd-write.c */
int vhd_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	      struct hv_err *err);
int vhd_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		     struct hv_err *err);
int vhd_discard(struct disk *d, uint64_t off, uint64_t len,
		struct hv_err *err);
int vhd_flush(struct disk *d, struct hv_err *err);
int vhd_write_bat_entry(struct disk *d, uint32_t idx, struct hv_err *err);
int vhd_write_footers(struct disk *d, uint64_t end, struct hv_err *err);

/* vhd-create.c */
int vhd_create(const char *path, const struct disk_create_opts *o,
	       struct hv_err *err);
void vhd_set_app(uint8_t *footer);
void vhd_seal_footer(uint8_t *footer);

/* vhd-check.c */
int vhd_check(struct disk *d, bool repair, struct disk_check_result *r,
	      struct hv_err *err);
int vhd_resize(struct disk *d, uint64_t size, struct hv_err *err);
int vhd_compact(struct disk *d, disk_progress_fn progress, void *ctx,
		struct hv_err *err);

#endif
