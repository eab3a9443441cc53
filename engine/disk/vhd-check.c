/*
 * vhd-check.c - check (and repair), resize and compact of VHDs.
 *
 * Open already refuses what cannot be read safely (BAT entries past the
 * end, overlapping blocks, bad checksums on every footer copy), so check
 * looks at what open tolerates: one bad footer copy, copies that differ,
 * and leaked space. Repair rewrites both footer copies from the one open
 * trusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/vhd-int.h"

struct vblk {
	uint64_t off;
	uint32_t idx;
};

static void
note(struct disk_check_result *r, const char *fmt, const char *path)
{
	if (r->first[0] == '\0')
		snprintf(r->first, sizeof r->first, fmt, path);
}

static int
cmp_vblk(const void *a, const void *b)
{
	const struct vblk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* allocated blocks sorted by offset; count in *n */
static struct vblk *
sorted_blocks(struct disk *d, uint32_t *n, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	struct vblk *v = malloc(((size_t)s->entries + 1) * sizeof *v);

	*n = 0;
	if (v == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		return NULL;
	}
	for (uint32_t i = 0; i < s->entries; i++)
		if (s->bat[i] != VHD_BAT_FREE)
			v[(*n)++] = (struct vblk){
				(uint64_t)s->bat[i] * DISK_SECTOR, i };
	qsort(v, *n, sizeof *v, cmp_vblk);
	return v;
}

static uint64_t
data_start(struct vhd *s)
{
	return vhd_round_up(s->meta_end, DISK_SECTOR);
}

int
vhd_check(struct disk *d, bool repair, struct disk_check_result *r,
	  struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t bsz = (uint64_t)s->bm_size + s->block_size, used;
	uint32_t n = 0;
	bool bad = false;

	if (!s->tail_ok) {
		r->errors++;
		note(r, "%s: the footer at the end of the file is missing or bad",
		     d->path);
		bad = true;
	}
	if (s->type != VHD_TYPE_FIXED && !s->head_ok) {
		r->errors++;
		note(r, "%s: the footer copy at offset 0 is bad", d->path);
		bad = true;
	}
	if (s->type != VHD_TYPE_FIXED) {
		struct vblk *v = sorted_blocks(d, &n, err);

		if (v == NULL)
			return -1;
		free(v);
		used = data_start(s) + (uint64_t)n * bsz;
		if (s->tail_ok && s->file_size - VHD_FOOTER_SIZE > used) {
			r->leaks += (s->file_size - VHD_FOOTER_SIZE - used) /
				    DISK_SECTOR;
			note(r, "%s: unused space in the file (compact returns it)",
			     d->path);
		}
	}
	if (bad && repair) {
		uint64_t end = s->tail_ok ? s->file_size - VHD_FOOTER_SIZE :
			       s->next_alloc;

		if (vhd_write_footers(d, end, err) < 0 || vhd_flush(d, err) < 0)
			return -1;
		r->repaired = r->errors;
		r->errors = 0;
	}
	return 0;
}

/* copy block idx to dst (free space), then point the BAT at it */
static int
move_block(struct disk *d, uint32_t idx, uint64_t dst, uint8_t *buf,
	   size_t cap, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t src = (uint64_t)s->bat[idx] * DISK_SECTOR;
	uint64_t bsz = (uint64_t)s->bm_size + s->block_size;

	for (uint64_t done = 0; done < bsz;) {
		size_t k = bsz - done < cap ? (size_t)(bsz - done) : cap;
		ssize_t rc = dio_pread(d->fd, buf, k, (off_t)(src + done));

		if (rc != (ssize_t)k)
			return vhd_io_fail(d, "moving a block", rc, err);
		rc = dio_pwrite(d->fd, buf, k, (off_t)(dst + done));
		if (rc != (ssize_t)k)
			return vhd_io_fail(d, "moving a block", rc < 0 ? rc : -5,
					   err);
		done += k;
	}
	if (vhd_flush(d, err) < 0)
		return -1;
	s->bat[idx] = (uint32_t)(dst / DISK_SECTOR);
	return vhd_write_bat_entry(d, idx, err);
}

/* move the blocks in the way of a BAT of want entries to the end */
static int
clear_bat_room(struct disk *d, uint32_t want, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t bsz = (uint64_t)s->bm_size + s->block_size;
	uint64_t need = vhd_round_up(s->bat_off + 4ull * want, DISK_SECTOR);
	size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap);
	int rc = 0;

	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (uint32_t i = 0; i < s->entries && rc == 0; i++) {
		uint64_t off = (uint64_t)s->bat[i] * DISK_SECTOR;
		uint64_t at = s->next_alloc;

		if (s->bat[i] == VHD_BAT_FREE || off >= need)
			continue;
		if ((at + bsz) / DISK_SECTOR > UINT32_MAX) {
			rc = hv_fail(err, HV_ENOTSUP, "%s: file would pass 2 TiB",
				     d->path);
			break;
		}
		rc = vhd_write_footers(d, at + bsz, err);
		if (rc == 0)
			rc = move_block(d, i, at, buf, cap, err);
		if (rc == 0)
			s->next_alloc = at + bsz;
	}
	free(buf);
	if (rc == 0 && s->next_alloc < need) {
		/* nothing past the BAT yet: the footer must move too */
		rc = vhd_write_footers(d, need, err);
		s->next_alloc = need;
	}
	return rc;
}

/* more BAT entries: the blocks in the way move out, then the header */
static int
grow_bat(struct disk *d, uint32_t want, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint32_t *bat = realloc(s->bat, (size_t)want * 4);
	uint8_t *st = realloc(s->bmstate, want), *ff;
	size_t len = ((size_t)want - s->entries) * 4;
	ssize_t rc;

	if (bat)
		s->bat = bat;
	if (st)
		s->bmstate = st;
	if (bat == NULL || st == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (clear_bat_room(d, want, err) < 0 || vhd_flush(d, err) < 0)
		return -1;
	ff = malloc(len);
	if (ff == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	memset(ff, 0xff, len);
	rc = dio_pwrite(d->fd, ff, len, (off_t)(s->bat_off + 4ull * s->entries));
	free(ff);
	if (rc != (ssize_t)len)
		return vhd_io_fail(d, "growing the BAT", rc < 0 ? rc : -5, err);
	for (uint32_t i = s->entries; i < want; i++) {
		s->bat[i] = VHD_BAT_FREE;
		s->bmstate[i] = VHD_BM_UNKNOWN;
	}
	put_be32(s->header + VH_ENTRIES, want);
	put_be32(s->header + VH_CSUM,
		 vhd_checksum(s->header, VHD_HEADER_SIZE, VH_CSUM));
	if (vhd_flush(d, err) < 0)
		return -1;
	rc = dio_pwrite(d->fd, s->header, VHD_HEADER_SIZE, (off_t)s->hdr_off);
	if (rc != VHD_HEADER_SIZE)
		return vhd_io_fail(d, "dynamic header", rc < 0 ? rc : -5, err);
	s->entries = want;
	if (s->bat_off + 4ull * want > s->meta_end)
		s->meta_end = s->bat_off + 4ull * want;
	return 0;
}

int
vhd_resize(struct disk *d, uint64_t size, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint8_t f[VHD_FOOTER_SIZE];
	uint16_t cyls;
	uint8_t heads, spt;
	uint64_t old_end = s->file_size - VHD_FOOTER_SIZE;

	size = vhd_round_up(size, DISK_SECTOR);
	if (size < d->size)
		return hv_fail(err, HV_ENOTSUP, "%s: a VHD cannot shrink", d->path);
	if (size / DISK_SECTOR > VHD_MAX_SECTORS)
		return hv_fail(err, HV_EINVAL,
			       "%s: a VHD holds at most 2040 GiB", d->path);
	if (s->type == VHD_TYPE_DIFF)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: resize the parent, not a differencing VHD",
			       d->path);
	memcpy(f, s->footer, sizeof f);
	put_be64(f + VF_CUR_SIZE, size);
	vhd_geometry(size / DISK_SECTOR, &cyls, &heads, &spt);
	put_be16(f + VF_CYLS, cyls);
	f[VF_HEADS] = heads;
	f[VF_SPT] = spt;
	/* a creator sized by CHS would read a smaller disk: say it is ours */
	if (vhd_footer_size(f) != size)
		vhd_set_app(f);
	vhd_seal_footer(f);
	if (s->type == VHD_TYPE_DYNAMIC) {
		uint32_t want = (uint32_t)((size + s->block_size - 1) /
					   s->block_size);

		if (want > s->entries && grow_bat(d, want, err) < 0)
			return -1;
		memcpy(s->footer, f, sizeof f);
		old_end = s->tail_ok ? s->file_size - VHD_FOOTER_SIZE :
			  s->next_alloc;
		if (vhd_write_footers(d, old_end, err) < 0)
			return -1;
		s->nblocks = want;
	} else {
		static const uint8_t zero[VHD_FOOTER_SIZE];

		/* new footer past the new end, then the old one is data */
		memcpy(s->footer, f, sizeof f);
		if (size > old_end) {
			if (vhd_write_footers(d, size, err) < 0 ||
			    vhd_flush(d, err) < 0 ||
			    dio_pwrite(d->fd, zero, sizeof zero,
				       (off_t)old_end) != sizeof zero)
				return hv_fail(err, HV_EIO, "%s: resize failed",
					       d->path);
		} else if (vhd_write_footers(d, old_end, err) < 0) {
			return -1;
		}
	}
	d->size = size;
	return vhd_flush(d, err);
}

static bool
zero_block(struct vhd *s, const uint8_t *bm, const uint8_t *data)
{
	for (uint32_t i = 0; i < s->block_size / DISK_SECTOR; i++) {
		const uint8_t *p = data + (size_t)i * DISK_SECTOR;

		if (!vhd_bit(bm, i))
			continue;
		for (uint32_t k = 0; k < DISK_SECTOR; k++)
			if (p[k])
				return false;
	}
	return true;
}

/* unmap the blocks of a dynamic disk that read as all zeros */
static int
drop_zero_blocks(struct disk *d, disk_progress_fn progress, void *ctx,
		 struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint8_t *data = malloc(s->block_size);
	const uint8_t *bm;
	int rc = 0;

	if (data == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (uint32_t i = 0; i < s->entries && rc == 0; i++) {
		uint64_t at = (uint64_t)s->bat[i] * DISK_SECTOR + s->bm_size;
		ssize_t n;

		if (progress)
			progress(ctx, i, s->entries);
		if (s->bat[i] == VHD_BAT_FREE)
			continue;
		rc = vhd_bitmap(d, i, &bm, err);
		if (rc < 0)
			break;
		n = dio_pread(d->fd, data, s->block_size, (off_t)at);
		if (n != (ssize_t)s->block_size) {
			rc = vhd_io_fail(d, "block data", n, err);
			break;
		}
		if (zero_block(s, bm, data)) {
			s->bat[i] = VHD_BAT_FREE;
			s->bm_idx = -1;
			rc = vhd_write_bat_entry(d, i, err);
		}
	}
	free(data);
	return rc;
}

/* move the last blocks into the lowest free slots, then cut the file */
static int
pack_blocks(struct disk *d, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint64_t bsz = (uint64_t)s->bm_size + s->block_size, cur, end;
	uint32_t n, ns = 0;
	struct vblk *v = sorted_blocks(d, &n, err);
	uint64_t *slot = v ? malloc(((size_t)n + 1) * sizeof *slot) : NULL;
	uint8_t *buf = slot ? malloc(1u << 20) : NULL;
	int rc = -1;

	if (buf == NULL) {
		if (v)
			hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		goto out;
	}
	cur = data_start(s);
	for (uint32_t i = 0; i < n; i++) {
		/* slots only past the metadata, so none can overlap it */
		for (; cur + bsz <= v[i].off && ns < n; cur += bsz)
			slot[ns++] = cur;
		if (v[i].off + bsz > cur)
			cur = v[i].off + bsz;
	}
	for (uint32_t i = 0, j = n; i < ns && j > 0 && slot[i] < v[j - 1].off;
	     i++, j--) {
		if (move_block(d, v[j - 1].idx, slot[i], buf, 1u << 20, err) < 0)
			goto out;
		v[j - 1].off = slot[i];
	}
	end = data_start(s);
	for (uint32_t i = 0; i < n; i++)
		if (v[i].off + bsz > end)
			end = v[i].off + bsz;
	if (vhd_flush(d, err) < 0 || vhd_write_footers(d, end, err) < 0 ||
	    vhd_flush(d, err) < 0)
		goto out;
	if (dio_ftruncate(d->fd, (off_t)(end + VHD_FOOTER_SIZE)) < 0) {
		hv_fail(err, HV_EIO, "%s: truncate failed", d->path);
		goto out;
	}
	s->file_size = end + VHD_FOOTER_SIZE;
	s->next_alloc = end;
	rc = 0;
out:
	free(buf);
	free(slot);
	free(v);
	return rc;
}

int
vhd_compact(struct disk *d, disk_progress_fn progress, void *ctx,
	    struct hv_err *err)
{
	struct vhd *s = vhd_of(d);

	if (s->type == VHD_TYPE_FIXED)
		return 0;	/* nothing is allocated on demand */
	/* a zero block of a differencing disk hides its parent's data */
	if (s->type == VHD_TYPE_DYNAMIC &&
	    drop_zero_blocks(d, progress, ctx, err) < 0)
		return -1;
	if (pack_blocks(d, err) < 0)
		return -1;
	if (progress)
		progress(ctx, s->entries, s->entries);
	return 0;
}
