/*
 * vhd-create.c - making fixed, dynamic and differencing VHDs.
 *
 * Creator and size: hv keeps the exact size the user asked for (whole
 * MiB for fixed disks, which Azure requires) and writes current_size =
 * original_size = that size, with the CHS geometry of the VHD
 * specification (which may be smaller). Readers disagree on which of the
 * two to trust: qemu-img uses CHS for unknown creators, and "hv" is
 * unknown to it. So the footer names creator "win " 10.0 on "Wi2k", as
 * Hyper-V on Windows 10 / Server 2016 writes it: Hyper-V, Azure,
 * VirtualBox and qemu-img all size such an image by current_size, so
 * every tool reports the size hv reports, and no rounding up to a CHS
 * multiple (qemu-img's default, which breaks Azure's whole-MiB rule) is
 * needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/vhd-int.h"

int vhd_parent_locators(uint8_t *hdr, const char *child,
			const char *parent, uint64_t data_off,
			uint8_t **data, size_t *data_len,
			struct hv_err *err);

#define VHD_APP		"win "
#define VHD_APP_VER	0x000a0000u	/* 10.0 */

void
vhd_set_app(uint8_t *f)
{
	memcpy(f + VF_APP, VHD_APP, 4);
	put_be32(f + VF_APP_VER, VHD_APP_VER);
	memcpy(f + VF_HOST, "Wi2k", 4);
}

void
vhd_seal_footer(uint8_t *f)
{
	put_be32(f + VF_CSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VF_CSUM));
}

static void
fill_footer(uint8_t *f, uint32_t type, uint64_t size)
{
	uint16_t cyls;
	uint8_t heads, spt;

	memset(f, 0, VHD_FOOTER_SIZE);
	memcpy(f + VF_COOKIE, "conectix", 8);
	put_be32(f + VF_FEATURES, 2);	/* the "reserved, always set" bit */
	put_be32(f + VF_VERSION, 0x00010000);
	put_be64(f + VF_DATA_OFF, type == VHD_TYPE_FIXED ? UINT64_MAX :
		 VHD_FOOTER_SIZE);
	put_be32(f + VF_TIME, (uint32_t)(time(NULL) - VHD_EPOCH));
	vhd_set_app(f);
	put_be64(f + VF_ORIG_SIZE, size);
	put_be64(f + VF_CUR_SIZE, size);
	vhd_geometry(size / DISK_SECTOR, &cyls, &heads, &spt);
	put_be16(f + VF_CYLS, cyls);
	f[VF_HEADS] = heads;
	f[VF_SPT] = spt;
	put_be32(f + VF_TYPE, type);
	if (getrandom(f + VF_UUID, 16, 0) != 16) {
		/* a unique id that is merely unlikely to repeat will do */
		uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

		put_be64(f + VF_UUID, t);
		put_be64(f + VF_UUID + 8, (uint64_t)(uintptr_t)f ^ ~t);
	}
	f[VF_UUID + 6] = (uint8_t)((f[VF_UUID + 6] & 0x0f) | 0x40);
	f[VF_UUID + 8] = (uint8_t)((f[VF_UUID + 8] & 0x3f) | 0x80);
	vhd_seal_footer(f);
}

static int
pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
	    const char *path, struct hv_err *err)
{
	ssize_t rc = dio_pwrite(fd, buf, len, (off_t)off);

	if (rc == (ssize_t)len)
		return 0;
	return hv_fail(err, HV_EIO, "%s: write failed: %s", path,
		       rc < 0 ? strerror((int)-rc) : "short write");
}

/* the parent's footer, checked, and its absolute path */
static int
read_parent(const char *path, const char *parent, uint8_t *pf, char *abs,
	    struct hv_err *err)
{
	const char *slash = strrchr(path, '/');
	char name[PATH_MAX + 256];
	uint8_t head[VHD_FOOTER_SIZE];
	struct stat st;
	int fd, rc = -1;

	if (parent[0] == '/' || slash == NULL)
		snprintf(name, sizeof name, "%s", parent);
	else
		snprintf(name, sizeof name, "%.*s/%s", (int)(slash - path),
			 path, parent);
	if (realpath(name, abs) == NULL)
		return hv_fail(err, errno == ENOENT ? HV_ENOENT : HV_EIO,
			       "parent %s: %s", name, strerror(errno));
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < VHD_FOOTER_SIZE) {
		hv_fail(err, HV_EINVAL, "parent %s: not a readable VHD", abs);
		goto out;
	}
	if (dio_pread(fd, head, sizeof head, 0) != sizeof head ||
	    dio_pread(fd, pf, VHD_FOOTER_SIZE,
		      st.st_size - VHD_FOOTER_SIZE) != VHD_FOOTER_SIZE) {
		hv_fail(err, HV_EIO, "parent %s: cannot read its footer", abs);
		goto out;
	}
	if (!vhd_footer_valid(pf) && vhd_footer_valid(head))
		memcpy(pf, head, VHD_FOOTER_SIZE);
	if (!vhd_footer_valid(pf)) {
		hv_fail(err, HV_EINVAL,
			"parent %s: not a VHD (a VHD's parent must be a VHD)",
			abs);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
create_fixed(int fd, const char *path, uint64_t size, struct hv_err *err)
{
	uint8_t f[VHD_FOOTER_SIZE];
	int rc;

	fill_footer(f, VHD_TYPE_FIXED, size);
	rc = dio_ftruncate(fd, (off_t)size);
	if (rc < 0)
		return hv_fail(err, HV_EIO, "%s: %s", path, strerror(-rc));
	return pwrite_full(fd, f, sizeof f, size, path, err);
}

/* footer copy, header, BAT, locators, footer: one buffer, one write */
static int
create_dynamic(int fd, const char *path, const struct disk_create_opts *o,
	       uint64_t size, const uint8_t *pf, const char *pabs,
	       struct hv_err *err)
{
	uint32_t bs = o->block_size ? o->block_size : VHD_BLOCK_DEFAULT;
	uint32_t entries = (uint32_t)((size + bs - 1) / bs);
	uint64_t bat_off = VHD_FOOTER_SIZE + VHD_HEADER_SIZE;
	uint64_t loc_off = vhd_round_up(bat_off + (uint64_t)entries * 4,
					DISK_SECTOR);
	uint8_t *locs = NULL, *buf, *h;
	size_t locs_len = 0, total;
	int rc = -1;

	buf = calloc(1, VHD_FOOTER_SIZE + VHD_HEADER_SIZE);
	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	fill_footer(buf, pabs ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC, size);
	h = buf + VHD_FOOTER_SIZE;
	memcpy(h + VH_COOKIE, "cxsparse", 8);
	put_be64(h + VH_DATA_OFF, UINT64_MAX);
	put_be64(h + VH_BAT_OFF, bat_off);
	put_be32(h + VH_VERSION, 0x00010000);
	put_be32(h + VH_ENTRIES, entries);
	put_be32(h + VH_BLOCK, bs);
	if (pabs != NULL) {
		struct stat st;

		memcpy(h + VH_PUUID, pf + VF_UUID, 16);
		if (stat(pabs, &st) == 0 && st.st_mtime > VHD_EPOCH)
			put_be32(h + VH_PTIME,
				 (uint32_t)(st.st_mtime - VHD_EPOCH));
		if (vhd_parent_locators(h, path, pabs, loc_off, &locs,
					&locs_len, err) < 0)
			goto out;
	}
	put_be32(h + VH_CSUM, vhd_checksum(h, VHD_HEADER_SIZE, VH_CSUM));
	total = loc_off + locs_len + VHD_FOOTER_SIZE;
	h = realloc(buf, total);
	if (h == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", path);
		goto out;
	}
	buf = h;
	memset(buf + bat_off, 0xff, loc_off - bat_off);
	if (locs_len)
		memcpy(buf + loc_off, locs, locs_len);
	memcpy(buf + total - VHD_FOOTER_SIZE, buf, VHD_FOOTER_SIZE);
	if (pwrite_full(fd, buf, total, 0, path, err) < 0)
		goto out;
	rc = 0;
out:
	free(locs);
	free(buf);
	return rc;
}

static int
check_opts(const char *path, const struct disk_create_opts *o,
	   uint64_t size, struct hv_err *err)
{
	uint32_t bs = o->block_size;

	if (size == 0)
		return hv_fail(err, HV_EINVAL, "%s: size must be positive", path);
	if (size / DISK_SECTOR > VHD_MAX_SECTORS)
		return hv_fail(err, HV_EINVAL,
			       "%s: a VHD holds at most 2040 GiB; use VHDX for %llu bytes",
			       path, (unsigned long long)size);
	if (bs && (bs < 4096 || bs > VHD_BLOCK_MAX || (bs & (bs - 1))))
		return hv_fail(err, HV_EINVAL,
			       "%s: VHD block size must be a power of two from 4 KiB to 256 MiB",
			       path);
	if (o->fixed && o->parent)
		return hv_fail(err, HV_EINVAL,
			       "%s: a differencing VHD cannot be fixed", path);
	return 0;
}

int
vhd_create(const char *path, const struct disk_create_opts *o,
	   struct hv_err *err)
{
	uint8_t pf[VHD_FOOTER_SIZE];
	char *pabs = NULL;
	uint64_t size = vhd_round_up(o->size, DISK_SECTOR);
	int fd, rc = -1;

	if (o->parent != NULL) {
		pabs = malloc(PATH_MAX);
		if (pabs == NULL)
			return hv_fail(err, HV_EIO, "out of memory");
		if (read_parent(path, o->parent, pf, pabs, err) < 0)
			goto out;
		if (size == 0)
			size = vhd_footer_size(pf);
	}
	if (o->fixed)	/* Azure takes only whole MiB */
		size = vhd_round_up(size, 1u << 20);
	if (check_opts(path, o, size, err) < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		hv_fail(err, errno == EEXIST ? HV_EEXIST : HV_EIO, "%s: %s",
			path, strerror(errno));
		goto out;
	}
	if (o->fixed)
		rc = create_fixed(fd, path, size, err);
	else if (pabs != NULL) {
		char *cabs = realpath(path, NULL);

		rc = cabs ? create_dynamic(fd, cabs, o, size, pf, pabs, err) :
			    hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
		free(cabs);
	} else {
		rc = create_dynamic(fd, path, o, size, NULL, NULL, err);
	}
	if (rc == 0 && dio_fsync(fd) < 0)
		rc = hv_fail(err, HV_EIO, "%s: fsync failed", path);
	close(fd);
out:
	free(pabs);
	return rc;
}
