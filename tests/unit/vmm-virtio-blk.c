/*
 * vmm-virtio-blk.c - virtio-pci + virtio-blk driven from the host side:
 * the test plays the guest driver (PCI config through ports 0xCF8/0xCFC,
 * BAR0 through the MMIO bus, rings in guest RAM), so the transport, the
 * virtqueue core and the block device are checked without a guest
 * kernel: capabilities, feature negotiation, read/write/flush/get-id/
 * discard/write-zeroes, indirect descriptors, event idx, and hostile
 * chains that must put the device in NEEDS_RESET and nothing worse.
 * Needs root and /dev/kvm (a VM is created, never run).
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "engine/vm/vmm-int.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"
#include "tests/unit/vmm-pci-host.h"

#define QSZ	16
#define DESC	0x200000ull	/* rings and buffers in guest RAM */
#define AVAIL	0x201000ull
#define USED	0x202000ull
#define IND	0x203000ull	/* an indirect table */
#define HDR	0x210000ull
#define DATA	0x220000ull
#define STATUS	0x230000ull
#define IMG_MB	4

static char dir[64], img[128], elf[128];
static uint16_t avail_idx, used_seen;

static int
driver_init(uint64_t features)
{
	mmio_wr(common + 0x14, 0, 1);			/* reset */
	mmio_wr(common + 0x14, 1 | 2, 1);		/* ACK | DRIVER */
	mmio_wr(common + 0x08, 0, 4);
	mmio_wr(common + 0x0C, (uint32_t)features, 4);
	mmio_wr(common + 0x08, 1, 4);
	mmio_wr(common + 0x0C, features >> 32, 4);
	mmio_wr(common + 0x14, 1 | 2 | 8, 1);		/* FEATURES_OK */
	if (!(status() & 8))
		return -1;
	mmio_wr(common + 0x16, 0, 2);			/* queue 0 */
	mmio_wr(common + 0x18, QSZ, 2);
	mmio_wr(common + 0x20, DESC, 4);		/* 64-bit in halves */
	mmio_wr(common + 0x24, 0, 4);
	mmio_wr(common + 0x28, AVAIL, 8);
	mmio_wr(common + 0x30, USED, 8);
	mmio_wr(common + 0x1C, 1, 2);			/* enable */
	mmio_wr(common + 0x14, 1 | 2 | 8 | 4, 1);	/* DRIVER_OK */
	memset(ram(DESC), 0, 0x4000);
	avail_idx = used_seen = 0;
	return status() == 0x0F ? 0 : -1;
}

/* offer head, kick; the used length, or -1 when nothing came back */
static int
submit(uint16_t head)
{
	uint16_t used;

	put_le16(ram(AVAIL + 4 + 2 * (avail_idx % QSZ)), head);
	put_le16(ram(AVAIL + 2), ++avail_idx);
	mmio_wr(notify, 0, 2);				/* queue 0 */
	used = get_le16(ram(USED + 2));
	if (used == used_seen)
		return -1;
	used_seen = used;
	return get_le32(ram(USED + 4 + 8 * ((used - 1) % QSZ) + 4));
}

/* header, data, status as three descriptors */
static int
request(uint32_t type, uint64_t sector, uint32_t len, bool data_in)
{
	uint8_t *h = ram(HDR);

	put_le32(h, type);
	put_le32(h + 4, 0);
	put_le64(h + 8, sector);
	ram(STATUS)[0] = 0xEE;
	if (!len) {
		desc(DESC, 0, HDR, 16, 1, 2);
	} else {
		desc(DESC, 0, HDR, 16, 1, 1);
		desc(DESC, 1, DATA, len, 1 | (data_in ? 2 : 0), 2);
	}
	desc(DESC, 2, STATUS, 1, 2, 0);
	return submit(0);
}

static void
test_negotiation(void)
{
	uint32_t id = cfg_read(1, 0);

	is_int(id, 0x10421AF4, "PCI 00:01.0 is virtio-blk (1af4:1042)");
	is_int(cfg_read(1, 0x08) >> 8, 0x018000, "class 01/80/00: mass storage, other");
	bar = cfg_read(1, 0x10) & ~0xFu;
	ok(bar >= 0xC0000000u, "BAR0 assigned in the MMIO window (%#x)", bar);
	find_caps(1);
	ok(common == 0 && notify == 0x3000 && devcfg == 0x2000 && mult == 4,
	   "capabilities: common, notify (x4), device config");
	ok((cfg_read(1, 0x06) & 0x10) != 0, "status says there is a cap list");
	is_int(mmio_rd(devcfg, 8), IMG_MB * 2048, "capacity in sectors");
	is_int(mmio_rd(devcfg + 20, 4), 512, "blk_size 512");
	mmio_wr(common + 0x14, 0, 1);
	mmio_wr(common + 0x14, 3, 1);
	mmio_wr(common + 0x14, 3 | 8, 1);
	ok(!(status() & 8), "FEATURES_OK refused without VERSION_1");
	ok(driver_init(1ull << 32) == 0, "driver init with VERSION_1");
}

static void
test_io(void)
{
	struct vmm_stats st;
	uint8_t buf[4096];
	char serial[21] = "";
	int fd, i;

	for (i = 0; i < 4096; i++)
		ram(DATA)[i] = i * 7 + 3;
	is_int(request(1, 8, 4096, false), 1, "write 4 KiB at sector 8");
	is_int(ram(STATUS)[0], 0, "write status OK");
	fd = open(img, O_RDONLY);
	ok(fd >= 0 && pread(fd, buf, 4096, 4096) == 4096 &&
	   memcmp(buf, ram(DATA), 4096) == 0, "the bytes are in the image at 4096");
	close(fd);
	memset(ram(DATA), 0, 4096);
	is_int(request(0, 8, 4096, true), 4097, "read back: used length 4096 + 1");
	ok(memcmp(buf, ram(DATA), 4096) == 0, "read back the same bytes");
	is_int(request(4, 0, 0, false), 1, "flush");
	is_int(ram(STATUS)[0], 0, "flush status OK");
	request(8, 0, 20, true);
	memcpy(serial, ram(DATA), 20);
	is_str(serial, "hv-test-serial", "get-id returns the serial");
	is_int((request(0, IMG_MB * 2048 - 1, 1024, true), ram(STATUS)[0]), 1,
	       "a read past the end is IOERR");
	is_int((request(99, 0, 0, false), ram(STATUS)[0]), 2,
	       "an unknown type is UNSUPP");
	/* write zeroes over sector 8 through one segment */
	put_le64(ram(DATA), 8);
	put_le32(ram(DATA) + 8, 8);
	put_le32(ram(DATA) + 12, 0);
	is_int((request(13, 0, 16, false), ram(STATUS)[0]), 0, "write-zeroes OK");
	request(0, 8, 4096, true);
	for (i = 0; i < 4096 && ram(DATA)[i] == 0; i++)
		;
	is_int(i, 4096, "the range reads as zeros now");
	vmm_stats(vm, &st);
	is_int(st.disks[0].writes, 1, "stats: 1 write");
	is_int(st.disks[0].write_bytes, 4096, "stats: 4096 bytes written");
	ok(st.disks[0].reads >= 2 && st.disks[0].flushes == 1 &&
	   st.disks[0].write_zeroes == 1, "stats: reads, flush, write-zeroes");
}

static void
test_indirect_and_event_idx(void)
{
	uint16_t used_event_before;

	ok(driver_init(1ull << 32 | 1ull << 28 | 1ull << 29) == 0,
	   "driver init with INDIRECT_DESC + EVENT_IDX");
	put_le32(ram(HDR), 1);
	put_le64(ram(HDR) + 8, 100);
	memset(ram(DATA), 0x5A, 1024);
	desc(IND, 0, HDR, 16, 1, 1);
	desc(IND, 1, DATA, 512, 1, 2);
	desc(IND, 2, DATA + 512, 512, 1, 3);
	desc(IND, 3, STATUS, 1, 2, 0);
	desc(DESC, 0, IND, 4 * 16, 4, 0);
	used_event_before = get_le16(ram(USED + 4 + 8 * QSZ));
	is_int(submit(0), 1, "an indirect chain of 4 is served");
	is_int(ram(STATUS)[0], 0, "... with status OK");
	is_int(get_le16(ram(USED + 4 + 8 * QSZ)), used_event_before + 1,
	       "avail_event advanced with event idx");
}

static void
hostile(const char *what, void (*build)(void))
{
	struct vmm_stats before, after;

	driver_init(1ull << 32 | 1ull << 28);
	vmm_stats(vm, &before);
	build();
	ok(status() & 0x40, "%s: DEVICE_NEEDS_RESET", what);
	vmm_stats(vm, &after);
	is_int(after.needs_reset, before.needs_reset + 1, "%s: counted once", what);
	ok(driver_init(1ull << 32) == 0 && request(4, 0, 0, false) == 1,
	   "%s: works again after a reset", what);
}

static void
h_loop(void)
{
	desc(DESC, 0, HDR, 16, 1, 1);
	desc(DESC, 1, DATA, 16, 1, 0);		/* back to 0 */
	submit(0);
}

static void
h_outside(void)
{
	desc(DESC, 0, (64ull << 20) - 8, 16, 0, 0);	/* runs off the end */
	submit(0);
}

static void
h_hole(void)
{
	desc(DESC, 0, 0xFEE00000ull, 16, 0, 0);	/* the LAPIC, not RAM */
	submit(0);
}

static void
h_overflow(void)
{
	int i;

	/* 80 writable buffers of 60 MiB each, all in RAM: 4.7 GiB in total */
	for (i = 0; i < 80; i++)
		desc(IND, i, 0x100000, 60u << 20, 2 | (i < 79 ? 1 : 0), i + 1);
	desc(DESC, 0, IND, 80 * 16, 4, 0);
	submit(0);
}

static void
h_too_long(void)
{
	int i;

	for (i = 0; i < 300; i++)	/* more buffers than we take */
		desc(IND, i, DATA, 512, 2 | (i < 299 ? 1 : 0), i + 1);
	desc(DESC, 0, IND, 300 * 16, 4, 0);
	submit(0);
}

static void
h_nested(void)
{
	desc(IND, 0, IND + 256, 32, 4, 0);	/* indirect inside indirect */
	desc(DESC, 0, IND, 16, 4, 0);
	submit(0);
}

static void
h_bad_index(void)
{
	put_le16(ram(AVAIL + 2), avail_idx + QSZ + 5);
	mmio_wr(notify, 0, 2);
}

static void
h_bad_head(void)
{
	put_le16(ram(AVAIL + 4), QSZ + 3);
	put_le16(ram(AVAIL + 2), ++avail_idx);
	mmio_wr(notify, 0, 2);
}

static void
h_write_then_read(void)
{
	desc(DESC, 0, STATUS, 1, 2 | 1, 1);
	desc(DESC, 1, HDR, 16, 0, 0);		/* readable after writable */
	submit(0);
}

static void
h_no_status(void)
{
	put_le32(ram(HDR), 0);
	desc(DESC, 0, HDR, 16, 0, 0);		/* nowhere to put a status */
	submit(0);
}

static void
h_bad_ring(void)
{
	mmio_wr(common + 0x14, 0, 1);
	mmio_wr(common + 0x14, 3, 1);
	mmio_wr(common + 0x0C, 0, 4);
	mmio_wr(common + 0x08, 1, 4);
	mmio_wr(common + 0x0C, 1, 4);
	mmio_wr(common + 0x14, 3 | 8, 1);
	mmio_wr(common + 0x20, 0x7FFFFFF0ull, 8);	/* outside 64 MiB */
	mmio_wr(common + 0x1C, 1, 2);
}

/*
 * The guest kicks: a few 32-bit instructions enable the LAPIC and write
 * the notify address. The kick must reach the device through the
 * ioeventfd (no MMIO exit), and the completion interrupt through the
 * irqfd and MSI route into the LAPIC's IRR (IF=0, so it stays there).
 */
static void
test_guest_kick(void)
{
	uint8_t code[] = {
		0xC7, 0x05, 0xF0, 0x00, 0xE0, 0xFE, 0xFF, 0x01, 0x00, 0x00,
		0xB8, 0, 0, 0, 0,		/* mov eax, notify */
		0x66, 0xC7, 0x00, 0x00, 0x00,	/* mov word [eax], 0 */
		0xEB, 0xFE,
	};
	unsigned msix = 0, at = cfg_read(1, 0x34) & 0xFF;
	struct kvm_lapic_state lapic;
	struct vmm_stats st;
	struct hv_err err;
	uint32_t a, v;
	int i;

	while (at) {
		if ((cfg_read(1, at) & 0xFF) == 0x11)
			msix = at;
		at = cfg_read(1, at + 1) & 0xFF;
	}
	ok(msix != 0, "MSI-X capability present");
	driver_init(1ull << 32);
	mmio_wr(common + 0x14, 0, 1);
	driver_init(1ull << 32);
	mmio_wr(0x4000, 0xFEE00000u, 4);	/* vector 0 -> APIC 0, 0x30 */
	mmio_wr(0x4004, 0, 4);
	mmio_wr(0x4008, 0x30, 4);
	mmio_wr(0x400C, 0, 4);			/* unmasked */
	a = 0x80000000u | 1 << 11 | msix;
	v = 0x8000u << 16;			/* message control: enable */
	bus_access(&vm->pio, 0xCF8, &a, 4, true);
	bus_access(&vm->pio, 0xCFC, &v, 4, true);
	/* queue 0 is live; re-program its vector before re-enabling */
	mmio_wr(common + 0x14, 0, 1);
	mmio_wr(common + 0x14, 3, 1);
	mmio_wr(common + 0x0C, 0, 4);
	mmio_wr(common + 0x08, 1, 4);
	mmio_wr(common + 0x0C, 1, 4);
	mmio_wr(common + 0x14, 3 | 8, 1);
	mmio_wr(common + 0x16, 0, 2);
	mmio_wr(common + 0x18, QSZ, 2);
	mmio_wr(common + 0x1A, 0, 2);		/* queue vector 0 */
	mmio_wr(common + 0x20, DESC, 8);
	mmio_wr(common + 0x28, AVAIL, 8);
	mmio_wr(common + 0x30, USED, 8);
	mmio_wr(common + 0x1C, 1, 2);
	mmio_wr(common + 0x14, 0x0F, 1);
	memset(ram(DESC), 0, 0x4000);
	avail_idx = used_seen = 0;
	put_le32(ram(HDR), 4);			/* a flush */
	desc(DESC, 0, HDR, 16, 1, 1);
	desc(DESC, 1, STATUS, 1, 2, 0);
	put_le16(ram(AVAIL + 4), 0);
	put_le16(ram(AVAIL + 2), 1);
	put_le32(code + 11, bar + notify);
	memcpy(ram(0x100000), code, sizeof code);
	if (!ok(vmm_start(vm, &err) == 0, "guest started"))
		return;
	for (i = 0; i < 500 && get_le16(ram(USED + 2)) == 0; i++)
		usleep(10000);
	is_int(get_le16(ram(USED + 2)), 1, "the guest's kick was served");
	vmm_stats(vm, &st);
	is_int(st.exits[KVM_EXIT_MMIO], 0, "... through the ioeventfd (no MMIO exit)");
	is_int(vmm_pause(vm), 0, "paused to look at the LAPIC");
	ok(ioctl(vm->vcpus[0].fd, KVM_GET_LAPIC, &lapic) == 0 &&
	   (get_le32((uint8_t *)lapic.regs + 0x200 + 0x10) & 1u << (0x30 % 32)),
	   "vector 0x30 pending in the IRR: irqfd + MSI route work");
	vmm_stop(vm);
}

static int
setup(void)
{
	static const uint8_t spin[] = { 0xEB, 0xFE };
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1,
				.generation = 2, .kernel = elf, .ndisks = 1 };
	struct hv_err err;
	int fd;

	snprintf(dir, sizeof dir, "/tmp/vmm-vblk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(elf, sizeof elf, "%s/spin.elf", dir);
	snprintf(img, sizeof img, "%s/disk.raw", dir);
	fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_MB << 20) != 0 || mini_elf(elf, spin, 2))
		return -1;
	close(fd);
	c.disks[0].path = img;
	strcpy(c.disks[0].serial, "hv-test-serial");
	if (vmm_create(&vm, &c, &err) != 0) {
		diag("vmm_create: %s", err.msg);
		return -1;
	}
	return 0;
}

int
main(void)
{
	const char *why;

	if (!kvm_usable(&why))
		skip_all(why);
	if (!ok(setup() == 0, "VM with one raw disk created"))
		return done_testing();
	test_negotiation();
	test_io();
	test_indirect_and_event_idx();
	hostile("descriptor loop", h_loop);
	hostile("buffer past the end of RAM", h_outside);
	hostile("buffer in the MMIO hole", h_hole);
	hostile("total length overflow", h_overflow);
	hostile("chain too long", h_too_long);
	hostile("indirect inside indirect", h_nested);
	hostile("avail index jump", h_bad_index);
	hostile("head out of range", h_bad_head);
	hostile("readable after writable", h_write_then_read);
	hostile("no status byte", h_no_status);
	hostile("rings outside RAM", h_bad_ring);
	test_guest_kick();
	vmm_destroy(vm);
	unlink(img);
	unlink(elf);
	rmdir(dir);
	return done_testing();
}
