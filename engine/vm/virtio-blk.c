/*
 * virtio-blk.c - virtio block device (virtio 1.2, 5.2) over engine/disk:
 * read, write, flush, get-id (serial), discard and write-zeroes, one
 * request queue. Requests are served synchronously on the I/O thread
 * (or the vCPU on an MMIO kick) through a bounce buffer, so a segment
 * of any size and alignment works and the disk sees whole sectors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk.h"
#include "engine/vm/virtio-blk.h"
#include "engine/vm/virtio-pci.h"

#define VIRTIO_ID_BLOCK		2
#define QUEUE_SIZE		256

#define BLK_F_SIZE_MAX		1
#define BLK_F_SEG_MAX		2
#define BLK_F_RO		5
#define BLK_F_BLK_SIZE		6
#define BLK_F_FLUSH		9
#define BLK_F_DISCARD		13
#define BLK_F_WRITE_ZEROES	14

#define T_IN			0
#define T_OUT			1
#define T_FLUSH			4
#define T_GET_ID		8
#define T_DISCARD		11
#define T_WRITE_ZEROES		13

#define S_OK			0
#define S_IOERR			1
#define S_UNSUPP		2

#define SIZE_MAX_SEG		(1u << 20)	/* bytes in one segment */
#define SEG_MAX			(QUEUE_SIZE - 2)
#define REQ_MAX			(4u << 20)	/* bytes in one request */
#define CONFIG_LEN		60

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	struct disk *disk;
	uint64_t sectors;
	bool ro;
	char serial[21];
	uint8_t config[CONFIG_LEN];
	struct vmm_disk_stats st;	/* under vdev.lock */
	uint8_t *bounce;
	struct vq_chain chain;
};

static bool
in_range(struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->sectors && bytes / 512 <= b->sectors - sector &&
	       bytes % 512 == 0;
}

static uint8_t
do_read(struct virtio_blk *b, const struct vq_chain *c, uint64_t sector,
	uint32_t *written)
{
	uint32_t len = c->in_len - 1;
	struct hv_err err;

	if (len > REQ_MAX || !in_range(b, sector, len))
		return S_IOERR;
	if (disk_read(b->disk, sector * 512, b->bounce, len, &err) != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	vq_chain_write(c, 0, b->bounce, len);
	*written = len;
	b->st.reads++;
	b->st.read_bytes += len;
	return S_OK;
}

static uint8_t
do_write(struct virtio_blk *b, const struct vq_chain *c, uint64_t sector)
{
	uint32_t len = c->out_len - 16;
	struct hv_err err;

	if (b->ro || len > REQ_MAX || !in_range(b, sector, len))
		return S_IOERR;
	vq_chain_read(c, 16, b->bounce, len);
	if (disk_write(b->disk, sector * 512, b->bounce, len, &err) != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	b->st.writes++;
	b->st.write_bytes += len;
	return S_OK;
}

/* discard / write-zeroes: one segment {le64 sector, le32 n, le32 flags} */
static uint8_t
do_range(struct virtio_blk *b, const struct vq_chain *c, uint32_t type)
{
	uint8_t seg[16];
	uint64_t sector, bytes;
	struct hv_err err;
	int rc;

	if (b->ro || c->out_len != 32 || vq_chain_read(c, 16, seg, 16) != 16)
		return S_IOERR;
	sector = get_le64(seg);
	bytes = (uint64_t)get_le32(seg + 8) * 512;
	if (!in_range(b, sector, bytes))
		return S_IOERR;
	if (type == T_DISCARD) {
		rc = disk_discard(b->disk, sector * 512, bytes, &err);
		b->st.discards++;
	} else {
		rc = disk_write_zeroes(b->disk, sector * 512, bytes, &err);
		b->st.write_zeroes++;
	}
	if (rc != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	return S_OK;
}

static uint8_t
do_request(struct virtio_blk *b, const struct vq_chain *c, uint32_t *written)
{
	uint8_t hdr[16], id[20] = { 0 };
	struct hv_err err;
	uint32_t type;

	*written = 0;
	if (vq_chain_read(c, 0, hdr, 16) != 16)
		return S_IOERR;
	type = get_le32(hdr);
	switch (type) {
	case T_IN:
		return do_read(b, c, get_le64(hdr + 8), written);
	case T_OUT:
		return do_write(b, c, get_le64(hdr + 8));
	case T_FLUSH:
		b->st.flushes++;
		if (disk_flush(b->disk, &err) != 0) {
			vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
			return S_IOERR;
		}
		return S_OK;
	case T_GET_ID:
		b->st.other++;
		memcpy(id, b->serial, strnlen(b->serial, 20));
		*written = vq_chain_write(c, 0, id, c->in_len - 1 < 20 ?
					  c->in_len - 1 : 20);
		return S_OK;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		return do_range(b, c, type);
	}
	b->st.other++;
	return S_UNSUPP;
}

static void
blk_notify(struct virtio_dev *d, int q)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	struct vq_chain *c = &b->chain;
	uint32_t written;
	uint8_t status;

	while (virtq_pop(d, q, c) == 1) {
		if (c->in_len < 1) {
			virtio_needs_reset(d, "request without a status byte");
			return;
		}
		status = do_request(b, c, &written);
		if (status != S_OK)
			b->st.errors++;
		vq_chain_write(c, c->in_len - 1, &status, 1);
		virtq_push(d, q, c->head, written + 1);
	}
	virtq_notify_guest(d, q);
}

static const struct virtio_ops blk_ops = {
	.notify = blk_notify,
};

static void
fill_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	put_le64(c + 0, b->sectors);		/* capacity */
	put_le32(c + 8, SIZE_MAX_SEG);		/* size_max */
	put_le32(c + 12, SEG_MAX);		/* seg_max */
	put_le32(c + 20, 512);			/* blk_size */
	put_le16(c + 34, 1);			/* num_queues */
	put_le32(c + 36, REQ_MAX / 512);	/* max_discard_sectors */
	put_le32(c + 40, 1);			/* max_discard_seg */
	put_le32(c + 44, 1);			/* discard_sector_alignment */
	put_le32(c + 48, REQ_MAX / 512);	/* max_write_zeroes_sectors */
	put_le32(c + 52, 1);			/* max_write_zeroes_seg */
	c[56] = 1;				/* write_zeroes_may_unmap */
}

int
virtio_blk_create(struct vmm *vm, const struct vmm_disk_config *dc,
		  struct hv_err *err)
{
	struct virtio_blk *b;
	char name[24];

	if (vm->nblk >= VMM_MAX_DISKS)
		return hv_fail(err, HV_EINVAL, "too many disks");
	b = calloc(1, sizeof(*b));
	if (!b)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vm->blk[vm->nblk++] = b;	/* vmm_destroy frees it from here */
	snprintf(name, sizeof name, "virtio-blk%d", vm->nblk - 1);
	virtio_init(&b->vdev, vm, &vm->mem, name, VIRTIO_ID_BLOCK, 1, QUEUE_SIZE);
	b->bounce = malloc(REQ_MAX);
	if (!b->bounce)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (disk_open(&b->disk, dc->path, dc->readonly ? DISK_RDONLY : 0,
		      err) != 0)
		return -1;
	b->ro = dc->readonly;
	b->sectors = disk_size(b->disk) / 512;
	snprintf(b->serial, sizeof b->serial, "%s", dc->serial);
	b->vdev.host_features |= 1ull << BLK_F_SIZE_MAX | 1ull << BLK_F_SEG_MAX |
		1ull << BLK_F_BLK_SIZE | 1ull << BLK_F_FLUSH |
		(b->ro ? 1ull << BLK_F_RO :
		 1ull << BLK_F_DISCARD | 1ull << BLK_F_WRITE_ZEROES);
	fill_config(b);
	b->vdev.config = b->config;
	b->vdev.config_len = CONFIG_LEN;
	b->vdev.ops = &blk_ops;
	return virtio_pci_add(vm, &b->vdev, 0x018000, &b->vp, err);
}

void
virtio_blk_destroy(struct virtio_blk *b)
{
	struct hv_err err;

	if (!b)
		return;
	virtio_pci_free(b->vp);
	if (b->disk) {
		if (!b->ro && disk_flush(b->disk, &err) != 0)
			vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		disk_close(b->disk);
	}
	pthread_mutex_destroy(&b->vdev.lock);
	free(b->bounce);
	free(b);
}

void
virtio_blk_stats(struct virtio_blk *b, struct vmm_disk_stats *s)
{
	pthread_mutex_lock(&b->vdev.lock);
	*s = b->st;
	pthread_mutex_unlock(&b->vdev.lock);
}
