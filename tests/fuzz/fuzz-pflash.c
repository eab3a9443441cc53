/*
 * fuzz-pflash.c - a hostile guest's writes and reads to the UEFI variable
 * store (engine/vm/dev/pflash-cmd.c): each 5 bytes are {write or read,
 * offset (3 bytes, may run past the store), value}. Nothing may touch
 * memory outside the store, and a read in read-array mode must give the
 * store's byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vm/dev/pflash.h"

#define LEN	(8 * PFLASH_BLOCK)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	struct pflash_cmd c = { .status = PFLASH_STATUS_READY };

	if (mem == NULL && (mem = malloc(LEN)) == NULL)
		abort();
	memset(mem, 0x5A, LEN);
	pflash_read_array(&c);
	for (size_t i = 0; i + 5 <= size; i += 5) {
		uint64_t off = data[i + 1] | data[i + 2] << 8 | (uint64_t)data[i + 3] << 16;

		if (data[i] & 1) {
			pflash_cmd_write(&c, mem, LEN, off, data[i + 4]);
		} else {
			uint8_t v = pflash_cmd_read(&c, mem, LEN, off);

			if (c.romd && off < LEN && v != mem[off])
				abort();
		}
	}
	return 0;
}
