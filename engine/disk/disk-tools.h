/*
 * disk-tools.h - what the image tools (disk-tools.c, disk-convert.c)
 * need from the core beyond disk.h. Not for drivers or front ends.
 */
#ifndef HV_DISK_TOOLS_H
#define HV_DISK_TOOLS_H

#include "engine/disk/disk-int.h"

/* disk_open() flag, internal: open the immediate parent writable (merge) */
#define DISK_PARENT_RW	0x100u

/*
 * Status of [off, off+len) through the whole chain: DISK_ST_DATA (some
 * layer holds data there) or DISK_ST_ZERO (every layer says zero or
 * unallocated). *pnum as for disk_block_status().
 */
int disk_chain_status(struct disk *d, uint64_t off, uint64_t len,
		      uint64_t *pnum, struct hv_err *err);

/* the driver for a format, NULL when it is not built in */
const struct disk_driver *disk_driver_of(enum disk_format fmt);

/* true when every byte of buf is zero */
bool disk_is_zero(const void *buf, size_t len);

/* skip fsync on this thread (convert's writer, see disk-io.c) */
void dio_set_nosync(bool on);

#endif
