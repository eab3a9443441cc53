/*
 * vhd-parent.c - how a differencing VHD names its parent: the UTF-16BE
 * parent name in the dynamic header and up to eight parent locators.
 * Windows writes W2ku (absolute path) and W2ru (relative path), both
 * UTF-16LE with backslashes; Virtual PC for Mac wrote MacX (a UTF-8
 * file:// URL). We read all three and write W2ku and W2ru.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/vhd-int.h"

#define LOC_MAX	(8u * 1024)	/* longest locator data we read */

int vhd_open_parent(struct disk *d, struct hv_err *err);
int vhd_parent_locators(uint8_t *hdr, const char *child,
			const char *parent, uint64_t data_off,
			uint8_t **data, size_t *data_len,
			struct hv_err *err);

static size_t
put_utf8(char *out, size_t cap, size_t n, uint32_t c)
{
	uint8_t b[4];
	size_t k;

	if (c < 0x80) {
		b[0] = (uint8_t)c;
		k = 1;
	} else if (c < 0x800) {
		b[0] = (uint8_t)(0xc0 | c >> 6);
		b[1] = (uint8_t)(0x80 | (c & 0x3f));
		k = 2;
	} else if (c < 0x10000) {
		b[0] = (uint8_t)(0xe0 | c >> 12);
		b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c & 0x3f));
		k = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | c >> 18);
		b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		b[3] = (uint8_t)(0x80 | (c & 0x3f));
		k = 4;
	}
	if (n + k >= cap)
		return n;
	memcpy(out + n, b, k);
	return n + k;
}

/* UTF-16 to UTF-8, up to the first NUL; bad surrogates become '?' */
static void
utf16_decode(const uint8_t *p, size_t len, bool be, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t c = be ? get_be16(p + i) : get_le16(p + i);

		if (c == 0)
			break;
		if (c >= 0xd800 && c < 0xdc00 && i + 3 < len) {
			uint32_t lo = be ? get_be16(p + i + 2) :
				      get_le16(p + i + 2);

			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 2;
			} else {
				c = '?';
			}
		} else if (c >= 0xd800 && c < 0xe000) {
			c = '?';
		}
		n = put_utf8(out, cap, n, c);
	}
	out[n] = '\0';
}

/* UTF-8 to UTF-16; bytes written, or -1 when out is too small */
static long
utf16_encode(const char *s, bool be, uint8_t *out, size_t cap)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0;

	while (*p) {
		uint32_t c = *p++;
		int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

		if (more)
			c &= 0x3fu >> more;
		for (; more > 0 && (*p & 0xc0) == 0x80; more--)
			c = c << 6 | (*p++ & 0x3fu);
		if (more || c > 0x10ffff)
			c = '?';
		if (c >= 0x10000) {
			if (n + 4 > cap)
				return -1;
			c -= 0x10000;
			(be ? put_be16 : put_le16)(out + n,
						   (uint16_t)(0xd800 + (c >> 10)));
			(be ? put_be16 : put_le16)(out + n + 2,
						   (uint16_t)(0xdc00 + (c & 0x3ff)));
			n += 4;
			continue;
		}
		if (n + 2 > cap)
			return -1;
		(be ? put_be16 : put_le16)(out + n, (uint16_t)c);
		n += 2;
	}
	return (long)n;
}

static void
slashes(char *s, char from, char to)
{
	for (; *s; s++)
		if (*s == from)
			*s = to;
}

/* a stored Windows path as a Linux one: ".\p.vhd" -> "./p.vhd" */
static void
to_unix(char *s)
{
	slashes(s, '\\', '/');
	if (strncmp(s, "file://", 7) == 0)
		memmove(s, s + 7, strlen(s + 7) + 1);
}

/* does the parent named by name exist next to the child? */
static bool
parent_exists(const char *child, const char *name)
{
	const char *slash = strrchr(child, '/');
	char path[PATH_MAX + 256];

	if (name[0] == '/' || slash == NULL)
		snprintf(path, sizeof path, "%s", name);
	else
		snprintf(path, sizeof path, "%.*s/%s", (int)(slash - child),
			 child, name);
	return access(path, F_OK) == 0;
}

/* read locator i's path into out ("" if it is not a path we know) */
static int
read_locator(struct disk *d, const uint8_t *loc, char *out, size_t cap,
	     struct hv_err *err)
{
	struct vhd *s = vhd_of(d);
	uint32_t code = get_be32(loc), len = get_be32(loc + 8);
	uint64_t off = get_be64(loc + 16);
	uint8_t *buf;
	ssize_t rc;

	out[0] = '\0';
	if (memcmp(loc, "W2ku", 4) != 0 && memcmp(loc, "W2ru", 4) != 0 &&
	    memcmp(loc, "MacX", 4) != 0)
		return 0;
	if (len == 0 || len > LOC_MAX || off > s->file_size ||
	    s->file_size - off < len)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: parent locator %.4s is outside the file",
			       d->path, (const char *)loc);
	if (off + vhd_round_up(len, DISK_SECTOR) > s->meta_end)
		s->meta_end = off + vhd_round_up(len, DISK_SECTOR);
	buf = calloc(1, len + 1);
	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	rc = dio_pread(d->fd, buf, len, (off_t)off);
	if (rc != (ssize_t)len) {
		free(buf);
		return vhd_io_fail(d, "parent locator", rc, err);
	}
	if (code == 0x4d616358)	/* MacX: UTF-8 */
		snprintf(out, cap, "%s", (char *)buf);
	else
		utf16_decode(buf, len, false, out, cap);
	free(buf);
	to_unix(out);
	return 0;
}

/*
 * Choose the parent name: the first of W2ru, W2ku, MacX and the header's
 * parent name that exists beside the child; if none does, the first one
 * given, so the error names the file we looked for.
 */
int
vhd_open_parent(struct disk *d, struct hv_err *err)
{
	static const char order[3][5] = { "W2ru", "W2ku", "MacX" };
	struct vhd *s = vhd_of(d);
	char (*cand)[PATH_MAX] = calloc(4, PATH_MAX);
	int pick = -1, first = -1, rc = -1;

	if (cand == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < VH_NLOC; i++) {
			const uint8_t *loc = s->header + VH_LOC + i * VH_LOC_SIZE;

			if (memcmp(loc, order[k], 4) != 0)
				continue;
			if (read_locator(d, loc, cand[k], PATH_MAX, err) < 0)
				goto out;
			break;
		}
	}
	utf16_decode(s->header + VH_PNAME, VH_PNAME_LEN, true, cand[3],
		     PATH_MAX);
	to_unix(cand[3]);
	for (int k = 0; k < 4; k++) {
		if (cand[k][0] == '\0')
			continue;
		if (first < 0)
			first = k;
		if (pick < 0 && parent_exists(d->path, cand[k]))
			pick = k;
	}
	if (first < 0) {
		hv_fail(err, HV_ECORRUPT,
			"%s: differencing VHD does not name its parent", d->path);
		goto out;
	}
	d->parent_name = strdup(cand[pick >= 0 ? pick : first]);
	if (d->parent_name == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		goto out;
	}
	d->parent_fmt = DISK_FMT_VHD;
	rc = 0;
out:
	free(cand);
	return rc;
}

/* the path of parent relative to the directory of child, both absolute */
static void
relative_path(const char *child, const char *parent, char *out, size_t cap)
{
	size_t common = 0, n = 0;
	const char *p;

	/* longest common directory prefix */
	for (size_t i = 0; child[i] && child[i] == parent[i]; i++)
		if (child[i] == '/')
			common = i + 1;
	n = (size_t)snprintf(out, cap, ".");
	for (p = child + common; (p = strchr(p, '/')) != NULL; p++)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "/..");
	snprintf(out + n, n < cap ? cap - n : 0, "/%s", parent + common);
}

static void
put_locator(uint8_t *loc, const char *code, uint32_t len, uint64_t off)
{
	memcpy(loc, code, 4);
	put_be32(loc + 4, (uint32_t)vhd_round_up(len, DISK_SECTOR));
	put_be32(loc + 8, len);
	put_be64(loc + 16, off);
}

/*
 * Fill the header's parent name and W2ku/W2ru locators for a child at
 * child naming parent (both absolute), their data to go at data_off.
 * The data space is given in bytes, as Windows writes it.
 */
int
vhd_parent_locators(uint8_t *hdr, const char *child, const char *parent,
		    uint64_t data_off, uint8_t **data, size_t *data_len,
		    struct hv_err *err)
{
	char rel[PATH_MAX], absw[PATH_MAX];
	size_t cap = 2 * 2 * PATH_MAX;
	uint8_t *buf = calloc(1, cap);
	long a, r;

	if (buf == NULL)
		return hv_fail(err, HV_EIO, "out of memory");
	snprintf(absw, sizeof absw, "%s", parent);
	relative_path(child, parent, rel, sizeof rel);
	slashes(absw, '/', '\\');
	slashes(rel, '/', '\\');
	/* the header's name is only 256 UTF-16 units; locators carry more */
	memset(hdr + VH_PNAME, 0, VH_PNAME_LEN);
	if (utf16_encode(absw, true, hdr + VH_PNAME, VH_PNAME_LEN - 2) < 0)
		memset(hdr + VH_PNAME, 0, VH_PNAME_LEN);
	a = utf16_encode(absw, false, buf, cap / 2);
	if (a < 0)
		goto fail;
	r = utf16_encode(rel, false, buf + vhd_round_up((uint64_t)a, 512),
			 cap / 2);
	if (r < 0)
		goto fail;
	put_locator(hdr + VH_LOC, "W2ku", (uint32_t)a, data_off);
	put_locator(hdr + VH_LOC + VH_LOC_SIZE, "W2ru", (uint32_t)r,
		    data_off + vhd_round_up((uint64_t)a, 512));
	*data = buf;
	*data_len = vhd_round_up((uint64_t)a, 512) +
		    vhd_round_up((uint64_t)r, 512);
	return 0;
fail:
	free(buf);
	return hv_fail(err, HV_EINVAL, "%s: parent path is too long", child);
}
