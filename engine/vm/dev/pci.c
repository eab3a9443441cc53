/*
 * pci.c - PCI host bridge (00:00.0) and config mechanism #1.
 *
 * Two identities. Direct boot and SeaBIOS see the host bridge Cloud
 * Hypervisor uses (8086:0d57), which asks for nothing. UEFI (OVMF) knows
 * only the PC chipsets QEMU models, and on any other host bridge it stops
 * (or, on 0d57, expects Cloud Hypervisor's PVH memory map): a Gen2 UEFI
 * VM shows an i440FX (8086:1237) with the PIIX functions in slot 1 that
 * OVMF reads, the ISA bridge (00:01.0, which its console finds COM1
 * behind) and the power management function (00:01.3: PMBA, already
 * enabled at the ACPI block, so the firmware leaves it where the FADT
 * says). Their registers are read-only here: nothing they would move
 * moves.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/dev/pci.h"
#include "engine/vm/state/snap-io.h"

#define PCI_CONFIG_ADDR	0xCF8
#define PCI_CONFIG_DATA	0xCFC
#define PCI_RESET_CTL	0xCF9
#define PCI_ROM_REG	0x30
/* where a ROM that is off sits on the MMIO bus: past any guest address */
#define PCI_ROM_OFF	(1ull << 62)

struct pci_bus {
	struct vmm *vm;
	pthread_mutex_t lock;
	uint32_t addr;		/* the latched CONFIG_ADDRESS */
	uint32_t next_mmio;	/* next free BAR address in the window */
	struct pci_dev host;
	struct pci_dev *dev[PCI_MAX_SLOTS];
	struct pci_dev *piix[8];	/* slot 1's functions, UEFI's chipset */
};

void
pci_header(struct pci_dev *d, uint16_t vendor, uint16_t device,
	   uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys)
{
	put_le16(d->cfg + 0x00, vendor);
	put_le16(d->cfg + 0x02, device);
	/* class_code is the 24-bit class code, class << 16 | subclass << 8
	   | prog-if, below the revision ID (0) */
	d->cfg[0x08] = 0;
	d->cfg[0x09] = class_code & 0xFF;
	d->cfg[0x0A] = (class_code >> 8) & 0xFF;
	d->cfg[0x0B] = (class_code >> 16) & 0xFF;
	put_le16(d->cfg + 0x2C, subsys_vendor);
	put_le16(d->cfg + 0x2E, subsys);
}

int
pci_add_cap(struct pci_dev *d, const uint8_t *cap, unsigned len)
{
	unsigned at = d->cap_end ? d->cap_end : PCI_CAP_START;

	if (len < 2 || at + len > sizeof d->cfg)
		return -1;
	memcpy(d->cfg + at, cap, len);
	d->cfg[at + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = at;
	else
		d->cfg[0x34] = at;
	d->cfg[0x06] |= 0x10;		/* status: capability list */
	d->cap_last = at;
	d->cap_end = (at + len + 3) & ~3u;
	return at;
}

static void
bar_write(struct pci_bus *b, struct pci_dev *d, int bar, uint32_t v)
{
	uint32_t old = d->bar_addr[bar], base;

	if (!d->bar_size[bar])
		return;
	base = v & ~(d->bar_size[bar] - 1);
	put_le32(d->cfg + 0x10 + 4 * bar, base);	/* memory, 32-bit */
	if (base == old)
		return;
	d->bar_addr[bar] = base;
	bus_move(&b->vm->mmio, d->opaque, old, base);
	if (d->bar_moved)
		d->bar_moved(d, bar, old, base);
}

void
pci_set_rom(struct pci_dev *d, const uint8_t *rom, uint32_t len)
{
	d->rom.data = rom;
	d->rom.len = len;
	for (d->rom.size = 0x800; d->rom.size < len; d->rom.size <<= 1)
		;
	d->rom.at = PCI_ROM_OFF;
}

/* the ROM's BAR: reads while it is on; past the image, zeros */
static void
rom_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	const struct pci_rom *r = opaque;

	if (write)
		return;
	memset(data, 0, len);
	if (off < r->len)
		memcpy(data, r->data + off, r->len - off < (uint64_t)len ? r->len - off : (size_t)len);
}

/* the guest wrote the ROM's BAR: base address bits and the enable bit */
static void
rom_write(struct pci_bus *b, struct pci_dev *d, uint32_t v)
{
	uint64_t at;

	if (!d->rom.data)
		return;
	v &= ~(d->rom.size - 1) | 1;
	put_le32(d->cfg + PCI_ROM_REG, v);
	at = (v & 1) && (v & ~1u) ? (v & ~1u) : PCI_ROM_OFF;
	if (at == d->rom.at)
		return;
	bus_move(&b->vm->mmio, &d->rom, d->rom.at, at);
	d->rom.at = at;
}

/* a dword-aligned write of len bytes at off, merged into the register */
static void
cfg_write(struct pci_bus *b, struct pci_dev *d, unsigned off, uint32_t v,
	  unsigned len)
{
	unsigned reg = off & ~3u, i;
	uint8_t tmp[4];

	if ((reg >= 0x10 && reg < 0x28) || reg == PCI_ROM_REG) {
		memcpy(tmp, d->cfg + reg, 4);
		for (i = 0; i < len; i++)
			tmp[(off & 3) + i] = v >> (8 * i);
		if (reg == PCI_ROM_REG)
			rom_write(b, d, get_le32(tmp));
		else
			bar_write(b, d, (reg - 0x10) / 4, get_le32(tmp));
		return;
	}
	if (reg == 0x04) {	/* command: I/O, memory, master, INTx off */
		uint16_t cmd = get_le16(d->cfg + 4);

		for (i = 0; i < len && (off & 3) + i < 2; i++)
			((uint8_t *)&cmd)[(off & 3) + i] = v >> (8 * i);
		put_le16(d->cfg + 4, cmd & 0x0407);
		return;
	}
	if (reg == 0x3C) {	/* interrupt line */
		if ((off & 3) == 0)
			d->cfg[0x3C] = v;
		return;
	}
	if (off >= PCI_CAP_START && d->cap_end && off + len <= d->cap_end &&
	    d->cap_write)
		d->cap_write(d, off, v, len);
}

static struct pci_dev *
addressed(struct pci_bus *b, unsigned *reg)
{
	uint32_t a = b->addr;

	if (!(a & 0x80000000u) || ((a >> 16) & 0xFF) != 0)
		return NULL;
	*reg = a & 0xFC;
	if (((a >> 11) & 0x1F) == 1 && b->piix[0])
		return b->piix[(a >> 8) & 7];
	if (((a >> 8) & 7) != 0)
		return NULL;
	return b->dev[(a >> 11) & 0x1F];
}

static void
pci_io(void *opaque, uint64_t port_off, void *data, int len, bool write)
{
	struct pci_bus *b = opaque;
	uint64_t port = PCI_CONFIG_ADDR + port_off;
	struct pci_dev *d;
	unsigned reg, off;
	uint32_t v = 0;

	pthread_mutex_lock(&b->lock);
	if (port == PCI_CONFIG_ADDR && len == 4) {
		if (write)
			memcpy(&b->addr, data, 4);
		else
			memcpy(data, &b->addr, 4);
		goto out;
	}
	if (port < PCI_CONFIG_DATA) {
		if (write && port == PCI_RESET_CTL && len == 1 &&
		    (*(uint8_t *)data & 0x04)) {
			pthread_mutex_unlock(&b->lock);
			vmm_request_stop(b->vm, VMM_EXIT_RESET, 0,
					 "guest reset through port 0xCF9");
			return;
		}
		if (!write)
			memset(data, 0xFF, len);
		goto out;
	}
	d = addressed(b, &reg);
	off = reg + (port - PCI_CONFIG_DATA);
	if (!d || off + len > 256) {
		if (!write)
			memset(data, 0xFF, len);
		goto out;
	}
	if (write && d->read_only)
		goto out;
	if (write) {
		memcpy(&v, data, len);
		cfg_write(b, d, off, v, len);
	} else {
		if (off >= PCI_CAP_START && off < d->cap_end && d->cap_read)
			d->cap_read(d, off, len);
		memcpy(data, d->cfg + off, len);
	}
out:
	pthread_mutex_unlock(&b->lock);
}

int
pci_add(struct vmm *vm, struct pci_dev *d, struct hv_err *err)
{
	struct pci_bus *b = vm->pci;
	int slot, i;

	for (slot = 1; slot < PCI_MAX_SLOTS && b->dev[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		return hv_fail(err, HV_EINVAL, "PCI bus 0 is full");
	for (i = 0; i < 6; i++) {
		uint32_t sz = d->bar_size[i];

		if (!sz)
			continue;
		b->next_mmio = (b->next_mmio + sz - 1) & ~(sz - 1);
		if (b->next_mmio + (uint64_t)sz > PCI_MMIO_END)
			return hv_fail(err, HV_EINVAL, "PCI MMIO window full");
		d->bar_addr[i] = b->next_mmio;
		b->next_mmio += sz;
		put_le32(d->cfg + 0x10 + 4 * i, d->bar_addr[i]);
		if (bus_add(&vm->mmio, d->bar_addr[i], sz, d->bar_fn, d->opaque))
			return hv_fail(err, HV_EINTERNAL, "MMIO bus full");
	}
	if (d->rom.data && bus_add(&vm->mmio, d->rom.at, d->rom.size, rom_io, &d->rom))
		return hv_fail(err, HV_EINTERNAL, "MMIO bus full");
	d->slot = slot;
	d->cfg[0x3D] = 1;	/* INTA# */
	put_le16(d->cfg + 4, 0x0006);	/* memory decode + bus master, as
					   firmware would leave it */
	pthread_mutex_lock(&b->lock);
	b->dev[slot] = d;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* UEFI's PC: i440FX host bridge, PIIX3 ISA bridge, PIIX4 power management */
static int
piix_init(struct pci_bus *b)
{
	struct pci_dev *isa = calloc(1, sizeof *isa), *pm = calloc(1, sizeof *pm);

	if (isa == NULL || pm == NULL) {
		free(isa);
		free(pm);
		return -1;
	}
	pci_header(&b->host, 0x8086, 0x1237, 0x060000, 0x1AF4, 0x1100);
	b->host.cfg[0x08] = 0x02;			/* revision, as QEMU's */
	pci_header(isa, 0x8086, 0x7000, 0x060100, 0x1AF4, 0x1100);
	isa->cfg[0x0E] = 0x80;				/* multi-function */
	put_le16(isa->cfg + 0x04, 0x0007);
	memset(isa->cfg + 0x60, 0x80, 4);		/* PIRQ routes: off */
	isa->slot = 1;
	isa->read_only = true;
	pci_header(pm, 0x8086, 0x7113, 0x068000, 0x1AF4, 0x1100);
	pm->cfg[0x08] = 0x03;
	put_le16(pm->cfg + 0x04, 0x0001);		/* I/O decode */
	put_le32(pm->cfg + 0x40, ACPI_PM_BASE | 1);	/* PMBA, I/O */
	pm->cfg[0x80] = 0x01;				/* PMREGMISC: PMIOSE */
	pm->cfg[0x3D] = 1;
	pm->cfg[0x3C] = 9;				/* the SCI */
	pm->slot = 1;
	pm->read_only = true;
	b->piix[0] = isa;
	b->piix[3] = pm;
	b->dev[1] = isa;	/* slot 1 is taken */
	return 0;
}

int
pci_init(struct vmm *vm, struct hv_err *err)
{
	struct pci_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	b->vm = vm;
	pthread_mutex_init(&b->lock, NULL);
	b->next_mmio = PCI_MMIO_BASE;
	/* subsystem 1af4:1100 ("QEMU virtual machine") is what SeaBIOS checks
	   before it looks for fw_cfg; without it Gen1 firmware goes astray */
	pci_header(&b->host, 0x8086, 0x0D57, 0x060000, 0x1AF4, 0x1100);
	b->dev[0] = &b->host;
	vm->pci = b;
	if (vmm_uefi(&vm->cfg) && piix_init(b) != 0)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (bus_add(&vm->pio, PCI_CONFIG_ADDR, 8, pci_io, b) != 0)
		return hv_fail(err, HV_EINTERNAL, "I/O bus full");
	return 0;
}

void
pci_free(struct vmm *vm)
{
	if (vm->pci) {
		pthread_mutex_destroy(&vm->pci->lock);
		free(vm->pci->piix[0]);
		free(vm->pci->piix[3]);
	}
	free(vm->pci);
	vm->pci = NULL;
}

/* --- state (snapshot.c) ------------------------------------------------ */

void
pci_save(struct pci_bus *b, struct snap_w *w)
{
	int s, i;

	pthread_mutex_lock(&b->lock);
	snap_u32(w, b->addr);
	for (s = 0; s < PCI_MAX_SLOTS; s++) {
		snap_u8(w, b->dev[s] != NULL);
		if (!b->dev[s])
			continue;
		snap_put(w, b->dev[s]->cfg, sizeof b->dev[s]->cfg);
		for (i = 0; i < 6; i++)
			snap_u32(w, b->dev[s]->bar_addr[i]);
	}
	pthread_mutex_unlock(&b->lock);
}

/* the same devices in the same slots; BARs where the guest left them */
int
pci_load(struct pci_bus *b, struct snap_r *r)
{
	uint8_t cfg[256];
	uint32_t bar[6];
	int s, i;

	pthread_mutex_lock(&b->lock);
	b->addr = snap_g32(r);
	for (s = 0; s < PCI_MAX_SLOTS && !r->bad; s++) {
		struct pci_dev *d = b->dev[s];

		if ((snap_g8(r) != 0) != (d != NULL)) {
			r->bad = true;
			break;
		}
		if (!d)
			continue;
		snap_get(r, cfg, sizeof cfg);
		for (i = 0; i < 6; i++) {
			bar[i] = snap_g32(r);
			if (d->bar_size[i] && (bar[i] & (d->bar_size[i] - 1)))
				r->bad = true;
		}
		if (r->bad)
			break;
		memcpy(d->cfg, cfg, sizeof cfg);
		rom_write(b, d, get_le32(cfg + PCI_ROM_REG));
		for (i = 0; i < 6; i++) {
			if (!d->bar_size[i])
				continue;
			put_le32(d->cfg + 0x10 + 4 * i, d->bar_addr[i]);
			bar_write(b, d, i, bar[i]);
		}
	}
	pthread_mutex_unlock(&b->lock);
	return r->bad ? -1 : 0;
}
