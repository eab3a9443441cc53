/*
 * virtio-scsi.c - the SCSI host bus adapter (virtio 1.2, 5.6): a control
 * queue (task management, asynchronous notification queries), an event
 * queue and one request queue; the commands themselves are scsi.c's.
 *
 * Addressing: LUN field {1, target, 0x40 | lun >> 8, lun & 0xFF}; DVD
 * drive N is target N, LUN 0. A target that does not exist answers
 * BAD_TARGET, as the spec says; another LUN of one that does answers as
 * an absent LUN (peripheral qualifier 3), so that Linux's scan ends.
 *
 * Requests are served synchronously on the I/O thread (or the kicking
 * vCPU) through bounce buffers, as virtio-blk's are. A chain too short
 * for its header or response is the driver breaking the rules: the
 * device needs a reset. The event queue's buffers stay with the driver:
 * media changes reach the guest as unit attentions, the way a real
 * drive tells them, and hot plug is not offered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/dev/scsi.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/dev/virtio-scsi.h"
#include "engine/vm/state/snap-io.h"

#define VIRTIO_ID_SCSI		8
#define QUEUE_SIZE		128
#define CTRLQ			0
#define EVENTQ			1
#define REQQ			2

#define CONFIG_LEN		36
#define CFG_SENSE_SIZE		20	/* the two the driver may write */
#define CFG_CDB_SIZE		24
#define DEFAULT_SENSE		96
#define DEFAULT_CDB		32
#define MAX_SENSE_CDB		256	/* what we accept the driver asking for */

/* responses */
#define S_OK			0
#define S_OVERRUN		1
#define S_BAD_TARGET		3
#define S_FAILURE		9
#define S_FUNCTION_REJECTED	11

#define T_TMF			0
#define T_AN_QUERY		1
#define T_AN_SUBSCRIBE		2
#define TMF_LOGICAL_UNIT_RESET	5
#define TMF_I_T_NEXUS_RESET	7

#define REQ_HDR			19	/* lun, id, task attr, prio, crn */
#define RESP_HDR		12	/* sense_len, resid, qualifier, status, response */

struct virtio_scsi {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	uint8_t config[CONFIG_LEN];
	int nluns;
	struct scsi_lun lun[VMM_MAX_DVDS];
	uint64_t iso_bytes[VMM_MAX_DVDS];	/* the medium's size, for restore */
	struct vq_chain chain;
	uint8_t *out, *in;			/* bounce buffers */
};

/* target number from the LUN field, -1 when it names no target of ours;
   *lun the logical unit within it */
static int
target_of(const struct virtio_scsi *s, const uint8_t *f, unsigned *lun)
{
	if (f[0] != 1 || f[1] >= s->nluns)
		return -1;
	*lun = (unsigned)((f[2] & 0x3F) << 8 | f[3]);
	if ((f[2] & 0xC0) != 0x40 && (f[2] | f[3]) != 0)
		*lun = 0xFFFF;		/* an addressing method we do not use */
	return f[1];
}

static void
respond(struct virtio_scsi *s, const struct vq_chain *c, const struct scsi_cmd *cmd,
	uint32_t sense_size, uint32_t resid, uint8_t response)
{
	uint8_t r[RESP_HDR + MAX_SENSE_CDB] = { 0 };
	uint32_t sl = cmd->status == SCSI_CHECK_CONDITION ? SCSI_SENSE_LEN : 0;

	if (sl > sense_size)
		sl = sense_size;
	put_le32(r, sl);
	put_le32(r + 4, resid);
	r[10] = cmd->status;
	r[11] = response;
	memcpy(r + RESP_HDR, cmd->sense, sl);
	vq_chain_write(c, 0, r, RESP_HDR + sense_size);
}

/* one command; what it wrote into the chain's writable part */
static uint32_t
do_request(struct virtio_scsi *s, const struct vq_chain *c)
{
	uint32_t cdb_size = get_le32(s->config + CFG_CDB_SIZE);
	uint32_t sense_size = get_le32(s->config + CFG_SENSE_SIZE);
	uint8_t hdr[REQ_HDR + MAX_SENSE_CDB];
	struct scsi_cmd cmd = { 0 };
	uint32_t data_out, data_in, resid;
	unsigned lun;
	int t;

	if (cdb_size > MAX_SENSE_CDB || sense_size > MAX_SENSE_CDB) {
		virtio_needs_reset(&s->vdev, "cdb_size %u or sense_size %u is too large",
				   cdb_size, sense_size);
		return 0;
	}
	if (c->out_len < REQ_HDR + cdb_size || c->in_len < RESP_HDR + sense_size) {
		virtio_needs_reset(&s->vdev, "a request too short for its header or response");
		return 0;
	}
	vq_chain_read(c, 0, hdr, REQ_HDR + cdb_size);
	data_out = c->out_len - REQ_HDR - cdb_size;
	data_in = c->in_len - RESP_HDR - sense_size;
	cmd.cdb = hdr + REQ_HDR;
	cmd.cdb_len = cdb_size;
	t = target_of(s, hdr, &lun);
	if (t < 0) {
		respond(s, c, &cmd, sense_size, data_in + data_out, S_BAD_TARGET);
		return RESP_HDR + sense_size;
	}
	if (data_out > SCSI_MAX_XFER || data_in > SCSI_MAX_XFER) {
		respond(s, c, &cmd, sense_size, data_in + data_out, S_OVERRUN);
		return RESP_HDR + sense_size;
	}
	vq_chain_read(c, REQ_HDR + cdb_size, s->out, data_out);
	cmd.out = s->out;
	cmd.out_len = data_out;
	cmd.in = s->in;
	cmd.in_max = data_in;
	if (lun != 0)
		scsi_exec_absent(&cmd);
	else
		scsi_exec(&s->lun[t], &cmd);
	if (cmd.overrun) {
		respond(s, c, &cmd, sense_size, data_in + data_out, S_OVERRUN);
		return RESP_HDR + sense_size;
	}
	vq_chain_write(c, RESP_HDR + sense_size, s->in, cmd.in_len);
	resid = data_in ? data_in - cmd.in_len : cmd.status == SCSI_GOOD ? 0 : data_out;
	respond(s, c, &cmd, sense_size, resid, S_OK);
	return RESP_HDR + sense_size + cmd.in_len;
}

/* task management and notification queries; what it wrote */
static uint32_t
do_control(struct virtio_scsi *s, const struct vq_chain *c)
{
	uint8_t req[24], resp[5] = { 0 };
	unsigned lun;
	int t;

	if (c->out_len < 4 || vq_chain_read(c, 0, req, c->out_len < 24 ? c->out_len : 24) < 4)
		goto bad;
	switch (get_le32(req)) {
	case T_TMF:
		if (c->out_len < 24 || c->in_len < 1)
			goto bad;
		t = target_of(s, req + 8, &lun);
		resp[0] = t < 0 ? S_BAD_TARGET : S_OK;	/* FUNCTION COMPLETE */
		/* nothing is ever in flight: aborts find nothing to abort */
		if (t >= 0 && lun == 0 && (get_le32(req + 4) == TMF_LOGICAL_UNIT_RESET ||
					     get_le32(req + 4) == TMF_I_T_NEXUS_RESET))
			scsi_lun_reset(&s->lun[t]);
		return vq_chain_write(c, 0, resp, 1);
	case T_AN_QUERY:
	case T_AN_SUBSCRIBE:
		if (c->out_len < 16 || c->in_len < 5)
			goto bad;
		return vq_chain_write(c, 0, resp, 5);	/* no events offered */
	}
	if (c->in_len >= 1) {
		resp[0] = S_FUNCTION_REJECTED;
		return vq_chain_write(c, 0, resp, 1);
	}
bad:
	virtio_needs_reset(&s->vdev, "a control request too short for its type");
	return 0;
}

static void
scsi_notify(struct virtio_dev *d, int q)
{
	struct virtio_scsi *s = (struct virtio_scsi *)d;
	struct vq_chain *c = &s->chain;
	bool pushed = false;
	uint32_t n;

	if (q == EVENTQ)
		return;		/* kept for events we never send */
	while (virtio_live(d) && virtq_pop(d, q, c) == 1) {
		n = q == CTRLQ ? do_control(s, c) : do_request(s, c);
		if (!virtio_live(d))
			return;
		virtq_push(d, q, c->head, n);
		pushed = true;
	}
	if (pushed)
		virtq_notify_guest(d, q);
}

static void
fill_config(struct virtio_scsi *s)
{
	uint8_t *c = s->config;

	memset(c, 0, CONFIG_LEN);
	put_le32(c + 0, 1);			/* num_queues */
	put_le32(c + 4, QUEUE_SIZE - 2);	/* seg_max */
	put_le32(c + 8, SCSI_MAX_XFER / 512);	/* max_sectors */
	put_le32(c + 12, QUEUE_SIZE);		/* cmd_per_lun */
	put_le32(c + 16, 16);			/* event_info_size */
	put_le32(c + CFG_SENSE_SIZE, DEFAULT_SENSE);
	put_le32(c + CFG_CDB_SIZE, DEFAULT_CDB);
	put_le16(c + 28, 0);			/* max_channel */
	put_le16(c + 30, (uint16_t)(s->nluns - 1));	/* max_target */
	put_le32(c + 32, 0);			/* max_lun */
}

static void
scsi_reset(struct virtio_dev *d)
{
	struct virtio_scsi *s = (struct virtio_scsi *)d;

	put_le32(s->config + CFG_SENSE_SIZE, DEFAULT_SENSE);
	put_le32(s->config + CFG_CDB_SIZE, DEFAULT_CDB);
	for (int i = 0; i < s->nluns; i++)
		scsi_lun_reset(&s->lun[i]);
}

static void
scsi_config_write(struct virtio_dev *d, uint32_t off, const void *data, int len)
{
	struct virtio_scsi *s = (struct virtio_scsi *)d;

	/* sense_size and cdb_size are the driver's to write */
	if (off < CFG_SENSE_SIZE || off + (uint32_t)len > CFG_CDB_SIZE + 4)
		return;
	memcpy(s->config + off, data, (size_t)len);
}

static const struct virtio_ops scsi_ops = {
	.notify = scsi_notify,
	.reset = scsi_reset,
	.config_write = scsi_config_write,
};

/* an ISO's fd and size, checked; -1 and err when it will not do */
static int
open_iso(const char *path, uint64_t *bytes, struct hv_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hv_fail(err, HV_ENOENT, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % 2048 != 0) {
		close(fd);
		return hv_fail(err, HV_EINVAL, "%s: not an ISO image (a regular file of 2048-byte "
			       "sectors)", path);
	}
	*bytes = (uint64_t)st.st_size;
	return fd;
}

int
virtio_scsi_create(struct vmm *vm, const struct vmm_config *cfg, struct hv_err *err)
{
	struct virtio_scsi *s;
	char serial[21];
	uint64_t bytes;
	int fd;

	if (cfg->ndvds < 1 || cfg->ndvds > VMM_MAX_DVDS)
		return hv_fail(err, HV_EINVAL, "%d DVD drives: 1..%d", cfg->ndvds, VMM_MAX_DVDS);
	if ((s = calloc(1, sizeof *s)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vm->scsi = s;	/* vmm_destroy frees it from here */
	virtio_init(&s->vdev, vm, &vm->mem, "virtio-scsi", VIRTIO_ID_SCSI, 3, QUEUE_SIZE);
	s->nluns = cfg->ndvds;
	for (int i = 0; i < s->nluns; i++) {
		snprintf(serial, sizeof serial, "%s", cfg->dvds[i].serial);
		scsi_lun_dvd(&s->lun[i], serial);
		if (cfg->dvds[i].path == NULL || cfg->dvds[i].path[0] == '\0')
			continue;
		if ((fd = open_iso(cfg->dvds[i].path, &bytes, err)) < 0)
			return -1;
		scsi_lun_medium(&s->lun[i], fd, bytes);
		s->iso_bytes[i] = bytes;
		scsi_lun_reset(&s->lun[i]);	/* power on: one attention, not two */
		s->lun[i].media_event = 0;
	}
	s->out = malloc(SCSI_MAX_XFER);
	s->in = malloc(SCSI_MAX_XFER);
	if (s->out == NULL || s->in == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	fill_config(s);
	s->vdev.config = s->config;
	s->vdev.config_len = CONFIG_LEN;
	s->vdev.ops = &scsi_ops;
	return virtio_pci_add(vm, &s->vdev, 0x010000, &s->vp, err);
}

void
virtio_scsi_destroy(struct virtio_scsi *s)
{
	if (s == NULL)
		return;
	virtio_pci_free(s->vp);
	for (int i = 0; i < s->nluns; i++)
		scsi_lun_close(&s->lun[i]);
	pthread_mutex_destroy(&s->vdev.lock);
	free(s->out);
	free(s->in);
	free(s);
}

int
virtio_scsi_dvd_set(struct virtio_scsi *s, int slot, const char *path, struct hv_err *err)
{
	uint64_t bytes = 0;
	int fd = -1;
	struct scsi_lun *l;

	if (slot < 0 || slot >= s->nluns)
		return hv_fail(err, HV_EINVAL, "the VM has no DVD drive %d", slot);
	if (path != NULL && path[0] != '\0' && (fd = open_iso(path, &bytes, err)) < 0)
		return -1;
	pthread_mutex_lock(&s->vdev.lock);
	l = &s->lun[slot];
	if (l->prevent && l->iso_fd >= 0)
		vmm_log(s->vdev.vm, "%s: DVD drive %d was locked by the guest; its medium changes anyway",
			s->vdev.name, slot);
	scsi_lun_medium(l, fd, bytes);
	s->iso_bytes[slot] = bytes;
	pthread_mutex_unlock(&s->vdev.lock);
	return 0;
}

bool
virtio_scsi_dvd_loaded(struct virtio_scsi *s, int slot)
{
	bool r;

	pthread_mutex_lock(&s->vdev.lock);
	r = slot >= 0 && slot < s->nluns && s->lun[slot].iso_fd >= 0;
	pthread_mutex_unlock(&s->vdev.lock);
	return r;
}

struct virtio_dev *
virtio_scsi_vdev(struct virtio_scsi *s)
{
	return &s->vdev;
}

/*
 * Each LUN's pending attention and event, its lock and tray, and which
 * medium it held (its size; 0: none). A restore that finds another
 * medium in the drive than the guest last saw (the inventory changed
 * while the VM was saved) tells the guest, as an insertion would.
 */
void
virtio_scsi_save(struct virtio_scsi *s, struct snap_w *w)
{
	snap_u32(w, (uint32_t)s->nluns);
	for (int i = 0; i < s->nluns; i++) {
		const struct scsi_lun *l = &s->lun[i];

		snap_u8(w, l->ua_asc);
		snap_u8(w, l->ua_ascq);
		snap_u8(w, l->media_event);
		snap_u8(w, (uint8_t)(l->prevent | l->tray_open << 1));
		snap_u64(w, l->iso_fd >= 0 ? s->iso_bytes[i] : 0);
	}
}

int
virtio_scsi_load(struct virtio_scsi *s, struct snap_r *r)
{
	if (snap_g32(r) != (uint32_t)s->nluns)
		return -1;
	for (int i = 0; i < s->nluns; i++) {
		struct scsi_lun *l = &s->lun[i];
		uint8_t asc = snap_g8(r), ascq = snap_g8(r), ev = snap_g8(r), f = snap_g8(r);
		uint64_t had = snap_g64(r), now = l->iso_fd >= 0 ? s->iso_bytes[i] : 0;

		l->ua_asc = asc;
		l->ua_ascq = ascq;
		l->media_event = ev;
		l->prevent = f & 1;
		l->tray_open = (f & 2) && now == 0;
		if (had != now) {
			l->ua_asc = 0x28;	/* medium may have changed */
			l->ua_ascq = 0;
			l->media_event = now ? 2 : 3;
			l->prevent = false;
		}
	}
	return r->bad ? -1 : 0;
}
