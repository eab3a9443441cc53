/*
 * disk-vhd.c - the VHD driver against qemu-img ("vpc") as the oracle:
 * images qemu makes read the same in hv, images hv makes read the same
 * in qemu, the virtual size rule per creator, differencing chains, real
 * samples from other tools, malformed images, check/resize/compact and
 * crashes during allocation (HV_DISK_FAULT kill, in a child process:
 * `disk-vhd.t --crash IMG N`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "tests/tap.h"
#include "tests/unit/disk-test.h"

#define MIB	(1024u * 1024)
#define SAMPLES	"../shared/testdata/disks"


/* the virtual size qemu-img info reports, 0 on failure */
static uint64_t
qemu_size(const char *path)
{
	char cmd[512], line[512];
	unsigned long long v = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd,
		 "qemu-img info -f vpc --output=json '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, " \"virtual-size\": %llu", &v) == 1)
			break;
	pclose(f);
	return v;
}

static void
fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (char)(seed >> 16);
	}
}

/* read all of path through hv (chain included) into the file out */
static int
hv_dump(const char *path, const char *out, unsigned flags, uint64_t *size,
	struct hv_err *err)
{
	struct disk *d;
	char *buf = malloc(4 * MIB);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = -1;

	if (buf == NULL || fd < 0 || disk_open(&d, path, flags, err) < 0)
		goto out;
	*size = disk_size(d);
	for (uint64_t off = 0; off < *size;) {
		size_t n = *size - off < 4 * MIB ? *size - off : 4 * MIB;

		if (disk_read(d, off, buf, n, err) < 0 ||
		    pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			disk_close(d);
			goto out;
		}
		off += n;
	}
	disk_close(d);
	rc = ftruncate(fd, (off_t)*size);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* hv reads path exactly as qemu-img convert -O raw does */
static void
same_as_qemu(const char *path, const char *what)
{
	struct hv_err err = { 0 };
	uint64_t size = 0;

	if (hv_dump(path, tpath("hv.raw"), DISK_RDONLY, &size, &err) < 0) {
		ok(0, "%s: hv reads it (%s)", what, err.msg);
		return;
	}
	is_int(size, qemu_size(path), "%s: same virtual size as qemu-img", what);
	sh("qemu-img convert -f vpc -O raw '%s' '%s'", path, tpath("q.raw"));
	is_int(sh("cmp -s '%s' '%s'", tpath("hv.raw"), tpath("q.raw")), 0,
	       "%s: same content as qemu-img convert -O raw", what);
}

static void
test_qemu_made(void)
{
	static const char *const opts[] = {
		"", "-o subformat=fixed", "-o force_size=on",
		"-o subformat=fixed,force_size=on",
	};
	char *buf = malloc(8 * MIB);
	int fd = open(tpath("pat.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);

	/* holes, a full 2 MiB block, partial blocks, the last sector */
	fill(buf, 8 * MIB, 1);
	pwrite(fd, buf, 2 * MIB, 4 * MIB);
	pwrite(fd, buf + 2 * MIB, 3 * 4096, 9 * MIB + 512);
	pwrite(fd, buf + 3 * MIB, 512, 33 * MIB + 7 * 512 - 512);
	ftruncate(fd, 33 * MIB + 7 * 512);
	close(fd);
	free(buf);
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char what[64];

		sh("qemu-img convert -f raw -O vpc %s '%s' '%s'", opts[i],
		   tpath("pat.raw"), tpath("q.vhd"));
		snprintf(what, sizeof what, "qemu convert %s", opts[i]);
		same_as_qemu(tpath("q.vhd"), what);
		sh("qemu-img create -q -f vpc %s '%s' 100M", opts[i],
		   tpath("c.vhd"));
		snprintf(what, sizeof what, "qemu create %s", opts[i]);
		same_as_qemu(tpath("c.vhd"), what);
		unlink(tpath("q.vhd"));
		unlink(tpath("c.vhd"));
	}
}

/* set creator app and geometry in every footer copy, checksums fixed */
static void
patch_footer(const char *path, const char *app, int c, int h, int s)
{
	int fd = open(path, O_RDWR);
	off_t end = lseek(fd, 0, SEEK_END);
	unsigned char f[512];

	for (int k = 0; k < 2; k++) {
		off_t at = k ? end - 512 : 0;
		unsigned sum = 0;

		pread(fd, f, 512, at);
		if (memcmp(f, "conectix", 8) != 0)
			continue;
		memcpy(f + 28, app, 4);
		f[56] = (unsigned char)(c >> 8);
		f[57] = (unsigned char)c;
		f[58] = (unsigned char)h;
		f[59] = (unsigned char)s;
		memset(f + 64, 0, 4);
		for (int i = 0; i < 512; i++)
			sum += f[i];
		sum = ~sum;
		f[64] = (unsigned char)(sum >> 24);
		f[65] = (unsigned char)(sum >> 16);
		f[66] = (unsigned char)(sum >> 8);
		f[67] = (unsigned char)sum;
		pwrite(fd, f, 512, at);
	}
	close(fd);
}

/* the size rule by creator: current_size or CHS, as qemu-img decides */
static void
test_creators(void)
{
	static const char apps[][5] = {
		"win ", "qem2", "qemu", "vpc ", "d2v ", "d2v\0", "wa\0\0",
		"tap\0", "CTXS", "hv  ",
	};
	struct hv_err err;

	for (int fixed = 0; fixed < 2; fixed++) {
		sh("qemu-img create -q -f vpc -o force_size=on%s '%s' 1G",
		   fixed ? ",subformat=fixed" : "", tpath("a.vhd"));
		for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++) {
			struct disk *d;

			sh("cp '%s' '%s'", tpath("a.vhd"), tpath("b.vhd"));
			patch_footer(tpath("b.vhd"), apps[i], 2080, 16, 63);
			if (disk_open(&d, tpath("b.vhd"), DISK_RDONLY, &err) < 0) {
				ok(0, "creator '%s': opens (%s)", apps[i], err.msg);
				continue;
			}
			is_int(disk_size(d), qemu_size(tpath("b.vhd")),
			       "%s creator '%.4s': size as qemu-img reports",
			       fixed ? "fixed" : "dynamic", apps[i]);
			disk_close(d);
		}
	}
}

/* write the pattern to an hv image and to a plain file alike */
static int
pattern(struct disk *d, const char *expect, struct hv_err *err)
{
	uint64_t size = disk_size(d);
	char *buf = malloc(5 * MIB);
	int fd = open(expect, O_RDWR | O_CREAT | O_TRUNC, 0644), rc = 0;
	struct { uint64_t off, len; } w[] = {
		{ 0, 512 }, { 2 * MIB, 2 * MIB }, { 5 * MIB - 4096, 8192 },
		{ 7 * MIB + 512, 3 * 512 }, { size - 512, 512 },
		{ 7 * MIB + 4096, 4096 },
	};

	fill(buf, 5 * MIB, 7);
	ftruncate(fd, (off_t)size);
	for (size_t i = 0; i < sizeof w / sizeof w[0] && rc == 0; i++) {
		pwrite(fd, buf + i * 4096, w[i].len, (off_t)w[i].off);
		rc = disk_write(d, w[i].off, buf + i * 4096, w[i].len, err);
	}
	close(fd);
	free(buf);
	return rc;
}

static void
test_hv_made(void)
{
	static const struct { bool fixed; uint64_t size; const char *what; } v[] = {
		{ false, 33 * MIB + 7 * 512, "dynamic, odd size" },
		{ true, 20 * MIB, "fixed" },
		{ false, 64 * MIB, "dynamic" },
		{ true, 20 * MIB + 512, "fixed, size rounded to MiB" },
	};
	struct hv_err err;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct disk_create_opts o = { .fmt = DISK_FMT_VHD,
			.size = v[i].size, .fixed = v[i].fixed };
		struct disk_info info;
		struct disk *d;

		unlink(tpath("h.vhd"));
		if (disk_create(tpath("h.vhd"), &o, &err) < 0 ||
		    disk_open(&d, tpath("h.vhd"), 0, &err) < 0) {
			ok(0, "%s: create and open (%s)", v[i].what, err.msg);
			continue;
		}
		ok(pattern(d, tpath("e.raw"), &err) == 0, "%s: pattern written",
		   v[i].what);
		disk_get_info(d, &info, &err);
		disk_close(d);
		is_str(info.subformat, v[i].fixed ? "fixed" : "dynamic",
		       "%s: subformat", v[i].what);
		is_str(info.creator_app, "win ", "%s: creator", v[i].what);
		if (v[i].fixed)
			ok(info.size % MIB == 0, "%s: whole MiB for Azure",
			   v[i].what);
		is_int(qemu_size(tpath("h.vhd")), info.size,
		       "%s: qemu-img reports hv's size", v[i].what);
		sh("truncate -s %llu '%s'", (unsigned long long)info.size,
		   tpath("e.raw"));
		is_int(sh("qemu-img compare -q -f vpc -F raw '%s' '%s'",
			  tpath("h.vhd"), tpath("e.raw")), 0,
		       "%s: qemu-img compare with the pattern", v[i].what);
		same_as_qemu(tpath("h.vhd"), v[i].what);
	}
}

static void
test_differencing(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VHD, .size = 16 * MIB };
	struct hv_err err;
	struct disk_info info;
	struct disk *d;
	char *buf = malloc(MIB);
	uint64_t size;

	sh("mkdir -p '%s'", tpath("sub"));
	fill(buf, MIB, 3);
	if (disk_create(tpath("sub/base.vhd"), &o, &err) < 0 ||
	    disk_open(&d, tpath("sub/base.vhd"), 0, &err) < 0) {
		ok(0, "base created (%s)", err.msg);
		free(buf);
		return;
	}
	disk_write(d, 0, buf, MIB, &err);
	disk_write(d, 6 * MIB, buf, MIB, &err);
	disk_close(d);
	sh("qemu-img convert -f vpc -O raw '%s' '%s'", tpath("sub/base.vhd"),
	   tpath("e.raw"));
	o.size = 0;
	o.parent = "sub/base.vhd";
	ok(disk_create(tpath("child.vhd"), &o, &err) == 0,
	   "differencing child created (%s)", err.msg);
	if (disk_open(&d, tpath("child.vhd"), 0, &err) < 0) {
		ok(0, "child opens (%s)", err.msg);
		free(buf);
		return;
	}
	disk_get_info(d, &info, &err);
	is_str(info.subformat, "differencing", "child is differencing");
	is_str(info.parent, "./sub/base.vhd", "W2ru relative locator chosen");
	is_int(disk_size(d), 16 * MIB, "child takes the parent's size");
	/* sub-block writes: the rest of each block stays the parent's */
	fill(buf, MIB, 9);
	disk_write(d, 512 * 3, buf, 4096, &err);
	disk_write(d, 6 * MIB + 8192, buf, 1024, &err);
	disk_write(d, 12 * MIB, buf, 2048, &err);
	disk_close(d);
	{
		int fd = open(tpath("e.raw"), O_RDWR);

		pwrite(fd, buf, 4096, 512 * 3);
		pwrite(fd, buf, 1024, 6 * MIB + 8192);
		pwrite(fd, buf, 2048, 12 * MIB);
		close(fd);
	}
	ok(hv_dump(tpath("child.vhd"), tpath("hv.raw"), DISK_RDONLY, &size,
		   &err) == 0, "chain reads (%s)", err.msg);
	is_int(sh("cmp -s '%s' '%s'", tpath("hv.raw"), tpath("e.raw")), 0,
	       "child over parent reads as the merged pattern");
	is_int(qemu_size(tpath("child.vhd")), 16 * MIB,
	       "qemu-img reads the child's size");
	/* a different disk under the parent's name is refused */
	sh("cp '%s' '%s'", tpath("sub/base.vhd"), tpath("keep.vhd"));
	unlink(tpath("sub/base.vhd"));
	o.size = 16 * MIB;
	o.parent = NULL;
	disk_create(tpath("sub/base.vhd"), &o, &err);
	ok(hv_dump(tpath("child.vhd"), tpath("hv.raw"), DISK_RDONLY, &size,
		   &err) < 0 && strstr(err.msg, "unique ids differ"),
	   "a parent with another unique id is refused (%s)", err.msg);
	sh("mv '%s' '%s'", tpath("keep.vhd"), tpath("sub/base.vhd"));
	ok(disk_merge(tpath("child.vhd"), NULL, NULL, &err) == 0,
	   "merge into the parent (%s)", err.msg);
	is_int(sh("qemu-img compare -q -f vpc -F raw '%s' '%s'",
		  tpath("sub/base.vhd"), tpath("e.raw")), 0,
	       "merged parent matches by qemu-img compare");
	free(buf);
}

static void
test_samples(void)
{
	static const struct { const char *file, *unz; bool cmp; } s[] = {
		{ "qemu/virtualpc-dynamic.vhd.bz2", "bzip2 -dc", false },
		{ "qemu/hyperv2012r2-dynamic.vhd.bz2", "bzip2 -dc", false },
		{ "qemu/d2v-zerofilled.vhd.bz2", "bzip2 -dc", true },
		{ "dissect/dynamic.vhd.gz", "gzip -dc", true },
		{ "dissect/fixed.vhd.gz", "gzip -dc", true },
	};
	struct hv_err err;
	struct disk_info info;
	struct disk *d;

	if (access(SAMPLES, R_OK) < 0) {
		for (int i = 0; i < 8; i++)
			ok(1, "# SKIP %s is absent", SAMPLES);
		return;
	}
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		sh("%s '%s/%s' > '%s'", s[i].unz, SAMPLES, s[i].file,
		   tpath("s.vhd"));
		if (s[i].cmp) {
			same_as_qemu(tpath("s.vhd"), s[i].file);
		} else if (disk_open(&d, tpath("s.vhd"), DISK_RDONLY, &err) == 0) {
			is_int(disk_size(d), qemu_size(tpath("s.vhd")),
			       "%s: same virtual size as qemu-img", s[i].file);
			disk_close(d);
		} else {
			ok(0, "%s opens (%s)", s[i].file, err.msg);
		}
	}
	sh("gzip -dc '%s/dfvfs/fat-differential.vhd.gz' > '%s'", SAMPLES,
	   tpath("s.vhd"));
	if (disk_open(&d, tpath("s.vhd"), DISK_RDONLY | DISK_NOBACKING,
		      &err) < 0) {
		ok(0, "fat-differential opens (%s)", err.msg);
		return;
	}
	disk_get_info(d, &info, &err);
	is_str(info.parent, "./fat-parent.vhd", "diskpart's W2ru parent read");
	is_int(info.size, 4 * MIB, "fat-differential size");
	is_int(info.cyls * info.heads * info.spt, 120 * 4 * 17,
	       "fat-differential geometry");
	disk_close(d);
	ok(disk_open(&d, tpath("s.vhd"), DISK_RDONLY, &err) < 0 &&
	   err.code == HV_ENOENT, "missing parent: one clear error (%s)",
	   err.msg);
}

/* a malformed image: open fails with one line that names the file */
static void
bad(const char *what, enum hv_errcode code)
{
	struct hv_err err = { 0 };
	struct disk *d;

	if (disk_open(&d, tpath("m.vhd"), DISK_RDONLY, &err) == 0) {
		ok(0, "%s: refused", what);
		disk_close(d);
		return;
	}
	ok(err.code == code && strstr(err.msg, "m.vhd") &&
	   !strchr(err.msg, '\n'), "%s: one clear error (%s)", what, err.msg);
}

static void
poke(const char *path, off_t off, const void *p, size_t n)
{
	int fd = open(path, O_RDWR);

	pwrite(fd, p, n, off);
	close(fd);
}

static void
fix_header_sum(const char *path)
{
	unsigned char h[1024];
	unsigned sum = 0;
	int fd = open(path, O_RDWR);

	pread(fd, h, sizeof h, 512);
	memset(h + 36, 0, 4);
	for (int i = 0; i < 1024; i++)
		sum += h[i];
	sum = ~sum;
	h[36] = (unsigned char)(sum >> 24);
	h[37] = (unsigned char)(sum >> 16);
	h[38] = (unsigned char)(sum >> 8);
	h[39] = (unsigned char)sum;
	pwrite(fd, h, sizeof h, 512);
	close(fd);
}

static void
test_malformed(void)
{
	static const unsigned char ff[4] = { 0x7f, 0xff, 0xff, 0xf0 };
	static const unsigned char big[4] = { 0, 0, 0, 0x40 };

	sh("qemu-img convert -f raw -O vpc '%s' '%s'", tpath("pat.raw"),
	   tpath("good.vhd"));
	sh("cp '%s' '%s' && truncate -s 3M '%s'", tpath("good.vhd"),
	   tpath("m.vhd"), tpath("m.vhd"));
	bad("truncated", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 70, "x", 1);
	sh("truncate -s -512 '%s'", tpath("m.vhd"));
	bad("bad footer checksum", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 512 + 100, "x", 1);
	bad("bad dynamic header checksum", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 1536 + 8, ff, 4);
	bad("BAT entry past EOF", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 1536 + 8, "\0\0\0\x03", 4);
	bad("block over the headers", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 512 + 32, big, 4);
	fix_header_sum(tpath("m.vhd"));
	bad("block size bad", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 512 + 28, "\0\0\0\1", 4);
	fix_header_sum(tpath("m.vhd"));
	bad("BAT smaller than the disk", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	poke(tpath("m.vhd"), 512 + 28, "\x7f\xff\xff\xff", 4);
	fix_header_sum(tpath("m.vhd"));
	bad("huge BAT", HV_ECORRUPT);
	sh("cp '%s' '%s'", tpath("good.vhd"), tpath("m.vhd"));
	patch_footer(tpath("m.vhd"), "win ", 65535, 16, 255);
	poke(tpath("m.vhd"), 48, "\0\0\x20\0\0\0\0\0", 8);
	patch_footer(tpath("m.vhd"), "win ", 65535, 16, 255);
	bad("size over 2040 GiB", HV_ECORRUPT);
	sh("printf 'conectix' > '%s'", tpath("m.vhd"));
	bad("tiny file", HV_ECORRUPT);
}

static void
test_tools(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VHD, .size = 10 * MIB };
	struct disk_check_result r = { 0 };
	struct hv_err err = { 0 };
	struct disk *d;
	char *zero = calloc(1, 2 * MIB);
	struct stat st0, st1;

	unlink(tpath("t.vhd"));
	disk_create(tpath("t.vhd"), &o, &err);
	disk_open(&d, tpath("t.vhd"), 0, &err);
	pattern(d, tpath("e.raw"), &err);
	disk_write(d, 4 * MIB, zero, 2 * MIB, &err);	/* a zero block */
	disk_close(d);
	{
		int fd = open(tpath("e.raw"), O_RDWR);

		pwrite(fd, zero, 2 * MIB, 4 * MIB);
		close(fd);
	}
	stat(tpath("t.vhd"), &st0);
	ok(disk_compact(tpath("t.vhd"), NULL, NULL, &err) == 0,
	   "compact (%s)", err.msg);
	stat(tpath("t.vhd"), &st1);
	ok(st1.st_size < st0.st_size, "compact shrank the file (%lld -> %lld)",
	   (long long)st0.st_size, (long long)st1.st_size);
	is_int(sh("qemu-img compare -q -f vpc -F raw '%s' '%s'",
		  tpath("t.vhd"), tpath("e.raw")), 0,
	       "compacted image still matches");
	ok(disk_resize(tpath("t.vhd"), 3000ull * MIB, false, &err) == 0,
	   "grow 10 MiB -> 3000 MiB, BAT grows (%s)", err.msg);
	is_int(qemu_size(tpath("t.vhd")), 3000ull * MIB,
	       "qemu-img sees the new size");
	sh("truncate -s 3000M '%s'", tpath("e.raw"));
	is_int(sh("qemu-img compare -q -f vpc -F raw '%s' '%s'",
		  tpath("t.vhd"), tpath("e.raw")), 0,
	       "grown image keeps its data, reads zeros past the old end");
	ok(disk_resize(tpath("t.vhd"), 5 * MIB, true, &err) < 0,
	   "shrink refused (%s)", err.msg);
	poke(tpath("t.vhd"), 100, "x", 1);	/* break the footer copy */
	if (disk_open(&d, tpath("t.vhd"), 0, &err) == 0) {
		disk_check(d, false, &r, &err);
		ok(r.errors == 1, "check finds the bad footer copy (%s)",
		   r.first);
		memset(&r, 0, sizeof r);
		disk_check(d, true, &r, &err);
		ok(r.repaired == 1 && r.errors == 0, "repair rewrites it");
		disk_close(d);
	} else {
		ok(0, "opens with one bad footer copy (%s)", err.msg);
		ok(0, "repair");
	}
	is_int(qemu_size(tpath("t.vhd")), 3000ull * MIB,
	       "qemu-img reads the repaired image");
	o.size = 2041ull * 1024 * MIB;
	ok(disk_create(tpath("huge.vhd"), &o, &err) < 0 &&
	   strstr(err.msg, "2040 GiB"), "over 2040 GiB refused (%s)", err.msg);
	free(zero);
}

/* child: allocate blocks with a SIGKILL at pwrite N */
static int
crash_child(const char *img)
{
	struct hv_err err;
	struct disk *d;
	char *buf = malloc(MIB);

	if (disk_open(&d, img, 0, &err) < 0)
		return 2;
	for (int i = 0; i < 6; i++) {
		fill(buf, MIB, (unsigned)i);
		if (disk_write(d, (uint64_t)i * 3 * MIB, buf, MIB, &err) < 0)
			return 3;
		printf("%d\n", i);	/* acknowledged */
		fflush(stdout);
	}
	disk_close(d);
	return 0;
}

static void
test_crash(const char *self)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VHD, .size = 20 * MIB };
	struct hv_err err;
	int good = 0, acked_ok = 0;
	uint64_t size;
	char *buf = malloc(MIB), *want = malloc(MIB);

	for (int n = 1; n <= 20; n++) {
		struct disk *d;
		int acked = -1, v;
		FILE *f;
		char cmd[512];

		unlink(tpath("k.vhd"));
		disk_create(tpath("k.vhd"), &o, &err);
		snprintf(cmd, sizeof cmd,
			 "HV_DISK_FAULT=pwrite:%d:kill '%s' --crash '%s' 2>/dev/null",
			 n, self, tpath("k.vhd"));
		f = popen(cmd, "r");
		while (f && fscanf(f, "%d", &v) == 1)
			acked = v;
		if (f)
			pclose(f);
		if (disk_open(&d, tpath("k.vhd"), DISK_RDONLY, &err) < 0)
			continue;
		good++;
		v = 1;
		for (int i = 0; i <= acked; i++) {
			fill(want, MIB, (unsigned)i);
			if (disk_read(d, (uint64_t)i * 3 * MIB, buf, MIB, &err) < 0 ||
			    memcmp(buf, want, MIB) != 0)
				v = 0;
		}
		{
			struct disk_check_result r = { 0 };

			if (disk_check(d, false, &r, &err) < 0 || r.errors)
				v = 0;
		}
		disk_close(d);
		acked_ok += v && sh("qemu-img convert -f vpc -O raw '%s' '%s'",
				    tpath("k.vhd"), tpath("q.raw")) == 0 &&
			    hv_dump(tpath("k.vhd"), tpath("hv.raw"), DISK_RDONLY,
				    &size, &err) == 0 &&
			    sh("cmp -s '%s' '%s'", tpath("hv.raw"),
			       tpath("q.raw")) == 0;
	}
	is_int(good, 20, "image opens after SIGKILL at each of 20 writes");
	is_int(acked_ok, 20,
	       "acknowledged writes read back, check is clean, qemu-img reads the same");
	free(buf);
	free(want);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--crash") == 0)
		return crash_child(argv[2]);
	if (sh("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img is not installed");
	snprintf(dir, sizeof dir, "/tmp/hv-vhd-XXXXXX");
	if (mkdtemp(dir) == NULL)
		skip_all("no temp dir");
	test_qemu_made();
	test_creators();
	test_hv_made();
	test_differencing();
	test_samples();
	test_malformed();
	test_tools();
	test_crash(argv[0]);
	sh("rm -rf '%s'", dir);
	return done_testing();
}
