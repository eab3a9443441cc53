/*
 * disk-raw.c - the raw driver and the core's I/O rules, with qemu-img as
 * the oracle; convert/compact/resize on raw; fault injection.
 *
 * Faults (HV_DISK_FAULT) are read once per process, so fault cases run
 * this binary again as a child: `disk-raw.t --convert SRC DST`.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

static const char *self;

static void
fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (char)(seed >> 16);
	}
}

static uint64_t
allocated(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* write buf at off into the plain file `expect` too, as the oracle */
static int
both_write(struct disk *d, int efd, uint64_t off, const char *buf,
	   size_t len, struct hv_err *err)
{
	if (pwrite(efd, buf, len, (off_t)off) != (ssize_t)len)
		return -1;
	return disk_write(d, off, buf, len, err);
}

static void
test_create(void)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_RAW, .size = 8 * MIB };
	struct hv_err err;
	int rc;

	rc = disk_create(tpath("sparse.raw"), &o, &err);
	ok(rc == 0, "create a sparse raw image");
	ok(sh("qemu-img info --output=json %s | grep -q '\"virtual-size\": 8388608'",
	      tpath("sparse.raw")) == 0, "qemu-img sees 8 MiB");
	ok(allocated(tpath("sparse.raw")) < MIB, "sparse raw uses no space");
	o.fixed = true;
	ok(disk_create(tpath("fixed.raw"), &o, &err) == 0, "create fixed raw");
	ok(allocated(tpath("fixed.raw")) >= 8 * MIB, "fixed raw is allocated");
	rc = disk_create(tpath("fixed.raw"), &o, &err);
	ok(rc < 0 && err.code == HV_EEXIST && strstr(err.msg, "exists"),
	   "create refuses an existing file: %s", err.msg);
	o.size = 1000;
	ok(disk_create(tpath("odd.raw"), &o, &err) < 0 && err.code == HV_EINVAL,
	   "create refuses a size that is not whole sectors");
	o.size = 8 * MIB;
	o.parent = tpath("sparse.raw");
	ok(disk_create(tpath("child.raw"), &o, &err) < 0 &&
	   access(tpath("child.raw"), F_OK) < 0,
	   "raw cannot have a parent, and nothing is left behind");
}

static void
test_io(void)
{
	struct hv_err err;
	struct disk *d;
	char *buf = malloc(2 * MIB), *back = malloc(2 * MIB);
	uint64_t pnum;
	int efd, bad = 0;

	ok(disk_open(&d, tpath("sparse.raw"), 0, &err) == 0, "open raw");
	is_int(disk_format_of(d), DISK_FMT_RAW, "format is raw");
	is_int(disk_size(d), 8 * MIB, "size is 8 MiB");
	is_int(disk_block_status(d, 0, 8 * MIB, &pnum, &err), DISK_ST_ZERO,
	       "an empty sparse image is a hole");
	is_int(pnum, 8 * MIB, "all of it");

	efd = open(tpath("expect.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(efd, 8 * MIB);
	fill(buf, 2 * MIB, 1);
	bad |= both_write(d, efd, 0, buf, 4096, &err);
	bad |= both_write(d, efd, MIB + 512, buf + 7, 3 * 512, &err);
	bad |= both_write(d, efd, 4 * MIB, buf, 2 * MIB, &err);
	bad |= both_write(d, efd, 8 * MIB - 512, buf + 99, 512, &err);
	ok(bad == 0, "writes: head, partial sector run, 2 MiB, last sector");
	ok(disk_flush(d, &err) == 0, "flush");
	close(efd);
	ok(sh("qemu-img compare -q -f raw -F raw %s %s", tpath("sparse.raw"),
	      tpath("expect.raw")) == 0, "qemu-img: content as written");
	ok(disk_read(d, 4 * MIB, back, 2 * MIB, &err) == 0 &&
	   memcmp(back, buf, 2 * MIB) == 0, "read back 2 MiB");
	ok(disk_read(d, 8 * MIB - 512, back, 512, &err) == 0 &&
	   memcmp(back, buf + 99, 512) == 0, "read back the last sector");

	is_int(disk_block_status(d, 4 * MIB, 4 * MIB, &pnum, &err), DISK_ST_DATA,
	       "written range is data");
	ok(pnum >= 2 * MIB && pnum <= 4 * MIB, "data run covers the write");
	is_int(disk_block_status(d, 2 * MIB, MIB, &pnum, &err), DISK_ST_ZERO,
	       "an unwritten range is a hole");

	ok(disk_discard(d, 4 * MIB, 2 * MIB, &err) == 0, "discard 2 MiB");
	is_int(disk_block_status(d, 4 * MIB, 2 * MIB, &pnum, &err), DISK_ST_ZERO,
	       "discarded range is a hole");
	ok(disk_read(d, 4 * MIB, back, 2 * MIB, &err) == 0 &&
	   back[0] == 0 && memcmp(back, back + 1, 2 * MIB - 1) == 0,
	   "discarded range reads zeros");
	ok(disk_write_zeroes(d, 0, 4096, &err) == 0 &&
	   disk_read(d, 0, back, 4096, &err) == 0 && back[0] == 0 &&
	   memcmp(back, back + 1, 4095) == 0, "write zeroes");

	ok(disk_read(d, 100, back, 512, &err) < 0 && err.code == HV_EINVAL &&
	   strstr(err.msg, "aligned"), "unaligned offset refused: %s", err.msg);
	ok(disk_write(d, 0, buf, 100, &err) < 0 && err.code == HV_EINVAL,
	   "unaligned length refused");
	ok(disk_read(d, 8 * MIB - 512, back, 1024, &err) < 0 &&
	   strstr(err.msg, "past the end"), "past the end refused: %s", err.msg);
	ok(disk_read(d, UINT64_MAX - 511, back, 1024, &err) < 0,
	   "offset overflow refused");
	disk_close(d);

	ok(disk_open(&d, tpath("sparse.raw"), DISK_RDONLY, &err) == 0,
	   "open read-only");
	ok(disk_write(d, 0, buf, 512, &err) < 0 && strstr(err.msg, "read-only"),
	   "write to a read-only disk refused: %s", err.msg);
	ok(disk_discard(d, 0, 512, &err) < 0, "discard on read-only refused");
	disk_close(d);
	free(buf);
	free(back);
}

static void
test_odd_size(void)
{
	struct hv_err err;
	struct disk *d;
	char buf[1024], want[1024] = { 0 };

	fill(want, 1000, 5);
	int fd = open(tpath("odd.img"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, want, 1000);
	close(fd);
	is_int(disk_probe(tpath("odd.img"), &err), DISK_FMT_RAW,
	       "random bytes probe as raw");
	ok(disk_open(&d, tpath("odd.img"), DISK_RDONLY, &err) == 0,
	   "open a 1000-byte file");
	is_int(disk_size(d), 1024, "size rounds up to whole sectors");
	ok(disk_read(d, 0, buf, 1024, &err) == 0 && memcmp(buf, want, 1024) == 0,
	   "the tail reads as zeros");
	disk_close(d);
	ok(disk_open(&d, tpath("nothere.img"), 0, &err) < 0 &&
	   err.code == HV_ENOENT && strstr(err.msg, "nothere.img: No such file"),
	   "missing file: %s", err.msg);
}

static void
test_resize_compact(void)
{
	struct hv_err err;
	struct disk *d;
	char *zero = calloc(1, MIB);
	uint64_t before;

	ok(disk_resize(tpath("sparse.raw"), 16 * MIB, false, &err) == 0,
	   "grow to 16 MiB");
	ok(sh("qemu-img info --output=json %s | grep -q '\"virtual-size\": 16777216'",
	      tpath("sparse.raw")) == 0, "qemu-img sees 16 MiB");
	ok(disk_resize(tpath("sparse.raw"), 12 * MIB, false, &err) < 0 &&
	   strstr(err.msg, "--shrink"), "shrink needs the flag: %s", err.msg);
	ok(disk_resize(tpath("sparse.raw"), 12 * MIB, true, &err) == 0,
	   "shrink with the flag");
	ok(disk_resize(tpath("sparse.raw"), 1000, true, &err) < 0,
	   "unaligned size refused");

	/* allocate 4 MiB of real zeros, then compact them away */
	ok(disk_open(&d, tpath("sparse.raw"), 0, &err) == 0, "reopen");
	for (int i = 0; i < 4; i++)
		disk_write(d, 8 * MIB + (uint64_t)i * MIB, zero, MIB, &err);
	disk_flush(d, &err);
	disk_close(d);
	before = allocated(tpath("sparse.raw"));
	sh("cp --sparse=never %s %s", tpath("sparse.raw"), tpath("precompact.raw"));
	ok(disk_compact(tpath("sparse.raw"), NULL, NULL, &err) == 0, "compact");
	ok(allocated(tpath("sparse.raw")) + 3 * MIB <= before,
	   "compact returned the zero blocks (%llu -> %llu)",
	   (unsigned long long)before,
	   (unsigned long long)allocated(tpath("sparse.raw")));
	ok(sh("qemu-img compare -q -f raw -F raw %s %s", tpath("sparse.raw"),
	      tpath("precompact.raw")) == 0, "content unchanged by compact");
	free(zero);
}

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
	uint64_t *last = ctx;

	if (done < *last || done > total)
		*last = UINT64_MAX;
	else
		*last = done;
}

static void
test_convert(void)
{
	struct disk_convert_opts o = { .fmt = DISK_FMT_RAW, .fixed = -1 };
	struct hv_err err;
	uint64_t last = 0;

	/* 40 MiB with data scattered across chunk boundaries */
	sh("qemu-img create -q -f raw %s 40M", tpath("src.raw"));
	sh("qemu-io -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 4032k 128k'"
	   " -c 'write -P 0x33 20M 5M' -c 'write -P 0x44 40959k 1k' %s >/dev/null",
	   tpath("src.raw"));
	o.progress = progress;
	o.progress_ctx = &last;
	ok(disk_convert(tpath("src.raw"), tpath("dst.raw"), &o, &err) == 0,
	   "convert raw to raw");
	ok(sh("qemu-img compare -q -f raw -F raw %s %s", tpath("src.raw"),
	      tpath("dst.raw")) == 0, "qemu-img: identical");
	ok(allocated(tpath("dst.raw")) < 8 * MIB, "holes stay holes");
	is_int(last, 40 * MIB, "progress ended at the size, never went back");
	ok(disk_convert(tpath("src.raw"), tpath("dst.raw"), &o, &err) < 0 &&
	   err.code == HV_EEXIST, "convert never overwrites: %s", err.msg);
	o.fixed = 1;
	o.progress = NULL;
	ok(disk_convert(tpath("src.raw"), tpath("dstf.raw"), &o, &err) == 0 &&
	   allocated(tpath("dstf.raw")) >= 40 * MIB, "convert to fixed raw");
	ok(sh("qemu-img compare -q -f raw -F raw %s %s", tpath("src.raw"),
	      tpath("dstf.raw")) == 0, "fixed copy identical");
	ok(disk_convert(tpath("nothere"), tpath("dst2.raw"), &o, &err) < 0 &&
	   access(tpath("dst2.raw"), F_OK) < 0, "missing source: no destination");
}

/* run `self --convert src dst` with HV_DISK_FAULT; the exit status */
static int
convert_child(const char *fault, const char *dst)
{
	return sh("HV_DISK_FAULT=%s %s --convert %s %s 2>/dev/null", fault,
		  self, tpath("src.raw"), dst);
}

static void
test_faults(void)
{
	is_int(convert_child("pwrite:2:ENOSPC", tpath("f1.raw")), 1,
	       "ENOSPC on the 2nd write fails the convert");
	ok(access(tpath("f1.raw"), F_OK) < 0, "and the half copy is removed");
	is_int(convert_child("pwrite:3:short", tpath("f2.raw")), 1,
	       "a short write fails the convert");
	ok(access(tpath("f2.raw"), F_OK) < 0, "and the half copy is removed");
	is_int(convert_child("pread:3+:EIO", tpath("f3.raw")), 1,
	       "EIO on read fails the convert");
	is_int(convert_child("fsync:1+:EIO", tpath("f4.raw")), 1,
	       "EIO on fsync fails the convert");
	is_int(convert_child("pwrite:2:kill", tpath("f5.raw")), 128 + SIGKILL,
	       "kill rule kills the process at the write");
	is_int(convert_child("pwrite:9999:EIO", tpath("f6.raw")), 0,
	       "a rule past the last call changes nothing");
}

static int
child_convert(const char *src, const char *dst)
{
	struct disk_convert_opts o = { .fmt = DISK_FMT_RAW, .fixed = 0 };
	struct hv_err err;

	if (disk_convert(src, dst, &o, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--convert") == 0)
		return child_convert(argv[2], argv[3]);
	self = argv[0];
	if (sh("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img is not installed");
	snprintf(dir, sizeof dir, "/tmp/hv-disk-raw.XXXXXX");
	if (mkdtemp(dir) == NULL)
		skip_all("cannot make a temp dir");
	test_create();
	test_io();
	test_odd_size();
	test_resize_compact();
	test_convert();
	test_faults();
	sh("rm -rf %s", dir);
	return done_testing();
}
