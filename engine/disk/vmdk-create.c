/*
 * vmdk-create.c - new VMDK images: monolithicSparse (one file, the
 * descriptor inside, grain tables preallocated as VMware lays them
 * out), a differencing monolithicSparse child of a VMDK parent, and
 * monolithicFlat for --fixed (a descriptor plus NAME-flat.vmdk).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine/disk/vmdk-int.h"

#define DESC_SECTORS	20	/* what VMware and qemu reserve */
#define DEF_GRAIN	(64u << 10)
#define MAX_SPARSE	(2ull << 40)	/* GTEs are 32-bit sectors */

uint32_t
vmdk_new_cid(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)getpid() * 2654435761u;
	/* ffffffff means "no parent" in parentCID; keep away from it */
	return v == 0xffffffffu ? 1 : v;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
write_desc(char *buf, size_t sz, const char *type, uint32_t parent_cid,
	   const char *parent, const char *extent, uint64_t size)
{
	uint64_t cyl = size / (16 * 63 * DISK_SECTOR);
	char hint[4200] = "";

	if (cyl > 16383)
		cyl = 16383;
	if (parent)
		snprintf(hint, sizeof(hint), "parentFileNameHint=\"%s\"\n",
			 parent);
	return snprintf(buf, sz,
		"# Disk DescriptorFile\n"
		"version=1\n"
		"CID=%08x\n"
		"parentCID=%08x\n"
		"createType=\"%s\"\n"
		"%s"
		"\n"
		"# Extent description\n"
		"%s\n"
		"\n"
		"# The Disk Data Base\n"
		"#DDB\n"
		"\n"
		"ddb.virtualHWVersion = \"4\"\n"
		"ddb.geometry.cylinders = \"%llu\"\n"
		"ddb.geometry.heads = \"16\"\n"
		"ddb.geometry.sectors = \"63\"\n"
		"ddb.adapterType = \"ide\"\n",
		vmdk_new_cid(), parent_cid, type, hint, extent,
		(unsigned long long)cyl);
}

static int
put(int fd, const char *path, const void *buf, size_t len, uint64_t off,
    struct hv_err *err)
{
	ssize_t n = dio_pwrite(fd, buf, len, (off_t)off);

	if (n < 0)
		return hv_fail(err, HV_EIO, "%s: write: %s", path,
			       strerror((int)-n));
	return 0;
}

static void
fill_header(uint8_t *h, uint64_t cap, uint64_t grain, uint64_t rgd,
	    uint64_t gd, uint64_t overhead)
{
	memset(h, 0, VMDK_HDR_SIZE);
	put_le32(h, VMDK_MAGIC);
	put_le32(h + 4, 1);
	put_le32(h + 8, VMDK_FL_NL_TEST | VMDK_FL_RGD);
	put_le64(h + 12, cap);
	put_le64(h + 20, grain);
	put_le64(h + 28, 1);
	put_le64(h + 36, DESC_SECTORS);
	put_le32(h + 44, VMDK_MAX_GTES);
	put_le64(h + 48, rgd);
	put_le64(h + 56, gd);
	put_le64(h + 64, overhead);
	h[73] = '\n';
	h[74] = ' ';
	h[75] = '\r';
	h[76] = '\n';
}

/* GD at sector gd: its entries point at the GTs that follow it. */
static void
fill_gd(uint8_t *buf, uint64_t entries, uint64_t gd, uint64_t gd_sectors,
	uint64_t gt_sectors)
{
	for (uint64_t i = 0; i < entries; i++)
		put_le32(buf + 4 * i, (uint32_t)(gd + gd_sectors +
						 i * gt_sectors));
}

static int
sparse_layout(int fd, const char *path, uint64_t size, uint64_t grain,
	      const char *desc, struct hv_err *err)
{
	uint64_t cap = size / DISK_SECTOR, gs = grain / DISK_SECTOR;
	uint64_t entries = (cap + gs * VMDK_MAX_GTES - 1) /
			   (gs * VMDK_MAX_GTES);
	uint64_t gd_sectors = (entries * 4 + 511) / 512;
	uint64_t gt_sectors = VMDK_MAX_GTES * 4 / 512;
	uint64_t rgd = 1 + DESC_SECTORS;
	uint64_t gd = rgd + gd_sectors + entries * gt_sectors;
	uint64_t end = gd + gd_sectors + entries * gt_sectors;
	uint64_t overhead = (end + gs - 1) / gs * gs;
	uint8_t h[VMDK_HDR_SIZE], *dir;
	int rc = -1;

	dir = calloc(1, gd_sectors * DISK_SECTOR + 1);
	if (dir == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	fill_header(h, cap, gs, rgd, gd, overhead);
	if (dio_ftruncate(fd, (off_t)(overhead * DISK_SECTOR)) < 0) {
		hv_fail(err, HV_EIO, "%s: cannot size the file", path);
		goto out;
	}
	fill_gd(dir, entries, rgd, gd_sectors, gt_sectors);
	if (put(fd, path, dir, gd_sectors * DISK_SECTOR, rgd * DISK_SECTOR,
		err) < 0)
		goto out;
	fill_gd(dir, entries, gd, gd_sectors, gt_sectors);
	if (put(fd, path, dir, gd_sectors * DISK_SECTOR, gd * DISK_SECTOR,
		err) < 0 ||
	    put(fd, path, desc, DESC_SECTORS * DISK_SECTOR, DISK_SECTOR,
		err) < 0 ||
	    put(fd, path, h, sizeof(h), 0, err) < 0)
		goto out;
	rc = 0;
out:
	free(dir);
	return rc;
}

/* parentCID for a child: the parent's CID, read through our own open */
static int
parent_cid(const char *parent, uint32_t *cid, struct hv_err *err)
{
	struct disk pd;
	struct vmdk *vm;
	uint8_t buf[4096];
	ssize_t n;
	int rc = -1;

	memset(&pd, 0, sizeof(pd));
	pd.path = (char *)parent;
	pd.flags = DISK_RDONLY;
	pd.fd = open(parent, O_RDONLY | O_CLOEXEC);
	if (pd.fd < 0)
		return hv_fail(err, HV_ENOENT, "%s: parent: %s", parent,
			       strerror(errno));
	n = dio_pread(pd.fd, buf, sizeof(buf), 0);
	if (n < 0 || disk_vmdk_driver.probe(buf, (size_t)n,
					    (uint64_t)n) < 50) {
		hv_fail(err, HV_ENOTSUP, "%s: a VMDK differencing disk needs a "
			"VMDK parent", parent);
		goto out;
	}
	if (disk_vmdk_driver.open(&pd, err) < 0)
		goto out;
	vm = pd.priv;
	*cid = vm->desc.cid;
	disk_vmdk_driver.close(&pd);
	free(pd.parent_name);
	rc = 0;
out:
	close(pd.fd);
	return rc;
}

static int
create_sparse(int fd, const char *path, const struct disk_create_opts *o,
	      uint64_t size, struct hv_err *err)
{
	uint64_t grain = o->block_size ? o->block_size : DEF_GRAIN;
	char *desc, extent[4200];
	uint32_t pcid = 0xffffffffu;
	int rc;

	if (grain < 4096 || grain > (1u << 20) || (grain & (grain - 1)))
		return hv_fail(err, HV_EINVAL, "%s: VMDK grain size must be a "
			       "power of two from 4 KiB to 1 MiB", path);
	if (size > MAX_SPARSE)
		return hv_fail(err, HV_EINVAL, "%s: a monolithicSparse VMDK "
			       "holds at most 2 TiB", path);
	if (o->parent) {
		char *pp = vmdk_rel_path(path, o->parent);

		rc = pp ? parent_cid(pp, &pcid, err) :
			  hv_fail(err, HV_EIO, "%s: out of memory", path);
		free(pp);
		if (rc < 0)
			return -1;
	}
	desc = calloc(1, DESC_SECTORS * DISK_SECTOR);
	if (desc == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	snprintf(extent, sizeof(extent), "RW %llu SPARSE \"%s\"",
		 (unsigned long long)(size / DISK_SECTOR), base_name(path));
	rc = write_desc(desc, DESC_SECTORS * DISK_SECTOR, "monolithicSparse",
			pcid, o->parent, extent, size);
	if (rc < 0 || (size_t)rc >= DESC_SECTORS * DISK_SECTOR)
		rc = hv_fail(err, HV_EINVAL, "%s: VMDK descriptor too long "
			     "(parent path?)", path);
	else
		rc = sparse_layout(fd, path, size, grain, desc, err);
	free(desc);
	return rc;
}

static char *
flat_name(const char *path)
{
	size_t n = strlen(path);
	char *p;

	if (n > 5 && strcmp(path + n - 5, ".vmdk") == 0)
		n -= 5;
	p = malloc(n + sizeof("-flat.vmdk"));
	if (p) {
		memcpy(p, path, n);
		strcpy(p + n, "-flat.vmdk");
	}
	return p;
}

static int
create_flat(int fd, const char *path, uint64_t size, struct hv_err *err)
{
	char *flat = flat_name(path), desc[8192], extent[4200];
	int ffd, rc = -1, n;

	if (flat == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	ffd = open(flat, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ffd < 0) {
		hv_fail(err, HV_EIO, "%s: %s", flat, strerror(errno));
		goto out;
	}
	if (dio_ftruncate(ffd, (off_t)size) < 0 || dio_fsync(ffd) < 0) {
		hv_fail(err, HV_EIO, "%s: cannot size the file", flat);
		goto out_fd;
	}
	snprintf(extent, sizeof(extent), "RW %llu FLAT \"%s\" 0",
		 (unsigned long long)(size / DISK_SECTOR), base_name(flat));
	n = write_desc(desc, sizeof(desc), "monolithicFlat", 0xffffffffu,
		       NULL, extent, size);
	if (n < 0 || (size_t)n >= sizeof(desc))
		hv_fail(err, HV_EINVAL, "%s: VMDK descriptor too long", path);
	else if (put(fd, path, desc, (size_t)n, 0, err) == 0)
		rc = 0;
out_fd:
	close(ffd);
	if (rc < 0)
		unlink(flat);
out:
	free(flat);
	return rc;
}

int
vmdk_create(const char *path, const struct disk_create_opts *o,
	    struct hv_err *err)
{
	uint64_t size = (o->size + DISK_SECTOR - 1) & ~(uint64_t)511;
	int fd, rc;

	if (size == 0)
		return hv_fail(err, HV_EINVAL, "%s: VMDK size must not be 0",
			       path);
	if (o->fixed && o->parent)
		return hv_fail(err, HV_EINVAL, "%s: a fixed (monolithicFlat) "
			       "VMDK cannot have a parent", path);
	if (size > VMDK_MAX_SECTORS * DISK_SECTOR)
		return hv_fail(err, HV_EINVAL, "%s: VMDK size is too big", path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return hv_fail(err, errno == ENOENT ? HV_ENOENT : HV_EIO,
			       "%s: %s", path, strerror(errno));
	if (o->fixed)
		rc = create_flat(fd, path, size, err);
	else
		rc = create_sparse(fd, path, o, size, err);
	if (rc == 0 && dio_fsync(fd) < 0)
		rc = hv_fail(err, HV_EIO, "%s: fsync failed", path);
	close(fd);
	if (rc < 0)
		unlink(path);
	return rc;
}
