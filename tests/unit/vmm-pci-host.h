/*
 * vmm-pci-host.h - the host side playing a guest's PCI driver for the
 * virtio device tests: config space through ports 0xCF8/0xCFC, BAR0 on
 * the MMIO bus, the virtio vendor capabilities found as a driver finds
 * them, descriptors written into guest RAM. One test file, one device:
 * the globals are the test's.
 */
#ifndef HV_TEST_VMM_PCI_HOST_H
#define HV_TEST_VMM_PCI_HOST_H

#include "engine/vm/vmm-int.h"

static struct vmm *vm;
static uint32_t bar, common, notify, devcfg, mult;

static uint8_t *
ram(uint64_t gpa)
{
	return vm->mem.host + gpa;
}

static uint32_t
cfg_read(int slot, unsigned off)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xFC), v;

	bus_access(&vm->pio, 0xCF8, &a, 4, true);
	bus_access(&vm->pio, 0xCFC, &v, 4, false);
	return v >> (8 * (off & 3));
}

static uint64_t
mmio_rd(uint64_t off, int len)
{
	uint64_t v = 0;

	bus_access(&vm->mmio, bar + off, &v, len, false);
	return v;
}

static void
mmio_wr(uint64_t off, uint64_t v, int len)
{
	bus_access(&vm->mmio, bar + off, &v, len, true);
}

/* walk the vendor capabilities like a driver: common, notify (and its
   multiplier), device config */
static void
find_caps(int slot)
{
	unsigned at = cfg_read(slot, 0x34) & 0xFF;

	while (at) {
		uint8_t id = cfg_read(slot, at), type = cfg_read(slot, at + 3);
		uint32_t off = cfg_read(slot, at + 8);

		if (id == 0x09 && type == 1)
			common = off;
		if (id == 0x09 && type == 2) {
			notify = off;
			mult = cfg_read(slot, at + 16);
		}
		if (id == 0x09 && type == 4)
			devcfg = off;
		at = cfg_read(slot, at + 1) & 0xFF;
	}
}

static uint8_t
status(void)
{
	return mmio_rd(common + 0x14, 1);
}

static void
desc(uint64_t table, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram(table + 16 * i);

	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
}

#endif
