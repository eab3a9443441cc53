/*
 * qcow2-create.c - new qcow2 v3 images.
 *
 * We write the smallest valid image (header, a one-cluster refcount
 * table, one refcount block, an empty L1 table, virtual size 0), then
 * open it and grow it to the asked size with the ordinary resize path,
 * so creation uses the same allocation code every write does.
 *
 * --fixed means preallocation=metadata: every L2 table and data cluster
 * is allocated up front (data clusters read as zeros from the sparse
 * file), like `qemu-img create -o preallocation=metadata`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/qcow2.h"

#define QCOW2_DEFAULT_CLUSTER	65536u

static const char *
qemu_fmt_name(enum disk_format f)
{
	switch (f) {
	case DISK_FMT_RAW:
		return "raw";
	case DISK_FMT_VHD:
		return "vpc";
	case DISK_FMT_VHDX:
		return "vhdx";
	case DISK_FMT_QCOW2:
		return "qcow2";
	case DISK_FMT_VMDK:
		return "vmdk";
	default:
		return NULL;
	}
}

static int
cluster_bits_of(const char *path, uint32_t bs, uint32_t *bits,
		struct hv_err *err)
{
	if (bs == 0)
		bs = QCOW2_DEFAULT_CLUSTER;
	for (uint32_t b = QCOW2_MIN_CLUSTER_BITS; b <= QCOW2_MAX_CLUSTER_BITS;
	     b++) {
		if (bs == 1u << b) {
			*bits = b;
			return 0;
		}
	}
	return hv_fail(err, HV_EINVAL,
		       "%s: qcow2 cluster size %u must be a power of two from 512 to 2M",
		       path, bs);
}

/* header cluster, refcount table, refcount block: clusters 0..2 */
static int
build_empty(uint8_t *img, uint32_t bits, const char *parent,
	    const char *pfmt, const char *path, struct hv_err *err)
{
	uint32_t cs = 1u << bits, off = QCOW2_V3_HDR_LEN;
	size_t plen = parent ? strlen(parent) : 0;

	put_be32(img, QCOW2_MAGIC);
	put_be32(img + QH_VERSION, 3);
	put_be32(img + QH_CLUSTER_BITS, bits);
	put_be64(img + QH_RCT_OFF, cs);
	put_be32(img + QH_RCT_CLUSTERS, 1);
	put_be32(img + QH_REFCOUNT_ORDER, 4);
	put_be32(img + QH_HDR_LEN, QCOW2_V3_HDR_LEN);
	if (parent) {
		size_t flen = strlen(pfmt);

		put_be32(img + off, QCOW2_EXT_BACKING_FMT);
		put_be32(img + off + 4, (uint32_t)flen);
		memcpy(img + off + 8, pfmt, flen);
		off += 8 + (uint32_t)((flen + 7) & ~7u);
	}
	off += 8;	/* end of extensions: type 0, length 0 */
	if (plen > QCOW2_MAX_BACKING_NAME || off + plen > cs)
		return hv_fail(err, HV_EINVAL,
			       "%s: backing file name too long for the cluster size",
			       path);
	if (parent) {
		memcpy(img + off, parent, plen);
		put_be64(img + QH_BACKING_OFF, off);
		put_be32(img + QH_BACKING_LEN, (uint32_t)plen);
	}
	put_be64(img + cs, 2ull * cs);		/* refcount table[0] */
	for (int i = 0; i < 3; i++)		/* clusters 0, 1, 2 */
		put_be16(img + 2ull * cs + 2 * i, 1);
	return 0;
}

/* allocate every L2 table and data cluster (preallocation=metadata) */
static int
preallocate(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t clusters = qcow2_bytes_to_clusters(q, d->size);
	uint64_t e[512], host, l2_off;
	uint8_t *l2;

	for (uint64_t gc = 0; gc < clusters;) {
		uint64_t n = q->l2_entries - gc % q->l2_entries;

		if (n > clusters - gc)
			n = clusters - gc;
		if (n > 512)
			n = 512;
		if (qcow2_l2_for_write(d, gc / q->l2_entries, &l2, &l2_off,
				       err) < 0 ||
		    qcow2_alloc(d, n, &host, err) < 0)
			return -1;
		for (uint64_t i = 0; i < n; i++)
			e[i] = (host + (i << q->cluster_bits)) | QCOW2_COPIED;
		if (qcow2_set_l2(d, l2_off, (uint32_t)(gc % q->l2_entries),
				 (uint32_t)n, e, err) < 0)
			return -1;
		gc += n;
	}
	if (dio_ftruncate(d->fd, (off_t)(q->end_cluster * q->cs)) < 0)
		return hv_fail(err, HV_EIO, "%s: cannot extend the file",
			       d->path);
	return 0;
}

static int
parent_info(const struct disk_create_opts *o, const char **pfmt,
	    uint64_t *size, struct hv_err *err)
{
	struct disk *p;

	if (disk_open(&p, o->parent, DISK_RDONLY, err) < 0)
		return -1;
	*pfmt = qemu_fmt_name(disk_format_of(p));
	if (*size == 0)
		*size = disk_size(p);
	disk_close(p);
	if (!*pfmt)
		return hv_fail(err, HV_EINVAL, "%s: unknown backing format",
			       o->parent);
	return 0;
}

static int
grow_new(const char *path, int fd, uint64_t size, bool fixed,
	 struct hv_err *err)
{
	struct disk d = { .path = (char *)path, .fd = fd,
			  .parent_fmt = DISK_FMT_NONE };
	int ret;

	d.drv = &disk_qcow2_driver;
	if (qcow2_open_file(&d, err) < 0)
		return -1;
	ret = qcow2_resize(&d, size, err);
	if (ret == 0 && fixed)
		ret = preallocate(&d, err);
	if (ret == 0 && dio_fsync(fd) < 0)
		ret = hv_fail(err, HV_EIO, "%s: fsync failed", path);
	free(d.parent_name);
	d.drv->close(&d);
	return ret;
}

int
qcow2_create(const char *path, const struct disk_create_opts *o,
	     struct hv_err *err)
{
	uint64_t size = o->size;
	const char *pfmt = NULL;
	uint32_t bits = 16;
	uint8_t *img;
	int fd, ret = -1;

	if (cluster_bits_of(path, o->block_size, &bits, err) < 0)
		return -1;
	if (o->parent && o->fixed)
		return hv_fail(err, HV_EINVAL,
			       "%s: a qcow2 image with a backing file cannot be preallocated",
			       path);
	if (o->parent && parent_info(o, &pfmt, &size, err) < 0)
		return -1;
	if (size % DISK_SECTOR)
		return hv_fail(err, HV_EINVAL,
			       "%s: size %llu is not a multiple of 512", path,
			       (unsigned long long)size);
	img = calloc(3, 1u << bits);
	if (!img)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	if (build_empty(img, bits, o->parent, pfmt, path, err) < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		hv_fail(err, errno == ENOENT ? HV_ENOENT : HV_EIO,
			"%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	if (dio_pwrite(fd, img, 3ull << bits, 0) != (ssize_t)(3ull << bits))
		hv_fail(err, HV_EIO, "%s: cannot write the header", path);
	else
		ret = grow_new(path, fd, size, o->fixed, err);
	close(fd);
out:
	free(img);
	return ret;
}
