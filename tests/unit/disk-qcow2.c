/*
 * disk-qcow2.c - the qcow2 driver against qemu-img: images qemu-img
 * converts (v3, compat=0.10, compressed, 512-byte and 2 MiB clusters,
 * other refcount widths) read identically in hv; hv-made and hv-written
 * images compare equal in qemu-img and pass `qemu-img check`; backing
 * chains; internal snapshots; check/repair, copied flags and the dirty
 * bit; cluster reuse; compact; resize and refcount table growth;
 * malformed headers giving one clear error. Crashes: disk-qcow2-crash.c.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/disk/disk-int.h"
#include "tests/tap.h"
#include "tests/unit/disk-test.h"
#include "tests/unit/qcow2-pattern.h"

static void
save_expected(const uint8_t *buf)
{
	int fd = open(tpath("expect.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (pwrite(fd, buf, SIZE, 0) != SIZE)
		diag("pwrite failed");
	close(fd);
}

/* hv reads img; every byte must equal want */
static int
reads_as(const char *img, const uint8_t *want, uint64_t size)
{
	struct hv_err err = { 0 };
	uint8_t *got = malloc(size);
	struct disk *d;
	uint64_t off = 0, pnum, seen = 0;
	int same = 1, st;

	if (disk_open(&d, img, DISK_RDONLY, &err) < 0) {
		diag("open %s: %s", img, err.msg);
		free(got);
		return 0;
	}
	if (disk_size(d) != size) {
		diag("size %llu", (unsigned long long)disk_size(d));
		same = 0;
	} else if (disk_read(d, 0, got, size, &err) < 0) {
		diag("read: %s", err.msg);
		same = 0;
	} else if (memcmp(got, want, size)) {
		for (off = 0; got[off] == want[off]; off++)
			;
		diag("%s differs at %llu", img, (unsigned long long)off);
		same = 0;
	}
	for (off = 0; same && off < size; off += pnum) {
		st = disk_block_status(d, off, size - off, &pnum, &err);
		if (st < 0 || pnum == 0) {
			diag("block status: %s", err.msg);
			same = 0;
		}
		seen += pnum;
	}
	if (same && seen != size)
		same = 0;
	disk_close(d);
	free(got);
	return same;
}

static void
test_qemu_made(void)
{
	static const char *opts[] = {
		"", "-o compat=0.10", "-c", "-o cluster_size=512",
		"-o cluster_size=2M", "-c -o cluster_size=512",
		"-c -o cluster_size=2M", "-o refcount_bits=1",
		"-o refcount_bits=64", "-o compat=0.10,cluster_size=4096",
	};

	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		int rc = sh("qemu-img convert -f raw -O qcow2 %s %s %s",
			    opts[i], tpath("pattern.raw"), tpath("q.qcow2"));

		ok(rc == 0 && reads_as(tpath("q.qcow2"), pattern, SIZE),
		   "qemu-img convert -O qcow2 %s: hv reads it identically",
		   opts[i]);
	}
}

/* hv writes the pattern runs with uneven request sizes */
static int
hv_write_pattern(const char *img)
{
	struct hv_err err = { 0 };
	struct disk *d;
	int rc = 0;

	if (disk_open(&d, img, 0, &err) < 0) {
		diag("open %s: %s", img, err.msg);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < NRUNS; i++) {
		uint64_t off = runs[i].off, end = off + runs[i].len;

		while (rc == 0 && off < end) {
			uint64_t n = end - off < 37 * 512 ? end - off : 37 * 512;

			rc = disk_write(d, off, pattern + off, n, &err);
			off += n;
		}
	}
	if (rc == 0)
		rc = disk_flush(d, &err);
	if (rc)
		diag("write: %s", err.msg);
	disk_close(d);
	return rc;
}

static int
qemu_agrees(const char *img, const char *raw)
{
	int c = sh("qemu-img check -q %s", img);
	int m = sh("qemu-img compare -q -f raw -F qcow2 %s %s", raw, img);

	if (c || m)
		diag("qemu-img check %d, compare %d", c, m);
	return c == 0 && m == 0;
}

static void
test_hv_made(void)
{
	static const struct { uint32_t bs; bool fixed; } v[] = {
		{ 0, false }, { 512, false }, { 2 * MIB, false },
		{ 4096, true },
	};
	struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2, .size = SIZE };
	struct hv_err err = { 0 };

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int rc;

		o.block_size = v[i].bs;
		o.fixed = v[i].fixed;
		unlink(tpath("h.qcow2"));
		rc = disk_create(tpath("h.qcow2"), &o, &err);
		if (rc)
			diag("create: %s", err.msg);
		ok(rc == 0 && hv_write_pattern(tpath("h.qcow2")) == 0 &&
		   qemu_agrees(tpath("h.qcow2"), tpath("pattern.raw")) &&
		   reads_as(tpath("h.qcow2"), pattern, SIZE),
		   "hv-made qcow2 (cluster %u%s): qemu-img compare and check agree",
		   v[i].bs, v[i].fixed ? ", fixed" : "");
	}
}

/* overwrite, zero and discard inside a qemu-made image */
static void
test_rewrite(const char *opt)
{
	uint8_t *want = malloc(SIZE), buf[8192];
	struct hv_err err = { 0 };
	struct disk *d;
	int rc;

	memcpy(want, pattern, SIZE);
	rc = sh("qemu-img convert -f raw -O qcow2 %s %s %s", opt,
		tpath("pattern.raw"), tpath("w.qcow2"));
	if (rc == 0)
		rc = disk_open(&d, tpath("w.qcow2"), 0, &err);
	if (rc == 0) {
		fill(buf, sizeof buf, 7);
		rc |= disk_write(d, 60 * KIB, buf, sizeof buf, &err);
		memcpy(want + 60 * KIB, buf, sizeof buf);
		rc |= disk_write(d, 2 * MIB + 512, buf, 1024, &err);
		memcpy(want + 2 * MIB + 512, buf, 1024);
		rc |= disk_write_zeroes(d, MIB, 640 * KIB + 512, &err);
		memset(want + MIB, 0, 640 * KIB + 512);
		rc |= disk_discard(d, 4 * MIB, 128 * KIB, &err);
		memset(want + 4 * MIB, 0, 64 * KIB);	/* whole clusters */
		memset(want + 4 * MIB + 64 * KIB, 0, 512);
		rc |= disk_write(d, SIZE - 1024, buf, 1024, &err);
		memcpy(want + SIZE - 1024, buf, 1024);
		if (rc)
			diag("%s", err.msg);
		disk_close(d);
	}
	save_expected(want);
	ok(rc == 0 && reads_as(tpath("w.qcow2"), want, SIZE) &&
	   qemu_agrees(tpath("w.qcow2"), tpath("expect.raw")),
	   "hv rewrites a qemu image (%s): write, zeroes, discard",
	   *opt ? opt : "default");
	free(want);
}

/* child over base: partial writes copy the rest from the parent */
static int
write_child(const char *child, uint8_t *want)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t buf[3000 / 512 * 512];
	int rc;

	if (disk_open(&d, child, 0, &err) < 0) {
		diag("open %s: %s", child, err.msg);
		return -1;
	}
	fill(buf, sizeof buf, 99);
	rc = disk_write(d, 64 * KIB + 1024, buf, sizeof buf, &err);
	memcpy(want + 64 * KIB + 1024, buf, sizeof buf);
	rc |= disk_write(d, 2 * MIB - 512, buf, sizeof buf, &err);
	memcpy(want + 2 * MIB - 512, buf, sizeof buf);
	rc |= disk_write(d, SIZE - 512, buf, 512, &err);
	memcpy(want + SIZE - 512, buf, 512);
	rc |= disk_write_zeroes(d, 3 * MIB, 256 * KIB, &err);
	memset(want + 3 * MIB, 0, 256 * KIB);
	if (rc)
		diag("child write: %s", err.msg);
	disk_close(d);
	return rc;
}

static void
test_chain(void)
{
	uint8_t *want = malloc(SIZE);
	struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2 };
	struct hv_err err = { 0 };
	int rc;

	rc = sh("qemu-img convert -f raw -O qcow2 %s %s", tpath("pattern.raw"),
		tpath("base.qcow2"));
	rc |= sh("cd %s && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "
		 "child.qcow2", dir);
	memcpy(want, pattern, SIZE);
	rc |= write_child(tpath("child.qcow2"), want);
	save_expected(want);
	ok(rc == 0 && reads_as(tpath("child.qcow2"), want, SIZE) &&
	   qemu_agrees(tpath("child.qcow2"), tpath("expect.raw")),
	   "qemu-made child: hv writes, chain reads like qemu-img");

	o.parent = tpath("base.qcow2");
	rc = disk_create(tpath("hchild.qcow2"), &o, &err);
	if (rc)
		diag("create child: %s", err.msg);
	memcpy(want, pattern, SIZE);
	rc |= write_child(tpath("hchild.qcow2"), want);
	save_expected(want);
	ok(rc == 0 && reads_as(tpath("hchild.qcow2"), want, SIZE) &&
	   qemu_agrees(tpath("hchild.qcow2"), tpath("expect.raw")),
	   "hv-made child: hv writes, qemu-img reads the chain the same");
	ok(sh("qemu-img info %s | grep -q 'backing file format: qcow2'",
	      tpath("hchild.qcow2")) == 0, "hv child records the backing format");
	free(want);
}


/* an internal snapshot shares clusters: writes must copy, not overwrite */
static void
test_snapshot(void)
{
	uint8_t *want = malloc(SIZE);
	int rc;

	rc = sh("qemu-img convert -f raw -O qcow2 %s %s && "
		"qemu-img snapshot -c s1 %s", tpath("pattern.raw"),
		tpath("s.qcow2"), tpath("s.qcow2"));
	memcpy(want, pattern, SIZE);
	rc |= write_child(tpath("s.qcow2"), want);
	save_expected(want);
	ok(rc == 0 && reads_as(tpath("s.qcow2"), want, SIZE) &&
	   qemu_agrees(tpath("s.qcow2"), tpath("expect.raw")) &&
	   sh("qemu-img snapshot -a s1 %s && qemu-img compare -q %s %s",
	      tpath("s.qcow2"), tpath("pattern.raw"), tpath("s.qcow2")) == 0,
	   "writes next to an internal snapshot leave the snapshot intact");
	free(want);
}


/* discarded clusters are handed out again before the file grows */
static void
test_reuse(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2, .size = SIZE };
	struct hv_err err = { 0 };
	uint8_t *buf = malloc(MIB);
	struct stat a, b;
	struct disk *d;
	int rc;

	unlink(tpath("u.qcow2"));
	rc = disk_create(tpath("u.qcow2"), &o, &err);
	rc |= disk_open(&d, tpath("u.qcow2"), 0, &err);
	if (rc == 0) {
		fill(buf, MIB, 5);
		rc |= disk_write(d, 0, buf, MIB, &err);
		rc |= disk_discard(d, 0, MIB, &err);
		stat(tpath("u.qcow2"), &a);
		rc |= disk_write(d, 2 * MIB, buf, MIB, &err);
		disk_close(d);
	}
	stat(tpath("u.qcow2"), &b);
	if (rc)
		diag("%s", err.msg);
	ok(rc == 0 && b.st_size == a.st_size &&
	   sh("qemu-img check -q %s", tpath("u.qcow2")) == 0,
	   "freed clusters are reused (file %lld -> %lld bytes)",
	   (long long)a.st_size, (long long)b.st_size);
	free(buf);
}


/* compact drops clusters of written zeros and shortens the file */
static void
test_compact(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2, .size = SIZE };
	struct hv_err err = { 0 };
	uint8_t *z = calloc(1, 2 * MIB);
	struct stat a, b;
	struct disk *d;
	int rc;

	unlink(tpath("k.qcow2"));
	rc = disk_create(tpath("k.qcow2"), &o, &err);
	rc |= hv_write_pattern(tpath("k.qcow2"));
	rc |= disk_open(&d, tpath("k.qcow2"), 0, &err);
	if (rc == 0) {
		/* zeros written as data: at the end and in the middle */
		rc |= disk_write(d, SIZE - 1536 - 2 * MIB, z, 2 * MIB, &err);
		disk_close(d);
	}
	memset(pattern + SIZE - 1536 - 2 * MIB, 0, 2 * MIB);
	write_raw(tpath("k.raw"), pattern);
	stat(tpath("k.qcow2"), &a);
	rc |= disk_compact(tpath("k.qcow2"), NULL, NULL, &err);
	stat(tpath("k.qcow2"), &b);
	if (rc)
		diag("%s", err.msg);
	ok(rc == 0 && b.st_size < a.st_size &&
	   qemu_agrees(tpath("k.qcow2"), tpath("k.raw")),
	   "compact frees zero clusters (%lld -> %lld bytes)",
	   (long long)a.st_size, (long long)b.st_size);
	free(z);
}

static void
poke(const char *path, uint64_t off, const void *v, size_t len)
{
	int fd = open(path, O_RDWR);

	if (pwrite(fd, v, len, (off_t)off) != (ssize_t)len)
		diag("poke failed");
	close(fd);
}

static void
test_check_repair(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2, .size = SIZE };
	struct disk_check_result r;
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t v[8];
	int rc;

	rc = disk_create(tpath("c.qcow2"), &o, &err);
	rc |= hv_write_pattern(tpath("c.qcow2"));
	/* a leak: cluster 200 counted but unused; an error: cluster 4
	   (the first L2 table or data) counted 0 */
	put_be16(v, 1);
	poke(tpath("c.qcow2"), 2 * 65536 + 2 * 200, v, 2);
	put_be16(v, 0);
	poke(tpath("c.qcow2"), 2 * 65536 + 2 * 4, v, 2);
	rc |= disk_open(&d, tpath("c.qcow2"), 0, &err);
	if (rc) {
		diag("%s", err.msg);
		ok(0, "check finds a leak and an error");
		ok(0, "repair fixes them");
		return;
	}
	rc = disk_check(d, false, &r, &err);
	ok(rc == 0 && r.errors == 1 && r.leaks == 1,
	   "check finds a leak and an error (%llu/%llu: %s)",
	   (unsigned long long)r.errors, (unsigned long long)r.leaks, r.first);
	rc = disk_check(d, true, &r, &err);
	disk_close(d);
	ok(rc == 0 && r.errors == 0 && r.leaks == 0 && r.repaired == 2 &&
	   qemu_agrees(tpath("c.qcow2"), tpath("pattern.raw")),
	   "repair fixes them; qemu-img check agrees");

	/* a wrong copied flag on the first L1 entry (L1 at cluster 3) */
	{
		int fd = open(tpath("c.qcow2"), O_RDONLY);

		if (pread(fd, v, 8, 3 * 65536) != 8)
			diag("pread failed");
		close(fd);
		v[0] &= 0x7f;
		poke(tpath("c.qcow2"), 3 * 65536, v, 8);
	}
	rc = disk_open(&d, tpath("c.qcow2"), 0, &err);
	if (rc == 0) {
		rc = disk_check(d, false, &r, &err);
		ok(rc == 0 && r.errors == 1 && strstr(r.first, "copied"),
		   "check finds a wrong copied flag: %s", r.first);
		rc |= disk_check(d, true, &r, &err);
		disk_close(d);
	}
	ok(rc == 0 && r.errors == 0 &&
	   sh("qemu-img check -q %s", tpath("c.qcow2")) == 0,
	   "repair sets it; qemu-img check agrees");

	/* dirty bit with a leak: rebuilt on a writable open */
	put_be16(v, 1);
	poke(tpath("c.qcow2"), 2 * 65536 + 2 * 300, v, 2);
	put_be64(v, 1);
	poke(tpath("c.qcow2"), 72, v, 8);
	rc = disk_open(&d, tpath("c.qcow2"), 0, &err);
	if (rc == 0)
		disk_close(d);
	else
		diag("%s", err.msg);
	ok(rc == 0 && qemu_agrees(tpath("c.qcow2"), tpath("pattern.raw")) &&
	   sh("qemu-img info %s | grep -q 'corrupt: false'",
	      tpath("c.qcow2")) == 0,
	   "dirty image: refcounts rebuilt and the bit cleared on open");
}

static void
test_resize_and_growth(void)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t *big = malloc(12 * MIB);
	int rc;

	rc = sh("qemu-img convert -f raw -O qcow2 %s %s", tpath("pattern.raw"),
		tpath("r.qcow2"));
	rc |= disk_resize(tpath("r.qcow2"), 8ull << 30, false, &err);
	if (rc)
		diag("resize: %s", err.msg);
	ok(rc == 0 && sh("qemu-img info %s | grep -q 'virtual size: 8 GiB'",
			 tpath("r.qcow2")) == 0 &&
	   sh("qemu-img check -q %s", tpath("r.qcow2")) == 0 &&
	   sh("qemu-img compare -q %s %s", tpath("pattern.raw"),
	      tpath("r.qcow2")) == 0,
	   "resize 5M -> 8G grows the L1 table, data kept");

	/* 512-byte clusters: 12 MiB of data outgrows the refcount table */
	rc = sh("qemu-img create -q -f qcow2 -o cluster_size=512 %s 16M",
		tpath("g.qcow2"));
	rc |= disk_open(&d, tpath("g.qcow2"), 0, &err);
	if (rc == 0) {
		int fd = open(tpath("g.big"), O_RDWR | O_CREAT | O_TRUNC, 0644);

		fill(big, 12 * MIB, 3);
		if (write(fd, big, 12 * MIB) != 12 * MIB)
			diag("write failed");
		close(fd);
		rc = disk_write(d, 2 * MIB, big, 12 * MIB, &err);
		disk_close(d);
	}
	if (rc)
		diag("%s", err.msg);
	ok(rc == 0 && sh("qemu-img check -q %s", tpath("g.qcow2")) == 0 &&
	   sh("qemu-img convert -O raw %s %s && cmp -s -i 2097152:0 -n 12582912 "
	      "%s %s.big", tpath("g.qcow2"), tpath("g.raw"), tpath("g.raw"),
	      tpath("g")) == 0,
	   "refcount table growth with 512-byte clusters passes qemu-img check");
	free(big);
}

/* a valid v3 header for 1 MiB with 64K clusters, to be broken */
static void
good_header(uint8_t *h)
{
	memset(h, 0, 4 * 65536);
	put_be32(h, 0x514649fb);
	put_be32(h + 4, 3);
	put_be32(h + 20, 16);
	put_be64(h + 24, MIB);
	put_be32(h + 36, 1);
	put_be64(h + 40, 3 * 65536);
	put_be64(h + 48, 65536);
	put_be32(h + 56, 1);
	put_be32(h + 96, 4);
	put_be32(h + 100, 104);
	put_be64(h + 65536, 2 * 65536);
	for (int i = 0; i < 4; i++)
		put_be16(h + 2 * 65536 + 2 * i, 1);
}

static int
open_raw_bytes(const uint8_t *img, size_t len, struct hv_err *err)
{
	struct disk d = { .drv = &disk_qcow2_driver, .flags = DISK_RDONLY };
	int rc;

	d.path = (char *)tpath("bad.qcow2");
	d.fd = open(d.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (write(d.fd, img, len) != (ssize_t)len)
		diag("write failed");
	rc = disk_qcow2_driver.open(&d, err);
	if (rc == 0)
		disk_qcow2_driver.close(&d);
	free(d.parent_name);
	close(d.fd);
	return rc;
}

static void
test_malformed(void)
{
	static const struct {
		const char *what, *expect;
		unsigned off, width;
		uint64_t val;
		size_t len;
	} c[] = {
		{ "bad magic", "bad magic", 0, 4, 0x514649fa, 0 },
		{ "huge size", "L1 table", 24, 8, 1ull << 60, 0 },
		{ "L1 past EOF", "L1 table at", 40, 8, 64 * 65536, 0 },
		{ "cluster_bits 8", "cluster_bits", 20, 4, 8, 0 },
		{ "cluster_bits 30", "cluster_bits", 20, 4, 30, 0 },
		{ "refcount table over the header", "overlaps the header", 48,
		  8, 0, 0 },
		{ "unknown incompatible feature", "incompatible feature", 72,
		  8, 1ull << 20, 0 },
		{ "refcount_order 7", "refcount_order", 96, 4, 7, 0 },
		{ "truncated", "too short", 0, 0, 0, 60 },
		{ "L1 overlaps refcount table", "overlaps", 40, 8, 65536, 0 },
	};
	uint8_t *h = malloc(4 * 65536);
	struct hv_err err;

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		int rc;

		good_header(h);
		if (c[i].width == 4)
			put_be32(h + c[i].off, (uint32_t)c[i].val);
		else if (c[i].width == 8)
			put_be64(h + c[i].off, c[i].val);
		memset(&err, 0, sizeof err);
		rc = open_raw_bytes(h, c[i].len ? c[i].len : 4 * 65536, &err);
		ok(rc < 0 && strstr(err.msg, c[i].expect) &&
		   !strchr(err.msg, '\n'), "malformed: %s: %s", c[i].what,
		   err.msg);
	}
	good_header(h);
	ok(open_raw_bytes(h, 4 * 65536, &err) == 0, "the unbroken header opens");
	free(h);
}


int
main(void)
{

	snprintf(dir, sizeof dir, "/tmp/hv-qcow2-XXXXXX");
	if (!mkdtemp(dir))
		skip_all("no temp dir");
	if (sh("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img not installed");
	pattern = calloc(1, SIZE);
	for (size_t i = 0; i < NRUNS; i++)
		fill(pattern + runs[i].off, runs[i].len, (unsigned)i + 1);
	write_raw(tpath("pattern.raw"), pattern);

	test_qemu_made();
	test_hv_made();
	test_rewrite("");
	test_rewrite("-c");
	test_rewrite("-o compat=0.10");
	test_rewrite("-o cluster_size=512,refcount_bits=1");
	test_chain();
	test_snapshot();
	test_reuse();
	test_check_repair();
	test_resize_and_growth();
	test_malformed();
	test_compact();	/* last: it changes the pattern */

	sh("rm -rf %s", dir);
	free(pattern);
	return done_testing();
}
