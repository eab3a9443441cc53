/*
 * disk-int.h - what block drivers share with the disk core. Not for
 * front ends: they use disk.h.
 *
 * A driver fills a struct disk_driver. The core probes, opens the
 * parent chain, checks alignment and bounds, and turns reads of
 * unallocated ranges into reads of the parent, so drivers only handle
 * their own layer:
 *  - read_layer() fills only what this layer holds (DATA and ZERO
 *    ranges); the core asks block_status() first and never calls
 *    read_layer() for an UNALLOC range.
 *  - write() allocates as needed. For a sub-block write into an
 *    unallocated block of a differencing image, the driver copies the
 *    rest of the block from d->parent itself (disk_read on d->parent),
 *    or keeps a sector bitmap (VHD/VHDX) and needs no copy.
 *
 * All file I/O goes through dio_pread()/dio_pwrite()/dio_fsync()/
 * dio_ftruncate() so tests can inject faults (HV_DISK_FAULT, see disk-io.c).
 */
#ifndef HV_DISK_INT_H
#define HV_DISK_INT_H

#include <sys/types.h>

#include "engine/disk/disk.h"

struct disk {
	const struct disk_driver *drv;
	char *path;
	int fd;
	unsigned flags;
	uint64_t size;		/* virtual size, set by open() */
	struct disk *parent;	/* opened by the core after open() */
	char *parent_name;	/* as stored in the image, set by open() */
	enum disk_format parent_fmt;	/* if the image says, else NONE */
	void *priv;
};

struct disk_driver {
	enum disk_format fmt;
	const char *name;	/* "vhdx" */
	/* score 0..100 that buf (first len bytes of the file, len >= 4096
	   unless the file is shorter, plus the file size) is this format */
	int (*probe)(const uint8_t *buf, size_t len, uint64_t file_size);
	/* open: d->fd, d->path, d->flags set; fill d->size, d->priv,
	   d->parent_name (malloc'd) when the image has a parent */
	int (*open)(struct disk *d, struct hv_err *err);
	void (*close)(struct disk *d);
	/* create a new image; parent_size is the parent's virtual size */
	int (*create)(const char *path, const struct disk_create_opts *o,
		      struct hv_err *err);
	int (*read_layer)(struct disk *d, uint64_t off, void *buf, size_t len,
			  struct hv_err *err);
	int (*write)(struct disk *d, uint64_t off, const void *buf, size_t len,
		     struct hv_err *err);
	/* optional: NULL means the core writes zero buffers */
	int (*write_zeroes)(struct disk *d, uint64_t off, uint64_t len,
			    struct hv_err *err);
	/* optional: NULL means discard is a no-op */
	int (*discard)(struct disk *d, uint64_t off, uint64_t len,
		       struct hv_err *err);
	int (*flush)(struct disk *d, struct hv_err *err);
	int (*block_status)(struct disk *d, uint64_t off, uint64_t len,
			    uint64_t *pnum, struct hv_err *err);
	int (*info)(struct disk *d, struct disk_info *info,
		    struct hv_err *err);
	/* optional */
	int (*check)(struct disk *d, bool repair, struct disk_check_result *r,
		     struct hv_err *err);
	/* optional: change the virtual size (grow, or shrink when allowed) */
	int (*resize)(struct disk *d, uint64_t size, struct hv_err *err);
	/* optional: where DATA at [off, off+len) of this layer lies in d->fd,
	   stored plainly (not compressed, nothing pending in memory): sets
	   *host and *pnum (contiguous in the file, 0 < *pnum <= len); -1
	   when it is not so stored (the caller then reads). convert uses it
	   to copy from a mapping of the file instead of a read buffer. */
	int (*map)(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
		   uint64_t *pnum);
	/* optional: drop all-zero blocks and shrink the file */
	int (*compact)(struct disk *d, disk_progress_fn progress, void *ctx,
		       struct hv_err *err);
};

extern const struct disk_driver disk_raw_driver;
extern const struct disk_driver disk_vhd_driver;
extern const struct disk_driver disk_vhdx_driver;
extern const struct disk_driver disk_qcow2_driver;
extern const struct disk_driver disk_vmdk_driver;

/* fault-injectable file I/O: full transfers or -errno */
ssize_t dio_pread(int fd, void *buf, size_t len, off_t off);
ssize_t dio_pwrite(int fd, const void *buf, size_t len, off_t off);
int dio_fsync(int fd);
int dio_ftruncate(int fd, off_t len);

/* little/big endian helpers for on-disk structures */
static inline uint16_t get_le16(const void *p) { const uint8_t *b = p; return (uint16_t)(b[0] | b[1] << 8); }
static inline uint32_t get_le32(const void *p) { const uint8_t *b = p; return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }
static inline uint64_t get_le64(const void *p) { const uint8_t *b = p; return get_le32(b) | (uint64_t)get_le32(b + 4) << 32; }
static inline uint16_t get_be16(const void *p) { const uint8_t *b = p; return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t get_be32(const void *p) { const uint8_t *b = p; return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3]; }
static inline uint64_t get_be64(const void *p) { const uint8_t *b = p; return (uint64_t)get_be32(b) << 32 | get_be32(b + 4); }
static inline void put_le16(void *p, uint16_t v) { uint8_t *b = p; b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
static inline void put_le32(void *p, uint32_t v) { uint8_t *b = p; for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i)); }
static inline void put_le64(void *p, uint64_t v) { uint8_t *b = p; for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i)); }
static inline void put_be16(void *p, uint16_t v) { uint8_t *b = p; b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static inline void put_be32(void *p, uint32_t v) { uint8_t *b = p; for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (24 - 8 * i)); }
static inline void put_be64(void *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32((uint8_t *)p + 4, (uint32_t)v); }

#endif
