/*
 * vmdk-sesparse.c - read-only ESXi seSparse extents (SESPARSE in a
 * descriptor; the snapshot-delta format of VMFS 6).
 *
 * A constant header (magic 0xcafebabe) gives sector offsets of the
 * grain directory, the grain tables and the grains. GD and GT entries
 * are 64-bit with a type in the top nibble:
 *	GD: 0 unallocated, 0x1 + GT index in the low 32 bits
 *	GT: 0 unallocated, 0x1 unmapped and 0x2 zero (both read as zeros),
 *	    0x3 allocated with a grain index split over bits 48-59 (low
 *	    12 bits) and 0-47 (high bits).
 * Grains are 8 sectors and GTs 64 sectors (4096 entries); other values
 * are refused, as VMware never writes them.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/vmdk-int.h"

#define SE_MAGIC	0xcafebabeull
#define SE_VOL_MAGIC	0xcafecafeull
#define SE_VERSION	0x200000001ull
#define SE_GRAIN	8	/* sectors */
#define SE_GT_SECTORS	64
#define SE_GTES		(SE_GT_SECTORS * DISK_SECTOR / 8)

static int
se_rd(struct vmdk_extent *e, void *buf, size_t len, uint64_t off,
      struct hv_err *err)
{
	ssize_t n;

	if (off > e->file_size || len > e->file_size - off)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse data at offset "
			       "%llu lies past the end of the file", e->path,
			       (unsigned long long)off);
	n = dio_pread(e->fd, buf, len, (off_t)off);
	if (n < 0)
		return hv_fail(err, HV_EIO, "%s: read at %llu: %s", e->path,
			       (unsigned long long)off, strerror((int)-n));
	return 0;
}

static int
se_header(struct vmdk_extent *e, const uint8_t *h, struct hv_err *err)
{
	uint64_t cap = get_le64(h + 16), gd_size = get_le64(h + 0x88);

	if (get_le64(h) != SE_MAGIC)
		return hv_fail(err, HV_ECORRUPT, "%s: not a seSparse extent "
			       "(bad magic)", e->path);
	if (get_le64(h + 8) != SE_VERSION || get_le64(h + 24) != SE_GRAIN ||
	    get_le64(h + 32) != SE_GT_SECTORS || get_le64(h + 40) != 0)
		return hv_fail(err, HV_ENOTSUP, "%s: seSparse version, grain or "
			       "table size not supported", e->path);
	if (cap > VMDK_MAX_SECTORS)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse capacity is too "
			       "big", e->path);
	if (gd_size > (uint64_t)VMDK_MAX_GD * 8 / DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse grain directory "
			       "is too big", e->path);
	e->capacity = cap * DISK_SECTOR;
	e->grain = SE_GRAIN * DISK_SECTOR;
	e->num_gtes = SE_GTES;
	e->gd_sector = get_le64(h + 0x80);
	e->gd_entries = (uint32_t)(gd_size * DISK_SECTOR / 8);
	e->se_gt_sector = get_le64(h + 0x90);
	e->se_grain_sector = get_le64(h + 0xc0);
	e->se_vol_sector = get_le64(h + 0x50);
	return 0;
}

int
vmdk_se_open(struct vmdk_extent *e, struct hv_err *err)
{
	uint8_t h[VMDK_HDR_SIZE];
	uint64_t bytes;

	if (e->file_size < VMDK_HDR_SIZE)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse extent is "
			       "truncated", e->path);
	if (se_rd(e, h, sizeof(h), 0, err) < 0 || se_header(e, h, err) < 0)
		return -1;
	if (e->se_vol_sector > e->file_size / DISK_SECTOR ||
	    se_rd(e, h, sizeof(h), e->se_vol_sector * DISK_SECTOR, err) < 0)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse volatile header "
			       "lies past the end of the file", e->path);
	if (get_le64(h) != SE_VOL_MAGIC)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse volatile header "
			       "has a bad magic", e->path);
	if (get_le64(h + 24) != 0)
		return hv_fail(err, HV_ENOTSUP, "%s: seSparse journal needs "
			       "replay (open it in ESXi first)", e->path);
	bytes = (uint64_t)e->gd_entries * 8;
	if (e->gd_sector > e->file_size / DISK_SECTOR ||
	    bytes > e->file_size - e->gd_sector * DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse grain directory "
			       "lies past the end of the file", e->path);
	e->gd64 = malloc(bytes ? bytes : 1);
	if (e->gd64 == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	if (se_rd(e, e->gd64, bytes, e->gd_sector * DISK_SECTOR, err) < 0)
		return -1;
	for (uint32_t i = 0; i < e->gd_entries; i++)
		e->gd64[i] = get_le64(&e->gd64[i]);
	return 0;
}

/* Status of the grain holding off; *at is its file offset when DATA. */
int
vmdk_se_lookup(struct vmdk_extent *e, uint64_t off, uint64_t *at,
	       struct hv_err *err)
{
	uint64_t g = off / e->grain, gdi = g / SE_GTES, gde, gte, idx;
	uint8_t le[8];

	if (off >= e->capacity || gdi >= e->gd_entries || e->gd64[gdi] == 0)
		return DISK_ST_UNALLOC;
	gde = e->gd64[gdi];
	if ((gde >> 32) != 0x10000000u)
		return hv_fail(err, HV_ECORRUPT, "%s: seSparse grain directory "
			       "entry %llu is invalid", e->path,
			       (unsigned long long)gdi);
	idx = (e->se_gt_sector + (gde & 0xffffffffu) * SE_GT_SECTORS) *
	      DISK_SECTOR + (g % SE_GTES) * 8;
	if (se_rd(e, le, sizeof(le), idx, err) < 0)
		return -1;
	gte = get_le64(le);
	switch (gte >> 60) {
	case 0:
		if (gte != 0)
			break;
		return DISK_ST_UNALLOC;
	case 1:
	case 2:
		return DISK_ST_ZERO;
	case 3:
		idx = ((gte >> 48) & 0xfff) | (gte & 0xffffffffffffull) << 12;
		if (idx > VMDK_MAX_SECTORS)
			break;
		*at = (e->se_grain_sector + idx * SE_GRAIN) * DISK_SECTOR;
		return DISK_ST_DATA;
	}
	return hv_fail(err, HV_ECORRUPT, "%s: seSparse grain table entry for "
		       "grain %llu is invalid", e->path,
		       (unsigned long long)g);
}

int
vmdk_se_read(struct vmdk_extent *e, uint64_t off, void *buf, size_t len,
	     struct hv_err *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t in = off % e->grain, at = 0;
		size_t n = (size_t)(e->grain - in < len ? e->grain - in : len);
		int st = vmdk_se_lookup(e, off, &at, err);

		if (st < 0)
			return -1;
		if (st != DISK_ST_DATA)
			memset(p, 0, n);
		else if (se_rd(e, p, n, at + in, err) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
