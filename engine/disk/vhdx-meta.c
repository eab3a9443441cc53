/*
 * vhdx-meta.c - VHDX headers, region table and metadata region: parsing
 * with every on-disk field bounds-checked, and encoding for create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "engine/disk/crc32c.h"
#include "engine/disk/vhdx.h"

/* GUIDs as stored: Data1..3 little-endian, Data4 bytes as is */
#define GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7) {			\
	(a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, (a) >> 24,	\
	(b) & 0xff, (b) >> 8, (c) & 0xff, (c) >> 8,			\
	d0, d1, d2, d3, d4, d5, d6, d7 }

const uint8_t vhdx_guid_bat[16] = GUID(0x2DC27766u, 0xF623, 0x4200,
	0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
const uint8_t vhdx_guid_meta[16] = GUID(0x8B7CA206u, 0x4790, 0x4B9A,
	0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);
static const uint8_t guid_file_params[16] = GUID(0xCAA16737u, 0xFA36,
	0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B);
static const uint8_t guid_vsize[16] = GUID(0x2FA54224u, 0xCD1B, 0x4876,
	0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8);
static const uint8_t guid_page83[16] = GUID(0xBECA12ABu, 0xB2E6, 0x4523,
	0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46);
static const uint8_t guid_lsec[16] = GUID(0x8141BF1Du, 0xA96F, 0x4709,
	0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F);
static const uint8_t guid_psec[16] = GUID(0xCDA348C7u, 0x445D, 0x4471,
	0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56);
static const uint8_t guid_locator[16] = GUID(0xA8D35F2Du, 0xB30B, 0x454D,
	0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C);
static const uint8_t guid_vhdx_locator[16] = GUID(0xB04AEFB7u, 0xD19E,
	0x4A81, 0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13);

void
vhdx_guid_new(uint8_t g[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t n = getrandom(g + got, 16 - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	g[7] = (uint8_t)((g[7] & 0x0f) | 0x40);	/* version 4 (Data3 LE) */
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
}

bool
vhdx_guid_zero(const uint8_t g[16])
{
	for (int i = 0; i < 16; i++)
		if (g[i])
			return false;
	return true;
}

void
vhdx_guid_fmt(char out[40], const uint8_t g[16])
{
	snprintf(out, 40,
		 "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
		 get_le32(g), get_le16(g + 4), get_le16(g + 6), g[8], g[9],
		 g[10], g[11], g[12], g[13], g[14], g[15]);
}

uint64_t
vhdx_bat_count(uint64_t vsize, uint32_t bs, uint32_t lsec, bool diff)
{
	uint64_t cr = (1ull << 23) * lsec / bs;
	uint64_t nb = (vsize + bs - 1) / bs;

	if (diff)
		return (nb + cr - 1) / cr * (cr + 1);
	return nb ? nb + (nb - 1) / cr : 0;
}

void
vhdx_geometry(struct vhdx *s)
{
	s->chunk_ratio = (1ull << 23) * s->lsec / s->block_size;
	s->nblocks = (s->vsize + s->block_size - 1) / s->block_size;
	s->bat_entries = vhdx_bat_count(s->vsize, s->block_size, s->lsec,
					s->has_parent);
}

/* ---- headers ---- */

static bool
header_decode(const uint8_t *b, struct vhdx_header *h)
{
	uint8_t tmp[VHDX_HDR_SIZE];

	if (memcmp(b, "head", 4) != 0)
		return false;
	memcpy(tmp, b, sizeof tmp);
	memset(tmp + 4, 0, 4);
	if (crc32c(0, tmp, sizeof tmp) != get_le32(b + 4))
		return false;
	h->seq = get_le64(b + 8);
	memcpy(h->file_write_guid, b + 16, 16);
	memcpy(h->data_write_guid, b + 32, 16);
	memcpy(h->log_guid, b + 48, 16);
	h->log_version = get_le16(b + 64);
	h->version = get_le16(b + 66);
	h->log_length = get_le32(b + 68);
	h->log_offset = get_le64(b + 72);
	return h->version == 1;
}

void
vhdx_header_encode(uint8_t *b, const struct vhdx_header *h)
{
	memset(b, 0, VHDX_HDR_SIZE);
	memcpy(b, "head", 4);
	put_le64(b + 8, h->seq);
	memcpy(b + 16, h->file_write_guid, 16);
	memcpy(b + 32, h->data_write_guid, 16);
	memcpy(b + 48, h->log_guid, 16);
	put_le16(b + 64, h->log_version);
	put_le16(b + 66, h->version);
	put_le32(b + 68, h->log_length);
	put_le64(b + 72, h->log_offset);
	put_le32(b + 4, crc32c(0, b, VHDX_HDR_SIZE));
}

int
vhdx_read_headers(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	uint8_t b[VHDX_HDR_SIZE];
	struct vhdx_header h[2];
	bool ok[2];

	if (s->file_size < VHDX_RT2_OFF + VHDX_RT_SIZE)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX file truncated (%llu bytes)", d->path,
			       (unsigned long long)s->file_size);
	if (vhdx_pread(d, s, b, 8, 0, err) < 0)
		return -1;
	if (memcmp(b, "vhdxfile", 8) != 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: no VHDX file type identifier", d->path);
	for (int i = 0; i < 2; i++) {
		if (vhdx_pread(d, s, b, sizeof b, i ? VHDX_HDR2_OFF :
			       VHDX_HDR1_OFF, err) < 0)
			return -1;
		ok[i] = header_decode(b, &h[i]);
	}
	if (!ok[0] && !ok[1])
		return hv_fail(err, HV_ECORRUPT,
			       "%s: both VHDX headers are invalid (bad signature, checksum or version)",
			       d->path);
	s->cur_hdr = !ok[0] || (ok[1] && h[1].seq > h[0].seq);
	s->hdr = h[s->cur_hdr];
	if (s->hdr.log_version != 0)
		return hv_fail(err, HV_ENOTSUP, "%s: VHDX log version %u not supported",
			       d->path, s->hdr.log_version);
	if (s->hdr.log_length % MiB || s->hdr.log_offset % MiB ||
	    s->hdr.log_offset < MiB || s->hdr.log_length > VHDX_MAX_LOG ||
	    s->hdr.log_offset > s->file_size ||
	    s->hdr.log_length > s->file_size - s->hdr.log_offset)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX log region (offset %llu, length %u) is misaligned or outside the file",
			       d->path, (unsigned long long)s->hdr.log_offset,
			       s->hdr.log_length);
	return 0;
}

/* Update by writing the non-current copy with a higher sequence. */
int
vhdx_write_header(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	uint8_t b[VHDX_HDR_SIZE];
	int slot = !s->cur_hdr;

	s->hdr.seq++;
	vhdx_header_encode(b, &s->hdr);
	if (vhdx_pwrite(d, b, sizeof b, slot ? VHDX_HDR2_OFF : VHDX_HDR1_OFF,
			err) < 0 || vhdx_fsync(d, err) < 0)
		return -1;
	s->cur_hdr = slot;
	return 0;
}

/* ---- region table ---- */

bool
vhdx_region_valid(const uint8_t *b)
{
	uint8_t *tmp;
	bool good;

	if (memcmp(b, "regi", 4) != 0 || get_le32(b + 8) > VHDX_RT_MAX_ENTRIES)
		return false;
	tmp = malloc(VHDX_RT_SIZE);
	if (tmp == NULL)
		return false;
	memcpy(tmp, b, VHDX_RT_SIZE);
	memset(tmp + 4, 0, 4);
	good = crc32c(0, tmp, VHDX_RT_SIZE) == get_le32(b + 4);
	free(tmp);
	return good;
}

static bool
ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int
region_entries(struct disk *d, struct vhdx *s, const uint8_t *b,
	       struct hv_err *err)
{
	uint32_t n = get_le32(b + 8);
	bool have_bat = false, have_meta = false;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = b + 16 + 32 * i;
		uint64_t off = get_le64(e + 16);
		uint32_t len = get_le32(e + 24);
		bool req = get_le32(e + 28) & 1;

		if (off % MiB || len % MiB || off < MiB || len == 0 ||
		    off > VHDX_MAX_SIZE * 2)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: VHDX region %u is misaligned (offset %llu, length %u)",
				       d->path, i, (unsigned long long)off, len);
		if (memcmp(e, vhdx_guid_bat, 16) == 0 && !have_bat) {
			have_bat = true;
			s->bat_off = off;
			s->bat_len = len;
		} else if (memcmp(e, vhdx_guid_meta, 16) == 0 && !have_meta) {
			have_meta = true;
			s->meta_off = off;
			s->meta_len = len;
		} else if (memcmp(e, vhdx_guid_bat, 16) == 0 ||
			   memcmp(e, vhdx_guid_meta, 16) == 0) {
			return hv_fail(err, HV_ECORRUPT,
				       "%s: VHDX region table lists a region twice",
				       d->path);
		} else if (req) {
			return hv_fail(err, HV_ENOTSUP,
				       "%s: VHDX has an unknown required region",
				       d->path);
		}
	}
	if (!have_bat || !have_meta)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX region table lacks the %s region",
			       d->path, have_bat ? "metadata" : "BAT");
	if (ranges_overlap(s->bat_off, s->bat_len, s->meta_off, s->meta_len) ||
	    ranges_overlap(s->bat_off, s->bat_len, s->hdr.log_offset,
			   s->hdr.log_length) ||
	    ranges_overlap(s->meta_off, s->meta_len, s->hdr.log_offset,
			   s->hdr.log_length))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX regions (BAT, metadata, log) overlap",
			       d->path);
	if (s->meta_off + s->meta_len > s->file_size ||
	    s->meta_len < VHDX_META_TABLE_SIZE)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX metadata region lies past the end of the file",
			       d->path);
	return 0;
}

int
vhdx_read_regions(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	uint8_t *b = malloc(VHDX_RT_SIZE);
	int rc = -1;

	if (b == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (vhdx_pread(d, s, b, VHDX_RT_SIZE, VHDX_RT1_OFF, err) < 0)
		goto out;
	if (!vhdx_region_valid(b)) {
		if (vhdx_pread(d, s, b, VHDX_RT_SIZE, VHDX_RT2_OFF, err) < 0)
			goto out;
		if (!vhdx_region_valid(b)) {
			hv_fail(err, HV_ECORRUPT,
				"%s: both VHDX region tables are invalid (bad signature or checksum)",
				d->path);
			goto out;
		}
	}
	rc = region_entries(d, s, b, err);
out:
	free(b);
	return rc;
}

/* ---- metadata ---- */

/* UTF-16LE to UTF-8; unpaired surrogates become '?' */
static char *
utf16_to_utf8(const uint8_t *p, size_t n)
{
	char *out = malloc(n / 2 * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint32_t c = get_le16(p + i);

		if (c >= 0xd800 && c < 0xdc00 && i + 3 < n &&
		    get_le16(p + i + 2) >= 0xdc00 &&
		    get_le16(p + i + 2) < 0xe000) {
			c = 0x10000 + ((c - 0xd800) << 10) +
			    (get_le16(p + i + 2) - 0xdc00u);
			i += 2;
		} else if (c >= 0xd800 && c < 0xe000) {
			c = '?';
		}
		if (c == 0)
			break;
		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c < 0x800) {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			*o++ = (char)(0xe0 | c >> 12);
			*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (char)(0x80 | (c & 0x3f));
		} else {	/* 4 UTF-8 bytes for 2 UTF-16 units: fits */
			*o++ = (char)(0xf0 | c >> 18);
			*o++ = (char)(0x80 | ((c >> 12) & 0x3f));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*o = '\0';
	return out;
}

/* UTF-8 to UTF-16LE into out (room for max bytes); returns bytes */
static size_t
utf8_to_utf16(const char *in, uint8_t *out, size_t max)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t n = 0;

	while (*p && n + 4 <= max) {
		uint32_t c = *p++;
		int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

		if (more)
			c &= 0x3f >> more;
		for (; more && (*p & 0xc0) == 0x80; more--)
			c = c << 6 | (*p++ & 0x3f);
		if (c >= 0x10000) {
			c -= 0x10000;
			put_le16(out + n, (uint16_t)(0xd800 + (c >> 10)));
			put_le16(out + n + 2, (uint16_t)(0xdc00 + (c & 0x3ff)));
			n += 4;
		} else {
			put_le16(out + n, (uint16_t)c);
			n += 2;
		}
	}
	return n;
}

static int
parse_locator(struct disk *d, struct vhdx *s, const uint8_t *p, uint32_t len,
	      struct hv_err *err)
{
	uint16_t n;

	if (len < 20 || memcmp(p, guid_vhdx_locator, 16) != 0)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: VHDX parent locator of an unknown type",
			       d->path);
	n = get_le16(p + 18);
	if (20 + 12ull * n > len)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX parent locator entries run past the item",
			       d->path);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *e = p + 20 + 12 * i;
		uint32_t ko = get_le32(e), vo = get_le32(e + 4);
		uint16_t kl = get_le16(e + 8), vl = get_le16(e + 10);
		char *key, *val, **slot = NULL;

		if ((uint64_t)ko + kl > len || (uint64_t)vo + vl > len)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: VHDX parent locator entry %u lies outside the item",
				       d->path, i);
		key = utf16_to_utf8(p + ko, kl);
		val = utf16_to_utf8(p + vo, vl);
		if (key == NULL || val == NULL) {
			free(key);
			free(val);
			return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		}
		if (strcmp(key, "parent_linkage") == 0)
			snprintf(s->parent_linkage, sizeof s->parent_linkage,
				 "%s", val);
		else if (strcmp(key, "relative_path") == 0)
			slot = &s->parent_rel;
		else if (strcmp(key, "absolute_win32_path") == 0)
			slot = &s->parent_abs;
		else if (strcmp(key, "volume_path") == 0)
			slot = &s->parent_vol;
		if (slot && *slot == NULL) {
			*slot = val;
			val = NULL;
		}
		free(key);
		free(val);
	}
	if (!s->parent_linkage[0] || (!s->parent_rel && !s->parent_abs &&
				      !s->parent_vol))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX parent locator lacks parent_linkage or a path",
			       d->path);
	return 0;
}

enum { M_PARAMS = 1, M_VSIZE = 2, M_LSEC = 4, M_PSEC = 8, M_PAGE83 = 16,
       M_LOC = 32 };

static int
meta_item(struct disk *d, struct vhdx *s, const uint8_t *id, const uint8_t *p,
	  uint32_t len, uint64_t file_off, unsigned *have, struct hv_err *err)
{
	struct { const uint8_t *g; unsigned bit; uint32_t len; } items[] = {
		{ guid_file_params, M_PARAMS, 8 }, { guid_vsize, M_VSIZE, 8 },
		{ guid_lsec, M_LSEC, 4 }, { guid_psec, M_PSEC, 4 },
		{ guid_page83, M_PAGE83, 16 }, { guid_locator, M_LOC, 20 },
	};

	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
		if (memcmp(id, items[i].g, 16) != 0)
			continue;
		if (*have & items[i].bit || len < items[i].len)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: VHDX metadata item listed twice or too short",
				       d->path);
		*have |= items[i].bit;
		switch (items[i].bit) {
		case M_PARAMS:
			s->block_size = get_le32(p);
			s->leave_alloc = get_le32(p + 4) & 1;
			s->has_parent = get_le32(p + 4) & 2;
			break;
		case M_VSIZE:
			s->vsize = get_le64(p);
			s->vsize_item_off = file_off;
			break;
		case M_LSEC:
			s->lsec = get_le32(p);
			break;
		case M_PSEC:
			s->psec = get_le32(p);
			break;
		case M_PAGE83:
			memcpy(s->page83, p, 16);
			break;
		case M_LOC:
			return parse_locator(d, s, p, len, err);
		}
		return 0;
	}
	return 1;	/* unknown */
}

static int
meta_validate(struct disk *d, struct vhdx *s, unsigned have,
	      struct hv_err *err)
{
	if ((have & (M_PARAMS | M_VSIZE | M_LSEC)) != (M_PARAMS | M_VSIZE | M_LSEC))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX metadata lacks a required item (file parameters, disk size or sector size)",
			       d->path);
	if (!(have & M_PSEC))
		s->psec = 4096;
	if (s->block_size < VHDX_MIN_BLOCK || s->block_size > VHDX_MAX_BLOCK ||
	    (s->block_size & (s->block_size - 1)))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX block size %u is not a power of two in 1 MiB..256 MiB",
			       d->path, s->block_size);
	if ((s->lsec != 512 && s->lsec != 4096) ||
	    (s->psec != 512 && s->psec != 4096))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX sector size %u/%u is not 512 or 4096",
			       d->path, s->lsec, s->psec);
	if (s->vsize == 0 || s->vsize > VHDX_MAX_SIZE || s->vsize % s->lsec)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX virtual size %llu is zero, over 64 TiB or not a multiple of the sector size",
			       d->path, (unsigned long long)s->vsize);
	if (s->has_parent && !(have & M_LOC))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: differencing VHDX without a parent locator",
			       d->path);
	vhdx_geometry(s);
	if (s->bat_entries * 8 > s->bat_len)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX BAT region (%llu bytes) is too small for %llu entries",
			       d->path, (unsigned long long)s->bat_len,
			       (unsigned long long)s->bat_entries);
	if (s->bat_off + s->bat_entries * 8 > s->file_size)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX BAT lies past the end of the file",
			       d->path);
	return 0;
}

int
vhdx_read_metadata(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	uint64_t mlen = s->meta_len > 16 * MiB ? 16 * MiB : s->meta_len;
	uint8_t *m = malloc(mlen);
	unsigned have = 0;
	uint16_t n;
	int rc = -1;

	if (m == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (vhdx_pread(d, s, m, mlen, s->meta_off, err) < 0)
		goto out;
	n = get_le16(m + 10);
	if (memcmp(m, "metadata", 8) != 0 || n > VHDX_META_MAX_ENTRIES) {
		hv_fail(err, HV_ECORRUPT, "%s: VHDX metadata table is invalid",
			d->path);
		goto out;
	}
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *e = m + 32 + 32 * i;
		uint32_t off = get_le32(e + 16), len = get_le32(e + 20);
		bool req = get_le32(e + 24) & 4;
		int r;

		if (len && (off < VHDX_META_TABLE_SIZE || off > mlen ||
			    len > mlen - off)) {
			hv_fail(err, HV_ECORRUPT,
				"%s: VHDX metadata item %u lies outside the metadata region",
				d->path, i);
			goto out;
		}
		r = meta_item(d, s, e, m + off, len, s->meta_off + off,
			      &have, err);
		if (r < 0)
			goto out;
		if (r > 0 && req) {
			hv_fail(err, HV_ENOTSUP,
				"%s: VHDX has an unknown required metadata item",
				d->path);
			goto out;
		}
	}
	rc = meta_validate(d, s, have, err);
out:
	free(m);
	return rc;
}

/* ---- encode the metadata region for create ---- */

static size_t
put_kv(uint8_t *item, size_t at, size_t cap, uint16_t idx, const char *k,
       const char *v)
{
	uint8_t *e = item + 20 + 12 * idx;
	size_t kl, vl;

	kl = utf8_to_utf16(k, item + at, cap - at);
	put_le32(e, (uint32_t)at);
	put_le16(e + 8, (uint16_t)kl);
	at += kl;
	vl = utf8_to_utf16(v, item + at, cap - at);
	put_le32(e + 4, (uint32_t)at);
	put_le16(e + 10, (uint16_t)vl);
	return at + vl;
}

static void
meta_entry(uint8_t *buf, int i, const uint8_t *g, uint32_t off, uint32_t len,
	   uint32_t flags)
{
	uint8_t *e = buf + 32 + 32 * i;

	memcpy(e, g, 16);
	put_le32(e + 16, off);
	put_le32(e + 20, len);
	put_le32(e + 24, flags);
}

/*
 * Fill buf (the whole metadata region, zeroed by the caller, >= 128 KiB)
 * with the table and the items. linkage/rel/abs are set for a child.
 */
int
vhdx_make_metadata(uint8_t *buf, size_t len, uint32_t bs, bool fixed,
		   uint64_t vsize, uint32_t lsec, const char *linkage,
		   const char *rel, const char *abs)
{
	uint8_t *it = buf + VHDX_META_TABLE_SIZE;
	uint8_t page83[16];
	int n = 5;

	memcpy(buf, "metadata", 8);
	put_le32(it, bs);
	put_le32(it + 4, (fixed ? 1u : 0u) | (linkage ? 2u : 0u));
	meta_entry(buf, 0, guid_file_params, 0x10000, 8, 4);
	put_le64(it + 8, vsize);
	meta_entry(buf, 1, guid_vsize, 0x10008, 8, 6);
	vhdx_guid_new(page83);
	memcpy(it + 16, page83, 16);
	meta_entry(buf, 2, guid_page83, 0x10010, 16, 6);
	put_le32(it + 32, lsec);
	meta_entry(buf, 3, guid_lsec, 0x10020, 4, 6);
	put_le32(it + 36, 4096);
	meta_entry(buf, 4, guid_psec, 0x10024, 4, 6);
	if (linkage) {
		uint8_t *loc = it + 64;
		size_t cap = len - VHDX_META_TABLE_SIZE - 64, at;
		uint16_t kv = 0;

		if (cap > 32 * KiB)
			cap = 32 * KiB;
		memcpy(loc, guid_vhdx_locator, 16);
		at = 20 + 12 * 3;
		at = put_kv(loc, at, cap, kv++, "parent_linkage", linkage);
		at = put_kv(loc, at, cap, kv++, "relative_path", rel);
		if (abs)
			at = put_kv(loc, at, cap, kv++, "absolute_win32_path",
				    abs);
		put_le16(loc + 18, kv);
		meta_entry(buf, n++, guid_locator, 0x10040, (uint32_t)at, 4);
	}
	put_le16(buf + 10, (uint16_t)n);
	return 0;
}
