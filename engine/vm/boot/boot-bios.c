/*
 * boot-bios.c - Gen1: the VM starts in firmware (SeaBIOS), the way a PC
 * does. The image is mapped read-only just below 4 GiB, where the reset
 * vector (0xFFFFFFF0) points, and its last 256 KiB are copied to RAM at
 * 0xC0000-0xFFFFF: what a chipset's shadow RAM holds once firmware has
 * unlocked and filled it. SeaBIOS only knows how to do that on i440FX and
 * Q35 (PAM registers); on any other host bridge it expects it done (a
 * 256 KiB SeaBIOS is linked for 0xC0000 up and would run off into
 * nothing otherwise). What the firmware needs to know comes
 * through fw_cfg: RAM (etc/e820, plus the CMOS fields legacy.c sets), CPU
 * count, boot menu off, and the ACPI tables as blobs with an
 * etc/table-loader script, so SeaBIOS places and links the same tables
 * Gen2 guests get. Its debug port (0x402) goes to the console, so the
 * firmware's banner and what it finds show where the admin looks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/dev/fw_cfg.h"
#include "engine/vm/dev/pflash.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/dev/virtio-net.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/dev/virtio-scsi.h"

#define DEFAULT_FIRMWARE	"/usr/share/seabios/bios-256k.bin"
#define DEFAULT_UEFI		"/usr/share/OVMF/OVMF_CODE_4M.fd"
#define FW_MAX			(16u << 20)
#define FW_SHADOW_MAX		0x40000u	/* copied to 0xC0000 at most */
#define FW_MIN			0x20000u
#define SEABIOS_DEBUG_PORT	0x402
#define FW_CFG_BOOT_MENU	0x0e

/* etc/table-loader commands, 128 bytes each */
#define LOADER_ENTRY		128
#define LOADER_ALLOCATE		1
#define LOADER_ADD_POINTER	2
#define LOADER_ADD_CHECKSUM	3
#define LOADER_ZONE_HIGH	1
#define LOADER_ZONE_FSEG	2

static void
debugcon_io(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct vmm *vm = opaque;

	if (!is_write) {
		memset(data, 0xE9, len);	/* "present", as QEMU answers */
		return;
	}
	if (write(vm->console_wr, data, 1) != 1)
		atomic_fetch_add(&vm->console_dropped, 1);
}

static int
read_firmware(const char *path, uint8_t **out, size_t *len, struct hv_err *err)
{
	struct stat st;
	size_t done = 0;
	uint8_t *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_fail(err, HV_EINVAL, "firmware %s: %s%s", path, strerror(errno),
			       errno != ENOENT ? "" : strstr(path, "OVMF") ? " (install the ovmf package)" :
			       " (install the seabios package)");
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FW_MIN ||
	    st.st_size > FW_MAX || st.st_size % 0x1000 != 0) {
		close(fd);
		return hv_fail(err, HV_EINVAL,
			       "firmware %s: not a firmware image (want whole 4 KiB pages, 128 KiB..16 MiB)",
			       path);
	}
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return hv_fail(err, HV_EIO, "firmware: %s", strerror(errno));
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, st.st_size - done);

		if (n <= 0) {
			close(fd);
			munmap(p, st.st_size);
			return hv_fail(err, HV_EIO, "firmware %s: cannot read it", path);
		}
		done += (size_t)n;
	}
	close(fd);
	*out = p;
	*len = done;
	return 0;
}

static void
loader_name(uint8_t *at, const char *name)
{
	memcpy(at, name, strlen(name));	/* < 56: the rest stays zero */
}

/* the ACPI blobs and the script SeaBIOS runs to place and link them */
static int
acpi_files(struct vmm *vm, struct hv_err *err)
{
	struct acpi_tables t;
	struct acpi_config c;
	uint8_t *script, *e;
	size_t n;
	int rc = -1;

	vmm_acpi_config(vm, &c);
	c.pci_mmio32_base = vm->mem.low;	/* SeaBIOS: BARs go above RAM */
	if (vmm_uefi(&vm->cfg)) {
		/* OVMF on i440FX: from 4 GiB less the largest power of two
		   that fits above RAM (one MTRR covers it); no 64-bit window */
		uint64_t room = MMIO_HOLE_END - vm->mem.low, p2 = 1;

		while (p2 * 2 <= room)
			p2 *= 2;
		c.pci_mmio32_base = MMIO_HOLE_END - p2;
	}
	c.pci_mmio32_end = IOAPIC_BASE;
	if (acpi_build(&t, &c, err) != 0)
		return -1;
	n = (size_t)(ACPI_NBLOBS + t.npointers + t.nchecksums);
	script = calloc(n, LOADER_ENTRY);
	if (script == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out;
	}
	e = script;
	for (int b = 0; b < ACPI_NBLOBS; b++, e += LOADER_ENTRY) {
		put_le32(e, LOADER_ALLOCATE);
		loader_name(e + 4, acpi_blob_name(b));
		put_le32(e + 4 + FW_CFG_NAME_LEN, acpi_blob_align(b));
		e[8 + FW_CFG_NAME_LEN] = b == ACPI_BLOB_RSDP ? LOADER_ZONE_FSEG :
							      LOADER_ZONE_HIGH;
		if (fw_cfg_add_file(vm, acpi_blob_name(b), t.blob[b].data, t.blob[b].len) != 0)
			goto full;
	}
	for (int i = 0; i < t.npointers; i++, e += LOADER_ENTRY) {
		const struct acpi_pointer *p = &t.pointer[i];

		put_le32(e, LOADER_ADD_POINTER);
		loader_name(e + 4, acpi_blob_name(p->blob));
		loader_name(e + 4 + FW_CFG_NAME_LEN, acpi_blob_name(p->target));
		put_le32(e + 4 + 2 * FW_CFG_NAME_LEN, p->offset);
		e[8 + 2 * FW_CFG_NAME_LEN] = p->size;
	}
	for (int i = 0; i < t.nchecksums; i++, e += LOADER_ENTRY) {
		const struct acpi_checksum *k = &t.checksum[i];

		put_le32(e, LOADER_ADD_CHECKSUM);
		loader_name(e + 4, acpi_blob_name(k->blob));
		put_le32(e + 4 + FW_CFG_NAME_LEN, k->offset);
		put_le32(e + 8 + FW_CFG_NAME_LEN, k->start);
		put_le32(e + 12 + FW_CFG_NAME_LEN, k->length);
	}
	if (fw_cfg_add_file(vm, "etc/table-loader", script, n * LOADER_ENTRY) != 0)
		goto full;
	rc = 0;
	goto out;
full:
	hv_fail(err, HV_EINTERNAL, "fw_cfg: no room for the ACPI tables");
out:
	free(script);
	acpi_free(&t);
	return rc;
}

/* RAM as the firmware should report it: below the hole, then above 4 GiB */
static int
e820_file(struct vmm *vm)
{
	uint8_t e[2 * 20] = { 0 };
	size_t n = 20;

	put_le64(e, 0);
	put_le64(e + 8, vm->mem.low);
	put_le32(e + 16, 1);
	if (vm->mem.size > vm->mem.low) {
		put_le64(e + 20, MMIO_HOLE_END);
		put_le64(e + 28, vm->mem.size - vm->mem.low);
		put_le32(e + 36, 1);
		n = 40;
	}
	return fw_cfg_add_file(vm, "etc/e820", e, n);
}

/*
 * The boot order as SeaBIOS reads it (fw_cfg "bootorder"): a device path
 * a line, first boots first; its paths are globs that match these
 * (QEMU's own spelling, so any firmware that reads QEMU's file reads
 * ours). Devices not named keep the firmware's order after them.
 */
static int
bootorder_file(struct vmm *vm, struct hv_err *err)
{
	const char *o = vm->cfg.boot_order, *p;
	char *buf;
	size_t n = 0, cap = 4096;
	int rc;

	if (o == NULL || o[0] == '\0')
		return 0;
	if ((buf = malloc(cap)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	for (p = o; *p != '\0'; p += strcspn(p, ","), p += *p == ',') {
		size_t k = strcspn(p, ",");

		if (k == 3 && strncmp(p, "dvd", 3) == 0 && vm->scsi != NULL)
			for (int i = 0; i < vm->cfg.ndvds; i++)
				n += (size_t)snprintf(buf + n, cap - n, "/pci@i0cf8/scsi@%x/channel@0/disk@%x,0\n",
						      virtio_pci_slot(virtio_scsi_vdev(vm->scsi)->transport), i);
		if (k == 4 && strncmp(p, "disk", 4) == 0)
			for (int i = 0; i < vm->nblk; i++)
				n += (size_t)snprintf(buf + n, cap - n, "/pci@i0cf8/scsi@%x/disk@0,0\n",
						      virtio_pci_slot(virtio_blk_vdev(vm->blk[i])->transport));
		/* the adapters' option ROMs, which SeaBIOS finds by slot */
		if (k == 3 && strncmp(p, "net", 3) == 0 && vm->nic_rom != NULL)
			for (int i = 0; i < vm->nnet; i++)
				n += (size_t)snprintf(buf + n, cap - n, "/pci@i0cf8/ethernet@%x\n",
						      virtio_pci_slot(virtio_net_vdev(vm->net[i])->transport));
	}
	rc = n > 0 ? fw_cfg_add_file(vm, "bootorder", buf, n + 1) : 0;
	free(buf);
	return rc != 0 ? hv_fail(err, HV_EINTERNAL, "fw_cfg: out of room") : 0;
}

/*
 * The NICs' option ROM (iPXE): the firmware finds it in each adapter's
 * expansion ROM BAR, copies and runs it, and boots the network through
 * it. An option ROM starts 55 AA; 1 MiB is more than any NIC's.
 */
int
vmm_load_nic_rom(struct vmm *vm, struct hv_err *err)
{
	const char *path = vm->cfg.nic_rom;
	struct hv_err e;
	struct stat st;

	if (vmm_read_file(path, &vm->nic_rom, &vm->nic_rom_len, &e) != 0)
		return hv_fail(err, HV_EINVAL, "network boot ROM %s%s", e.msg,
			       stat(path, &st) != 0 && errno == ENOENT ?
			       " (install the ipxe-qemu package)" : "");
	if (vm->nic_rom_len < 512 || vm->nic_rom_len > (1u << 20))
		return hv_fail(err, HV_EINVAL, "network boot ROM %s: not an option ROM (512 bytes..1 MiB)",
			       path);
	if (vm->nic_rom[0] != 0x55 || vm->nic_rom[1] != 0xAA)
		return hv_fail(err, HV_EINVAL, "network boot ROM %s: not an option ROM (no 55 AA)", path);
	return 0;
}

/*
 * UEFI (OVMF): the code, read-only, ends at 4 GiB as SeaBIOS does, with
 * nothing copied below 1 MiB (OVMF's SEC runs from flash); the variable
 * store, a CFI flash on the VM's own NVRAM file, sits right below it, as
 * QEMU's second pflash unit. The 64-bit PCI window is turned off: hv's
 * BARs are all 32-bit, and the DSDT describes the one window OVMF uses.
 */
static int
load_uefi(struct vmm *vm, size_t len, struct hv_err *err)
{
	struct stat st;

	if (stat(vm->cfg.nvram, &st) != 0)
		return hv_fail(err, HV_EIO, "UEFI variable store %s: %s", vm->cfg.nvram, strerror(errno));
	if ((uint64_t)st.st_size > MMIO_HOLE_END - IOAPIC_BASE - len - (1u << 20))
		return hv_fail(err, HV_EINVAL, "UEFI variable store %s: too big", vm->cfg.nvram);
	if (pflash_create(vm, vm->cfg.nvram, MMIO_HOLE_END - len - (uint64_t)st.st_size, err) != 0)
		return -1;
	if (fw_cfg_add_file(vm, "opt/ovmf/X-PciMmio64Mb", "0", 1) != 0)
		return hv_fail(err, HV_EINTERNAL, "fw_cfg: out of room");
	return 0;
}

int
vmm_load_firmware(struct vmm *vm, struct hv_err *err)
{
	bool uefi = vmm_uefi(&vm->cfg);
	const char *path = vm->cfg.firmware ? vm->cfg.firmware :
			   uefi ? DEFAULT_UEFI : DEFAULT_FIRMWARE;
	uint8_t v[8], *fw = NULL, *shadow;
	size_t len = 0, n;

	if (read_firmware(path, &fw, &len, err) != 0)
		return -1;
	vm->fw_image = fw;
	vm->fw_len = len;
	if (!uefi) {
		n = len < FW_SHADOW_MAX ? len : FW_SHADOW_MAX;
		shadow = gmem_ptr(&vm->mem, 0x100000 - n, n);
		if (shadow == NULL)
			return hv_fail(err, HV_EINVAL, "Gen1 needs at least 1 MiB of RAM");
		memcpy(shadow, fw + len - n, n);
	}
	if (kvm_map_rom(vm, MMIO_HOLE_END - len, fw, len, err) != 0)
		return -1;
	if (fw_cfg_init(vm, err) != 0)
		return -1;
	if (uefi && load_uefi(vm, len, err) != 0)
		return -1;
	put_le64(v, vm->mem.size);
	if (fw_cfg_add(vm, FW_CFG_RAM_SIZE, v, 8) != 0)
		goto full;
	put_le16(v, (uint16_t)vm->nvcpus);
	if (fw_cfg_add(vm, FW_CFG_NB_CPUS, v, 2) != 0 ||
	    fw_cfg_add(vm, FW_CFG_MAX_CPUS, v, 2) != 0)
		goto full;
	put_le16(v, 0);			/* no boot menu, no wait for ESC */
	if (fw_cfg_add(vm, FW_CFG_BOOT_MENU, v, 2) != 0)
		goto full;
	put_le32(v, 1);			/* ISA IRQ0 arrives on GSI2 */
	if (fw_cfg_add(vm, FW_CFG_IRQ0_OVERRIDE, v, 4) != 0 || e820_file(vm) != 0)
		goto full;
	if (acpi_files(vm, err) != 0 || bootorder_file(vm, err) != 0)
		return -1;
	if (bus_add(&vm->pio, SEABIOS_DEBUG_PORT, 1, debugcon_io, vm) != 0)
		return hv_fail(err, HV_EINTERNAL, "cannot register the firmware debug port");
	return 0;
full:
	return hv_fail(err, HV_EINTERNAL, "fw_cfg: out of room");
}
