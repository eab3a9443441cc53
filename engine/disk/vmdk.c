/*
 * vmdk.c - the VMDK driver: probe, open (one sparse file with its
 * descriptor inside, or a text descriptor naming extent files), reads
 * and block status across extents, writes to flat and hosted sparse
 * extents, info and check.
 *
 * Writing is limited to extents we can update safely: FLAT/VMFS and
 * uncompressed hosted sparse. streamOptimized, seSparse, ZERO and
 * read-only extents refuse writes with one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/disk/vmdk-int.h"

static int
vmdk_probe(const uint8_t *buf, size_t len, uint64_t file_size)
{
	static const char sig[] = "# Disk DescriptorFile";

	if (len >= 4 && get_le32(buf) == VMDK_MAGIC)
		return 100;
	if (file_size > VMDK_MAX_DESC || len < 16)
		return 0;
	if (len >= sizeof(sig) - 1 && memcmp(buf, sig, sizeof(sig) - 1) == 0)
		return 100;
	len = strnlen((const char *)buf, len);
	if (memmem(buf, len, "createType", 10) != NULL &&
	    memmem(buf, len, "\nRW ", 4) != NULL)
		return 90;
	return 0;
}

static struct vmdk_extent *
find_extent(struct vmdk *vm, uint64_t off)
{
	unsigned lo = 0, hi = vm->n_ext;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		struct vmdk_extent *e = &vm->ext[mid];

		if (off < e->start)
			hi = mid;
		else if (off - e->start >= e->len)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

char *
vmdk_rel_path(const char *desc_path, const char *file)
{
	const char *slash = strrchr(desc_path, '/');
	size_t dl = slash ? (size_t)(slash - desc_path) + 1 : 0;
	char *p;

	if (file[0] == '/' || dl == 0)
		return strdup(file);
	p = malloc(dl + strlen(file) + 1);
	if (p) {
		memcpy(p, desc_path, dl);
		strcpy(p + dl, file);
	}
	return p;
}

static int
open_extent(struct disk *d, struct vmdk_extent *e,
	    const struct vmdk_desc_extent *x, struct hv_err *err)
{
	struct stat st;
	int fl = (d->flags & DISK_RDONLY) ? O_RDONLY : O_RDWR;
	off_t end;

	e->type = x->type;
	if (x->type == VMDK_EXT_ZERO) {
		e->path = strdup("ZERO extent");
		return e->path ? 0 : hv_fail(err, HV_EIO, "out of memory");
	}
	e->path = vmdk_rel_path(d->path, x->file);
	if (e->path == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (x->access != VMDK_RW)
		fl = O_RDONLY;
	/* O_NONBLOCK: a FIFO named by a hostile descriptor must not hang us */
	e->fd = open(e->path, fl | O_CLOEXEC | O_NONBLOCK);
	if (e->fd < 0)
		return hv_fail(err, errno == ENOENT ? HV_ENOENT : HV_EIO,
			       "%s: VMDK extent file %s: %s", d->path, e->path,
			       strerror(errno));
	e->own_fd = true;
	if (fstat(e->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", e->path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return hv_fail(err, HV_EINVAL, "%s: VMDK extent %s is not a "
			       "file or block device", d->path, e->path);
	if (x->type == VMDK_EXT_SPARSE)
		return vmdk_sparse_open(e, err);
	e->file_size = (uint64_t)st.st_size;
	if (x->type == VMDK_EXT_SESPARSE)
		return vmdk_se_open(e, err);
	/* lseek, not st_size: a block device reports a size of 0 */
	end = lseek(e->fd, 0, SEEK_END);
	e->file_size = end > 0 ? (uint64_t)end : 0;
	e->flat_off = x->offset * DISK_SECTOR;
	return 0;
}

static int
open_extents(struct disk *d, struct vmdk *vm, struct hv_err *err)
{
	uint64_t start = 0;

	if (vm->desc.n_ext == 0)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK descriptor names no "
			       "extents", d->path);
	vm->ext = calloc(vm->desc.n_ext, sizeof(*vm->ext));
	if (vm->ext == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (unsigned i = 0; i < vm->desc.n_ext; i++) {
		struct vmdk_extent *e = &vm->ext[i];

		e->fd = -1;
		vm->n_ext++;
		e->start = start;
		e->len = vm->desc.ext[i].sectors * DISK_SECTOR;
		start += e->len;
		if (start > VMDK_MAX_SECTORS * DISK_SECTOR)
			return hv_fail(err, HV_ECORRUPT, "%s: VMDK extents add "
				       "up to more than 64 TiB", d->path);
		if (open_extent(d, e, &vm->desc.ext[i], err) < 0)
			return -1;
	}
	d->size = start;
	return 0;
}

static int
read_text(struct disk *d, uint64_t off, uint64_t len, char **out,
	  struct hv_err *err)
{
	char *t;
	ssize_t n;

	if (len > VMDK_MAX_DESC)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK descriptor is too "
			       "big", d->path);
	t = malloc(len + 1);
	if (t == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	n = dio_pread(d->fd, t, len, (off_t)off);
	if (n < 0) {
		free(t);
		return hv_fail(err, HV_EIO, "%s: reading the VMDK descriptor: "
			       "%s", d->path, strerror((int)-n));
	}
	t[len] = '\0';
	*out = t;
	return 0;
}

/* A sparse file with its descriptor inside: one extent, d->fd. */
static int
open_monolithic(struct disk *d, struct vmdk *vm, struct hv_err *err)
{
	struct vmdk_extent *e;
	char *text = NULL;
	int rc;

	vm->ext = calloc(1, sizeof(*vm->ext));
	if (vm->ext == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	vm->n_ext = 1;
	e = vm->ext;
	e->fd = d->fd;
	e->type = VMDK_EXT_SPARSE;
	e->path = strdup(d->path);
	if (e->path == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (vmdk_sparse_open(e, err) < 0)
		return -1;
	e->len = e->capacity;
	d->size = e->capacity;
	vm->embedded = true;
	if (e->desc_sector == 0 || e->desc_sectors == 0) {
		strcpy(vm->desc.create_type, "monolithicSparse");
		vm->desc.parent_cid = 0xffffffffu;
		return 0;
	}
	if (e->desc_sectors > VMDK_MAX_DESC / DISK_SECTOR ||
	    e->desc_sector > e->file_size / DISK_SECTOR ||
	    e->desc_sectors * DISK_SECTOR > e->file_size -
	    e->desc_sector * DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK embedded descriptor "
			       "lies past the end of the file", d->path);
	if (read_text(d, e->desc_sector * DISK_SECTOR,
		      e->desc_sectors * DISK_SECTOR, &text, err) < 0)
		return -1;
	rc = vmdk_desc_parse(text, e->desc_sectors * DISK_SECTOR, d->path,
			     &vm->desc, err);
	free(text);
	return rc;
}

static int
open_descriptor(struct disk *d, struct vmdk *vm, struct hv_err *err)
{
	struct stat st;
	char *text;
	int rc;

	if (fstat(d->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
	/* qemu pads descriptor files with NULs: the text ends at the first */
	if (read_text(d, 0, (uint64_t)st.st_size, &text, err) < 0)
		return -1;
	rc = vmdk_desc_parse(text, (size_t)st.st_size, d->path, &vm->desc,
			     err);
	free(text);
	if (rc < 0)
		return -1;
	return open_extents(d, vm, err);
}

static void
vmdk_close(struct disk *d)
{
	struct vmdk *vm = d->priv;

	if (vm == NULL)
		return;
	for (unsigned i = 0; i < vm->n_ext; i++) {
		if (vm->ext[i].own_fd && vm->ext[i].fd >= 0)
			close(vm->ext[i].fd);
		vmdk_extent_free(&vm->ext[i]);
	}
	free(vm->ext);
	vmdk_desc_free(&vm->desc);
	free(vm);
	d->priv = NULL;
}

static int
vmdk_open(struct disk *d, struct hv_err *err)
{
	uint8_t magic[4] = { 0 };
	struct vmdk *vm;
	ssize_t n;
	int rc;

	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	d->priv = vm;
	n = dio_pread(d->fd, magic, sizeof(magic), 0);
	if (n >= 0 && get_le32(magic) == VMDK_MAGIC)
		rc = open_monolithic(d, vm, err);
	else
		rc = open_descriptor(d, vm, err);
	if (rc == 0 && vm->desc.parent_hint) {
		d->parent_name = strdup(vm->desc.parent_hint);
		d->parent_fmt = DISK_FMT_VMDK;
		if (d->parent_name == NULL)
			rc = hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	}
	if (rc < 0)
		vmdk_close(d);
	return rc;
}

static int
flat_read(struct vmdk_extent *e, uint64_t off, void *buf, size_t len,
	  struct hv_err *err)
{
	uint64_t at = e->flat_off + off, have = 0;
	ssize_t n;

	/* a flat extent shorter than the descriptor says reads as zeros */
	if (at < e->file_size)
		have = e->file_size - at < len ? e->file_size - at : len;
	memset((uint8_t *)buf + have, 0, len - have);
	if (have == 0)
		return 0;
	n = dio_pread(e->fd, buf, (size_t)have, (off_t)at);
	if (n < 0)
		return hv_fail(err, HV_EIO, "%s: read at %llu: %s", e->path,
			       (unsigned long long)at, strerror((int)-n));
	return 0;
}

static int
vmdk_read_layer(struct disk *d, uint64_t off, void *buf, size_t len,
		struct hv_err *err)
{
	struct vmdk *vm = d->priv;
	uint8_t *p = buf;

	while (len > 0) {
		struct vmdk_extent *e = find_extent(vm, off);
		uint64_t in, n;
		int rc = 0;

		if (e == NULL)
			return hv_fail(err, HV_EINVAL, "%s: read past the end "
				       "of the disk", d->path);
		in = off - e->start;
		n = e->len - in < len ? e->len - in : len;
		if (e->type == VMDK_EXT_ZERO)
			memset(p, 0, n);
		else if (e->type == VMDK_EXT_FLAT)
			rc = flat_read(e, in, p, (size_t)n, err);
		else if (e->type == VMDK_EXT_SESPARSE)
			rc = vmdk_se_read(e, in, p, (size_t)n, err);
		else
			rc = vmdk_sparse_read(e, in, p, (size_t)n, err);
		if (rc < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int
grain_status(struct vmdk_extent *e, uint64_t in, struct hv_err *err)
{
	uint64_t at;
	uint32_t gte;

	if (e->type == VMDK_EXT_SESPARSE)
		return vmdk_se_lookup(e, in, &at, err);
	if (vmdk_sparse_gte(e, in, &gte, err) < 0)
		return -1;
	if (gte == 0)
		return DISK_ST_UNALLOC;
	if (e->zero_grain && gte == VMDK_GTE_ZERO)
		return DISK_ST_ZERO;
	return DISK_ST_DATA;
}

static int
vmdk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		  struct hv_err *err)
{
	struct vmdk_extent *e = find_extent(d->priv, off);
	uint64_t in, rem, n;
	int st, st2;

	if (e == NULL)
		return hv_fail(err, HV_EINVAL, "%s: block status past the end "
			       "of the disk", d->path);
	in = off - e->start;
	rem = e->len - in < len ? e->len - in : len;
	*pnum = rem;
	if (e->type == VMDK_EXT_FLAT)
		return DISK_ST_DATA;
	if (e->type == VMDK_EXT_ZERO)
		return DISK_ST_ZERO;
	st = grain_status(e, in, err);
	if (st < 0)
		return -1;
	n = e->grain - in % e->grain;
	while (n < rem) {
		st2 = grain_status(e, in + n, err);
		if (st2 < 0)
			return -1;
		if (st2 != st)
			break;
		n += e->grain;
	}
	*pnum = n < rem ? n : rem;
	return st;
}

static int
writable(struct disk *d, struct vmdk *vm, struct hv_err *err)
{
	for (unsigned i = 0; i < vm->n_ext; i++) {
		struct vmdk_extent *e = &vm->ext[i];
		bool ok = e->type == VMDK_EXT_FLAT ||
			  (e->type == VMDK_EXT_SPARSE && !e->compressed &&
			   e->version < 3 && e->gd_sector != VMDK_GD_AT_END);

		if (!ok || (vm->desc.n_ext && vm->desc.ext[i].access != VMDK_RW))
			return hv_fail(err, HV_ENOTSUP, "%s: writing VMDK "
				       "createType \"%s\" is not supported "
				       "(read-only)", d->path,
				       vm->desc.create_type);
	}
	if (d->flags & DISK_RDONLY)
		return hv_fail(err, HV_EINVAL, "%s: opened read-only", d->path);
	return 0;
}

/* Give the disk a new content ID on its first write, as VMware does,
   so children made from it can tell it changed. */
static int
update_cid(struct disk *d, struct vmdk *vm, struct hv_err *err)
{
	uint64_t off = 0, len;
	char *text;
	ssize_t n;
	int rc = 0;

	vm->cid_updated = true;
	if (vm->embedded) {
		off = vm->ext[0].desc_sector * DISK_SECTOR;
		len = vm->ext[0].desc_sectors * DISK_SECTOR;
	} else {
		struct stat st;

		if (fstat(d->fd, &st) < 0)
			return hv_fail(err, HV_EIO, "%s: %s", d->path,
				       strerror(errno));
		len = (uint64_t)st.st_size;
	}
	if (len == 0 || read_text(d, off, len, &text, err) < 0)
		return len == 0 ? 0 : -1;
	vm->desc.cid = vmdk_new_cid();
	if (vmdk_desc_set_cid(text, len, vm->desc.cid)) {
		n = dio_pwrite(d->fd, text, len, (off_t)off);
		if (n < 0)
			rc = hv_fail(err, HV_EIO, "%s: writing the descriptor: "
				     "%s", d->path, strerror((int)-n));
	}
	free(text);
	return rc;
}

static int
write_one(struct disk *d, struct vmdk_extent *e, uint64_t in,
	  const uint8_t *p, size_t n, struct hv_err *err)
{
	ssize_t w;

	if (e->type == VMDK_EXT_SPARSE) {
		while (n > 0) {
			size_t k = e->grain - in % e->grain;

			if (k > n)
				k = n;
			if (vmdk_sparse_write(d, e, in, p, k, err) < 0)
				return -1;
			in += k;
			p += k;
			n -= k;
		}
		return 0;
	}
	w = dio_pwrite(e->fd, p, n, (off_t)(e->flat_off + in));
	if (w < 0)
		return hv_fail(err, HV_EIO, "%s: write at %llu: %s", e->path,
			       (unsigned long long)(e->flat_off + in),
			       strerror((int)-w));
	if (e->flat_off + in + n > e->file_size)
		e->file_size = e->flat_off + in + n;
	return 0;
}

static int
vmdk_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	   struct hv_err *err)
{
	struct vmdk *vm = d->priv;
	const uint8_t *p = buf;

	if (writable(d, vm, err) < 0)
		return -1;
	if (!vm->cid_updated && update_cid(d, vm, err) < 0)
		return -1;
	while (len > 0) {
		struct vmdk_extent *e = find_extent(vm, off);
		uint64_t in, n;

		if (e == NULL)
			return hv_fail(err, HV_EINVAL, "%s: write past the end "
				       "of the disk", d->path);
		in = off - e->start;
		n = e->len - in < len ? e->len - in : len;
		if (write_one(d, e, in, p, (size_t)n, err) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int
vmdk_flush(struct disk *d, struct hv_err *err)
{
	struct vmdk *vm = d->priv;
	int rc;

	if (d->flags & DISK_RDONLY)
		return 0;
	for (unsigned i = 0; i < vm->n_ext; i++) {
		if (!vm->ext[i].own_fd)
			continue;
		rc = dio_fsync(vm->ext[i].fd);
		if (rc < 0)
			return hv_fail(err, HV_EIO, "%s: fsync: %s",
				       vm->ext[i].path, strerror(-rc));
	}
	rc = dio_fsync(d->fd);
	if (rc < 0)
		return hv_fail(err, HV_EIO, "%s: fsync: %s", d->path,
			       strerror(-rc));
	return 0;
}

static int
vmdk_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	struct vmdk *vm = d->priv;
	struct stat st;

	info->fmt = DISK_FMT_VMDK;
	snprintf(info->subformat, sizeof(info->subformat), "%s",
		 vm->desc.create_type);
	info->size = d->size;
	if (fstat(d->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
	info->file_size = (uint64_t)st.st_size;
	info->allocated = (uint64_t)st.st_blocks * 512;
	info->block_size = 0;
	for (unsigned i = 0; i < vm->n_ext; i++) {
		struct vmdk_extent *e = &vm->ext[i];

		if (e->type == VMDK_EXT_SPARSE && info->block_size == 0)
			info->block_size = (uint32_t)e->grain;
		if (e->own_fd && fstat(e->fd, &st) == 0)
			info->allocated += (uint64_t)st.st_blocks * 512;
	}
	snprintf(info->parent, sizeof(info->parent), "%s",
		 vm->desc.parent_hint ? vm->desc.parent_hint : "");
	return 0;
}

static int
vmdk_check(struct disk *d, bool repair, struct disk_check_result *r,
	   struct hv_err *err)
{
	struct vmdk *vm = d->priv;

	for (unsigned i = 0; i < vm->n_ext; i++)
		if (vm->ext[i].type == VMDK_EXT_SPARSE &&
		    vmdk_sparse_check(&vm->ext[i], r, err) < 0)
			return -1;
	return 0;
}

const struct disk_driver disk_vmdk_driver = {
	.fmt = DISK_FMT_VMDK,
	.name = "vmdk",
	.probe = vmdk_probe,
	.open = vmdk_open,
	.close = vmdk_close,
	.create = vmdk_create,
	.read_layer = vmdk_read_layer,
	.write = vmdk_write,
	.flush = vmdk_flush,
	.block_status = vmdk_block_status,
	.info = vmdk_info,
	.check = vmdk_check,
};
