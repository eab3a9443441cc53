/*
 * snapshot.c - a paused VM's whole state to a stream and back (Hyper-V's
 * "Save"): guest RAM, every vCPU as KVM keeps it, the in-kernel irqchip,
 * PIT and clock, and each device model's registers.
 *
 *	"HVSTATE1"
 *	section*: tag u32, length u64, payload (little-endian throughout)
 *	SEC_END, its payload the CRC-32C of all before it (a bit flipped on
 *	disk is refused, not restored; an end without one is from before it)
 *
 * RAM goes in runs of 64 pages: a u64 bitmap of the pages that hold
 * anything, then those pages; all-zero pages cost one bit. KVM's own
 * structures (kvm_regs, kvm_lapic_state, ...) travel as length-checked
 * blobs for the same host architecture: the kernel validates them on
 * the way in. Everything read is bounds-checked; a short, corrupt or
 * foreign file is an error, never a crash, and never a half-set vCPU
 * that runs (the caller destroys the VM it restored into on failure).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine/vm/dev/fw_cfg.h"
#include "engine/vm/dev/pci.h"
#include "engine/vm/dev/pflash.h"
#include "engine/vm/dev/virtio-balloon.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/dev/virtio-net.h"
#include "engine/vm/dev/virtio-scsi.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/dev/virtio.h"
#include "engine/vm/fpu.h"
#include "engine/vm/state/snapshot.h"

#define STATE_VERSION	1
#define RUN_PAGES	64
#define SECTION_MAX	(64u << 20)	/* anything but RAM */
#define MAX_MSRS	1024


/* a KVM structure: u32 length, bytes; on load the length must match */
static void
blob_put(struct snap_w *w, const void *p, uint32_t len)
{
	snap_u32(w, len);
	snap_put(w, p, len);
}

static int
blob_get(struct snap_r *r, void *p, uint32_t len)
{
	if (snap_g32(r) != len)
		r->bad = true;
	return snap_get(r, p, len);
}

/* --- RAM ------------------------------------------------------------------ */

bool
page_zero(const uint8_t *p)
{
	static const uint8_t zero[256];

	for (unsigned i = 0; i < PAGE; i += sizeof zero)
		if (memcmp(p + i, zero, sizeof zero) != 0)
			return false;
	return true;
}

static void
ram_save(struct vmm *vm, struct stream *s)
{
	uint64_t npages = vm->mem.size / PAGE, len = 8, p, i;
	uint8_t h[12], b[8];

	for (p = 0; p < npages; p++)
		len += (p % RUN_PAGES == 0 ? 8 : 0) +
		       (page_zero(vm->mem.host + p * PAGE) ? 0 : PAGE);
	put_le32(h, SEC_RAM);
	put_le64(h + 4, len);
	out_put(s, h, sizeof h);
	put_le64(b, vm->mem.size);
	out_put(s, b, 8);
	for (p = 0; p < npages; p += RUN_PAGES) {
		uint64_t map = 0, n = npages - p < RUN_PAGES ? npages - p : RUN_PAGES;

		for (i = 0; i < n; i++)
			if (!page_zero(vm->mem.host + (p + i) * PAGE))
				map |= 1ull << i;
		put_le64(b, map);
		out_put(s, b, 8);
		for (i = 0; i < n; i++)
			if (map & (1ull << i))
				out_put(s, vm->mem.host + (p + i) * PAGE, PAGE);
	}
}

static int
ram_load(struct vmm *vm, struct stream *s, uint64_t len, struct hv_err *err)
{
	uint64_t npages = vm->mem.size / PAGE, used = 8, p, i;
	uint8_t b[8];

	if (len < 8 || in_get(s, b, 8) != 0 || get_le64(b) != vm->mem.size)
		return hv_fail(err, HV_EINVAL, "state file: RAM size differs from the VM's");
	for (p = 0; p < npages; p += RUN_PAGES) {
		uint64_t map, n = npages - p < RUN_PAGES ? npages - p : RUN_PAGES;

		if (used + 8 > len || in_get(s, b, 8) != 0)
			goto short_;
		used += 8;
		map = get_le64(b);
		if (n < RUN_PAGES && (map >> n))
			return hv_fail(err, HV_EINVAL, "state file: RAM bitmap past the end");
		for (i = 0; i < n; i++) {
			uint8_t *pg = vm->mem.host + (p + i) * PAGE;

			if (!(map & (1ull << i))) {
				if (!page_zero(pg))
					memset(pg, 0, PAGE);
				continue;
			}
			if (used + PAGE > len || in_get(s, pg, PAGE) != 0)
				goto short_;
			used += PAGE;
		}
	}
	if (used != len)
		return hv_fail(err, HV_EINVAL, "state file: RAM section has %llu extra bytes",
			       (unsigned long long)(len - used));
	return 0;
short_:
	return hv_fail(err, HV_EINVAL, "state file: RAM section is truncated");
}

/* --- vCPUs ---------------------------------------------------------------- */

/* the MSRs KVM lists that this vCPU reads back */
static int
msr_list(struct vmm *vm, struct vcpu *v, uint32_t *idx, int max)
{
	struct { struct kvm_msr_list l; uint32_t i[MAX_MSRS]; } list = { .l.nmsrs = MAX_MSRS };
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } one;
	int n = 0;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return -1;
	for (uint32_t k = 0; k < list.l.nmsrs && n < max; k++) {
		memset(&one, 0, sizeof one);
		one.h.nmsrs = 1;
		one.e.index = list.i[k];
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			idx[n++] = list.i[k];
	}
	return n;
}

static int
vcpu_save(struct vmm *vm, struct vcpu *v, struct snap_w *w, struct hv_err *err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	uint32_t *idx = calloc(MAX_MSRS, sizeof *idx);
	struct kvm_msrs *msrs;
	int n = -1, i;
	void *fpu = NULL;
	uint32_t fpu_len = 0;

	/* an I/O exit whose answer KVM still owes the vCPU: finish it now
	   (immediate_exit is set, so KVM_RUN goes no further) */
	v->run->immediate_exit = 1;
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		vmm_log(vm, "vcpu %d: completing I/O before save: %s", v->id, strerror(errno));
	if (idx)
		n = msr_list(vm, v, idx, MAX_MSRS);
	msrs = calloc(1, sizeof *msrs + (n > 0 ? n : 0) * sizeof msrs->entries[0]);
	if (!msrs || n < 0) {
		free(idx);
		free(msrs);
		return hv_fail(err, HV_EIO, "vcpu %d: no MSR list or out of memory", v->id);
	}
	msrs->nmsrs = n;
	for (i = 0; i < n; i++)
		msrs->entries[i].index = idx[i];
	free(idx);
	idx = NULL;
	memset(&ev, 0, sizeof ev);
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0 ||
	    fpu_state_get(vm->kvm_fd, v->fd, &fpu, &fpu_len, &xcrs) < 0 ||
	    ioctl(v->fd, KVM_GET_MSRS, msrs) != n ||
	    ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0 || ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
	    ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0) {
		free(fpu);
		free(msrs);
		return hv_fail(err, HV_EIO, "vcpu %d: reading its state: %s", v->id, strerror(errno));
	}
	snap_u32(w, v->id);
	blob_put(w, &regs, sizeof regs);
	blob_put(w, &sregs, sizeof sregs);
	blob_put(w, fpu, fpu_len);	/* an XSAVE area, or a kvm_fpu (fpu.h) */
	blob_put(w, &xcrs, sizeof xcrs);
	snap_u32(w, n);
	for (i = 0; i < n; i++) {
		snap_u32(w, msrs->entries[i].index);
		snap_u64(w, msrs->entries[i].data);
	}
	blob_put(w, &lapic, sizeof lapic);
	blob_put(w, &ev, sizeof ev);
	blob_put(w, &mp, sizeof mp);
	free(fpu);
	free(msrs);
	return 0;
}

/* every MSR KVM takes; one it refuses is logged and skipped */
static int
msrs_set(struct vmm *vm, struct vcpu *v, struct kvm_msrs *m)
{
	uint32_t done = 0;

	while (done < m->nmsrs) {
		struct { struct kvm_msrs h; struct kvm_msr_entry e[MAX_MSRS]; } part;
		int r;

		memset(&part.h, 0, sizeof part.h);
		part.h.nmsrs = m->nmsrs - done;
		memcpy(part.e, m->entries + done, part.h.nmsrs * sizeof part.e[0]);
		r = ioctl(v->fd, KVM_SET_MSRS, &part);
		if (r < 0)
			return -1;
		done += r;
		if (done < m->nmsrs) {
			vmm_log(vm, "vcpu %d: MSR %#x not restored", v->id, m->entries[done].index);
			done++;
		}
	}
	return 0;
}

static int
vcpu_load(struct vmm *vm, struct snap_r *r, bool *seen, struct hv_err *err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_msrs *msrs = NULL;
	int rc = -1;
	uint32_t id = snap_g32(r), n, i, fpu_len;
	void *fpu = NULL;
	struct vcpu *v;

	if (r->bad || id >= (uint32_t)vm->nvcpus || seen[id]) {
		return hv_fail(err, HV_EINVAL, "state file: bad or repeated vCPU %u", id);
	}
	v = &vm->vcpus[id];
	blob_get(r, &regs, sizeof regs);
	blob_get(r, &sregs, sizeof sregs);
	fpu_len = snap_g32(r);
	if (r->bad || fpu_len > r->len - r->off || fpu_len > (1u << 20))
		goto bad;
	fpu = malloc(fpu_len ? fpu_len : 1);
	if (!fpu)
		goto bad;
	snap_get(r, fpu, fpu_len);
	blob_get(r, &xcrs, sizeof xcrs);
	n = snap_g32(r);
	if (n > MAX_MSRS || r->bad)
		goto bad;
	msrs = calloc(1, sizeof *msrs + n * sizeof msrs->entries[0]);
	if (!msrs)
		goto bad;
	msrs->nmsrs = n;
	for (i = 0; i < n; i++) {
		msrs->entries[i].index = snap_g32(r);
		msrs->entries[i].data = snap_g64(r);
	}
	blob_get(r, &lapic, sizeof lapic);
	blob_get(r, &ev, sizeof ev);
	blob_get(r, &mp, sizeof mp);
	if (r->bad || r->off != r->len)
		goto bad;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ||
	    fpu_state_set(vm->kvm_fd, v->fd, fpu, fpu_len, &xcrs) < 0 ||
	    ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    msrs_set(vm, v, msrs) != 0 ||
	    ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0 ||
	    ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0 ||
	    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
		hv_fail(err, HV_EINVAL, "state file: vCPU %u: KVM refused its state: %s",
			id, strerror(errno));
		goto out;
	}
	seen[id] = true;
	rc = 0;
	goto out;
bad:
	hv_fail(err, HV_EINVAL, "state file: vCPU %u section is malformed", id);
out:
	free(fpu);
	free(msrs);
	return rc;
}

/* --- the in-kernel PIC, IOAPIC, PIT and clock ----------------------------- */

static int
irqchip_save(struct vmm *vm, struct snap_w *w, struct hv_err *err)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	for (uint32_t id = 0; id < 3; id++) {
		memset(&chip, 0, sizeof chip);
		chip.chip_id = id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return hv_fail(err, HV_EIO, "KVM_GET_IRQCHIP: %s", strerror(errno));
		blob_put(w, &chip, sizeof chip);
	}
	memset(&clock, 0, sizeof clock);
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return hv_fail(err, HV_EIO, "KVM_GET_PIT2/CLOCK: %s", strerror(errno));
	blob_put(w, &pit, sizeof pit);
	snap_u64(w, clock.clock);
	return 0;
}

static int
irqchip_load(struct vmm *vm, struct snap_r *r, struct hv_err *err)
{
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };

	for (uint32_t id = 0; id < 3; id++)
		if (blob_get(r, &chip[id], sizeof chip[id]) == 0 && chip[id].chip_id != id)
			r->bad = true;
	blob_get(r, &pit, sizeof pit);
	clock.clock = snap_g64(r);
	if (r->bad || r->off != r->len)
		return hv_fail(err, HV_EINVAL, "state file: irqchip section is malformed");
	for (int id = 0; id < 3; id++)
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip[id]) < 0)
			return hv_fail(err, HV_EINVAL, "state file: KVM_SET_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return hv_fail(err, HV_EINVAL, "state file: KVM_SET_PIT2/CLOCK: %s", strerror(errno));
	return 0;
}

/* --- virtio devices --------------------------------------------------------- */

struct virtio_dev *
vdev_at(struct vmm *vm, int i, uint8_t *kind, uint32_t *index)
{
	if (i < vm->nblk) {
		*kind = VDEV_BLK, *index = i;
		return virtio_blk_vdev(vm->blk[i]);
	}
	i -= vm->nblk;
	if (i < vm->nnet) {
		*kind = VDEV_NET, *index = i;
		return virtio_net_vdev(vm->net[i]);
	}
	i -= vm->nnet;
	if (i == 0 && vm->balloon) {
		*kind = VDEV_BALLOON, *index = 0;
		return virtio_balloon_vdev(vm->balloon);
	}
	i -= vm->balloon != NULL;
	if (i == 0 && vm->scsi) {
		*kind = VDEV_SCSI, *index = 0;
		return virtio_scsi_vdev(vm->scsi);
	}
	return NULL;
}

int
nvdevs(struct vmm *vm)
{
	return vm->nblk + vm->nnet + (vm->balloon != NULL) + (vm->scsi != NULL);
}

/*
 * A restored or arrived VM: whatever its queues hold was kicked before
 * the save and never served (a request storage QoS held, handed back to
 * the ring): serve it now, as a kick would.
 */
void
vdevs_kick(struct vmm *vm)
{
	uint8_t k;
	uint32_t x;

	for (int i = 0; i < nvdevs(vm); i++) {
		struct virtio_dev *d = vdev_at(vm, i, &k, &x);

		pthread_mutex_lock(&d->lock);
		for (int q = 0; q < d->nqueues; q++)
			if (d->vq[q].enabled && virtio_live(d) && d->ops->notify)
				d->ops->notify(d, q);
		pthread_mutex_unlock(&d->lock);
	}
}

void
vdevs_lock(struct vmm *vm, bool lock)
{
	uint8_t k;
	uint32_t x;

	for (int i = 0; i < nvdevs(vm); i++) {
		struct virtio_dev *d = vdev_at(vm, i, &k, &x);

		if (lock)
			pthread_mutex_lock(&d->lock);
		else
			pthread_mutex_unlock(&d->lock);
	}
}

/* --- the stream --------------------------------------------------------------- */

void
header_save(struct vmm *vm, struct snap_w *w)
{
	snap_u32(w, STATE_VERSION);
	snap_u64(w, vm->mem.size);
	snap_u32(w, vm->nvcpus);
	snap_u32(w, vm->nblk);
	snap_u32(w, vm->nnet);
	snap_u8(w, vm->balloon != NULL);
	snap_u32(w, fpu_state_len(vm->kvm_fd));	/* for a reader's information */
}

static int
header_load(struct vmm *vm, struct snap_r *r, struct hv_err *err)
{
	uint32_t version = snap_g32(r);
	uint64_t mem = snap_g64(r);
	uint32_t ncpu = snap_g32(r), nblk = snap_g32(r), nnet = snap_g32(r);
	uint8_t balloon = snap_g8(r);

	(void)snap_g32(r);	/* the source's FPU state size: fpu.c converts */

	if (r->bad || version != STATE_VERSION)
		return hv_fail(err, HV_EINVAL, "state file: version %u, not %u", version,
			       STATE_VERSION);
	if (mem != vm->mem.size || ncpu != (uint32_t)vm->nvcpus || nblk != (uint32_t)vm->nblk ||
	    nnet != (uint32_t)vm->nnet || balloon != (vm->balloon != NULL))
		return hv_fail(err, HV_EINVAL, "state file: saved from a VM with other memory, "
			       "vCPUs or devices than this one");
	return 0;
}

int
devices_save(struct vmm *vm, struct stream *s, struct hv_err *err)
{
	struct snap_w w = { 0 };
	int i;

	for (i = 0; i < vm->nvcpus && !s->error; i++) {
		w.len = 0;
		if (vcpu_save(vm, &vm->vcpus[i], &w, err) != 0)
			goto fail;
		out_section(s, SEC_VCPU, &w);
	}
	w.len = 0;
	if (irqchip_save(vm, &w, err) != 0)
		goto fail;
	out_section(s, SEC_IRQCHIP, &w);
	w.len = 0;
	serial_save(vm->serial, &w);
	out_section(s, SEC_SERIAL, &w);
	w.len = 0;
	legacy_save(vm->legacy, &w);
	out_section(s, SEC_LEGACY, &w);
	w.len = 0;
	acpi_pm_save(vm->pm, &w);
	out_section(s, SEC_ACPI_PM, &w);
	w.len = 0;
	pci_save(vm->pci, &w);
	out_section(s, SEC_PCI, &w);
	if (vm->fw_cfg != NULL) {
		w.len = 0;
		fw_cfg_save(vm->fw_cfg, &w);
		out_section(s, SEC_FWCFG, &w);
	}
	if (vm->flash != NULL) {
		w.len = 0;
		pflash_save(vm->flash, &w);
		out_section(s, SEC_PFLASH, &w);
	}
	for (i = 0; i < nvdevs(vm); i++) {
		uint8_t kind;
		uint32_t index;
		struct virtio_dev *d = vdev_at(vm, i, &kind, &index);

		w.len = 0;
		snap_u8(&w, kind);
		snap_u32(&w, index);
		virtio_save(d, &w);
		virtio_pci_save(d->transport, &w);
		if (kind == VDEV_BALLOON)
			virtio_balloon_save(vm->balloon, &w);
		if (kind == VDEV_SCSI)
			virtio_scsi_save(vm->scsi, &w);
		out_section(s, SEC_VIRTIO, &w);
	}
	free(w.p);
	return 0;
fail:
	free(w.p);
	return -1;
}

int
vmm_save_state_held(struct vmm *vm, int fd, struct hv_err *err)
{
	struct stream s = { .fd = fd, .buf = malloc(1u << 20), .sum = true };
	struct snap_w w = { 0 };
	uint8_t end[16];
	int rc = -1;

	if (!s.buf)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (!vmm_paused(vm)) {
		free(s.buf);
		return hv_fail(err, HV_EBUSY, "the VM must be paused to save its state");
	}
	out_put(&s, STATE_MAGIC, 8);
	header_save(vm, &w);
	out_section(&s, SEC_HEADER, &w);
	ram_save(vm, &s);
	if (devices_save(vm, &s, err) != 0 || clock_save(vm, &s, err) != 0)
		goto out;
	put_le32(end, SEC_END);
	put_le64(end + 4, 4);
	put_le32(end + 12, s.crc);
	out_put(&s, end, sizeof end);
	out_flush(&s);
	if (s.error) {
		hv_fail(err, HV_EIO, "writing the VM's state: %s",
			strerror(s.error > 0 ? s.error : EIO));
		goto out;
	}
	rc = 0;
out:
	free(w.p);
	free(s.buf);
	return rc;
}

int
vmm_save_state(struct vmm *vm, int fd, struct hv_err *err)
{
	int rc;

	/* the I/O thread may still be finishing a request: wait for it, and
	   keep it out of RAM and the queues until all is written */
	vdevs_lock(vm, true);
	rc = vmm_save_state_held(vm, fd, err);
	vdevs_lock(vm, false);
	return rc;
}

static int
virtio_section(struct vmm *vm, struct snap_r *r, bool *seen, struct hv_err *err)
{
	uint8_t kind = snap_g8(r), k;
	uint32_t index = snap_g32(r), x;
	int i, rc;

	for (i = 0; i < nvdevs(vm); i++) {
		struct virtio_dev *d = vdev_at(vm, i, &k, &x);

		if (k != kind || x != index)
			continue;
		if (seen[i])
			break;
		pthread_mutex_lock(&d->lock);
		rc = virtio_load(d, r);
		if (rc == 0)
			rc = virtio_pci_load(d->transport, r);
		if (rc == 0 && kind == VDEV_BALLOON)
			rc = virtio_balloon_load(vm->balloon, r);
		if (rc == 0 && kind == VDEV_SCSI)
			rc = virtio_scsi_load(vm->scsi, r);
		pthread_mutex_unlock(&d->lock);
		if (rc != 0 || r->off != r->len)
			return hv_fail(err, HV_EINVAL, "state file: %s's state is malformed", d->name);
		seen[i] = true;
		return 0;
	}
	return hv_fail(err, HV_EINVAL, "state file: virtio device %u/%u is unknown or repeated",
		       kind, index);
}

/* one section other than RAM, held in r */
static int
section_load(struct vmm *vm, uint32_t tag, struct snap_r *r, bool *vcpu_seen,
	     bool *vdev_seen, struct hv_err *err)
{
	int rc;

	switch (tag) {
	case SEC_VCPU:
		return vcpu_load(vm, r, vcpu_seen, err);
	case SEC_IRQCHIP:
		return irqchip_load(vm, r, err);
	case SEC_VIRTIO:
		return virtio_section(vm, r, vdev_seen, err);
	case SEC_SERIAL:
		rc = serial_load(vm->serial, r);
		break;
	case SEC_LEGACY:
		rc = legacy_load(vm->legacy, r);
		break;
	case SEC_ACPI_PM:
		rc = acpi_pm_load(vm->pm, r);
		break;
	case SEC_PCI:
		rc = pci_load(vm->pci, r);
		break;
	case SEC_FWCFG:
		if (vm->fw_cfg == NULL)
			return hv_fail(err, HV_EINVAL, "state file: fw_cfg state for a VM without one "
				       "(saved from a generation 1 VM?)");
		rc = fw_cfg_load(vm->fw_cfg, r);
		break;
	case SEC_PFLASH:
		if (vm->flash == NULL)
			return hv_fail(err, HV_EINVAL, "state file: a UEFI variable store's state for "
				       "a VM without UEFI");
		rc = pflash_load(vm->flash, r);
		break;
	default:
		return hv_fail(err, HV_EINVAL, "state file: section %u out of place", tag);
	}
	if (rc != 0 || r->off != r->len)
		return hv_fail(err, HV_EINVAL, "state file: section %u is malformed", tag);
	return 0;
}

int
stream_load(struct vmm *vm, struct stream *s, snap_extra_fn extra, void *opaque,
	    struct hv_err *err)
{
	bool vcpu_seen[VMM_MAX_VCPUS] = { false }, vdev_seen[VMM_MAX_DISKS + VMM_MAX_NICS + 2] = { false };
	unsigned have = 0;	/* bit per section tag */
	uint8_t h[12];
	int i;

	for (;;) {
		uint32_t tag;
		uint64_t len;
		struct snap_r r = { 0 };
		uint32_t crc = s->crc;
		int rc;

		if (in_get(s, h, sizeof h) != 0)
			return hv_fail(err, HV_EINVAL, "state file: truncated (no end marker)");
		tag = get_le32(h);
		len = get_le64(h + 4);
		if (tag == SEC_END) {
			uint8_t c[4];

			if (len == 0)	/* written before checksums */
				break;
			if (len != 4 || in_get(s, c, 4) != 0)
				return hv_fail(err, HV_EINVAL, "state file: a malformed end marker");
			if (s->sum && get_le32(c) != crc)
				return hv_fail(err, HV_EINVAL, "state file: checksum mismatch: the file "
					       "is corrupt (not restored)");
			break;
		}
		if (extra != NULL && tag > SEC_LAST_DEV && (have & (1u << SEC_HEADER))) {
			rc = extra(opaque, tag, len, s, err);
			if (rc < 0)
				return -1;
			if (rc == 0)
				continue;
		}
		if (tag < SEC_HEADER || tag > SEC_LAST_DEV)
			return hv_fail(err, HV_EINVAL, "state file: unknown section tag %u "
				       "(written by a newer hv?)", tag);
		if (tag != SEC_HEADER && !(have & (1u << SEC_HEADER)))
			return hv_fail(err, HV_EINVAL, "state file: no header section first");
		if (tag == SEC_RAM) {
			if (have & (1u << SEC_RAM))
				return hv_fail(err, HV_EINVAL, "state file: two RAM sections");
			if (ram_load(vm, s, len, err) != 0)
				return -1;
			have |= 1u << SEC_RAM;
			continue;
		}
		if (len > SECTION_MAX)
			return hv_fail(err, HV_EINVAL, "state file: section %u is %llu bytes long",
				       tag, (unsigned long long)len);
		uint8_t *p = malloc(len ? len : 1);

		if (!p)
			return hv_fail(err, HV_EINTERNAL, "out of memory");
		if (in_get(s, p, len) != 0) {
			free(p);
			return hv_fail(err, HV_EINVAL, "state file: truncated in section %u", tag);
		}
		r.p = p;
		r.len = len;
		if (tag == SEC_HEADER)
			rc = (have & (1u << SEC_HEADER)) ?
			     hv_fail(err, HV_EINVAL, "state file: two headers") :
			     header_load(vm, &r, err);
		else
			rc = section_load(vm, tag, &r, vcpu_seen, vdev_seen, err);
		free(p);
		if (rc != 0)
			return -1;
		have |= 1u << tag;
	}
	for (i = 0; i < vm->nvcpus; i++)
		if (!vcpu_seen[i])
			return hv_fail(err, HV_EINVAL, "state file: vCPU %d is missing", i);
	for (i = 0; i < nvdevs(vm); i++)
		if (!vdev_seen[i])
			return hv_fail(err, HV_EINVAL, "state file: a virtio device is missing");
	for (i = SEC_HEADER; i <= SEC_PCI; i++)
		if (i != SEC_VCPU && !(i == SEC_RAM && extra != NULL) && !(have & (1u << i)))
			return hv_fail(err, HV_EINVAL, "state file: section %d is missing", i);
	return 0;
}

/* a saved state's last section: when it was saved */
struct restoring {
	struct vmm *vm;
	struct clock_state clock;
};

static int
clock_section(void *opaque, uint32_t tag, uint64_t len, struct stream *s, struct hv_err *err)
{
	struct restoring *x = opaque;

	if (tag != SEC_CLOCK)
		return 1;
	if (x->clock.seen)
		return hv_fail(err, HV_EINVAL, "state file: two clock sections");
	return clock_load(x->vm, &x->clock, len, s, err);
}

int
vmm_restore_state(struct vmm *vm, int fd, struct hv_err *err)
{
	struct stream s = { .fd = fd, .buf = malloc(1u << 20), .sum = true };
	struct restoring x = { .vm = vm };
	char magic[8];
	int rc;

	if (!s.buf)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (vm->state != VM_CREATED || !vm->cfg.restoring) {
		free(s.buf);
		return hv_fail(err, HV_EBUSY, "state restores only into a VM created to restore");
	}
	if (in_get(&s, magic, sizeof magic) != 0 || memcmp(magic, STATE_MAGIC, 8) != 0)
		rc = hv_fail(err, HV_EINVAL, "not an hv state file (no %s magic)", STATE_MAGIC);
	else
		rc = stream_load(vm, &s, clock_section, &x, err);
	/* a state saved before SEC_CLOCK existed resumes its clocks as saved */
	if (rc == 0 && x.clock.seen)
		rc = clock_forward(vm, &x.clock, err);
	free(s.buf);
	return rc;
}
