/*
 * pci.h - bus 0 behind config mechanism #1 (0xCF8/0xCFC). The VMM
 * assigns every BAR itself in the 32-bit MMIO window, so guests need
 * no firmware; a guest that moves a BAR moves its bus range with it.
 */
#ifndef HV_VM_PCI_H
#define HV_VM_PCI_H

#include "engine/vm/vmm-int.h"

#define PCI_MAX_SLOTS	32
#define PCI_CAP_START	0x40

/* an expansion ROM (config 0x30): an option ROM the firmware runs */
struct pci_rom {
	const uint8_t *data;	/* NULL: none */
	uint32_t len;		/* of data */
	uint32_t size;		/* the BAR's: a power of 2, >= len */
	uint64_t at;		/* where the bus has it (PCI_ROM_OFF: off) */
};

struct pci_dev {
	uint8_t cfg[256];
	int slot;
	uint32_t bar_size[6];	/* 0: no BAR; memory BARs only, 32-bit */
	uint32_t bar_addr[6];
	bus_fn bar_fn;		/* serves every BAR: off is within the BAR */
	void *opaque;
	struct pci_rom rom;	/* set before pci_add */
	bool read_only;		/* the guest's writes are ignored */
	unsigned cap_end, cap_last;	/* where the next capability goes */
	/* the guest wrote val (len bytes) at off in the capabilities; the
	   device stores what it lets the guest change */
	void (*cap_write)(struct pci_dev *d, unsigned off, uint32_t val,
			  unsigned len);
	/* the guest reads len bytes at off in the capabilities: the device
	   may refresh them first */
	void (*cap_read)(struct pci_dev *d, unsigned off, unsigned len);
	/* a BAR moved (addresses are the old and new bases) */
	void (*bar_moved)(struct pci_dev *d, int bar, uint32_t old, uint32_t base);
};

int pci_add(struct vmm *vm, struct pci_dev *d, struct hv_err *err);
/* give d an expansion ROM holding rom (len bytes, kept by the caller) */
void pci_set_rom(struct pci_dev *d, const uint8_t *rom, uint32_t len);
/* append a capability of len bytes (id at [0]; [1] is linked here);
 * returns its offset in config space, or -1 when it does not fit */
int pci_add_cap(struct pci_dev *d, const uint8_t *cap, unsigned len);
void pci_header(struct pci_dev *d, uint16_t vendor, uint16_t device,
		uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys);

/* the bus's state (state/snapshot.c, with snap-io.h); load: 0, or -1
   when the payload does not fit */
void pci_save(struct pci_bus *b, struct snap_w *w);
int pci_load(struct pci_bus *b, struct snap_r *r);

#endif
