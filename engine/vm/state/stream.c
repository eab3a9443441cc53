/*
 * stream.c - the buffered (1 MiB) stream a VM's state goes through, to a
 * file (snapshot.c, hv vm save) or a socket (precopy.c): writes gather
 * in the buffer and go out whole; reads refill it. An error sticks in
 * s->error, so a caller checks once at the end.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/crc32c.h"
#include "engine/vm/state/snapshot.h"
#include "engine/vm/vmm-int.h"

void
out_flush(struct stream *s)
{
	size_t off = 0;

	while (!s->error && off < s->n) {
		ssize_t r = write(s->fd, s->buf + off, s->n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			s->error = r < 0 ? errno : EIO;
		else
			off += r, s->bytes += r;
	}
	s->n = 0;
}

void
out_put(struct stream *s, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (s->sum)
		s->crc = crc32c(s->crc, p, len);
	while (len && !s->error) {
		size_t k = (1u << 20) - s->n;

		if (k > len)
			k = len;
		memcpy(s->buf + s->n, b, k);
		s->n += k;
		b += k;
		len -= k;
		if (s->n == (1u << 20))
			out_flush(s);
	}
}

void
out_section(struct stream *s, uint32_t tag, const struct snap_w *w)
{
	uint8_t h[12];

	if (w->oom) {
		s->error = ENOMEM;
		return;
	}
	put_le32(h, tag);
	put_le64(h + 4, w->len);
	out_put(s, h, sizeof h);
	out_put(s, w->p, w->len);
}

int
in_get(struct stream *s, void *p, size_t len)
{
	uint8_t *b = p;

	while (len && !s->error) {
		if (s->pos == s->n) {
			ssize_t r = read(s->fd, s->buf, 1u << 20);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				s->error = r < 0 ? errno : -1;
				break;
			}
			s->n = r;
			s->pos = 0;
			s->bytes += r;
		}
		size_t k = s->n - s->pos < len ? s->n - s->pos : len;

		memcpy(b, s->buf + s->pos, k);
		if (s->sum)
			s->crc = crc32c(s->crc, s->buf + s->pos, k);
		s->pos += k;
		b += k;
		len -= k;
	}
	return s->error ? -1 : 0;
}
