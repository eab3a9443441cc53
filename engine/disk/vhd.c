/*
 * vhd.c - Microsoft Virtual Hard Disk (VHD, qemu's "vpc"): probe, open,
 * read, block status and info for fixed, dynamic and differencing
 * disks. Writing is in vhd-write.c, creating in vhd-create.c, parent
 * locators in vhd-parent.c, check/resize/compact in vhd-check.c.
 *
 * Virtual size: VHD has two, the footer's current_size and the CHS
 * geometry. Which one readers trust depends on the program that made
 * the image, and we follow qemu-img exactly so both tools agree: the
 * size comes from current_size for creators "win " (Hyper-V), "qem2"
 * (qemu with force_size), "d2v " (Disk2vhd), "CTXS" (XenConverter) and
 * "tap\0" (XenServer), and for any image whose geometry is the maximum
 * 65535/16/255; every other creator ("vpc ", "qemu", Azure "wa\0\0", ...)
 * is sized cylinders * heads * sectors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/disk/vhd-int.h"

int vhd_open_parent(struct disk *d, struct hv_err *err);	/* vhd-parent.c */

/* one's complement of the byte sum, the checksum field taken as zero */
uint32_t
vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += buf[i];
	return ~sum;
}

bool
vhd_footer_valid(const uint8_t *f)
{
	return memcmp(f + VF_COOKIE, "conectix", 8) == 0 &&
	       get_be32(f + VF_CSUM) ==
	       vhd_checksum(f, VHD_FOOTER_SIZE, VF_CSUM);
}

static bool
app_is(const uint8_t *f, const char *app)
{
	return memcmp(f + VF_APP, app, 4) == 0;
}

/* the virtual size qemu-img reports for this footer (see the top) */
uint64_t
vhd_footer_size(const uint8_t *f)
{
	uint64_t chs = (uint64_t)get_be16(f + VF_CYLS) * f[VF_HEADS] *
		       f[VF_SPT];
	bool use_chs = !app_is(f, "win ") && !app_is(f, "qem2") &&
		       !app_is(f, "d2v ") && !app_is(f, "CTXS") &&
		       !app_is(f, "tap\0");

	if (!use_chs || chs == VHD_MAX_GEOMETRY)
		return get_be64(f + VF_CUR_SIZE) / DISK_SECTOR * DISK_SECTOR;
	return chs * DISK_SECTOR;
}

/* CHS geometry from a sector count, the VHD specification's algorithm */
void
vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt)
{
	uint64_t cth;

	if (sectors > VHD_MAX_GEOMETRY)
		sectors = VHD_MAX_GEOMETRY;
	if (sectors >= 65535ull * 16 * 63) {
		*spt = 255;
		*heads = 16;
		cth = sectors / 255;
	} else {
		*spt = 17;
		cth = sectors / 17;
		*heads = (uint8_t)((cth + 1023) / 1024 < 4 ? 4 :
				   (cth + 1023) / 1024 > 255 ? 255 :
				   (cth + 1023) / 1024);
		if (cth >= *heads * 1024u || *heads > 16) {
			*spt = 31;
			*heads = 16;
			cth = sectors / 31;
		}
		if (cth >= *heads * 1024u) {
			*spt = 63;
			*heads = 16;
			cth = sectors / 63;
		}
	}
	*cyls = (uint16_t)(cth / *heads);
}

int
vhd_io_fail(struct disk *d, const char *what, ssize_t rc,
	    struct hv_err *err)
{
	if (rc >= 0)
		return hv_fail(err, HV_ECORRUPT, "%s: %s: file is truncated",
			       d->path, what);
	return hv_fail(err, HV_EIO, "%s: %s: %s", d->path, what,
		       strerror((int)-rc));
}

static int
pread_full(struct disk *d, void *buf, size_t len, uint64_t off,
	   const char *what, struct hv_err *err)
{
	ssize_t rc = dio_pread(d->fd, buf, len, (off_t)off);

	if (rc != (ssize_t)len)
		return vhd_io_fail(d, what, rc, err);
	return 0;
}

static int
vhd_probe(const uint8_t *buf, size_t len, uint64_t file_size)
{
	/* the footer copy at 0, or (the core asks) the footer at the end */
	if (len >= 8 && memcmp(buf, "conectix", 8) == 0)
		return 100;
	return 0;
}

/* pick the footer: the copy at 0 (what qemu reads) or the one at the end */
static int
read_footer(struct disk *d, struct vhd *s, struct hv_err *err)
{
	uint8_t head[VHD_FOOTER_SIZE], tail[VHD_FOOTER_SIZE];

	if (s->file_size < VHD_FOOTER_SIZE)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: too small to be a VHD", d->path);
	if (pread_full(d, head, sizeof head, 0, "footer copy", err) < 0 ||
	    pread_full(d, tail, sizeof tail, s->file_size - VHD_FOOTER_SIZE,
			"footer", err) < 0)
		return -1;
	s->head_ok = vhd_footer_valid(head);
	s->tail_ok = vhd_footer_valid(tail);
	if (s->tail_ok && get_be32(tail + VF_TYPE) == VHD_TYPE_FIXED) {
		memcpy(s->footer, tail, sizeof tail);
		s->head_ok = false;	/* the head is data */
		return 0;
	}
	if (s->head_ok)
		memcpy(s->footer, head, sizeof head);
	else if (s->tail_ok && memcmp(head, "conectix", 8) == 0)
		memcpy(s->footer, tail, sizeof tail);
	else if (memcmp(head, "conectix", 8) == 0 ||
		 memcmp(tail, "conectix", 8) == 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHD footer checksum mismatch", d->path);
	else
		return hv_fail(err, HV_ECORRUPT,
			       "%s: not a VHD (no \"conectix\" footer)", d->path);
	return 0;
}

static int
check_size(struct disk *d, struct vhd *s, struct hv_err *err)
{
	s->type = get_be32(s->footer + VF_TYPE);
	if (s->type != VHD_TYPE_FIXED && s->type != VHD_TYPE_DYNAMIC &&
	    s->type != VHD_TYPE_DIFF)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: unknown VHD disk type %u", d->path, s->type);
	d->size = vhd_footer_size(s->footer);
	if (d->size / DISK_SECTOR > VHD_MAX_SECTORS)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: virtual size %llu is over the VHD limit of 2040 GiB",
			       d->path, (unsigned long long)d->size);
	if (s->type == VHD_TYPE_FIXED &&
	    d->size > s->file_size - VHD_FOOTER_SIZE)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: fixed VHD data (%llu bytes) is shorter than its virtual size (%llu bytes)",
			       d->path,
			       (unsigned long long)(s->file_size - VHD_FOOTER_SIZE),
			       (unsigned long long)d->size);
	return 0;
}

static bool
overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int
read_header(struct disk *d, struct vhd *s, struct hv_err *err)
{
	uint8_t *h = s->header;
	uint64_t bat_len;

	s->hdr_off = get_be64(s->footer + VF_DATA_OFF);
	if (s->hdr_off < VHD_FOOTER_SIZE || s->hdr_off > s->file_size ||
	    s->file_size - s->hdr_off < VHD_HEADER_SIZE)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: dynamic header offset %llu is outside the file",
			       d->path, (unsigned long long)s->hdr_off);
	if (pread_full(d, h, VHD_HEADER_SIZE, s->hdr_off, "dynamic header",
		       err) < 0)
		return -1;
	if (memcmp(h + VH_COOKIE, "cxsparse", 8) != 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: no \"cxsparse\" dynamic header", d->path);
	if (get_be32(h + VH_CSUM) != vhd_checksum(h, VHD_HEADER_SIZE, VH_CSUM))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: dynamic header checksum mismatch", d->path);
	s->block_size = get_be32(h + VH_BLOCK);
	if (s->block_size < DISK_SECTOR || s->block_size > VHD_BLOCK_MAX ||
	    (s->block_size & (s->block_size - 1)) != 0)
		return hv_fail(err, HV_ECORRUPT, "%s: bad VHD block size %u",
			       d->path, s->block_size);
	s->bm_size = (uint32_t)vhd_round_up(s->block_size / DISK_SECTOR / 8,
					    DISK_SECTOR);
	s->entries = get_be32(h + VH_ENTRIES);
	s->nblocks = (uint32_t)((d->size + s->block_size - 1) / s->block_size);
	if (s->entries < s->nblocks)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: BAT has %u entries, the virtual size needs %u",
			       d->path, s->entries, s->nblocks);
	s->bat_off = get_be64(h + VH_BAT_OFF);
	bat_len = (uint64_t)s->entries * 4;
	if (s->bat_off > s->file_size || s->file_size - s->bat_off < bat_len)
		return hv_fail(err, HV_ECORRUPT, "%s: BAT is past the end of the file",
			       d->path);
	if (overlaps(s->bat_off, bat_len, 0, VHD_FOOTER_SIZE) ||
	    overlaps(s->bat_off, bat_len, s->hdr_off, VHD_HEADER_SIZE))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: BAT overlaps the VHD headers", d->path);
	s->meta_end = s->hdr_off + VHD_HEADER_SIZE;
	if (s->bat_off + bat_len > s->meta_end)
		s->meta_end = s->bat_off + bat_len;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* every block inside the file, clear of metadata and of each other */
static int
check_blocks(struct disk *d, struct vhd *s, struct hv_err *err)
{
	uint64_t bsz = (uint64_t)s->bm_size + s->block_size, n = 0;
	uint64_t *offs = malloc(((size_t)s->entries + 1) * sizeof *offs);
	int rc = -1;

	if (offs == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	s->next_alloc = vhd_round_up(s->meta_end, DISK_SECTOR);
	for (uint32_t i = 0; i < s->entries; i++) {
		uint64_t off = (uint64_t)s->bat[i] * DISK_SECTOR;

		if (s->bat[i] == VHD_BAT_FREE)
			continue;
		if (off + bsz > s->file_size) {
			hv_fail(err, HV_ECORRUPT,
				"%s: BAT entry %u points past the end of the file",
				d->path, i);
			goto out;
		}
		if (overlaps(off, bsz, 0, VHD_FOOTER_SIZE) ||
		    overlaps(off, bsz, s->hdr_off, VHD_HEADER_SIZE) ||
		    overlaps(off, bsz, s->bat_off, (uint64_t)s->entries * 4)) {
			hv_fail(err, HV_ECORRUPT,
				"%s: block %u overlaps the VHD headers or BAT",
				d->path, i);
			goto out;
		}
		if (off + bsz > s->next_alloc)
			s->next_alloc = off + bsz;
		offs[n++] = off;
	}
	qsort(offs, n, sizeof *offs, cmp_u64);
	for (uint64_t i = 1; i < n; i++) {
		if (offs[i - 1] + bsz > offs[i]) {
			hv_fail(err, HV_ECORRUPT,
				"%s: two blocks overlap at offset %llu",
				d->path, (unsigned long long)offs[i]);
			goto out;
		}
	}
	rc = 0;
out:
	free(offs);
	return rc;
}

static int
read_bat(struct disk *d, struct vhd *s, struct hv_err *err)
{
	size_t len = (size_t)s->entries * 4;
	uint8_t *raw = malloc(len ? len : 1);

	s->bat = malloc((len ? len : 1));
	s->bmstate = calloc(s->entries ? s->entries : 1, 1);
	s->bm = malloc(s->bm_size);
	if (raw == NULL || s->bat == NULL || s->bmstate == NULL ||
	    s->bm == NULL) {
		free(raw);
		return hv_fail(err, HV_EIO, "%s: out of memory for the BAT",
			       d->path);
	}
	s->bm_idx = -1;
	if (len && pread_full(d, raw, len, s->bat_off, "BAT", err) < 0) {
		free(raw);
		return -1;
	}
	for (uint32_t i = 0; i < s->entries; i++)
		s->bat[i] = get_be32(raw + 4 * (size_t)i);
	free(raw);
	return check_blocks(d, s, err);
}

static void
vhd_close(struct disk *d)
{
	struct vhd *s = vhd_of(d);

	if (s == NULL)
		return;
	free(s->bat);
	free(s->bmstate);
	free(s->bm);
	free(s);
	d->priv = NULL;
}

static int
vhd_open(struct disk *d, struct hv_err *err)
{
	struct vhd *s = calloc(1, sizeof *s);
	struct stat st;

	if (s == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	d->priv = s;
	if (fstat(d->fd, &st) < 0) {
		hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
		goto fail;
	}
	s->file_size = (uint64_t)st.st_size;
	if (read_footer(d, s, err) < 0 || check_size(d, s, err) < 0)
		goto fail;
	if (s->type == VHD_TYPE_FIXED)
		return 0;
	if (read_header(d, s, err) < 0)
		goto fail;
	/* locators first: their data counts as metadata */
	if (s->type == VHD_TYPE_DIFF && vhd_open_parent(d, err) < 0)
		goto fail;
	if (read_bat(d, s, err) < 0)
		goto fail;
	/* never overwrite what is past the last block: the footer, or
	   bytes we do not understand */
	if (s->tail_ok) {
		uint64_t t = vhd_round_up(s->file_size - VHD_FOOTER_SIZE,
					  DISK_SECTOR);
		if (t > s->next_alloc)
			s->next_alloc = t;
	} else if (vhd_round_up(s->file_size, DISK_SECTOR) > s->next_alloc) {
		s->next_alloc = vhd_round_up(s->file_size, DISK_SECTOR);
	}
	return 0;
fail:
	vhd_close(d);
	return -1;
}

/* the bitmap of an allocated block, cached; also learns if it is full */
int
vhd_bitmap(struct disk *d, uint32_t idx, const uint8_t **bm,
	   struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint32_t nsec = s->block_size / DISK_SECTOR;
	bool full = true;

	if (s->bm_idx != (int64_t)idx) {
		s->bm_idx = -1;
		if (pread_full(d, s->bm, s->bm_size,
			       (uint64_t)s->bat[idx] * DISK_SECTOR,
			       "sector bitmap", err) < 0)
			return -1;
		s->bm_idx = idx;
	}
	for (uint32_t i = 0; i < nsec / 8 && full; i++)
		full = s->bm[i] == 0xff;
	for (uint32_t i = nsec / 8 * 8; i < nsec && full; i++)
		full = vhd_bit(s->bm, i);
	s->bmstate[idx] = full ? VHD_BM_FULL : VHD_BM_PARTIAL;
	*bm = s->bm;
	return 0;
}

/* status at off in one block (or the fixed data), n bytes of it */
static int
status_one(struct disk *d, uint64_t off, uint64_t len, uint64_t *n,
	   struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint32_t idx = (uint32_t)(off / s->block_size);
	uint64_t in = off % s->block_size;
	const uint8_t *bm;
	uint32_t sec, end;
	bool set;

	*n = s->block_size - in < len ? s->block_size - in : len;
	if (idx >= s->entries || s->bat[idx] == VHD_BAT_FREE)
		return DISK_ST_UNALLOC;
	if (s->bmstate[idx] == VHD_BM_FULL)
		return DISK_ST_DATA;
	if (vhd_bitmap(d, idx, &bm, err) < 0)
		return -1;
	sec = (uint32_t)(in / DISK_SECTOR);
	end = (uint32_t)((in + *n) / DISK_SECTOR);
	set = vhd_bit(bm, sec);
	for (uint32_t i = sec + 1; i < end; i++) {
		if (vhd_bit(bm, i) != set) {
			*n = (uint64_t)(i - sec) * DISK_SECTOR;
			break;
		}
	}
	/* a clear bit: the parent's data, or zeros in a dynamic disk */
	return set ? DISK_ST_DATA : DISK_ST_UNALLOC;
}

/* a fixed disk is data, except where the host file has holes */
static int
status_fixed(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
	off_t data = lseek(d->fd, (off_t)off, SEEK_DATA), hole;

	*pnum = len;
	if (data < 0 && errno == ENXIO)
		return DISK_ST_ZERO;
	if (data < 0)
		return DISK_ST_DATA;
	if ((uint64_t)data > off) {
		if ((uint64_t)data - off < len)
			*pnum = ((uint64_t)data - off) / DISK_SECTOR *
				DISK_SECTOR;
		return *pnum ? DISK_ST_ZERO : (*pnum = len, DISK_ST_DATA);
	}
	hole = lseek(d->fd, (off_t)off, SEEK_HOLE);
	if (hole > (off_t)off && (uint64_t)hole - off < len)
		*pnum = vhd_round_up((uint64_t)hole - off, DISK_SECTOR);
	if (*pnum > len)
		*pnum = len;
	return DISK_ST_DATA;
}

/*
 * The parent must be the disk the child was made from: its unique id is
 * in the child's header. The core opens parents after open(), so the
 * first status call checks, before any parent data is read through us.
 */
static int
check_parent_id(struct disk *d, struct hv_err *err)
{
	static const uint8_t none[16];
	struct vhd *s = vhd_of(d);
	const uint8_t *want = s->header + VH_PUUID;

	if (s->parent_checked || d->parent == NULL)
		return 0;
	s->parent_checked = true;
	if (d->parent->drv != &disk_vhd_driver || memcmp(want, none, 16) == 0)
		return 0;
	if (memcmp(vhd_of(d->parent)->footer + VF_UUID, want, 16) != 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: parent %s is not the disk it was made from (unique ids differ)",
			       d->path, d->parent->path);
	return 0;
}

static int
vhd_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		 struct hv_err *err)
{
	uint64_t n, more;
	int st, st2;

	if (vhd_of(d)->type == VHD_TYPE_FIXED)
		return status_fixed(d, off, len, pnum);
	if (check_parent_id(d, err) < 0)
		return -1;
	st = status_one(d, off, len, &n, err);
	if (st < 0)
		return -1;
	/* merge following blocks with the same status */
	while (n < len) {
		st2 = status_one(d, off + n, len - n, &more, err);
		if (st2 < 0)
			return -1;
		if (st2 != st)
			break;
		n += more;
	}
	*pnum = n;
	return st;
}

static int
vhd_read_layer(struct disk *d, uint64_t off, void *buf, size_t len,
	       struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint8_t *p = buf;

	if (s->type == VHD_TYPE_FIXED)
		return pread_full(d, buf, len, off, "data", err);
	while (len > 0) {
		uint64_t n, in = off % s->block_size;
		uint32_t idx = (uint32_t)(off / s->block_size);
		int st = status_one(d, off, len, &n, err);

		if (st < 0)
			return -1;
		if (st == DISK_ST_DATA) {
			uint64_t at = (uint64_t)s->bat[idx] * DISK_SECTOR +
				      s->bm_size + in;

			if (pread_full(d, p, n, at, "block data", err) < 0)
				return -1;
		} else {
			memset(p, 0, n);
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* where data lies in the file: fixed data, or set sectors of a block */
static int
vhd_map(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
	uint64_t *pnum)
{
	struct vhd *s = vhd_of(d);
	uint32_t idx;
	uint64_t n;

	if (s->type == VHD_TYPE_FIXED) {
		*host = off;
		*pnum = len;
		return 0;
	}
	idx = (uint32_t)(off / s->block_size);
	if (status_one(d, off, len, &n, NULL) != DISK_ST_DATA)
		return -1;
	*host = (uint64_t)s->bat[idx] * DISK_SECTOR + s->bm_size + off % s->block_size;
	*pnum = n;
	return 0;
}

static void
app_printable(const uint8_t *f, char *out)
{
	int n = 4;

	while (n > 0 && f[VF_APP + n - 1] == 0)
		n--;
	for (int i = 0; i < n; i++) {
		uint8_t c = f[VF_APP + i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	out[n] = '\0';
}

static int
vhd_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	const char *sub = s->type == VHD_TYPE_FIXED ? "fixed" :
			  s->type == VHD_TYPE_DYNAMIC ? "dynamic" :
			  "differencing";
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
	info->fmt = DISK_FMT_VHD;
	snprintf(info->subformat, sizeof info->subformat, "%s", sub);
	info->size = d->size;
	info->file_size = (uint64_t)st.st_size;
	info->allocated = (uint64_t)st.st_blocks * 512;
	info->block_size = s->type == VHD_TYPE_FIXED ? 0 : s->block_size;
	snprintf(info->parent, sizeof info->parent, "%s",
		 d->parent_name ? d->parent_name : "");
	app_printable(s->footer, info->creator_app);
	info->creator_version = get_be32(s->footer + VF_APP_VER);
	info->cyls = get_be16(s->footer + VF_CYLS);
	info->heads = s->footer[VF_HEADS];
	info->spt = s->footer[VF_SPT];
	return 0;
}

const struct disk_driver disk_vhd_driver = {
	.fmt = DISK_FMT_VHD,
	.name = "vhd",
	.probe = vhd_probe,
	.open = vhd_open,
	.close = vhd_close,
	.create = vhd_create,
	.read_layer = vhd_read_layer,
	.write = vhd_write,
	.write_zeroes = vhd_write_zeroes,
	.discard = vhd_discard,
	.flush = vhd_flush,
	.block_status = vhd_block_status,
	.map = vhd_map,
	.info = vhd_info,
	.check = vhd_check,
	.resize = vhd_resize,
	.compact = vhd_compact,
};
