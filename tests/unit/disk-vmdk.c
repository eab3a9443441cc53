/*
 * disk-vmdk.c - the VMDK driver against qemu-img: qemu-made images of
 * each subformat read identically by hv, hv-made images read, checked
 * and compared by qemu-img, differencing children, real-world samples,
 * and malformed headers and descriptors failing with one clean error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "tests/tap.h"
#include "tests/unit/disk-test.h"

#define KIB	1024u
#define MIB	(1024u * 1024)
#define SAMPLES	"../shared/testdata/disks"

/* 20 MiB and three sectors: the last grain is partial */
#define PSIZE	(20ull * MIB + 3 * 512)


static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* The pattern: a full grain, a partial grain, a run of grains, holes
   between, and the last sector. */
static const struct { uint64_t off, len; } runs[] = {
	{ 0, 64 * KIB },
	{ 64 * KIB + 4 * KIB, 4 * KIB },
	{ 1 * MIB + 512, 2 * MIB + 1024 },
	{ 9 * MIB - 512, 1024 },
	{ PSIZE - 512, 512 },
};

static uint8_t *
pattern(void)
{
	uint8_t *p = calloc(1, PSIZE);

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		fill(p + runs[i].off, runs[i].len, (unsigned)i + 7);
	return p;
}

static int
write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, buf, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* hv reads the whole disk; 0 if it equals want (len bytes) */
static int
hv_equals(const char *path, const uint8_t *want, size_t len,
	  struct hv_err *err)
{
	struct disk *d;
	uint8_t *got;
	int rc = -1;

	if (disk_open(&d, path, DISK_RDONLY, err) < 0)
		return -1;
	got = malloc(len);
	if (disk_size(d) != len)
		snprintf(err->msg, sizeof err->msg, "size %llu, want %zu",
			 (unsigned long long)disk_size(d), len);
	else if (disk_read(d, 0, got, len, err) == 0)
		rc = memcmp(got, want, len) ? 1 : 0;
	free(got);
	disk_close(d);
	return rc;
}

static void
qemu_subformats(const uint8_t *pat)
{
	static const char *const subs[] = {
		"monolithicSparse", "streamOptimized",
		"twoGbMaxExtentSparse", "monolithicFlat", "twoGbMaxExtentFlat",
	};
	struct hv_err err = { 0 };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char name[64];
		int rc;

		snprintf(name, sizeof name, "q-%s.vmdk", subs[i]);
		rc = sh("qemu-img convert -f raw -O vmdk -o subformat=%s %s %s",
			subs[i], tpath("pat.raw"), tpath(name));
		if (!ok(rc == 0, "qemu-img makes %s", subs[i]))
			continue;
		rc = hv_equals(tpath(name), pat, PSIZE, &err);
		ok(rc == 0, "hv reads qemu's %s identically", subs[i]);
		if (rc < 0)
			diag("%s", err.msg);
	}
}

static void
block_status(void)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint64_t pnum = 0;
	int st;

	if (disk_open(&d, tpath("q-monolithicSparse.vmdk"), DISK_RDONLY,
		      &err) < 0) {
		ok(0, "open for block status: %s", err.msg);
		return;
	}
	st = disk_block_status(d, 0, 8 * MIB, &pnum, &err);
	ok(st == DISK_ST_DATA && pnum == 128 * KIB,
	   "first two grains are data (%d, %llu)", st,
	   (unsigned long long)pnum);
	st = disk_block_status(d, 4 * MIB, 4 * MIB, &pnum, &err);
	ok(st == DISK_ST_UNALLOC && pnum == 4 * MIB,
	   "a hole is unallocated (%d, %llu)", st, (unsigned long long)pnum);
	st = disk_block_status(d, 4 * MIB, 6 * MIB, &pnum, &err);
	ok(st == DISK_ST_UNALLOC && pnum == 5 * MIB - 64 * KIB,
	   "it stops at the next data grain (%d, %llu)", st,
	   (unsigned long long)pnum);
	disk_close(d);
}

/* write the pattern through hv in uneven pieces, holes left alone */
static int
hv_write_pattern(struct disk *d, const uint8_t *pat, struct hv_err *err)
{
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		uint64_t off = runs[i].off, end = off + runs[i].len;

		while (off < end) {
			uint64_t n = end - off < 3 * 512 + 96 * KIB ?
				     end - off : 3 * 512 + 96 * KIB;

			if (disk_write(d, off, pat + off, n, err) < 0)
				return -1;
			off += n;
		}
	}
	return disk_flush(d, err);
}

static void
hv_create_write(const char *name, bool fixed, const uint8_t *pat)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VMDK, .size = PSIZE,
				      .fixed = fixed };
	struct hv_err err = { 0 };
	struct disk *d;
	int rc;

	rc = disk_create(tpath(name), &o, &err);
	if (!ok(rc == 0, "hv creates %s", name)) {
		diag("%s", err.msg);
		return;
	}
	rc = disk_open(&d, tpath(name), 0, &err);
	if (rc == 0) {
		rc = hv_write_pattern(d, pat, &err);
		disk_close(d);
	}
	if (!ok(rc == 0, "hv writes the pattern into %s", name))
		diag("%s", err.msg);
	ok(sh("qemu-img check -q %s", tpath(name)) == 0,
	   "qemu-img check passes %s", name);
	ok(sh("qemu-img compare -q -f raw -F vmdk %s %s", tpath("pat.raw"),
	      tpath(name)) == 0, "qemu-img reads %s identically", name);
	ok(hv_equals(tpath(name), pat, PSIZE, &err) == 0,
	   "hv reads %s back", name);
}

static void
hv_check_ok(const char *name)
{
	struct disk_check_result r;
	struct hv_err err = { 0 };
	struct disk *d;

	if (disk_open(&d, tpath(name), DISK_RDONLY, &err) < 0) {
		ok(0, "open %s for check: %s", name, err.msg);
		return;
	}
	ok(disk_check(d, false, &r, &err) == 0 && r.errors == 0,
	   "hv check finds no errors in %s", name);
	disk_close(d);
}

static void
differencing(const uint8_t *pat)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VMDK,
				      .parent = "hv-sparse.vmdk" };
	struct hv_err err = { 0 };
	uint8_t *want = malloc(PSIZE), buf[8 * KIB];
	struct disk *d;
	int rc;

	memcpy(want, pat, PSIZE);
	rc = disk_create(tpath("child.vmdk"), &o, &err);
	if (!ok(rc == 0, "hv creates a child of a VMDK")) {
		diag("%s", err.msg);
		goto out;
	}
	rc = disk_open(&d, tpath("child.vmdk"), 0, &err);
	if (rc == 0) {
		ok(disk_parent(d) != NULL, "the child opens its parent");
		fill(buf, sizeof buf, 99);
		/* partial grains: one over data, one over a hole */
		memcpy(want + 8 * KIB, buf, sizeof buf);
		memcpy(want + 5 * MIB + 512, buf, sizeof buf);
		rc = disk_write(d, 8 * KIB, buf, sizeof buf, &err);
		if (rc == 0)
			rc = disk_write(d, 5 * MIB + 512, buf, sizeof buf,
					&err);
		disk_close(d);
	}
	if (!ok(rc == 0, "hv writes partial grains into the child"))
		diag("%s", err.msg);
	ok(hv_equals(tpath("child.vmdk"), want, PSIZE, &err) == 0,
	   "hv reads the child through its parent");
	write_file(tpath("want.raw"), want, PSIZE);
	ok(sh("qemu-img compare -q -f raw -F vmdk %s %s", tpath("want.raw"),
	      tpath("child.vmdk")) == 0,
	   "qemu-img reads hv's child and parent identically");
	ok(sh("qemu-img check -q %s", tpath("child.vmdk")) == 0,
	   "qemu-img check passes the child");
out:
	free(want);
}

/* ---- samples ---- */

static uint64_t
qemu_size(const char *path)
{
	char cmd[512], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd, "qemu-img info --output=json %s 2>/dev/null",
		 path);
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
sample_same(const char *name, bool small)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint64_t qs = qemu_size(tpath(name));
	uint8_t *raw;
	size_t len;

	if (disk_open(&d, tpath(name), DISK_RDONLY, &err) < 0) {
		ok(0, "hv opens sample %s: %s", name, err.msg);
		return;
	}
	is_int(disk_size(d), qs, "sample %s: virtual size as qemu-img", name);
	disk_close(d);
	if (!small)
		return;
	if (sh("qemu-img convert -O raw %s %s", tpath(name),
	       tpath("sample.raw")) != 0) {
		ok(0, "qemu-img converts %s", name);
		return;
	}
	raw = read_file(tpath("sample.raw"), &len);
	ok(raw && hv_equals(tpath(name), raw, len, &err) == 0,
	   "sample %s: content as qemu-img convert", name);
	free(raw);
}

/* qemu iotest 059: sector i*655360 + i*512 is filled with 0x30 + i%10 */
static void
sample_version3(void)
{
	struct hv_err err = { 0 };
	uint8_t sec[512];
	struct disk *d;
	int bad = 0;

	if (disk_open(&d, tpath("iotest-version3.vmdk"), DISK_RDONLY,
		      &err) < 0) {
		ok(0, "hv opens iotest-version3.vmdk: %s", err.msg);
		return;
	}
	for (int i = 0; i < 100 && !bad; i++) {
		uint64_t off = (uint64_t)i * 655360 + (uint64_t)i * 512;

		if (disk_read(d, off, sec, sizeof sec, &err) < 0) {
			diag("%s", err.msg);
			bad = 1;
		}
		for (size_t k = 0; k < sizeof sec && !bad; k++)
			bad = sec[k] != 0x30 + i % 10;
	}
	ok(!bad, "version 3 stream: the 100 sectors of qemu test 059");
	disk_close(d);
}

/* seSparse through a descriptor (qemu cannot read a bare one): the
   first 32 MiB as qemu reads them; the first 16 MiB are 'a' */
static void
sample_sesparse(void)
{
	static const char desc[] = "# Disk DescriptorFile\nversion=1\n"
		"CID=12345678\nparentCID=ffffffff\ncreateType=\"seSparse\"\n"
		"\n# Extent description\nRW 1048576 SESPARSE \"sesparse.vmdk\"\n"
		"\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n";
	const size_t n = 32 * MIB;
	struct hv_err err = { 0 };
	uint8_t *got = malloc(n), *want = NULL;
	struct disk *d;
	size_t len = 0;
	int rc = -1;

	write_file(tpath("se.vmdk"), desc, sizeof desc - 1);
	if (sh("qemu-img convert -O raw %s %s", tpath("se.vmdk"),
	       tpath("se.raw")) == 0)
		want = read_file(tpath("se.raw"), &len);
	if (disk_open(&d, tpath("se.vmdk"), DISK_RDONLY, &err) == 0) {
		is_int(disk_size(d), 512 * MIB, "seSparse: virtual size");
		rc = disk_read(d, 0, got, n, &err);
		disk_close(d);
	} else {
		ok(0, "hv opens the seSparse descriptor: %s", err.msg);
	}
	ok(rc == 0 && want && len >= n && memcmp(got, want, n) == 0,
	   "seSparse: the first 32 MiB as qemu-img convert");
	ok(rc == 0 && got[0] == 'a' && got[16 * MIB - 1] == 'a' &&
	   got[16 * MIB] == 0, "seSparse: 16 MiB of 'a' (dissect's test)");
	free(got);
	free(want);
	unlink(tpath("se.raw"));
}

static void
samples(void)
{
	if (access(SAMPLES "/SOURCES.md", R_OK) != 0) {
		for (int i = 0; i < 11; i++)
			ok(1, "# SKIP no sample images at " SAMPLES);
		return;
	}
	sh("for f in monolithicSparse streamOptimized twoGbMaxExtentSparse "
	   "twoGbMaxExtentSparse-s001; do gzip -dc " SAMPLES "/vmdk-rs/$f.vmdk.gz"
	   " > %s/$f.vmdk; done; bzip2 -dc " SAMPLES "/qemu/iotest-version3"
	   ".vmdk.bz2 > %s/iotest-version3.vmdk; bzip2 -dc " SAMPLES
	   "/qemu/afl9.vmdk.bz2 > %s/afl9.vmdk; cp " SAMPLES "/vmdk-rs/"
	   "vmfs_thick.vmdk %s/; gzip -dc " SAMPLES "/dissect/sesparse.vmdk.gz"
	   " > %s/sesparse.vmdk", dir, dir, dir, dir, dir);
	sample_same("monolithicSparse.vmdk", true);
	sample_same("streamOptimized.vmdk", true);
	sample_same("twoGbMaxExtentSparse.vmdk", true);
	sample_same("iotest-version3.vmdk", false);
	sample_version3();
	sample_sesparse();
}

/* ---- malformed ---- */

static void
fails(const char *name, enum hv_errcode code, const char *what)
{
	struct hv_err err = { 0 };
	struct disk *d;
	int rc = disk_open(&d, tpath(name), DISK_RDONLY, &err);

	if (rc == 0)
		disk_close(d);
	ok(rc < 0 && err.code == code && err.msg[0] && !strchr(err.msg, '\n'),
	   "%s: one clear error (%s)", what, rc < 0 ? err.msg : "opened");
}

static void
patch(const char *src, const char *dst, long off, const void *b, size_t n,
      long trunc)
{
	size_t len;
	uint8_t *buf = read_file(tpath(src), &len);

	if (buf == NULL)
		return;
	if (off >= 0 && (size_t)off + n <= len)
		memcpy(buf + off, b, n);
	write_file(tpath(dst), buf, trunc >= 0 ? (size_t)trunc : len);
	free(buf);
}

static void
malformed(void)
{
	static const char desc1[] = "# Disk DescriptorFile\nversion=1\n"
		"CID=12345678\nRW 2048 SPARSE \"x.vmdk\"\n";
	static const char desc2[] = "# Disk DescriptorFile\nversion=1\n"
		"createType=\"vmfsSparse\"\nRW 2048 VMFSSPARSE \"x.vmdk\"\n";
	static const char desc3[] = "# Disk DescriptorFile\nversion=1\n"
		"createType=\"monolithicFlat\"\nRW 2048 FLAT \"gone.vmdk\" 0\n";
	static const char desc4[] = "# Disk DescriptorFile\nversion=1\n"
		"createType=\"monolithicFlat\"\nRW 99999999999999999999 FLAT "
		"\"x.vmdk\" 0\n";
	uint8_t v9[4] = { 9, 0, 0, 0 }, big[8], gt[4] = { 0xff, 0xff, 0, 0 };
	struct disk_check_result r;
	struct hv_err err = { 0 };
	uint8_t buf[64 * KIB];
	struct disk *d;

	patch("hv-sparse.vmdk", "trunc.vmdk", -1, NULL, 0, 700);
	fails("trunc.vmdk", HV_ECORRUPT, "truncated sparse extent");
	patch("hv-sparse.vmdk", "v9.vmdk", 4, v9, 4, -1);
	fails("v9.vmdk", HV_ENOTSUP, "sparse version 9");
	memset(big, 0xff, sizeof big);
	patch("hv-sparse.vmdk", "cap.vmdk", 12, big, 8, -1);
	fails("cap.vmdk", HV_ECORRUPT, "huge capacity");
	patch("hv-sparse.vmdk", "grain.vmdk", 20, big, 3, -1);
	fails("grain.vmdk", HV_ECORRUPT, "bad grain size");
	patch("hv-sparse.vmdk", "gd.vmdk", 56, big, 6, -1);
	fails("gd.vmdk", HV_ECORRUPT, "grain directory past EOF");
	patch("hv-sparse.vmdk", "nl.vmdk", 75, "\n", 1, -1);
	fails("nl.vmdk", HV_ECORRUPT, "newline test damaged");
	write_file(tpath("d1.vmdk"), desc1, sizeof desc1 - 1);
	fails("d1.vmdk", HV_ECORRUPT, "descriptor without createType");
	write_file(tpath("d2.vmdk"), desc2, sizeof desc2 - 1);
	fails("d2.vmdk", HV_ENOTSUP, "unsupported extent type");
	write_file(tpath("d3.vmdk"), desc3, sizeof desc3 - 1);
	fails("d3.vmdk", HV_ENOENT, "missing extent file");
	write_file(tpath("d4.vmdk"), desc4, sizeof desc4 - 1);
	fails("d4.vmdk", HV_ECORRUPT, "absurd extent size");
	if (access(tpath("afl9.vmdk"), R_OK) == 0) {
		fails("afl9.vmdk", HV_ECORRUPT, "qemu's afl9.vmdk");
		fails("vmfs_thick.vmdk", HV_ENOENT, "vmfs descriptor, no extent");
	} else {
		ok(1, "# SKIP no sample images");
		ok(1, "# SKIP no sample images");
	}

	/* first GTE of hv-sparse (GD at sector 21+1+4*N...): find it via
	   the header: gd_sector at 56, its first entry, then the GT */
	{
		size_t len;
		uint8_t *f = read_file(tpath("hv-sparse.vmdk"), &len);
		uint64_t gd = 0, gts = 0;

		for (int i = 7; i >= 0; i--)
			gd = gd << 8 | f[56 + i];
		for (int i = 3; i >= 0; i--)
			gts = gts << 8 | f[gd * 512 + i];
		patch("hv-sparse.vmdk", "gte.vmdk", (long)(gts * 512), gt, 4,
		      -1);
		free(f);
	}
	if (disk_open(&d, tpath("gte.vmdk"), DISK_RDONLY, &err) == 0) {
		int rc = disk_read(d, 0, buf, sizeof buf, &err);

		ok(rc < 0 && err.code == HV_ECORRUPT,
		   "a GTE past EOF fails the read (%s)", err.msg);
		ok(disk_check(d, false, &r, &err) == 0 && r.errors >= 1,
		   "hv check counts the GTE past EOF (%s)", r.first);
		disk_close(d);
	} else {
		ok(0, "gte.vmdk opens: %s", err.msg);
		ok(0, "gte.vmdk check");
	}
}

static void
refuse_stream_write(void)
{
	struct hv_err err = { 0 };
	uint8_t buf[512] = { 1 };
	struct disk *d;

	if (disk_open(&d, tpath("q-streamOptimized.vmdk"), 0, &err) < 0) {
		ok(0, "open stream r/w: %s", err.msg);
		return;
	}
	ok(disk_write(d, 0, buf, sizeof buf, &err) < 0 &&
	   err.code == HV_ENOTSUP, "writing streamOptimized is refused (%s)",
	   err.msg);
	disk_close(d);
}

int
main(void)
{
	uint8_t *pat;

	if (sh("command -v qemu-img >/dev/null") != 0)
		skip_all("qemu-img is not installed");
	strcpy(dir, "/tmp/hv-vmdk-XXXXXX");
	if (mkdtemp(dir) == NULL)
		skip_all("mkdtemp failed");
	plan(58);
	pat = pattern();
	ok(write_file(tpath("pat.raw"), pat, PSIZE) == 0, "pattern written");

	qemu_subformats(pat);
	block_status();
	refuse_stream_write();
	hv_create_write("hv-sparse.vmdk", false, pat);
	hv_create_write("hv-flat.vmdk", true, pat);
	hv_check_ok("hv-sparse.vmdk");
	hv_check_ok("q-monolithicSparse.vmdk");
	differencing(pat);
	samples();
	malformed();

	free(pat);
	sh("rm -rf %s", dir);
	return done_testing();
}
