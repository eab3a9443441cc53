/*
 * vmdk-int.h - what the VMDK driver's files share: the text descriptor,
 * the extents it names, and hosted sparse extents ("KDMV").
 *
 * A VMDK disk is a list of extents laid end to end. Each is a flat
 * file (FLAT, VMFS), zeros (ZERO), or a hosted sparse extent (SPARSE):
 * a header, a grain directory (GD) of grain-table (GT) sectors, and
 * grain tables whose entries (GTEs) give the sector of each grain.
 * A monolithicSparse or streamOptimized file is one sparse extent
 * that carries its descriptor inside; other createTypes keep the
 * descriptor in its own small text file.
 */
#ifndef HV_VMDK_INT_H
#define HV_VMDK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/disk/disk-int.h"

#define VMDK_MAGIC		0x564d444bu	/* "KDMV" little endian */
#define VMDK_HDR_SIZE		512
#define VMDK_GD_AT_END		0xffffffffffffffffull

/* sparse header flags */
#define VMDK_FL_NL_TEST		(1u << 0)	/* newline bytes are valid */
#define VMDK_FL_RGD		(1u << 1)	/* redundant GD present */
#define VMDK_FL_ZERO_GRAIN	(1u << 2)	/* GTE 1 means a zero grain */
#define VMDK_FL_COMPRESSED	(1u << 16)
#define VMDK_FL_MARKERS		(1u << 17)

/* stream markers (the "type" of a marker whose size is 0) */
#define VMDK_MARKER_EOS		0
#define VMDK_MARKER_GT		1
#define VMDK_MARKER_GD		2
#define VMDK_MARKER_FOOTER	3

#define VMDK_GTE_ZERO		1u	/* with VMDK_FL_ZERO_GRAIN */

/* limits that keep hostile headers from asking for absurd memory */
#define VMDK_MAX_DESC		(1u << 20)	/* descriptor bytes */
#define VMDK_MAX_EXTENTS	4096
#define VMDK_MAX_GRAIN		(1ull << 16)	/* sectors (32 MiB) */
#define VMDK_MAX_GTES		512
#define VMDK_MAX_GD		(32u << 20)	/* GD entries, as qemu */
#define VMDK_MAX_SECTORS	(1ull << 37)	/* 64 TiB */
#define VMDK_GT_CACHE		16

enum vmdk_ext_type {
	VMDK_EXT_FLAT,		/* FLAT and VMFS: plain bytes at an offset */
	VMDK_EXT_SPARSE,	/* hosted sparse (KDMV) */
	VMDK_EXT_ZERO,
	VMDK_EXT_SESPARSE,	/* ESXi seSparse, read-only */
};

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };

/* ---- descriptor (vmdk-desc.c) ---- */

struct vmdk_desc_extent {
	enum vmdk_access access;
	uint64_t sectors;
	enum vmdk_ext_type type;
	char *file;		/* NULL for ZERO */
	uint64_t offset;	/* sectors, FLAT only */
};

struct vmdk_desc {
	char create_type[32];
	uint32_t cid, parent_cid;
	char *parent_hint;	/* parentFileNameHint, or NULL */
	struct vmdk_desc_extent *ext;
	unsigned n_ext;
};

int vmdk_desc_parse(const char *text, size_t len, const char *path,
		    struct vmdk_desc *desc, struct hv_err *err);
void vmdk_desc_free(struct vmdk_desc *desc);
/* Rewrite the 8 hex digits after "CID=" in place; false if absent. */
bool vmdk_desc_set_cid(char *text, size_t len, uint32_t cid);

/* ---- extents (vmdk-sparse.c) ---- */

struct vmdk_gt {
	uint64_t sector;	/* 0: slot empty */
	uint32_t *gte;
};

struct vmdk_extent {
	enum vmdk_ext_type type;
	uint64_t start;		/* first virtual byte */
	uint64_t len;		/* bytes of the virtual disk it covers */
	int fd;			/* -1 for ZERO */
	bool own_fd;		/* fd is not d->fd: close it */
	char *path;		/* for messages */
	uint64_t file_size;	/* current end of file (sector aligned
				   for sparse extents we write) */
	uint64_t flat_off;	/* FLAT: byte offset of the data */

	/* SPARSE */
	uint32_t version, flags;
	uint64_t capacity;	/* bytes */
	uint64_t grain;		/* bytes */
	uint32_t num_gtes;
	uint32_t gd_entries;
	uint64_t gd_sector, rgd_sector;	/* rgd 0: none */
	uint64_t desc_sector, desc_sectors;
	uint64_t overhead;	/* sectors */
	uint32_t *gd, *rgd;
	bool compressed, markers, zero_grain;
	struct vmdk_gt cache[VMDK_GT_CACHE];
	unsigned cache_next;
	uint8_t *zgrain;	/* last decompressed grain */
	uint32_t zgrain_gte;	/* its GTE, 0: none */

	/* SESPARSE: 64-bit GD, sector offsets of GTs and grains */
	uint64_t *gd64;
	uint64_t se_gt_sector, se_grain_sector, se_vol_sector;
};

int vmdk_sparse_open(struct vmdk_extent *e, struct hv_err *err);
void vmdk_extent_free(struct vmdk_extent *e);
/* GTE of the grain holding byte off (of the extent); 0 past the GD */
int vmdk_sparse_gte(struct vmdk_extent *e, uint64_t off, uint32_t *gte,
		    struct hv_err *err);
int vmdk_sparse_read(struct vmdk_extent *e, uint64_t off, void *buf,
		     size_t len, struct hv_err *err);
/* Write inside one grain; the core's parent supplies a new grain's rest */
int vmdk_sparse_write(struct disk *d, struct vmdk_extent *e, uint64_t off,
		      const void *buf, size_t len, struct hv_err *err);
int vmdk_sparse_check(struct vmdk_extent *e, struct disk_check_result *r,
		      struct hv_err *err);
/* Parse a sparse header from 512 bytes; 0 or -1 with err. */
int vmdk_sparse_header(struct vmdk_extent *e, const uint8_t *h,
		       struct hv_err *err);

/* ---- seSparse extents (vmdk-sesparse.c) ---- */

int vmdk_se_open(struct vmdk_extent *e, struct hv_err *err);
/* DISK_ST_* of the grain holding off; *at: its file offset if DATA */
int vmdk_se_lookup(struct vmdk_extent *e, uint64_t off, uint64_t *at,
		   struct hv_err *err);
int vmdk_se_read(struct vmdk_extent *e, uint64_t off, void *buf, size_t len,
		 struct hv_err *err);

/* ---- the open disk (vmdk.c) ---- */

struct vmdk {
	struct vmdk_desc desc;
	struct vmdk_extent *ext;
	unsigned n_ext;
	bool embedded;		/* descriptor lives in extent 0 */
	bool cid_updated;
};

/* file named in the descriptor at desc_path: relative to its directory */
char *vmdk_rel_path(const char *desc_path, const char *file);
/* a random content ID, never ffffffff ("no parent") */
uint32_t vmdk_new_cid(void);
int vmdk_create(const char *path, const struct disk_create_opts *o,
		struct hv_err *err);

#endif
