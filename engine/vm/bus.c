/*
 * bus.c - I/O port and MMIO dispatch: which device serves an address.
 * A handful of ranges, so a linear search under a lock is plenty.
 */
#include <string.h>

#include "engine/vm/vmm-int.h"

int
bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *opaque)
{
	int rc = -1;

	pthread_mutex_lock(&b->lock);
	if (b->n < BUS_MAX) {
		b->r[b->n++] = (struct bus_range){ base, len, fn, opaque };
		rc = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* the range of opaque that started at old now starts at base */
void
bus_move(struct bus *b, void *opaque, uint64_t old, uint64_t base)
{
	int i;

	pthread_mutex_lock(&b->lock);
	for (i = 0; i < b->n; i++)
		if (b->r[i].opaque == opaque && b->r[i].base == old)
			b->r[i].base = base;
	pthread_mutex_unlock(&b->lock);
}

bool
bus_access(struct bus *b, uint64_t addr, void *data, int len, bool write)
{
	struct bus_range r = { 0 };
	int i;

	pthread_mutex_lock(&b->lock);
	for (i = 0; i < b->n; i++) {
		if (addr - b->r[i].base < b->r[i].len) {
			r = b->r[i];
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	if (!r.fn) {
		if (!write)
			memset(data, 0xFF, len);
		return false;
	}
	r.fn(r.opaque, addr - r.base, data, len, write);
	return true;
}
