/*
 * disk-convert.c - copy an image (its whole chain, flattened) into a new
 * image of any format.
 *
 * Speed comes from never touching holes: the source chain's block
 * status says where data is, a mapped source file's own holes (SEEK_DATA)
 * are skipped too, all-zero granules are not written either,
 * reads are 4 MiB chunks aligned to the destination's blocks, and a
 * reader thread reads and scans while the calling thread writes.
 * Each struct disk is used by one thread only (the source by the
 * reader, the destination by the writer), as disk.h requires.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/disk/disk-int.h"
#include "engine/disk/disk-tools.h"

#define CONV_SLOTS	4
#define CONV_CHUNK	(4u << 20)	/* per read; divides every block size */
#define CONV_GRAN	65536u		/* zero detection in block formats */
#define CONV_GRAN_RAW	4096u		/* zero detection with no blocks */

struct conv_run {
	uint64_t off, len;	/* within the slot */
	const char *data;	/* the slot's buffer, or the mapped source */
};

/*
 * One chunk on its way from reader to writer: the reader reads the
 * source's data ranges and finds their non-zero runs, so the writer
 * (the slower side) only writes.
 */
struct conv_slot {
	char *buf;
	uint64_t off, len;
	struct conv_run *runs;
	size_t nruns;
};

struct conv {
	struct disk *src, *dst;
	const char *map;	/* the source file, mapped when its driver can
				   say where data lies: no copy on the way */
	size_t map_len;
	uint64_t ext_lo, ext_hi;	/* the source file's last known extent */
	bool ext_hole;			/* ... is a hole (else it has blocks) */
	uint64_t size, chunk, gran;
	struct conv_slot slot[CONV_SLOTS];
	uint64_t produced, consumed;	/* slots filled, slots written */
	bool stop, reader_done;
	int reader_rc;
	struct hv_err rerr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* add the non-zero granules of [pos, pos+len), held at data, to s's runs */
static void
conv_scan(struct conv *c, struct conv_slot *s, uint64_t pos, uint64_t len,
	  const char *data)
{
	uint64_t end = pos + len;

	while (pos < end) {
		uint64_t n = c->gran - (s->off + pos) % c->gran;
		struct conv_run *last = s->nruns ? &s->runs[s->nruns - 1] : NULL;

		if (n > end - pos)
			n = end - pos;
		if (!disk_is_zero(data, n)) {
			if (last != NULL && last->off + last->len == pos &&
			    last->data + last->len == data)
				last->len += n;
			else
				s->runs[s->nruns++] = (struct conv_run){ pos, n, data };
		}
		pos += n;
		data += n;
	}
}

/*
 * How much of [host, host+n) of the mapped source file lies in one
 * extent of the file, and whether that extent is a hole. A hole reads
 * as zeros, so it is neither scanned nor written; touching it through
 * the mapping would also fill the page cache with zero pages. VHD and
 * VHDX blocks are often mostly such holes.
 */
static uint64_t
conv_extent(struct conv *c, uint64_t host, uint64_t n, bool *hole)
{
	if (host < c->ext_lo || host >= c->ext_hi) {
		off_t a = lseek(c->src->fd, (off_t)host, SEEK_DATA), b;

		c->ext_lo = host;
		c->ext_hi = c->map_len;
		c->ext_hole = false;
		if (a < 0 && errno == ENXIO) {
			c->ext_hole = true;	/* no data from here on */
		} else if (a > (off_t)host) {
			c->ext_hole = true;
			c->ext_hi = (uint64_t)a;
		} else if (a == (off_t)host) {
			b = lseek(c->src->fd, (off_t)host, SEEK_HOLE);
			if (b > (off_t)host)
				c->ext_hi = (uint64_t)b;
		}		/* no SEEK_DATA here: all of it is data */
		if (c->ext_hi > c->map_len || c->ext_hi <= host)
			c->ext_hi = c->map_len;
	}
	*hole = c->ext_hole;
	return c->ext_hi - host < n ? c->ext_hi - host : n;
}

/*
 * Data of [off, off+len) straight from the mapped source where its driver
 * says it lies plainly in the file; what it cannot say is read.
 */
static int
conv_data(struct conv *c, struct conv_slot *s, uint64_t pos, uint64_t len)
{
	const struct disk_driver *drv = c->src->drv;

	while (len > 0) {
		uint64_t host, n;

		if (c->map != NULL &&
		    drv->map(c->src, s->off + pos, len, &host, &n) == 0 &&
		    n > 0 && n <= len && host < c->map_len && n <= c->map_len - host) {
			bool hole;

			n = conv_extent(c, host, n, &hole);
			if (!hole)
				conv_scan(c, s, pos, n, c->map + host);
		} else {
			n = len;
			if (disk_read(c->src, s->off + pos, s->buf + pos, n, &c->rerr) < 0)
				return -1;
			conv_scan(c, s, pos, n, s->buf + pos);
		}
		pos += n;
		len -= n;
	}
	return 0;
}

/* read the data ranges of [off, off+len) and find what to write */
static int
conv_fill(struct conv *c, struct conv_slot *s, uint64_t off, uint64_t len)
{
	uint64_t pos = 0;

	s->off = off;
	s->len = len;
	s->nruns = 0;
	while (pos < len) {
		uint64_t pnum;
		int st = disk_chain_status(c->src, off + pos, len - pos, &pnum,
					   &c->rerr);

		if (st < 0)
			return -1;
		if (st == DISK_ST_DATA && conv_data(c, s, pos, pnum) < 0)
			return -1;
		pos += pnum;
	}
	return 0;
}

/*
 * Map in the page tables behind the mapped data of a filled slot, here
 * on the reader. The writer's write() copies under a no-fault rule: a
 * page not mapped yet makes it stop short, zero the rest of the target
 * folio, fault the page in and copy again.
 */
static void
conv_populate_slot(struct conv *c, const struct conv_slot *s)
{
	const uintptr_t pg = 4096;

	for (size_t i = 0; i < s->nruns && c->map != NULL; i++) {
		uintptr_t a = (uintptr_t)s->runs[i].data, b = a + s->runs[i].len;

		if (a < (uintptr_t)c->map || b > (uintptr_t)c->map + c->map_len)
			continue;
		a &= ~(pg - 1);
		b = (b + pg - 1) & ~(pg - 1);
		madvise((void *)a, b - a, MADV_POPULATE_READ);
	}
}

/*
 * Drop the page tables behind the mapped data a written slot used. The
 * pages stay in the page cache; this only moves the cost of tearing the
 * mapping down from the end of the copy to this (otherwise idle) thread.
 */
static void
conv_unmap_slot(struct conv *c, struct conv_slot *s)
{
	const uintptr_t pg = 4096;

	if (c->map == NULL)
		return;
	for (size_t i = 0; i < s->nruns; i++) {
		uintptr_t a = (uintptr_t)s->runs[i].data, b = a + s->runs[i].len;

		if (a < (uintptr_t)c->map || b > (uintptr_t)c->map + c->map_len)
			continue;
		/* whole pages only: one shared with the next run may be
		   under the writer right now */
		a = (a + pg - 1) & ~(pg - 1);
		b &= ~(pg - 1);
		if (a < b)
			madvise((void *)a, b - a, MADV_DONTNEED);
	}
	s->nruns = 0;
}

static void *
conv_reader(void *arg)
{
	struct conv *c = arg;
	uint64_t off = 0;
	int rc = 0;

	while (off < c->size && rc == 0) {
		uint64_t end = (off / c->chunk + 1) * c->chunk;
		struct conv_slot *s;

		if (end > c->size)
			end = c->size;
		pthread_mutex_lock(&c->mu);
		while (c->produced - c->consumed == CONV_SLOTS && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		s = &c->slot[c->produced % CONV_SLOTS];
		pthread_mutex_unlock(&c->mu);

		conv_unmap_slot(c, s);
		rc = conv_fill(c, s, off, end - off);
		if (rc == 0)
			conv_populate_slot(c, s);

		pthread_mutex_lock(&c->mu);
		if (rc == 0)
			c->produced++;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		off = end;
	}
	pthread_mutex_lock(&c->mu);
	c->reader_rc = rc;
	c->reader_done = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int
conv_write(struct conv *c, const struct conv_slot *s, struct hv_err *err)
{
	for (size_t i = 0; i < s->nruns; i++) {
		const struct conv_run *r = &s->runs[i];

		if (disk_write(c->dst, s->off + r->off, r->data, r->len, err) < 0)
			return -1;
	}
	return 0;
}

/* the calling thread: write slots as the reader fills them */
static int
conv_writer(struct conv *c, const struct disk_convert_opts *o,
	    struct hv_err *err)
{
	for (;;) {
		struct conv_slot *s;

		pthread_mutex_lock(&c->mu);
		while (c->produced == c->consumed && !c->reader_done)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->produced == c->consumed) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		s = &c->slot[c->consumed % CONV_SLOTS];
		pthread_mutex_unlock(&c->mu);

		if (conv_write(c, s, err) < 0) {
			pthread_mutex_lock(&c->mu);
			c->stop = true;
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->mu);
			return -1;
		}
		if (o->progress != NULL)
			o->progress(o->progress_ctx, s->off + s->len, c->size);
		pthread_mutex_lock(&c->mu);
		c->consumed++;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	if (c->reader_rc < 0) {
		*err = c->rerr;
		return -1;
	}
	return 0;
}

static void
conv_sizes(struct conv *c)
{
	struct disk_info info;
	uint32_t bs = 0;

	if (disk_get_info(c->dst, &info, NULL) == 0)
		bs = info.block_size;
	c->chunk = CONV_CHUNK;
	c->gran = bs == 0 ? CONV_GRAN_RAW : CONV_GRAN;
	/* a smaller power-of-two block (qcow2 cluster) is finer still */
	if (bs >= DISK_SECTOR && bs < c->gran && (bs & (bs - 1)) == 0)
		c->gran = bs;
}

/* map a single-layer source whose driver can say where its data lies */
static void
conv_map_source(struct conv *c)
{
	struct stat st;
	void *p;

	if (c->src->parent != NULL || c->src->drv->map == NULL ||
	    fstat(c->src->fd, &st) != 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > SIZE_MAX)
		return;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, c->src->fd, 0);
	if (p == MAP_FAILED)
		return;
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	c->map = p;
	c->map_len = (size_t)st.st_size;
}

static int
conv_run(struct conv *c, const struct disk_convert_opts *o,
	 struct hv_err *err)
{
	pthread_t reader;
	int rc = -1, i;

	conv_sizes(c);
	for (i = 0; i < CONV_SLOTS; i++) {
		c->slot[i].buf = aligned_alloc(4096, c->chunk);
		c->slot[i].runs = calloc(c->chunk / c->gran + 1,
					 sizeof *c->slot[i].runs);
		if (c->slot[i].buf == NULL || c->slot[i].runs == NULL) {
			hv_fail(err, HV_EIO, "convert: out of memory");
			goto out;
		}
	}
	conv_map_source(c);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&reader, NULL, conv_reader, c) != 0) {
		hv_fail(err, HV_EIO, "convert: cannot start a thread");
		goto out_sync;
	}
	rc = conv_writer(c, o, err);
	if (rc == 0)
		rc = disk_flush(c->dst, err);
	pthread_join(reader, NULL);
out_sync:
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
out:
	for (i = 0; i < CONV_SLOTS; i++) {
		free(c->slot[i].buf);
		free(c->slot[i].runs);
	}
	if (c->map != NULL)
		munmap((void *)c->map, c->map_len);
	return rc;
}

static int
conv_create(const char *dst, struct disk *src, const struct disk_convert_opts *o,
	    struct hv_err *err)
{
	struct disk_create_opts co = {
		.fmt = o->fmt,
		.size = disk_size(src),
		.fixed = o->fixed > 0,
		.block_size = o->block_size,
	};

	if (o->fixed < 0) {
		struct disk_info info;

		if (disk_get_info(src, &info, err) < 0)
			return -1;
		co.fixed = strcmp(info.subformat, "fixed") == 0;
	}
	return disk_create(dst, &co, err);
}

int
disk_convert(const char *src, const char *dst,
	     const struct disk_convert_opts *o, struct hv_err *err)
{
	struct conv c = { 0 };
	struct stat st;
	int rc = -1;

	if (lstat(dst, &st) == 0)
		return hv_fail(err, HV_EEXIST,
			       "%s: file exists; not overwriting it", dst);
	if (disk_open(&c.src, src, DISK_RDONLY, err) < 0)
		return -1;
	c.size = disk_size(c.src);
	if (conv_create(dst, c.src, o, err) < 0)
		goto out_src;
	if (disk_open(&c.dst, dst, DISK_NOBACKING, err) < 0)
		goto out_unlink;
	if (disk_size(c.dst) < c.size) {
		hv_fail(err, HV_EINTERNAL,
			"%s: created smaller (%llu bytes) than %s (%llu bytes)",
			dst, (unsigned long long)disk_size(c.dst), src,
			(unsigned long long)c.size);
		goto out_dst;
	}
	/*
	 * Like qemu-img and cp, convert leaves writeback to the kernel: no
	 * flushes on this thread until the destination is closed, not even
	 * the drivers' ordering ones (see disk-io.c).
	 */
	dio_set_nosync(true);
	rc = conv_run(&c, o, err);
out_dst:
	disk_close(c.dst);
	dio_set_nosync(false);
out_unlink:
	if (rc < 0)
		unlink(dst);	/* we made it: do not leave half an image */
out_src:
	disk_close(c.src);
	return rc;
}
