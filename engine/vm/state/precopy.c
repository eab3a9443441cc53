/*
 * precopy.c - live migration of a running VM over a connected stream
 * (the caller authenticated it): pre-copy with KVM's dirty log.
 *
 * Source, vmm_migrate_send():
 *	1. KVM logs the pages vCPUs write; device code marks the pages it
 *	   touches (gmem_ptr); with storage, virtio-blk marks the blocks the
 *	   guest writes, and each disk is copied whole first.
 *	2. Pass 1 sends every page; each later pass sends what was written
 *	   during the one before, until the rest would go within the
 *	   downtime allowed at the rate measured so far.
 *	3. The vCPUs pause; the last pages and blocks, every vCPU and device
 *	   model (snapshot.c's sections) and the clocks go; the destination
 *	   answers R (all loaded); we say G; it runs and answers K.
 *	   Before G any failure resumes the VM here untouched; from G on this
 *	   side never runs it again (never two running copies).
 *
 * The stream is snapshot.c's: "HVMIGRT1", sections, SEC_END, with three
 * of its own:
 *	SEC_PAGES  records: u64 page index | ZERO_PAGE, then 4096 bytes
 *	           unless ZERO_PAGE (a zero page costs 8 bytes)
 *	SEC_DISK   u32 disk, u64 offset, u32 length, u8 zero, data
 *	SEC_CLOCK  u64 realtime ns, u64 kvmclock ns, u32 n, n x u64 TSC
 *	SEC_SYNC   empty: the end of a pass, answered 'S' once all before it
 *	           is in place (so no backlog in the socket buffers is left
 *	           to the pause, and the rate counts the destination's work)
 * The destination's answers are one byte: 'S', 'R', 'K', or 'E' with a
 * u16 length and a message.
 *
 * The guest's clocks go on in real time (clock.c): the destination sets
 * each TSC and kvmclock forward by the wall-clock time since the source
 * read them, so the guest sees its downtime as a gap.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/dev/virtio.h"
#include "engine/vm/state/snapshot.h"

#define MIGRATE_MAGIC	"HVMIGRT1"
#define ZERO_PAGE	(1ull << 63)
#define SECTION_PAGES	256
#define DISK_CHUNK	(1u << 20)
#define ANSWER_MS	15000	/* the destination's R and K */
#define STATE_MS	5	/* what device state adds to the last pass */

static uint64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- the source ------------------------------------------------------------ */

struct send {
	struct vmm *vm;
	const struct vmm_migrate_opts *o;
	struct vmm_migrate_result *r;
	struct stream s;
	uint64_t npages, words;
	uint64_t *dirty, *tmp;		/* pages to send, KVM's scratch */
	uint64_t *disk_dirty[VMM_MAX_DISKS];
	uint64_t disk_words[VMM_MAX_DISKS];
	uint8_t *chunk;
	uint64_t t0, send_ns;		/* monotonic start, time spent sending */
	int pass;
};

static void
progress(struct send *x, const char *phase, uint64_t remaining)
{
	struct vmm_migrate_progress p = {
		.phase = phase, .pass = x->pass, .sent_bytes = x->s.bytes,
		.remaining_bytes = remaining,
		.rate = x->send_ns ? x->s.bytes * 1000000000ull / x->send_ns : 0,
		.elapsed_ms = (now_ns(CLOCK_MONOTONIC) - x->t0) / 1000000,
	};

	if (x->o->progress)
		x->o->progress(x->o->opaque, &p);
}

/* the pages and device-touched pages since the last take, into x->dirty */
static int
take_dirty(struct send *x, struct hv_err *err)
{
	_Atomic uint64_t *t = x->vm->mem.track;

	if (kvm_dirty_take(x->vm, x->dirty, x->tmp, err) != 0)
		return -1;
	for (uint64_t w = 0; w < x->words; w++)
		x->dirty[w] |= atomic_exchange_explicit(&t[w], 0, memory_order_relaxed);
	return 0;
}

static uint64_t
count_bits(const uint64_t *bm, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(bm[w]);
	return n;
}

/* the pages set in x->dirty, cleared as they go */
static void
send_pages(struct send *x)
{
	uint64_t idx[SECTION_PAGES];
	uint8_t h[12], b[8];
	uint64_t t = now_ns(CLOCK_MONOTONIC), p = 0;

	while (!x->s.error) {
		int n = 0;
		uint64_t len = 0;

		for (; p < x->npages && n < SECTION_PAGES; p++) {
			if (!(x->dirty[p / 64] & (1ull << (p % 64)))) {
				if (x->dirty[p / 64] == 0)
					p |= 63;	/* the next word */
				continue;
			}
			x->dirty[p / 64] &= ~(1ull << (p % 64));
			if (page_zero(x->vm->mem.host + p * PAGE)) {
				idx[n++] = p | ZERO_PAGE;
				len += 8;
				x->r->zero_pages++;
			} else {
				idx[n++] = p;
				len += 8 + PAGE;
				x->r->pages++;
			}
		}
		if (n == 0)
			break;
		put_le32(h, SEC_PAGES);
		put_le64(h + 4, len);
		out_put(&x->s, h, sizeof h);
		for (int i = 0; i < n; i++) {
			put_le64(b, idx[i]);
			out_put(&x->s, b, 8);
			if (!(idx[i] & ZERO_PAGE))
				out_put(&x->s, x->vm->mem.host + idx[i] * PAGE, PAGE);
		}
	}
	x->send_ns += now_ns(CLOCK_MONOTONIC) - t;
}

static void
disk_record(struct send *x, uint32_t disk, uint64_t off, uint32_t len, bool zero)
{
	uint8_t h[12], b[17];

	put_le32(h, SEC_DISK);
	put_le64(h + 4, 17 + (zero ? 0 : len));
	put_le32(b, disk);
	put_le64(b + 4, off);
	put_le32(b + 12, len);
	b[16] = zero;
	out_put(&x->s, h, sizeof h);
	out_put(&x->s, b, sizeof b);
	if (!zero)
		out_put(&x->s, x->chunk, len);
	x->r->disk_bytes += zero ? 0 : len;
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += PAGE)
		if (!page_zero(p + i))
			return false;
	return true;
}

/* storage: every disk whole; zero chunks need not go (the destination's
   image is new and empty) */
static int
send_disks_bulk(struct send *x, struct hv_err *err)
{
	for (int d = 0; d < x->vm->nblk; d++) {
		uint64_t size = virtio_blk_size(x->vm->blk[d]);

		for (uint64_t off = 0; off < size && !x->s.error; off += DISK_CHUNK) {
			uint32_t len = size - off < DISK_CHUNK ? (uint32_t)(size - off) : DISK_CHUNK;
			uint64_t t = now_ns(CLOCK_MONOTONIC);

			if (virtio_blk_io(x->vm->blk[d], false, false, off, x->chunk, len, err) != 0)
				return -1;
			if (len % PAGE != 0 || !all_zero(x->chunk, len))
				disk_record(x, d, off, len, false);
			x->send_ns += now_ns(CLOCK_MONOTONIC) - t;
			if (off % (64u << 20) == 0)
				progress(x, "storage", size - off);
		}
	}
	return 0;
}

/* the blocks the guest wrote since the last take (held: vdevs_lock) */
static uint64_t
take_disk_dirty(struct send *x, bool held)
{
	uint64_t n = 0, *tmp = x->tmp;

	for (int d = 0; d < x->vm->nblk && x->o->storage; d++) {
		virtio_blk_mirror_take(x->vm->blk[d], held, tmp, x->disk_words[d]);
		for (uint64_t w = 0; w < x->disk_words[d]; w++)
			x->disk_dirty[d][w] |= tmp[w];
		n += count_bits(x->disk_dirty[d], x->disk_words[d]);
	}
	return n;
}

struct block {		/* send_block's: one disk, held or not */
	struct send *x;
	int disk;
	bool held;
};

static int
send_block(void *ctx, uint64_t off, uint32_t len, struct hv_err *err)
{
	struct block *k = ctx;
	struct send *x = k->x;

	if (x->s.error)
		return -1;	/* send_failed() says why, after the flush */
	if (virtio_blk_io(x->vm->blk[k->disk], k->held, false, off, x->chunk, len, err) != 0)
		return -1;
	disk_record(x, k->disk, off, len, len % PAGE == 0 && all_zero(x->chunk, len));
	return 0;
}

static int
send_disk_dirty(struct send *x, bool held, struct hv_err *err)
{
	uint64_t t = now_ns(CLOCK_MONOTONIC);

	for (int d = 0; d < x->vm->nblk && x->o->storage; d++) {
		struct block k = { x, d, held };

		if (virtio_blk_mirror_walk(x->vm->blk[d], x->disk_dirty[d], x->disk_words[d],
					   send_block, &k, err) != 0 && !x->s.error)
			return -1;
		memset(x->disk_dirty[d], 0, x->disk_words[d] * 8);
	}
	x->send_ns += now_ns(CLOCK_MONOTONIC) - t;
	return 0;
}

/* one answer byte from the destination; its message on 'E' */
static int
answer(int fd, char want, int timeout_ms, struct hv_err *err)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c = 0;
	uint8_t l[2];
	char msg[512];

	if (poll(&p, 1, timeout_ms) <= 0)
		return hv_fail(err, HV_EIO, "the destination did not answer within %d s", timeout_ms / 1000);
	if (read(fd, &c, 1) != 1)
		return hv_fail(err, HV_EIO, "the destination closed the connection");
	if (c == want)
		return 0;
	if (c == 'E' && read(fd, l, 2) == 2) {
		size_t n = get_le16(l) < sizeof msg - 1 ? get_le16(l) : sizeof msg - 1;
		ssize_t got = 0, r;

		while ((size_t)got < n && (r = read(fd, msg + got, n - (size_t)got)) > 0)
			got += r;
		msg[got] = '\0';
		return hv_fail(err, HV_EIO, "the destination failed: %s", msg);
	}
	return hv_fail(err, HV_EIO, "the destination sent %#x, not '%c'", (unsigned char)c, want);
}

/* a failed send: the destination's own reason when it left one ('E'),
   else what the socket said */
static int
send_failed(struct send *x, struct hv_err *err)
{
	struct hv_err why = { 0 };

	if (answer(x->s.fd, 0, 200, &why) != 0 &&
	    strncmp(why.msg, "the destination failed", 22) == 0)
		*err = why;
	else
		hv_fail(err, HV_EIO, "sending to the destination: %s",
			strerror(x->s.error > 0 ? x->s.error : EIO));
	return -1;
}

static void
send_free(struct send *x)
{
	free(x->dirty);
	free(x->tmp);
	free(x->chunk);
	free(x->s.buf);
	for (int d = 0; d < VMM_MAX_DISKS; d++)
		free(x->disk_dirty[d]);
}

/* back to running here: logging off, the VM resumed */
static void
send_undo(struct send *x, bool paused, bool locked)
{
	struct hv_err e2;

	if (locked)
		vdevs_lock(x->vm, false);
	for (int d = 0; d < x->vm->nblk; d++)
		virtio_blk_mirror(x->vm->blk[d], false);
	if (x->vm->mem.logging && kvm_dirty_log(x->vm, false, &e2) != 0)
		vmm_log(x->vm, "migration: %s", e2.msg);
	x->vm->mem.track = NULL;	/* its buffer lives as long as the VM */
	if (paused)
		vmm_resume(x->vm);
}

/*
 * Pass after pass until the rest fits the downtime allowed; while passes
 * still halve what is left (they are cheap then), go on: the pause is
 * shorter for it. QUICK_NS: short enough to stop trying.
 */
#define QUICK_NS	(10 * 1000000ull)

static int
precopy(struct send *x, struct hv_err *err)
{
	uint64_t budget_ns = x->o->max_downtime_ms * 1000000ull, last = UINT64_MAX;
	int max_passes = x->o->max_passes > 0 ? x->o->max_passes : 30;

	if (x->o->storage && send_disks_bulk(x, err) != 0)
		return -1;
	memset(x->dirty, 0xff, x->words * 8);
	if (x->npages % 64)
		x->dirty[x->words - 1] = (1ull << (x->npages % 64)) - 1;
	for (x->pass = 1;; x->pass++) {
		uint64_t pages, blocks, bytes, rate, est, t;
		uint8_t sync[12];

		progress(x, "memory", count_bits(x->dirty, x->words) * PAGE);
		send_pages(x);
		if (send_disk_dirty(x, false, err) != 0)
			return -1;
		t = now_ns(CLOCK_MONOTONIC);
		put_le32(sync, SEC_SYNC);
		put_le64(sync + 4, 0);
		out_put(&x->s, sync, sizeof sync);
		out_flush(&x->s);
		if (x->s.error)
			return send_failed(x, err);
		if (answer(x->s.fd, 'S', ANSWER_MS, err) != 0)
			return -1;
		x->send_ns += now_ns(CLOCK_MONOTONIC) - t;
		if (take_dirty(x, err) != 0)
			return -1;
		pages = count_bits(x->dirty, x->words);
		blocks = take_disk_dirty(x, false);
		bytes = pages * (PAGE + 8) + blocks * BLK_MIRROR_BLOCK;
		rate = x->send_ns ? x->s.bytes * 1000000000ull / x->send_ns : 0;
		/* what the last pass would take, with the device state */
		est = rate ? bytes * 1000000000ull / rate + STATE_MS * 1000000ull : UINT64_MAX;
		if (x->pass >= max_passes ||
		    (est <= budget_ns && (est <= QUICK_NS || bytes * 2 > last))) {
			x->r->passes = x->pass;
			return 0;
		}
		last = bytes;
	}
}

int
vmm_migrate_send(struct vmm *vm, int fd, const struct vmm_migrate_opts *o,
		 struct vmm_migrate_result *r, struct hv_err *err)
{
	struct send x = { .vm = vm, .o = o, .r = r, .s = { .fd = fd } };
	struct snap_w w = { 0 };
	uint64_t t_pause;
	uint8_t end[12];
	bool paused = false, locked = false;

	memset(r, 0, sizeof *r);
	x.t0 = now_ns(CLOCK_MONOTONIC);
	x.npages = vm->mem.size / PAGE;
	x.words = (x.npages + 63) / 64;
	x.s.buf = malloc(1u << 20);
	x.dirty = calloc(x.words + 1, 8);
	x.chunk = malloc(DISK_CHUNK);
	{	/* scratch big enough for KVM's bitmaps and a disk's */
		uint64_t words = x.words + 1;

		for (int d = 0; d < vm->nblk; d++) {
			x.disk_words[d] = (virtio_blk_size(vm->blk[d]) / BLK_MIRROR_BLOCK + 64) / 64;
			if (x.disk_words[d] + 1 > words)
				words = x.disk_words[d] + 1;
			if (o->storage)
				x.disk_dirty[d] = calloc(x.disk_words[d], 8);
		}
		x.tmp = calloc(words, 8);
	}
	if (vm->mem.track_buf == NULL)
		vm->mem.track_buf = calloc(x.words + 1, 8);
	else
		memset((void *)vm->mem.track_buf, 0, (x.words + 1) * 8);
	if (!x.s.buf || !x.dirty || !x.tmp || !x.chunk || !vm->mem.track_buf) {
		send_free(&x);
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	}
	for (int d = 0; d < vm->nblk && o->storage; d++)
		if (x.disk_dirty[d] == NULL || virtio_blk_mirror(vm->blk[d], true) != 0) {
			hv_fail(err, HV_EINTERNAL, "out of memory");
			goto fail;
		}
	vm->mem.track = vm->mem.track_buf;
	if (kvm_dirty_log(vm, true, err) != 0)
		goto fail;
	out_put(&x.s, MIGRATE_MAGIC, 8);
	header_save(vm, &w);
	out_section(&x.s, SEC_HEADER, &w);
	free(w.p);
	if (precopy(&x, err) != 0)
		goto fail;

	/* the last pass: nothing runs here from now on */
	if (vmm_pause(vm) != 0) {
		hv_fail(err, HV_EIO, "cannot pause the vCPUs");
		goto fail;
	}
	paused = true;
	t_pause = now_ns(CLOCK_MONOTONIC);
	vdevs_lock(vm, true);
	locked = true;
	for (int i = 0; i < nvdevs(vm); i++) {	/* the rings' pages: cached views */
		uint8_t k;
		uint32_t idx;

		virtio_mark_rings(vdev_at(vm, i, &k, &idx));
	}
	if (take_dirty(&x, err) != 0)
		goto fail;
	take_disk_dirty(&x, true);
	progress(&x, "final", count_bits(x.dirty, x.words) * PAGE);
	send_pages(&x);
	if (send_disk_dirty(&x, true, err) != 0)
		goto fail;
	for (int d = 0; d < vm->nblk; d++)	/* shared storage: ours on disk */
		if (virtio_blk_flush(vm->blk[d], err) != 0)
			goto fail;
	uint64_t t_pages = now_ns(CLOCK_MONOTONIC);

	if (devices_save(vm, &x.s, err) != 0 || clock_save(vm, &x.s, err) != 0)
		goto fail;
	put_le32(end, SEC_END);
	put_le64(end + 4, 0);
	out_put(&x.s, end, sizeof end);
	out_flush(&x.s);
	if (x.s.error) {
		send_failed(&x, err);
		goto fail;
	}
	uint64_t t_state = now_ns(CLOCK_MONOTONIC);

	if (answer(fd, 'R', ANSWER_MS, err) != 0)
		goto fail;
	uint64_t t_ready = now_ns(CLOCK_MONOTONIC);

	/* the point of no return: from here the VM never runs on this side */
	if (write(fd, "G", 1) != 1) {
		hv_fail(err, HV_EIO, "telling the destination to run it: %s", strerror(errno));
		goto fail;
	}
	r->committed = true;
	if (answer(fd, 'K', ANSWER_MS, err) != 0) {
		vmm_log(vm, "migration: %s", err->msg);
		r->unconfirmed = true;
	}
	r->downtime_ms = (now_ns(CLOCK_MONOTONIC) - t_pause) / 1000000;
	vmm_log(vm, "migration: downtime %llu us: last pages %llu, device state %llu, "
		"loaded there %llu, running there %llu",
		(unsigned long long)(now_ns(CLOCK_MONOTONIC) - t_pause) / 1000,
		(unsigned long long)(t_pages - t_pause) / 1000,
		(unsigned long long)(t_state - t_pages) / 1000,
		(unsigned long long)(t_ready - t_state) / 1000,
		(unsigned long long)(now_ns(CLOCK_MONOTONIC) - t_ready) / 1000);
	r->total_ms = (now_ns(CLOCK_MONOTONIC) - x.t0) / 1000000;
	r->bytes = x.s.bytes;
	vdevs_lock(vm, false);
	send_free(&x);
	return 0;
fail:
	send_undo(&x, paused, locked);
	r->total_ms = (now_ns(CLOCK_MONOTONIC) - x.t0) / 1000000;
	r->bytes = x.s.bytes;
	send_free(&x);
	return -1;
}

/* --- the destination --------------------------------------------------------- */

struct recv {
	struct vmm *vm;
	int fd;
	uint8_t *chunk;
	struct clock_state clock;
	uint64_t pages, disk_bytes;
};

static int
recv_pages(struct recv *x, uint64_t len, struct stream *s, struct hv_err *err)
{
	uint64_t npages = x->vm->mem.size / PAGE;
	uint8_t b[8];

	while (len > 0) {
		uint64_t v, p;
		uint8_t *pg;

		if (len < 8 || in_get(s, b, 8) != 0)
			return hv_fail(err, HV_EINVAL, "migration stream: a page record is cut short");
		len -= 8;
		v = get_le64(b);
		p = v & ~ZERO_PAGE;
		if (p >= npages)
			return hv_fail(err, HV_EINVAL, "migration stream: page %llu is past the VM's RAM",
				       (unsigned long long)p);
		pg = x->vm->mem.host + p * PAGE;
		if (v & ZERO_PAGE) {
			if (!page_zero(pg))	/* never touch what reads as zero */
				memset(pg, 0, PAGE);
			continue;
		}
		if (len < PAGE || in_get(s, pg, PAGE) != 0)
			return hv_fail(err, HV_EINVAL, "migration stream: a page is cut short");
		len -= PAGE;
		x->pages++;
	}
	return 0;
}

static int
recv_disk(struct recv *x, uint64_t len, struct stream *s, struct hv_err *err)
{
	uint8_t b[17];
	uint32_t disk, n;
	uint64_t off;
	bool zero;

	if (len < 17 || in_get(s, b, 17) != 0)
		return hv_fail(err, HV_EINVAL, "migration stream: a disk record is cut short");
	disk = get_le32(b);
	off = get_le64(b + 4);
	n = get_le32(b + 12);
	zero = b[16] != 0;
	if (disk >= (uint32_t)x->vm->nblk || n == 0 || n > DISK_CHUNK || n % 512 || off % 512 ||
	    off > virtio_blk_size(x->vm->blk[disk]) || n > virtio_blk_size(x->vm->blk[disk]) - off ||
	    len != 17 + (zero ? 0 : n))
		return hv_fail(err, HV_EINVAL, "migration stream: a disk record is out of range");
	if (!zero && in_get(s, x->chunk, n) != 0)
		return hv_fail(err, HV_EINVAL, "migration stream: disk data is cut short");
	if (virtio_blk_io(x->vm->blk[disk], false, true, off, zero ? NULL : x->chunk, n, err) != 0)
		return -1;
	x->disk_bytes += n;
	return 0;
}

static int
recv_section(void *opaque, uint32_t tag, uint64_t len, struct stream *s, struct hv_err *err)
{
	struct recv *x = opaque;

	switch (tag) {
	case SEC_PAGES:
		return recv_pages(x, len, s, err);
	case SEC_DISK:
		return recv_disk(x, len, s, err);
	case SEC_CLOCK:
		return clock_load(x->vm, &x->clock, len, s, err);
	case SEC_SYNC:
		if (len != 0)
			return hv_fail(err, HV_EINVAL, "migration stream: a bad sync");
		if (write(x->fd, "S", 1) != 1)
			return hv_fail(err, HV_EIO, "answering the source: %s", strerror(errno));
		return 0;
	}
	return 1;
}

void
vmm_migrate_refuse(int fd, const char *msg)
{
	uint8_t h[3] = { 'E' };
	size_t n = strlen(msg) < 500 ? strlen(msg) : 500;

	put_le16(h + 1, (uint16_t)n);
	if (write(fd, h, 3) == 3 && write(fd, msg, n) < 0)
		return;
}

int
vmm_migrate_receive(struct vmm *vm, int fd, bool storage, struct vmm_migrate_result *res,
		    struct hv_err *err)
{
	struct recv x = { .vm = vm, .fd = fd };
	struct stream s = { .fd = fd, .buf = malloc(1u << 20) };
	char magic[8], c;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int rc = -1;

	memset(res, 0, sizeof *res);
	x.chunk = malloc(DISK_CHUNK);
	if (!s.buf || !x.chunk) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out;
	}
	if (vm->state != VM_CREATED || !vm->cfg.restoring) {
		hv_fail(err, HV_EBUSY, "a migration arrives only into a VM created to restore");
		goto out;
	}
	if (in_get(&s, magic, 8) != 0 || memcmp(magic, MIGRATE_MAGIC, 8) != 0) {
		hv_fail(err, HV_EINVAL, "not an hv migration stream (no %s magic)", MIGRATE_MAGIC);
		goto out;
	}
	if (stream_load(vm, &s, recv_section, &x, err) != 0) {
		/* the loader is the state file's: say what it read here */
		if (strncmp(err->msg, "state file: ", 12) == 0) {
			char rest[sizeof err->msg];

			snprintf(rest, sizeof rest, "%s", err->msg + 12);
			snprintf(err->msg, sizeof err->msg, "migration stream: %.480s", rest);
		}
		goto out;
	}
	if (!x.clock.seen) {
		hv_fail(err, HV_EINVAL, "migration stream: no clock section");
		goto out;
	}
	/* shared storage: what we cached while the source wrote is stale */
	for (int d = 0; d < vm->nblk && !storage; d++)
		if (virtio_blk_reopen(vm->blk[d], err) != 0)
			goto out;
	if (write(fd, "R", 1) != 1) {
		hv_fail(err, HV_EIO, "answering the source: %s", strerror(errno));
		goto out;
	}
	if (poll(&p, 1, ANSWER_MS) <= 0 || read(fd, &c, 1) != 1 || c != 'G') {
		hv_fail(err, HV_EIO, "the source did not hand the VM over");
		goto out;
	}
	if (clock_forward(vm, &x.clock, err) != 0)
		goto out;
	res->pages = x.pages;
	res->disk_bytes = x.disk_bytes;
	res->bytes = s.bytes;
	res->total_ms = (now_ns(CLOCK_MONOTONIC) - t0) / 1000000;
	rc = 0;
out:
	if (rc != 0)
		vmm_migrate_refuse(fd, err->msg);
	free(x.chunk);
	free(s.buf);
	return rc;
}
