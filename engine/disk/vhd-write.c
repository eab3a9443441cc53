/*
 * vhd-write.c - writing VHDs: data in place, and new blocks appended.
 *
 * A new block goes where the footer is (the end of the file), in an
 * order that leaves a valid image wherever a crash stops it:
 *	1. the footer is written again past the new block (the file grows;
 *	   the old footer is now unused space),
 *	2. the data into the block's data area,
 *	3. the block's sector bitmap (over the old footer),
 *	4. fsync, so nothing points at data that is not on disk,
 *	5. the BAT entry.
 * Before 5 the block is only leaked space, which check reports and
 * compact returns. A dynamic block gets an all-ones bitmap (as qemu and
 * Hyper-V write it: the unwritten part of the block is a hole that reads
 * zeros); a differencing block marks only the sectors written, the rest
 * still reads from the parent. Setting bits in an existing block's
 * bitmap also waits for its data to be on disk first.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/vhd-int.h"

static int
pwrite_full(struct disk *d, const void *buf, size_t len, uint64_t off,
	    const char *what, struct hv_err *err)
{
	ssize_t rc = dio_pwrite(d->fd, buf, len, (off_t)off);

	if (rc != (ssize_t)len)
		return hv_fail(err, HV_EIO, "%s: writing %s: %s", d->path, what,
			       rc < 0 ? strerror((int)-rc) : "short write");
	return 0;
}

int
vhd_flush(struct disk *d, struct hv_err *err)
{
	int rc = dio_fsync(d->fd);

	if (rc < 0)
		return hv_fail(err, HV_EIO, "%s: fsync: %s", d->path,
			       strerror(-rc));
	return 0;
}

/* rewrite the sector of the BAT that holds entry idx */
int
vhd_write_bat_entry(struct disk *d, uint32_t idx, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint32_t first = idx / 128 * 128, n = s->entries - first;
	uint8_t buf[512];

	if (n > 128)
		n = 128;
	for (uint32_t i = 0; i < n; i++)
		put_be32(buf + 4 * i, s->bat[first + i]);
	return pwrite_full(d, buf, 4 * n, s->bat_off + 4ull * first, "BAT",
			   err);
}

/* the footer at end, and the copy at 0 of a dynamic disk */
int
vhd_write_footers(struct disk *d, uint64_t end, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);

	if (pwrite_full(d, s->footer, VHD_FOOTER_SIZE, end, "footer",
			err) < 0)
		return -1;
	s->tail_ok = true;
	if (end + VHD_FOOTER_SIZE > s->file_size)
		s->file_size = end + VHD_FOOTER_SIZE;
	if (s->type == VHD_TYPE_FIXED)
		return 0;
	if (pwrite_full(d, s->footer, VHD_FOOTER_SIZE, 0, "footer copy",
			err) < 0)
		return -1;
	s->head_ok = true;
	return 0;
}

static void
set_bits(uint8_t *bm, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		bm[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

static int
alloc_block(struct disk *d, uint32_t idx, uint64_t in, const uint8_t *p,
	    uint64_t n, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t at = s->next_alloc, bsz = (uint64_t)s->bm_size + s->block_size;

	if ((at + bsz) / DISK_SECTOR > UINT32_MAX)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: VHD file would grow past 2 TiB, the most a BAT can address",
			       d->path);
	if (s->type == VHD_TYPE_DIFF) {
		memset(s->bm, 0, s->bm_size);
		set_bits(s->bm, (uint32_t)(in / DISK_SECTOR),
			 (uint32_t)((in + n) / DISK_SECTOR));
	} else {
		memset(s->bm, 0xff, s->bm_size);
	}
	s->bm_idx = -1;
	if (pwrite_full(d, s->footer, VHD_FOOTER_SIZE, at + bsz, "footer",
			err) < 0 ||
	    pwrite_full(d, p, n, at + s->bm_size + in, "data", err) < 0 ||
	    pwrite_full(d, s->bm, s->bm_size, at, "sector bitmap", err) < 0 ||
	    vhd_flush(d, err) < 0)
		return -1;
	s->next_alloc = at + bsz;
	s->file_size = s->file_size > at + bsz + VHD_FOOTER_SIZE ?
		       s->file_size : at + bsz + VHD_FOOTER_SIZE;
	s->tail_ok = true;
	s->bat[idx] = (uint32_t)(at / DISK_SECTOR);
	if (vhd_write_bat_entry(d, idx, err) < 0) {
		s->bat[idx] = VHD_BAT_FREE;
		return -1;
	}
	s->bm_idx = idx;
	s->bmstate[idx] = VHD_BM_UNKNOWN;
	return 0;
}

/* data into an allocated block, then any bitmap bits it needs */
static int
write_in_block(struct disk *d, uint32_t idx, uint64_t in, const uint8_t *p,
	       uint64_t n, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t blk = (uint64_t)s->bat[idx] * DISK_SECTOR;
	uint32_t from = (uint32_t)(in / DISK_SECTOR);
	uint32_t to = (uint32_t)((in + n) / DISK_SECTOR);
	const uint8_t *bm;
	bool all = true;

	if (pwrite_full(d, p, n, blk + s->bm_size + in, "data", err) < 0)
		return -1;
	if (s->bmstate[idx] == VHD_BM_FULL)
		return 0;
	if (vhd_bitmap(d, idx, &bm, err) < 0)
		return -1;
	for (uint32_t i = from; i < to && all; i++)
		all = vhd_bit(bm, i);
	if (all)
		return 0;
	if (vhd_flush(d, err) < 0)
		return -1;
	set_bits(s->bm, from, to);
	s->bmstate[idx] = VHD_BM_UNKNOWN;
	if (pwrite_full(d, s->bm, s->bm_size, blk, "sector bitmap", err) < 0) {
		s->bm_idx = -1;
		return -1;
	}
	return 0;
}

int
vhd_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	  struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	const uint8_t *p = buf;

	if (s->type == VHD_TYPE_FIXED)
		return pwrite_full(d, buf, len, off, "data", err);
	while (len > 0) {
		uint32_t idx = (uint32_t)(off / s->block_size);
		uint64_t in = off % s->block_size;
		uint64_t n = s->block_size - in < len ? s->block_size - in : len;
		int rc;

		if (s->bat[idx] == VHD_BAT_FREE)
			rc = alloc_block(d, idx, in, p, n, err);
		else
			rc = write_in_block(d, idx, in, p, n, err);
		if (rc < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int
vhd_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		 struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	size_t zlen = 1u << 20;
	uint8_t *zero = NULL;
	int rc = 0;

	while (len > 0 && rc == 0) {
		uint64_t step = s->type == VHD_TYPE_FIXED ? zlen :
				s->block_size - off % s->block_size;
		uint32_t idx = (uint32_t)(off / (s->block_size ? s->block_size : 1));

		if (step > len)
			step = len;
		/* an unallocated block of a dynamic disk already reads zero */
		if (s->type != VHD_TYPE_DYNAMIC || s->bat[idx] != VHD_BAT_FREE) {
			if (zero == NULL && (zero = calloc(1, zlen)) == NULL)
				return hv_fail(err, HV_EIO, "%s: out of memory",
					       d->path);
			for (uint64_t done = 0; done < step && rc == 0;) {
				uint64_t k = step - done < zlen ? step - done : zlen;

				rc = vhd_write(d, off + done, zero, k, err);
				done += k;
			}
		}
		off += step;
		len -= step;
	}
	free(zero);
	return rc;
}

/*
 * Unmap whole blocks of a dynamic disk: the BAT entry goes, the space
 * stays until compact. A differencing disk would show its parent there,
 * and a fixed one has nothing to unmap, so both ignore discard.
 */
int
vhd_discard(struct disk *d, uint64_t off, uint64_t len, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t end = off + len;

	if (s->type != VHD_TYPE_DYNAMIC)
		return 0;
	for (uint64_t b = vhd_round_up(off, s->block_size); b < end;
	     b += s->block_size) {
		uint32_t idx = (uint32_t)(b / s->block_size);
		uint64_t bend = b + s->block_size;

		if (bend > d->size)
			bend = d->size;
		if (bend > end || s->bat[idx] == VHD_BAT_FREE)
			continue;
		s->bat[idx] = VHD_BAT_FREE;
		s->bmstate[idx] = VHD_BM_UNKNOWN;
		if (s->bm_idx == (int64_t)idx)
			s->bm_idx = -1;
		if (vhd_write_bat_entry(d, idx, err) < 0)
			return -1;
	}
	return 0;
}
