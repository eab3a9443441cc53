/*
 * pci.c - bus 0 through configuration mechanism #1 (0xCF8/0xCFC), from
 * ring 3 with IOPL=3.  BARs a firmware (or the VMM) left at 0 are assigned
 * here from 0xE0000000 up; BARs above 4 GiB get page-table entries.
 */
#include "tests/guest/probe.h"

#define PCI_ADDR	0xCF8
#define PCI_DATA	0xCFC
#define PCI_COMMAND	0x04
#define PCI_CMD_IO	0x1
#define PCI_CMD_MEM	0x2
#define PCI_CMD_MASTER	0x4
#define PCI_BAR0	0x10

#define ASSIGN_BASE	0xE0000000ull
#define ASSIGN_END	0xFEC00000ull	/* IOAPIC, LAPIC and flash above */

static uint64_t assign_next = ASSIGN_BASE;

static void
pci_select(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	outl(PCI_ADDR, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 |
	     (uint32_t)fn << 8 | (off & 0xFC));
}

static uint32_t
cfg_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	pci_select(bus, dev, fn, off);
	return inl(PCI_DATA);
}

uint32_t
pci_read32(const struct pci_dev *d, uint8_t off)
{
	return cfg_read32(d->bus, d->dev, d->fn, off);
}

uint16_t
pci_read16(const struct pci_dev *d, uint8_t off)
{
	pci_select(d->bus, d->dev, d->fn, off);
	return inw(PCI_DATA + (off & 2));
}

uint8_t
pci_read8(const struct pci_dev *d, uint8_t off)
{
	pci_select(d->bus, d->dev, d->fn, off);
	return inb(PCI_DATA + (off & 3));
}

void
pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v)
{
	pci_select(d->bus, d->dev, d->fn, off);
	outl(PCI_DATA, v);
}

void
pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v)
{
	pci_select(d->bus, d->dev, d->fn, off);
	outw(PCI_DATA + (off & 2), v);
}

static void
scan_fn(struct pci_dev *devs, int max, int *n, uint8_t dev, uint8_t fn)
{
	uint32_t id = cfg_read32(0, dev, fn, 0);
	struct pci_dev *d;

	if ((id & 0xFFFF) == 0xFFFF || (id & 0xFFFF) == 0 || *n >= max)
		return;
	d = &devs[(*n)++];
	memset(d, 0, sizeof(*d));
	d->dev = dev;
	d->fn = fn;
	d->vendor = id & 0xFFFF;
	d->device = id >> 16;
	d->subsys = cfg_read32(0, dev, fn, 0x2C) >> 16;
}

/* every function on bus 0, in slot order; returns how many */
int
pci_scan(struct pci_dev *devs, int max)
{
	int n = 0;
	uint8_t dev, fn;

	for (dev = 0; dev < 32; dev++) {
		uint32_t id = cfg_read32(0, dev, 0, 0);
		uint8_t hdr;

		if ((id & 0xFFFF) == 0xFFFF || (id & 0xFFFF) == 0)
			continue;
		scan_fn(devs, max, &n, dev, 0);
		hdr = cfg_read32(0, dev, 0, 0x0C) >> 16;
		for (fn = 1; (hdr & 0x80) && fn < 8; fn++)
			scan_fn(devs, max, &n, dev, fn);
	}
	return n;
}

/* probe one memory BAR's size by writing all-ones (decoding is off) */
static uint64_t
bar_size(struct pci_dev *d, uint8_t off, bool is64)
{
	uint32_t lo = pci_read32(d, off), hi = 0, slo, shi = 0xFFFFFFFF;
	uint64_t mask;

	pci_write32(d, off, 0xFFFFFFFF);
	slo = pci_read32(d, off) & ~0xFu;
	pci_write32(d, off, lo);
	if (is64) {
		hi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, 0xFFFFFFFF);
		shi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, hi);
	}
	mask = (uint64_t)shi << 32 | slo;
	return slo ? ~mask + 1 : 0;
}

static int
bar_assign(struct pci_dev *d, int i, uint8_t off, bool is64)
{
	uint64_t len = d->bar_len[i];
	uint64_t at = (assign_next + len - 1) & ~(len - 1);

	if (at + len > ASSIGN_END || at + len < at) {
		pr("pci: no room for BAR%d of %02x.%x (%lu bytes)\n", i,
		   d->dev, d->fn, (unsigned long)len);
		return -1;
	}
	pci_write32(d, off, (uint32_t)at);
	if (is64)
		pci_write32(d, off + 4, 0);
	assign_next = at + len;
	d->bar[i] = at;
	return 0;
}

static int
bar_setup(struct pci_dev *d, int i, bool *is64)
{
	uint8_t off = PCI_BAR0 + 4 * i;
	uint32_t lo = pci_read32(d, off);

	*is64 = (lo & 0x7) == 0x4;
	if (lo & 1)		/* I/O BAR: the modern transport needs none */
		return 0;
	d->bar[i] = lo & ~0xFull;
	if (*is64)
		d->bar[i] |= (uint64_t)pci_read32(d, off + 4) << 32;
	d->bar_len[i] = bar_size(d, off, *is64);
	if (!d->bar_len[i]) {
		d->bar[i] = 0;
		return 0;
	}
	if (!d->bar[i] && bar_assign(d, i, off, *is64))
		return -1;
	if (d->bar[i] + d->bar_len[i] > 0x100000000ull &&
	    pt_map_high(d->bar[i], d->bar_len[i]))
		return -1;
	return 0;
}

/* sizes, assigns and maps the memory BARs, then turns on decode + DMA */
int
pci_enable(struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	int i, rc = 0;

	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_CMD_MEM | PCI_CMD_IO));
	for (i = 0; i < 6 && !rc; i++) {
		bool is64 = false;

		rc = bar_setup(d, i, &is64);
		if (is64)
			i++;
	}
	pci_write16(d, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
	return rc;
}
