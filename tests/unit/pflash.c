/* pflash.c - the UEFI variable store's command machine, driven the way
 * OVMF's QemuFlash.c drives it: the probe that tells flash from ROM and
 * RAM, byte program, block erase, read status, read array, and what a
 * hostile or broken sequence leaves (read array, nothing written). */
#include <string.h>

#include "engine/vm/dev/pflash.h"
#include "tests/tap.h"

#define LEN	(4 * PFLASH_BLOCK)

static uint8_t mem[LEN];
static struct pflash_cmd c;

static uint8_t
rd(uint64_t off)
{
	return pflash_cmd_read(&c, mem, LEN, off);
}

static void
wr(uint64_t off, uint8_t v)
{
	pflash_cmd_write(&c, mem, LEN, off, v);
}

int
main(void)
{
	uint8_t orig;
	int bad = 0;

	memset(mem, 0x5A, sizeof mem);
	c = (struct pflash_cmd){ .status = 0x80, .romd = true };

	/* QemuFlashDetected: original, clear status, read it, read status */
	orig = rd(16);
	wr(16, 0x50);
	ok(c.romd && rd(16) == orig, "clear status: back in read array, the byte unchanged");
	wr(16, 0x70);
	ok(!c.romd && rd(16) == 0x00, "read status after a clear: 0x00, so OVMF says FLASH");
	wr(16, 0xFF);
	ok(c.romd && rd(16) == 0x5A, "read array: the array again");

	/* QemuFlashWrite: 0x10, byte; ...; then 0xFF */
	for (int i = 0; i < 8; i++) {
		wr(100 + i, 0x10);
		if (c.romd)
			bad++;
		wr(100 + i, (uint8_t)(0xA0 + i));
		if (rd(100 + i) != 0x80)
			bad++;
	}
	ok(bad == 0, "eight bytes programmed: reads give status ready after each");
	wr(107, 0xFF);
	ok(c.romd && memcmp(mem + 100, "\xA0\xA1\xA2\xA3\xA4\xA5\xA6\xA7", 8) == 0,
	   "read array: the bytes are in the store");

	/* QemuFlashEraseBlock: 0x20, 0xD0 at the block's first byte */
	wr(PFLASH_BLOCK + 5, 0x20);
	wr(PFLASH_BLOCK + 5, 0xD0);
	ok(rd(PFLASH_BLOCK) == 0x80, "erase confirmed: reads give status ready");
	wr(0, 0xFF);
	ok(mem[PFLASH_BLOCK] == 0xFF && mem[2 * PFLASH_BLOCK - 1] == 0xFF &&
	   mem[PFLASH_BLOCK - 1] == 0x5A && mem[2 * PFLASH_BLOCK] == 0x5A,
	   "exactly the block holding the address is erased");

	/* broken and hostile sequences */
	wr(200, 0x20);
	wr(200, 0x33);
	ok(c.romd && c.cmd == 0, "erase without its confirm: back to read array "
	   "(the block went at 0x20, as QEMU's flash does)");
	orig = mem[3000];
	wr(3000, 0x42);
	ok(c.romd && mem[3000] == orig, "an unknown command writes nothing");
	wr(LEN + 10, 0x10);
	wr(LEN + 10, 0x00);
	ok(c.romd, "a write past the store is ignored");
	wr(LEN - 1, 0x20);
	wr(LEN - 1, 0xD0);
	ok(mem[LEN - 1] == 0xFF && mem[LEN - PFLASH_BLOCK - 1] == 0x5A, "the last block erases, nothing past it");
	wr(0, 0x90);
	ok(rd(0) == 0x89, "read ID: Intel");
	wr(0, 0xFF);
	return done_testing();
}
