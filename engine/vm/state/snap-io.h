/*
 * snap-io.h - the stream primitives a device model saves and restores
 * its registers with: a section payload is written with the snap_w
 * helpers and read back with snap_r, which never reads past the payload:
 * a short or hostile section sets r->bad and every later get returns
 * zeros. All little-endian.
 *
 * This is all of the state code a device sees. Each device declares its
 * own save/load pair in its header; snapshot.c (the orchestrator, which
 * knows every device) calls them, so no device includes snapshot.h.
 */
#ifndef HV_VM_SNAP_IO_H
#define HV_VM_SNAP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_w {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

struct snap_r {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

void snap_put(struct snap_w *w, const void *data, size_t len);
void snap_u8(struct snap_w *w, uint8_t v);
void snap_u16(struct snap_w *w, uint16_t v);
void snap_u32(struct snap_w *w, uint32_t v);
void snap_u64(struct snap_w *w, uint64_t v);

/* 0 and r->bad when fewer than len bytes are left */
int snap_get(struct snap_r *r, void *data, size_t len);
uint8_t snap_g8(struct snap_r *r);
uint16_t snap_g16(struct snap_r *r);
uint32_t snap_g32(struct snap_r *r);
uint64_t snap_g64(struct snap_r *r);

#endif
