/*
 * vmm-virtio-scsi.c - the SCSI controller and its DVD drives driven from
 * the host side, as vmm-virtio-blk.c drives virtio-blk: the test plays
 * Linux's virtio_scsi + sr (PCI config through 0xCF8/0xCFC, BAR0 on the
 * MMIO bus, rings in guest RAM): identification, the unit attention after
 * power on and after a media change, reads of the ISO, an empty drive,
 * absent targets and LUNs, the lock against removal, the guest's own
 * eject, and hostile requests that must end in a SCSI error, an overrun
 * or NEEDS_RESET, nothing worse. Needs root and /dev/kvm (a VM is
 * created, never run).
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "engine/vm/vmm-int.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"
#include "tests/unit/vmm-pci-host.h"

#define QSZ	16
#define CTRL_DESC 0x180000ull	/* the control queue's rings */
#define CTRL_AVAIL 0x181000ull
#define CTRL_USED 0x182000ull
#define DESC	0x200000ull	/* the request queue's */
#define AVAIL	0x201000ull
#define USED	0x202000ull
#define REQ	0x210000ull	/* the request header + CDB */
#define RESP	0x220000ull	/* response + sense */
#define DATA	0x230000ull	/* data in or out */
#define ISO_A	(1u << 20)
#define ISO_B	(2u << 20)

static char dir[64], iso_a[128], iso_b[128], elf[128];
static uint16_t avail_idx, used_seen;

static void
queue(int q, uint64_t d, uint64_t a, uint64_t u)
{
	mmio_wr(common + 0x16, q, 2);
	mmio_wr(common + 0x18, QSZ, 2);
	mmio_wr(common + 0x20, d, 8);
	mmio_wr(common + 0x28, a, 8);
	mmio_wr(common + 0x30, u, 8);
	mmio_wr(common + 0x1C, 1, 2);
}

static int
driver_init(void)
{
	mmio_wr(common + 0x14, 0, 1);			/* reset */
	mmio_wr(common + 0x14, 1 | 2, 1);
	mmio_wr(common + 0x08, 1, 4);
	mmio_wr(common + 0x0C, 1, 4);			/* VERSION_1 */
	mmio_wr(common + 0x14, 1 | 2 | 8, 1);
	if (!(status() & 8))
		return -1;
	queue(0, CTRL_DESC, CTRL_AVAIL, CTRL_USED);
	queue(2, DESC, AVAIL, USED);
	mmio_wr(common + 0x14, 1 | 2 | 8 | 4, 1);
	memset(ram(DESC), 0, 0x4000);
	memset(ram(CTRL_DESC), 0, 0x4000);
	avail_idx = used_seen = 0;
	return status() == 0x0F ? 0 : -1;
}

/* offer head 0 on the request queue (2), kick; the used length or -1 */
static int
submit(void)
{
	uint16_t used;

	put_le16(ram(AVAIL + 4 + 2 * (avail_idx % QSZ)), 0);
	put_le16(ram(AVAIL + 2), ++avail_idx);
	mmio_wr(notify + 2 * mult, 2, 2);
	used = get_le16(ram(USED + 2));
	if (used == used_seen)
		return -1;
	used_seen = used;
	return get_le32(ram(USED + 4 + 8 * ((used - 1) % QSZ) + 4));
}

struct answer {
	int used;		/* used length, -1: none */
	uint8_t response, status, key, asc, ascq;
	uint32_t resid;
};

/* one command to target/lun: cdb (<= 32 bytes), data-out of out bytes
   or data-in of in bytes (at DATA) */
static struct answer
cmd(int target, int lun, const uint8_t *cdb, size_t cl, uint32_t out, uint32_t in)
{
	uint8_t *r = ram(REQ), *s = ram(RESP);
	struct answer a;
	int n = 0;

	memset(r, 0, 51);
	r[0] = 1;
	r[1] = (uint8_t)target;
	r[2] = (uint8_t)(0x40 | lun >> 8);
	r[3] = (uint8_t)lun;
	memcpy(r + 19, cdb, cl);
	memset(s, 0xEE, 108);
	desc(DESC, n, REQ, 51, 1, n + 1);
	n++;
	if (out) {
		desc(DESC, n, DATA, out, 1, n + 1);
		n++;
	}
	desc(DESC, n, RESP, 108, 2 | (in ? 1 : 0), n + 1);
	if (in)
		desc(DESC, n + 1, DATA, in, 2, 0);
	a.used = submit();
	a.resid = get_le32(s + 4);
	a.status = s[10];
	a.response = s[11];
	a.key = s[12 + 2] & 0x0F;
	a.asc = s[12 + 12];
	a.ascq = s[12 + 13];
	return a;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static struct answer
tur(int target)
{
	static const uint8_t c[6] = { 0x00 };

	return cmd(target, 0, c, 6, 0, 0);
}

static struct answer
read10(int target, uint32_t lba, uint16_t n, uint32_t in)
{
	uint8_t c[10] = { 0x28 };

	put_be32(c + 2, lba);
	c[7] = n >> 8, c[8] = n;
	return cmd(target, 0, c, 10, 0, in);
}

static void
test_identify(void)
{
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t cap[10] = { 0x25 };
	struct answer a;

	is_int(cfg_read(1, 0), 0x10481AF4, "PCI 00:01.0 is virtio-scsi (1af4:1048)");
	is_int(cfg_read(1, 0x08) >> 8, 0x010000, "class: SCSI storage controller");
	bar = cfg_read(1, 0x10) & ~0xFu;
	find_caps(1);
	ok(devcfg != 0 && notify != 0, "capabilities found");
	is_int(mmio_rd(devcfg + 0, 4), 1, "config: one request queue");
	is_int(mmio_rd(devcfg + 20, 4), 96, "config: sense_size 96");
	is_int(mmio_rd(devcfg + 24, 4), 32, "config: cdb_size 32");
	is_int(mmio_rd(devcfg + 30, 2), 1, "config: max_target 1 (two DVD drives)");
	ok(driver_init() == 0, "driver init: control, event and request queues");

	a = cmd(0, 0, inq, 6, 0, 36);
	ok(a.used == 108 + 36 && a.response == 0 && a.status == 0, "INQUIRY: 36 bytes, GOOD");
	ok(ram(DATA)[0] == 0x05 && ram(DATA)[1] == 0x80, "... a removable CD/DVD device");
	ok(memcmp(ram(DATA) + 8, "HV      ", 8) == 0, "... vendor HV");
	a = tur(0);
	ok(a.status == 2 && a.key == 6 && a.asc == 0x29, "TEST UNIT READY: unit attention, power on (29/00)");
	a = tur(0);
	is_int(a.status, 0, "TEST UNIT READY again: GOOD");
	a = cmd(0, 0, cap, 10, 0, 8);
	ok(a.status == 0 && get_be32(ram(DATA)) == ISO_A / 2048 - 1 && get_be32(ram(DATA) + 4) == 2048,
	   "READ CAPACITY: %u blocks of 2048", get_be32(ram(DATA)) + 1);
	a = read10(0, 16, 1, 2048);
	ok(a.status == 0 && a.used == 108 + 2048 && memcmp(ram(DATA) + 1, "CD001", 5) == 0,
	   "READ(10) of block 16: the ISO's volume descriptor");
	is_int(a.resid, 0, "... no residual");
	a = read10(0, 16, 1, 4096);
	is_int(a.resid, 2048, "a larger buffer: the residual says what was left");
}

static void
test_errors(void)
{
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16 };
	uint8_t w10[10] = { 0x2A, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t bogus[6] = { 0xC7 };
	struct answer a;

	a = tur(1);
	ok(a.status == 2 && a.key == 6, "the empty drive: a unit attention first");
	a = tur(1);
	ok(a.status == 2 && a.key == 2 && a.asc == 0x3A, "then NOT READY, medium not present (3A)");
	a = read10(1, 0, 1, 2048);
	ok(a.status == 2 && a.key == 2 && a.asc == 0x3A, "READ of the empty drive: medium not present");
	a = tur(5);
	is_int(a.response, 3, "target 5: BAD_TARGET");
	a = cmd(0, 3, inq, 6, 0, 36);
	ok(a.status == 0 && ram(DATA)[0] == 0x7F, "LUN 3 of target 0: INQUIRY says no device (0x7F)");
	a = cmd(0, 0, rl, 12, 0, 16);
	ok(a.status == 0 && get_be32(ram(DATA)) == 8, "REPORT LUNS: one LUN");
	a = cmd(0, 0, w10, 10, 2048, 0);
	ok(a.status == 2 && a.key == 7 && a.asc == 0x27, "WRITE(10) to the DVD: DATA PROTECT, write protected");
	a = read10(0, ISO_A / 2048 - 1, 2, 4096);
	ok(a.status == 2 && a.key == 5 && a.asc == 0x21, "READ past the end: LBA out of range (21)");
	a = read10(0, 0, 256, 4096);
	is_int(a.response, 1, "READ of 512 KiB into a 4 KiB buffer: OVERRUN");
	a = cmd(0, 0, bogus, 6, 0, 0);
	ok(a.status == 2 && a.key == 5 && a.asc == 0x20, "an unknown opcode: INVALID COMMAND OPERATION CODE");
}

static void
test_media(void)
{
	static const uint8_t gesn[10] = { 0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8 };
	static const uint8_t cap[10] = { 0x25 };
	static const uint8_t lock[6] = { 0x1E, 0, 0, 0, 1 }, unlock[6] = { 0x1E };
	static const uint8_t eject[6] = { 0x1B, 0, 0, 0, 0x02 };
	static const uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 1, 0, 32 };
	static const uint8_t conf[10] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64 };
	static const uint8_t ms[10] = { 0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64 };
	struct hv_err err;
	struct answer a;

	ok(vmm_dvd_set(vm, 0, iso_b, &err) == 0, "the host changes drive 0's ISO");
	a = tur(0);
	ok(a.status == 2 && a.key == 6 && a.asc == 0x28, "TEST UNIT READY: medium may have changed (28/00)");
	a = cmd(0, 0, gesn, 10, 0, 8);
	ok(a.status == 0 && (ram(DATA)[4] & 0x0F) == 2 && (ram(DATA)[5] & 2),
	   "GET EVENT STATUS NOTIFICATION: new media, present");
	a = cmd(0, 0, gesn, 10, 0, 8);
	is_int(ram(DATA)[4] & 0x0F, 0, "... reported once");
	a = cmd(0, 0, cap, 10, 0, 8);
	is_int(get_be32(ram(DATA)) + 1, ISO_B / 2048, "READ CAPACITY: the new ISO's size");
	a = read10(0, 16, 1, 2048);
	ok(a.status == 0 && memcmp(ram(DATA) + 40, "ISO-B", 5) == 0, "READ: the new ISO's bytes");
	a = cmd(0, 0, toc, 10, 0, 32);
	ok(a.status == 0 && ram(DATA)[4 + 2] == 1 && ram(DATA)[12 + 2] == 0xAA &&
	   get_be32(ram(DATA) + 16) == ISO_B / 2048, "READ TOC: track 1 and the lead-out at the end");
	a = cmd(0, 0, conf, 10, 0, 64);
	ok(a.status == 0 && ram(DATA)[6] == 0x00 && ram(DATA)[7] == 0x10,
	   "GET CONFIGURATION: current profile DVD-ROM");
	a = cmd(0, 0, ms, 10, 0, 64);
	ok(a.status == 0 && ram(DATA)[8] == 0x2A, "MODE SENSE(10): the capabilities page (2A)");

	is_int(cmd(0, 0, lock, 6, 0, 0).status, 0, "PREVENT MEDIUM REMOVAL");
	a = cmd(0, 0, eject, 6, 0, 0);
	ok(a.status == 2 && a.asc == 0x53, "the guest's eject while locked: removal prevented (53/02)");
	is_int(cmd(0, 0, unlock, 6, 0, 0).status, 0, "ALLOW MEDIUM REMOVAL");
	is_int(cmd(0, 0, eject, 6, 0, 0).status, 0, "START STOP UNIT, eject: GOOD");
	ok(!vmm_dvd_loaded(vm, 0), "the drive is empty now");
	a = tur(0);
	ok(a.status == 2 && a.key == 2 && a.asc == 0x3A, "TEST UNIT READY: medium not present");
	ok(vmm_dvd_set(vm, 0, iso_a, &err) == 0 && vmm_dvd_loaded(vm, 0), "the host inserts ISO A again");
	tur(0);
	cmd(0, 0, lock, 6, 0, 0);
	ok(vmm_dvd_set(vm, 0, NULL, &err) == 0 && !vmm_dvd_loaded(vm, 0),
	   "the host's eject of a drive the guest locked: done, as Hyper-V does (udev locks every loaded drive)");
	a = tur(0);
	ok(a.status == 2 && a.key == 6 && a.asc == 0x28, "the guest is told: medium may have changed");
	ok(vmm_dvd_set(vm, 1, "/nonexistent.iso", &err) != 0, "a missing ISO is refused: %s", err.msg);
	ok(vmm_dvd_set(vm, 7, iso_a, &err) != 0, "a drive that does not exist: %s", err.msg);
	ok(vmm_dvd_set(vm, 0, elf, &err) != 0, "a file that is no ISO: %s", err.msg);
}

static void
hostile(const char *what, void (*build)(void))
{
	struct vmm_stats before, after;

	driver_init();
	vmm_stats(vm, &before);
	build();
	ok(status() & 0x40, "%s: DEVICE_NEEDS_RESET", what);
	vmm_stats(vm, &after);
	is_int(after.needs_reset, before.needs_reset + 1, "%s: counted once", what);
	ok(driver_init() == 0 && tur(1).used == 108, "%s: works again after a reset", what);
}

static void
h_short_header(void)
{
	desc(DESC, 0, REQ, 20, 1, 1);		/* 19 + a CDB of 1 */
	desc(DESC, 1, RESP, 108, 2, 0);
	submit();
}

static void
h_short_response(void)
{
	desc(DESC, 0, REQ, 51, 1, 1);
	desc(DESC, 1, RESP, 11, 2, 0);		/* no room for the response */
	submit();
}

static void
h_huge_cdb_size(void)
{
	mmio_wr(devcfg + 24, 0xFFFFFFF0u, 4);	/* cdb_size */
	desc(DESC, 0, REQ, 51, 1, 1);
	desc(DESC, 1, RESP, 108, 2, 0);
	submit();
}

static void
h_control(void)
{
	put_le32(ram(REQ), 0);			/* a TMF in 8 bytes */
	desc(CTRL_DESC, 0, REQ, 8, 1, 1);
	desc(CTRL_DESC, 1, RESP, 1, 2, 0);
	put_le16(ram(CTRL_AVAIL + 4), 0);
	put_le16(ram(CTRL_AVAIL + 2), 1);
	mmio_wr(notify, 0, 2);
}

static int
make_iso(const char *path, uint32_t bytes, const char *label)
{
	uint8_t pvd[2048] = { 1, 'C', 'D', '0', '0', '1', 1 };
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);

	memcpy(pvd + 40, label, strlen(label));
	if (fd < 0 || ftruncate(fd, bytes) != 0 || pwrite(fd, pvd, 2048, 16 * 2048) != 2048)
		return -1;
	return close(fd);
}

static int
setup(void)
{
	static const uint8_t spin[] = { 0xEB, 0xFE };
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1,
				.generation = 2, .kernel = elf, .ndvds = 2 };
	struct hv_err err;

	snprintf(dir, sizeof dir, "/tmp/vmm-vscsi.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(elf, sizeof elf, "%s/spin.elf", dir);
	snprintf(iso_a, sizeof iso_a, "%s/a.iso", dir);
	snprintf(iso_b, sizeof iso_b, "%s/b.iso", dir);
	if (mini_elf(elf, spin, 2) || make_iso(iso_a, ISO_A, "ISO-A") || make_iso(iso_b, ISO_B, "ISO-B"))
		return -1;
	c.dvds[0].path = iso_a;
	strcpy(c.dvds[0].serial, "hv-test-dvd0");
	c.dvds[1].path = NULL;
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
	if (!ok(setup() == 0, "VM with two DVD drives (one with an ISO, one empty) created"))
		return done_testing();
	test_identify();
	test_errors();
	test_media();
	hostile("a request shorter than its header", h_short_header);
	hostile("no room for the response", h_short_response);
	hostile("a cdb_size the driver set too large", h_huge_cdb_size);
	hostile("a task management request too short", h_control);
	vmm_destroy(vm);
	unlink(iso_a);
	unlink(iso_b);
	unlink(elf);
	rmdir(dir);
	return done_testing();
}
