/*
 * snap-io.c - the payload helpers of the VM state stream (see snap-io.h):
 * a growing buffer to write a section into, a bounds-checked cursor to
 * read one back.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/vm/state/snap-io.h"
#include "engine/vm/vmm-int.h"

void
snap_put(struct snap_w *w, const void *data, size_t len)
{
	if (w->oom || len == 0)
		return;
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *p;

		while (cap < w->len + len)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, len);
	w->len += len;
}

void snap_u8(struct snap_w *w, uint8_t v) { snap_put(w, &v, 1); }
void snap_u16(struct snap_w *w, uint16_t v) { uint8_t b[2]; put_le16(b, v); snap_put(w, b, 2); }
void snap_u32(struct snap_w *w, uint32_t v) { uint8_t b[4]; put_le32(b, v); snap_put(w, b, 4); }
void snap_u64(struct snap_w *w, uint64_t v) { uint8_t b[8]; put_le64(b, v); snap_put(w, b, 8); }

int
snap_get(struct snap_r *r, void *data, size_t len)
{
	if (r->bad || len > r->len - r->off) {
		r->bad = true;
		memset(data, 0, len);
		return -1;
	}
	memcpy(data, r->p + r->off, len);
	r->off += len;
	return 0;
}

uint8_t snap_g8(struct snap_r *r) { uint8_t b[1]; snap_get(r, b, 1); return b[0]; }
uint16_t snap_g16(struct snap_r *r) { uint8_t b[2]; snap_get(r, b, 2); return get_le16(b); }
uint32_t snap_g32(struct snap_r *r) { uint8_t b[4]; snap_get(r, b, 4); return get_le32(b); }
uint64_t snap_g64(struct snap_r *r) { uint8_t b[8]; snap_get(r, b, 8); return get_le64(b); }
