/*
 * vhdx-log.c - the VHDX metadata log: replay on open, and log-protected
 * updates of the BAT, sector bitmaps and metadata.
 *
 * The log is a circular buffer of entries; each entry is a header sector
 * (with descriptors), more descriptor sectors, then one data sector per
 * data descriptor, all under one CRC-32C. The active sequence is the run
 * of consecutive sequence numbers with the highest head whose tail lies
 * inside the run; replay writes it from tail to head.
 *
 * We write every entry at the start of the log as a sequence of one
 * (tail = itself): the previous entry is always applied and flushed
 * first, so nothing older ever needs replaying.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/crc32c.h"
#include "engine/disk/vhdx.h"

#define SEC		VHDX_LOG_SECTOR
#define DESC_PER_SEC	(SEC / 32)
#define MAX_DESC_ZERO	(1024 * MiB)	/* one zero descriptor, at most */

struct lentry {
	uint64_t seq;
	uint64_t flushed, last;
	uint32_t nsec;		/* sectors in the entry */
	uint32_t tail;		/* sector of the sequence's tail */
	bool valid;
};

struct logbuf {
	const uint8_t *p;
	uint32_t nsec;
};

static const uint8_t *
lsec(const struct logbuf *l, uint64_t i)
{
	return l->p + (i % l->nsec) * SEC;
}

static uint32_t
desc_sectors(uint32_t ndesc)
{
	return (ndesc + 2 + DESC_PER_SEC - 1) / DESC_PER_SEC;
}

static const uint8_t *
desc_at(const struct logbuf *l, uint32_t start, uint32_t k)
{
	uint32_t slot = k + 2;	/* the header takes two slots */

	return lsec(l, (uint64_t)start + slot / DESC_PER_SEC) +
	       32 * (slot % DESC_PER_SEC);
}

static bool
entry_descs_ok(const struct logbuf *l, uint32_t i, uint32_t ndesc,
	       uint32_t nsec, uint64_t seq)
{
	uint32_t dsec = desc_sectors(ndesc), data = 0;

	for (uint32_t k = 0; k < ndesc; k++) {
		const uint8_t *e = desc_at(l, i, k);
		const uint8_t *ds;

		if (memcmp(e, "zero", 4) == 0) {
			if (get_le64(e + 8) % SEC || get_le64(e + 16) % SEC ||
			    get_le64(e + 8) > MAX_DESC_ZERO ||
			    get_le64(e + 24) != seq)
				return false;
			continue;
		}
		if (memcmp(e, "desc", 4) != 0 || get_le64(e + 16) % SEC ||
		    get_le64(e + 24) != seq || dsec + data >= nsec)
			return false;
		ds = lsec(l, (uint64_t)i + dsec + data);
		if (memcmp(ds, "data", 4) != 0 ||
		    ((uint64_t)get_le32(ds + 4) << 32 | get_le32(ds + 4092)) != seq)
			return false;
		data++;
	}
	return dsec + data <= nsec;
}

static bool
entry_parse(const struct logbuf *l, uint32_t i, const uint8_t *guid,
	    struct lentry *le)
{
	const uint8_t *h = lsec(l, i);
	uint8_t first[SEC];
	uint32_t len, tail, ndesc, crc;

	if (memcmp(h, "loge", 4) != 0)
		return false;
	len = get_le32(h + 8);
	tail = get_le32(h + 12);
	ndesc = get_le32(h + 24);
	if (len % SEC || len == 0 || len / SEC > l->nsec || tail % SEC ||
	    tail / SEC >= l->nsec || memcmp(h + 32, guid, 16) != 0 ||
	    get_le64(h + 16) == 0 || ndesc > len / 32 ||
	    desc_sectors(ndesc) > len / SEC)
		return false;
	memcpy(first, h, SEC);
	memset(first + 4, 0, 4);
	crc = crc32c(0, first, SEC);
	for (uint32_t k = 1; k < len / SEC; k++)
		crc = crc32c(crc, lsec(l, (uint64_t)i + k), SEC);
	if (crc != get_le32(h + 4))
		return false;
	le->seq = get_le64(h + 16);
	le->nsec = len / SEC;
	le->tail = tail / SEC;
	le->flushed = get_le64(h + 48);
	le->last = get_le64(h + 56);
	le->valid = entry_descs_ok(l, i, ndesc, le->nsec, le->seq);
	return le->valid;
}

/* Walk the run from start; true with *head when its tail lies in it. */
static bool
walk_run(const struct lentry *e, uint32_t nsec, uint32_t start,
	 uint32_t *head)
{
	uint32_t cur = start, steps = 0;
	bool tail_in = false;

	for (;;) {
		uint32_t next = (uint32_t)(((uint64_t)cur + e[cur].nsec) % nsec);

		if (!e[next].valid || e[next].seq != e[cur].seq + 1 ||
		    ++steps >= nsec)
			break;
		cur = next;
	}
	*head = cur;
	for (uint32_t p = start, k = 0; k <= steps; k++) {
		if (p == e[cur].tail)
			tail_in = true;
		if (p == cur)
			break;
		p = (uint32_t)(((uint64_t)p + e[p].nsec) % nsec);
	}
	return tail_in;
}

static int
add_patch(struct disk *d, struct vhdx *s, uint64_t off, uint64_t len,
	  const uint8_t *data, struct hv_err *err)
{
	struct vhdx_patch *np;

	if (!(d->flags & DISK_RDONLY)) {
		uint8_t *z;
		int rc = 0;

		if (data)
			return vhdx_pwrite(d, (void *)data, len, off, err);
		z = calloc(1, MiB);
		if (z == NULL)
			return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		for (uint64_t done = 0; done < len && rc == 0; done += MiB)
			rc = vhdx_pwrite(d, z, len - done < MiB ? len - done : MiB,
					 off + done, err);
		free(z);
		return rc;
	}
	np = realloc(s->patches, (s->npatches + 1) * sizeof *np);
	if (np == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	s->patches = np;
	np[s->npatches].off = off;
	np[s->npatches].len = len;
	np[s->npatches].data = NULL;
	if (data) {
		np[s->npatches].data = malloc(len);
		if (np[s->npatches].data == NULL)
			return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		memcpy(np[s->npatches].data, data, len);
	}
	s->npatches++;
	return 0;
}

static int
apply_entry(struct disk *d, struct vhdx *s, const struct logbuf *l,
	    uint32_t i, struct hv_err *err)
{
	const uint8_t *h = lsec(l, i);
	uint32_t ndesc = get_le32(h + 24), dsec = desc_sectors(ndesc), data = 0;
	uint64_t log_end = s->hdr.log_offset + s->hdr.log_length;

	for (uint32_t k = 0; k < ndesc; k++) {
		const uint8_t *e = desc_at(l, i, k);
		bool zero = memcmp(e, "zero", 4) == 0;
		uint64_t off = get_le64(e + 16);
		uint64_t len = zero ? get_le64(e + 8) : SEC;
		uint8_t buf[SEC];

		if (off < VHDX_RT1_OFF || off > 2 * VHDX_MAX_SIZE ||
		    (off < log_end && off + len > s->hdr.log_offset))
			return hv_fail(err, HV_ECORRUPT,
				       "%s: VHDX log entry writes to offset %llu, over the headers or the log",
				       d->path, (unsigned long long)off);
		if (zero) {
			if (len && add_patch(d, s, off, len, NULL, err) < 0)
				return -1;
			continue;
		}
		memcpy(buf, e + 8, 8);
		memcpy(buf + 8, lsec(l, (uint64_t)i + dsec + data) + 8, SEC - 12);
		memcpy(buf + SEC - 4, e + 4, 4);
		data++;
		if (add_patch(d, s, off, SEC, buf, err) < 0)
			return -1;
	}
	return 0;
}

static int
replay_run(struct disk *d, struct vhdx *s, const struct logbuf *l,
	   const struct lentry *e, uint32_t head, struct hv_err *err)
{
	uint32_t p = e[head].tail;

	if (e[head].flushed > s->file_size)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX log needs the file to be %llu bytes but it has %llu: data was lost",
			       d->path, (unsigned long long)e[head].flushed,
			       (unsigned long long)s->file_size);
	for (uint32_t k = 0; k < l->nsec; k++) {
		if (apply_entry(d, s, l, p, err) < 0)
			return -1;
		if (p == head)
			break;
		p = (uint32_t)(((uint64_t)p + e[p].nsec) % l->nsec);
	}
	if (e[head].last > s->file_size && e[head].last <= 2 * VHDX_MAX_SIZE) {
		if (!(d->flags & DISK_RDONLY) &&
		    dio_ftruncate(d->fd, (off_t)e[head].last) < 0)
			return hv_fail(err, HV_EIO, "%s: cannot extend the file",
				       d->path);
		s->file_size = e[head].last;
	}
	return 0;
}

static int
find_and_replay(struct disk *d, struct vhdx *s, const struct logbuf *l,
		struct lentry *e, struct hv_err *err)
{
	uint32_t best = UINT32_MAX, head;

	for (uint32_t i = 0; i < l->nsec; i++)
		entry_parse(l, i, s->hdr.log_guid, &e[i]);
	for (uint32_t i = 0; i < l->nsec; i++) {
		if (!e[i].valid || !walk_run(e, l->nsec, i, &head))
			continue;
		if (best == UINT32_MAX || e[head].seq > e[best].seq)
			best = head;
	}
	if (best == UINT32_MAX)
		return 0;	/* nothing valid: the log is empty */
	return replay_run(d, s, l, e, best, err);
}

int
vhdx_log_replay(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	struct logbuf l;
	struct lentry *e;
	uint8_t *buf;
	int rc = -1;

	l.nsec = s->hdr.log_length / SEC;
	if (l.nsec == 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX log is in use but has no length", d->path);
	buf = malloc(s->hdr.log_length);
	e = calloc(l.nsec, sizeof *e);
	if (buf == NULL || e == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		goto out;
	}
	if (vhdx_pread(d, s, buf, s->hdr.log_length, s->hdr.log_offset, err) < 0)
		goto out;
	l.p = buf;
	if (find_and_replay(d, s, &l, e, err) < 0)
		goto out;
	s->replayed = true;
	if (!(d->flags & DISK_RDONLY)) {
		memset(s->hdr.log_guid, 0, 16);
		if (vhdx_fsync(d, err) < 0 || vhdx_write_header(d, s, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	free(e);
	return rc;
}

/* ---- writing ---- */

static int
write_entry(struct disk *d, struct vhdx *s, struct vhdx_logsec *secs,
	    size_t n, struct hv_err *err)
{
	uint32_t dsec = desc_sectors((uint32_t)n);
	size_t len = (dsec + n) * SEC;
	uint64_t seq = ++s->log_seq;
	uint8_t *b = calloc(1, len);
	struct logbuf l = { b, (uint32_t)(dsec + n) };
	int rc = -1;

	if (b == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	memcpy(b, "loge", 4);
	put_le32(b + 8, (uint32_t)len);
	put_le32(b + 12, 0);
	put_le64(b + 16, seq);
	put_le32(b + 24, (uint32_t)n);
	memcpy(b + 32, s->hdr.log_guid, 16);
	put_le64(b + 48, s->file_size);
	put_le64(b + 56, s->file_size);
	for (size_t k = 0; k < n; k++) {
		uint8_t *e = (uint8_t *)desc_at(&l, 0, (uint32_t)k);
		uint8_t *ds = b + (dsec + k) * SEC;

		memcpy(e, "desc", 4);
		memcpy(e + 4, secs[k].data + SEC - 4, 4);
		memcpy(e + 8, secs[k].data, 8);
		put_le64(e + 16, secs[k].off);
		put_le64(e + 24, seq);
		memcpy(ds, "data", 4);
		put_le32(ds + 4, (uint32_t)(seq >> 32));
		memcpy(ds + 8, secs[k].data + 8, SEC - 12);
		put_le32(ds + SEC - 4, (uint32_t)seq);
	}
	put_le32(b + 4, crc32c(0, b, len));
	if (vhdx_pwrite(d, b, len, s->hdr.log_offset, err) < 0 ||
	    vhdx_fsync(d, err) < 0)
		goto out;
	/* test hook: die between the flushed log entry and its application */
	if (getenv("HV_VHDX_CRASH_AFTER_LOG"))
		raise(SIGKILL);
	for (size_t k = 0; k < n; k++)
		if (vhdx_pwrite(d, secs[k].data, SEC, secs[k].off, err) < 0)
			goto out;
	s->apply_unsynced = true;
	rc = 0;
out:
	free(b);
	return rc;
}

/*
 * Write secs (4 KiB sectors: file offset + new contents) through the log:
 * entry, flush, apply in place. The in-place writes are flushed before
 * the next entry overwrites this one.
 */
int
vhdx_log_write(struct disk *d, struct vhdx *s, struct vhdx_logsec *secs,
	       size_t n, struct hv_err *err)
{
	size_t max = s->hdr.log_length / SEC;

	max = max - desc_sectors((uint32_t)max);
	if (vhdx_begin_write(d, s, err) < 0)
		return -1;
	while (n) {
		size_t k = n < max ? n : max;

		if (s->apply_unsynced && vhdx_fsync(d, err) < 0)
			return -1;
		if (write_entry(d, s, secs, k, err) < 0)
			return -1;
		secs += k;
		n -= k;
	}
	return 0;
}
