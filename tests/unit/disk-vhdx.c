/*
 * disk-vhdx.c - the VHDX driver against qemu-img: images qemu-img makes
 * read the same in hv, images hv makes pass `qemu-img check` and compare
 * equal, differencing chains, log replay (a dirty sample and a crash
 * between log flush and apply), the real-world samples, and malformed
 * images giving one clear error.
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

#define MIB		(1024u * 1024)
#define SAMPLES		"../shared/testdata/disks"


static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* a raw file of size bytes with pattern runs and holes */
static void
make_raw(const char *path, uint64_t size, unsigned seed)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t *b = malloc(MIB);

	if (ftruncate(fd, (off_t)size) < 0)
		diag("ftruncate failed");
	for (uint64_t off = 0; off < size; off += 3 * MIB + 4096) {
		size_t n = size - off < MIB + 1536 ? size - off : MIB + 1536;

		fill(b, MIB, seed + (unsigned)off);
		if (pwrite(fd, b, n > MIB ? MIB : n, (off_t)off) < 0)
			diag("pwrite failed");
	}
	fill(b, 512, seed ^ 0x55);
	if (pwrite(fd, b, 512, (off_t)(size - 512)) < 0)	/* last sector */
		diag("pwrite failed");
	free(b);
	close(fd);
}

/* hv reads img; compare every byte with the plain file raw */
static int
same_as_raw(const char *img, const char *raw)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t *a = malloc(MIB), *b = malloc(MIB);
	int fd = open(raw, O_RDONLY), same = 1;
	struct stat st;

	if (disk_open(&d, img, DISK_RDONLY, &err) < 0) {
		diag("open %s: %s", img, err.msg);
		same = 0;
		goto out;
	}
	fstat(fd, &st);
	if (disk_size(d) != (uint64_t)st.st_size) {
		diag("size %llu, raw %llu", (unsigned long long)disk_size(d),
		     (unsigned long long)st.st_size);
		same = 0;
	}
	for (uint64_t off = 0; same && off < disk_size(d); off += MIB) {
		size_t n = disk_size(d) - off < MIB ? disk_size(d) - off : MIB;

		if (disk_read(d, off, a, n, &err) < 0) {
			diag("read: %s", err.msg);
			same = 0;
		} else if (pread(fd, b, n, (off_t)off) != (ssize_t)n ||
			   memcmp(a, b, n) != 0) {
			diag("differs at %llu", (unsigned long long)off);
			same = 0;
		}
	}
	disk_close(d);
out:
	close(fd);
	free(a);
	free(b);
	return same;
}

/* hv writes the whole of raw (skipping zero MiBs) into img */
static int
copy_into(const char *img, const char *raw)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t *b = malloc(MIB), *z = calloc(1, MIB);
	int fd = open(raw, O_RDONLY), rc = 0;

	if (disk_open(&d, img, 0, &err) < 0) {
		diag("open %s: %s", img, err.msg);
		rc = -1;
		goto out;
	}
	for (uint64_t off = 0; rc == 0 && off < disk_size(d); off += MIB) {
		size_t n = disk_size(d) - off < MIB ? disk_size(d) - off : MIB;

		if (pread(fd, b, n, (off_t)off) != (ssize_t)n)
			rc = -1;
		/* sub-MiB writes: partial blocks and partial bitmaps */
		for (size_t p = 0; rc == 0 && p < n; p += 64 * 1024) {
			size_t k = n - p < 64 * 1024 ? n - p : 64 * 1024;

			if (memcmp(b + p, z, k) == 0)
				continue;
			rc = disk_write(d, off + p, b + p, k, &err);
		}
	}
	if (rc < 0)
		diag("write: %s", err.msg);
	disk_close(d);
out:
	close(fd);
	free(b);
	free(z);
	return rc;
}

static void
test_qemu_made(void)
{
	static const char *const sub[] = { "dynamic", "fixed" };
	static const unsigned bsz[] = { 1, 8, 32 };
	uint64_t size = 21 * MIB + 3 * 512;

	make_raw(tpath("q.raw"), size, 7);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++) {
			sh("rm -f %s", tpath("q.vhdx"));
			if (sh("qemu-img convert -f raw -O vhdx -o subformat=%s,block_size=%uM %s %s",
			       sub[i], bsz[j], tpath("q.raw"), tpath("q.vhdx")))
				diag("qemu-img convert failed");
			ok(same_as_raw(tpath("q.vhdx"), tpath("q.raw")),
			   "qemu-img %s VHDX, %u MiB blocks: hv reads it the same",
			   sub[i], bsz[j]);
		}
	sh("rm -f %s; qemu-img create -q -f vhdx %s 100M", tpath("e.vhdx"),
	   tpath("e.vhdx"));
	sh("truncate -s 100M %s", tpath("e.raw"));
	ok(same_as_raw(tpath("e.vhdx"), tpath("e.raw")),
	   "empty qemu-img VHDX reads as zeros");
}

static int
hv_create(const char *path, uint64_t size, bool fixed, uint32_t bs,
	  const char *parent)
{
	struct disk_create_opts o = { .fmt = DISK_FMT_VHDX, .size = size,
				      .fixed = fixed, .block_size = bs,
				      .parent = parent };
	struct hv_err err = { 0 };

	sh("rm -f %s", path);
	if (disk_create(path, &o, &err) < 0) {
		diag("create %s: %s", path, err.msg);
		return -1;
	}
	return 0;
}

static void
test_hv_made(void)
{
	struct { bool fixed; uint32_t bs; } c[] = {
		{ false, 0 }, { false, MIB }, { true, 0 }, { true, 2 * MIB },
	};
	uint64_t size = 37 * MIB + 512;

	make_raw(tpath("h.raw"), size, 99);
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		const char *img = tpath("h.vhdx");

		ok(hv_create(img, size, c[i].fixed, c[i].bs, NULL) == 0 &&
		   copy_into(img, tpath("h.raw")) == 0,
		   "hv %s VHDX (block %u): created and written",
		   c[i].fixed ? "fixed" : "dynamic", c[i].bs);
		is_int(sh("qemu-img check -q -f vhdx %s", img), 0,
		       "qemu-img check passes");
		is_int(sh("qemu-img compare -q -f vhdx -F raw %s %s", img,
			  tpath("h.raw")), 0, "qemu-img reads the same content");
		ok(same_as_raw(img, tpath("h.raw")), "hv reads it back");
	}
}

/* child of parent: write some ranges, check through the chain */
static void
diff_case(const char *parent, const char *what)
{
	const char *child = tpath("child.avhdx"), *exp = tpath("exp.raw");
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t *b = malloc(3 * MIB);
	int efd, rc = 0;
	struct { uint64_t off; size_t len; } w[] = {
		{ 512, 1024 }, { 2 * MIB - 4096, 8192 }, { 5 * MIB, 3 * MIB },
		{ 9 * MIB + 7 * 512, 512 }, { 9 * MIB + 7 * 512, 4096 },
	};

	sh("qemu-img convert -q -O raw %s %s", parent, exp);
	efd = open(exp, O_RDWR);
	ok(hv_create(child, 0, false, 0, parent) == 0,
	   "%s: differencing child created", what);
	if (disk_open(&d, child, 0, &err) < 0) {
		ok(0, "open child: %s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < sizeof w / sizeof w[0] && rc == 0; i++) {
		fill(b, w[i].len, 1000 + (unsigned)i);
		rc = disk_write(d, w[i].off, b, w[i].len, &err);
		if (pwrite(efd, b, w[i].len, (off_t)w[i].off) < 0)
			rc = -1;
	}
	ok(rc == 0, "%s: writes to the child (%s)", what, rc ? err.msg : "ok");
	disk_close(d);
	ok(same_as_raw(child, exp), "%s: chain reads parent + child writes",
	   what);
out:
	close(efd);
	free(b);
}

static void
test_differencing(void)
{
	uint64_t size = 12 * MIB;

	make_raw(tpath("p.raw"), size, 5);
	sh("rm -f %s; qemu-img convert -q -f raw -O vhdx -o block_size=1M %s %s",
	   tpath("pq.vhdx"), tpath("p.raw"), tpath("pq.vhdx"));
	diff_case(tpath("pq.vhdx"), "qemu-made parent");
	hv_create(tpath("ph.vhdx"), size, false, 4 * MIB, NULL);
	copy_into(tpath("ph.vhdx"), tpath("p.raw"));
	sh("rm -f %s", tpath("child.avhdx"));
	diff_case(tpath("ph.vhdx"), "hv-made parent");

	/* the parent changed after the child was made: refused */
	{
		struct hv_err err = { 0 };
		struct disk *d;
		uint8_t b[512] = { 1 };
		int rc;

		disk_open(&d, tpath("ph.vhdx"), 0, &err);
		disk_write(d, 0, b, 512, &err);
		disk_close(d);
		rc = disk_open(&d, tpath("child.avhdx"), DISK_RDONLY, &err);
		if (rc == 0) {
			rc = disk_read(d, 0, b, 512, &err);
			disk_close(d);
		}
		ok(rc < 0 && strstr(err.msg, "parent"),
		   "changed parent refused: %s", err.msg);
	}
}

static bool
have_samples(void)
{
	return access(SAMPLES, F_OK) == 0;
}

static void
test_dirty_log(void)
{
	const char *a = tpath("dirty-a.vhdx"), *b = tpath("dirty-b.vhdx");
	struct hv_err err = { 0 };
	struct disk *d;
	int rc;

	if (!have_samples()) {
		ok(1, "# SKIP no " SAMPLES);
		return;
	}
	sh("bzip2 -dc " SAMPLES "/qemu/iotest-dirtylog-10G-4M.vhdx.bz2 > %s && cp %s %s",
	   a, a, b);
	/* qemu-img replays b; its content is the oracle (the 0xa5 pattern
	   fills the first 18 MiB after replay) */
	sh("qemu-img check -q -r all %s >/dev/null 2>&1; "
	   "qemu-img convert -q -O raw %s %s", b, b, tpath("dirty.raw"));
	/* read-only: replayed in memory, the file untouched */
	sh("cp %s %s", a, b);
	rc = disk_open(&d, a, DISK_RDONLY, &err);
	ok(rc == 0, "dirty log, read-only open (replay in memory) %s",
	   rc ? err.msg : "");
	if (rc == 0) {
		uint8_t *x = malloc(32 * MIB), *y = malloc(32 * MIB);
		int fd = open(tpath("dirty.raw"), O_RDONLY);

		rc = disk_read(d, 0, x, 32 * MIB, &err);
		ok(rc == 0 && pread(fd, y, 32 * MIB, 0) == 32 * MIB &&
		   memcmp(x, y, 32 * MIB) == 0 && x[18 * MIB - 1] == 0xa5,
		   "in-memory replay reads what qemu-img reads after its replay");
		close(fd);
		free(x);
		free(y);
		disk_close(d);
	}
	is_int(sh("cmp -s %s %s", a, b), 0, "read-only open left the file alone");
	rc = disk_open(&d, a, 0, &err);
	ok(rc == 0, "read-write open replays the log %s", rc ? err.msg : "");
	if (rc == 0)
		disk_close(d);
	sh("qemu-img check -q -r all %s >/dev/null 2>&1", b);
	is_int(sh("qemu-img compare -q %s %s", a, b), 0,
	       "hv replay equals qemu-img replay");
	is_int(sh("qemu-img check -q %s", a), 0, "qemu-img check after hv replay");
}

/* a child process writes a new block and dies after the log flush */
static void
test_crash_after_log(void)
{
	const char *img = tpath("crash.vhdx");
	uint8_t w[4096], r[4096];
	struct hv_err err = { 0 };
	struct disk *d;
	pid_t pid;
	int st = 0;

	hv_create(img, 64 * MIB, false, MIB, NULL);
	fill(w, sizeof w, 42);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv("HV_VHDX_CRASH_AFTER_LOG", "1", 1);
		if (disk_open(&d, img, 0, &err) == 0)
			disk_write(d, 10 * MIB, w, sizeof w, &err);
		_exit(3);
	}
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	   "writer killed between log flush and apply");
	ok(sh("qemu-img info %s 2>&1 | grep -q 'dirty\\|log' ; true", img) == 0,
	   "image left with a dirty log");
	memset(r, 0, sizeof r);
	if (disk_open(&d, img, 0, &err) == 0) {
		disk_read(d, 10 * MIB, r, sizeof r, &err);
		disk_close(d);
	}
	ok(memcmp(w, r, sizeof w) == 0, "reopen replays: the BAT change is there");
	is_int(sh("qemu-img check -q %s", img), 0, "qemu-img check after replay");
}

/* HV_DISK_FAULT=pwrite:N:kill at every write of an allocating session */
static void
test_kill_points(void)
{
	const char *img = tpath("kill.vhdx");
	int bad = 0, n;

	for (n = 1; n <= 24; n++) {
		struct hv_err err = { 0 };
		struct disk *d;
		uint8_t w[8192], r[8192];
		pid_t pid;
		int st = 0;

		hv_create(img, 16 * MIB, false, MIB, NULL);
		fill(w, sizeof w, 7);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			char rule[64];

			snprintf(rule, sizeof rule, "pwrite:%d:kill", n);
			setenv("HV_DISK_FAULT", rule, 1);
			execl("/proc/self/exe", "disk-vhdx.t", "--write", img,
			      (char *)NULL);
			_exit(4);
		}
		waitpid(pid, &st, 0);
		if (disk_open(&d, img, 0, &err) < 0) {
			diag("kill at pwrite %d: %s", n, err.msg);
			bad++;
			continue;
		}
		/* a write acknowledged before the kill reads back whole */
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		    (disk_read(d, 3 * MIB + 512, r, sizeof r, &err) < 0 ||
		     memcmp(w, r, sizeof w) != 0))
			bad++;
		disk_close(d);
		if (sh("qemu-img check -q %s", img) != 0)
			bad++;
	}
	is_int(bad, 0, "killed at each of 24 writes: opens, reads back, checks clean");
}

static int
child_write(const char *img)
{
	struct hv_err err = { 0 };
	struct disk *d;
	uint8_t w[8192];

	fill(w, sizeof w, 7);
	if (disk_open(&d, img, 0, &err) < 0)
		return 1;
	if (disk_write(d, 3 * MIB + 512, w, sizeof w, &err) < 0 ||
	    disk_write(d, 9 * MIB, w, sizeof w, &err) < 0)
		return 1;
	disk_close(d);
	return 0;
}

/* hv and qemu-img read the sample the same */
static void
sample_same(const char *gz, const char *name)
{
	const char *img = tpath(name), *raw = tpath("sample.raw");

	sh("%s -dc " SAMPLES "/%s > %s", strstr(gz, ".bz2") ? "bzip2" : "gzip",
	   gz, img);
	sh("rm -f %s; qemu-img convert -q -f vhdx -O raw %s %s", raw, img, raw);
	ok(same_as_raw(img, raw), "%s: hv reads what qemu-img reads", gz);
}

static void
test_samples(void)
{
	struct hv_err err = { 0 };
	struct disk_info info;
	struct disk *d;
	int rc;

	if (!have_samples()) {
		ok(1, "# SKIP no " SAMPLES);
		return;
	}
	sample_same("dissect/fixed.vhdx.gz", "fixed.vhdx");
	sample_same("dissect/dynamic.vhdx.gz", "dynamic.vhdx");
	sample_same("qemu/iotest-dynamic-1G.vhdx.bz2", "iotest-1G.vhdx");

	sh("gzip -dc " SAMPLES "/dissect/differencing.avhdx.gz > %s",
	   tpath("differencing.avhdx"));
	rc = disk_open(&d, tpath("differencing.avhdx"), DISK_RDONLY, &err);
	ok(rc < 0 && err.code == HV_ENOENT && strstr(err.msg, "Generation 1_"),
	   "Hyper-V checkpoint without its parent: %s", err.msg);
	rc = disk_open(&d, tpath("differencing.avhdx"),
		       DISK_RDONLY | DISK_NOBACKING, &err);
	ok(rc == 0, "checkpoint opens without its chain");
	if (rc == 0) {
		disk_get_info(d, &info, &err);
		ok(info.size == 8589934592ull && info.block_size == 2 * MIB &&
		   strcmp(info.subformat, "differencing") == 0 &&
		   strstr(info.parent, "Generation 1_49C4BAF3"),
		   "checkpoint info: %s, %llu bytes, parent %s", info.subformat,
		   (unsigned long long)info.size, info.parent);
		disk_close(d);
	}
}

/* damage one spot of a fresh image; open must fail with one line */
static void
malformed(const char *what, uint64_t off, const void *bytes, size_t n,
	  bool both_headers)
{
	const char *img = tpath("bad.vhdx");
	struct hv_err err = { 0 };
	struct disk *d;
	int fd, rc;

	hv_create(img, 8 * MIB, false, MIB, NULL);
	{	/* one allocated block */
		uint8_t b[512] = { 9 };

		disk_open(&d, img, 0, &err);
		disk_write(d, 0, b, sizeof b, &err);
		disk_close(d);
	}
	fd = open(img, O_RDWR);
	if (pwrite(fd, bytes, n, (off_t)off) < 0 ||
	    (both_headers && pwrite(fd, bytes, n, (off_t)off + 65536) < 0))
		diag("pwrite failed");
	if (n == 0 && ftruncate(fd, (off_t)off) < 0)
		diag("truncate failed");
	close(fd);
	hv_err_clear(&err);
	rc = disk_open(&d, img, DISK_RDONLY, &err);
	if (rc == 0)
		disk_close(d);
	ok(rc < 0 && err.msg[0] && !strchr(err.msg, '\n') &&
	   (err.code == HV_ECORRUPT || err.code == HV_ENOTSUP),
	   "%s: %s", what, err.msg);
}

static void
test_malformed(void)
{
	uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t past[8], bs[4];

	malformed("both header checksums bad", 64 * 1024 + 100, junk, 8, true);
	malformed("both region tables bad", 192 * 1024 + 100, junk, 8, true);
	malformed("metadata table signature", 2 * MIB, junk, 8, false);
	malformed("truncated to 100 KiB", 100 * 1024, NULL, 0, false);
	/* BAT at 3 MiB: entry 0 points 1 TiB out */
	for (int i = 0; i < 8; i++)
		past[i] = (uint8_t)((((1ull << 40) | 6) >> (8 * i)) & 0xff);
	malformed("BAT entry past the end of the file", 3 * MIB, past, 8, false);
	/* metadata at 2 MiB, block size item at 2 MiB + 64 KiB */
	bs[0] = 0, bs[1] = 0x30, bs[2] = 0, bs[3] = 0;
	malformed("block size not a power of two", 2 * MIB + 65536, bs, 4,
		  false);
	malformed("truncated before the BAT", 3 * MIB - 4096, NULL, 0, false);
}

static void
test_resize_discard_compact(void)
{
	const char *img = tpath("rs.vhdx"), *raw = tpath("rs.raw");
	struct disk_check_result cr = { 0 };
	struct hv_err err = { 0 };
	struct disk *d;
	struct stat st1, st2;
	int rc;

	make_raw(raw, 20 * MIB, 3);
	hv_create(img, 20 * MIB, false, MIB, NULL);
	copy_into(img, raw);
	rc = disk_resize(img, 30 * MIB, false, &err);
	ok(rc == 0, "grow a VHDX %s", rc ? err.msg : "");
	sh("truncate -s 30M %s", raw);
	is_int(sh("qemu-img compare -q -f vhdx -F raw %s %s", img, raw), 0,
	       "grown image compares equal");
	is_int(sh("qemu-img check -q %s", img), 0, "grown image checks clean");

	/* discard 4..12 MiB, then compact */
	rc = disk_open(&d, img, 0, &err);
	if (rc == 0) {
		rc = disk_discard(d, 4 * MIB, 8 * MIB, &err);
		disk_close(d);
	}
	ok(rc == 0, "discard whole blocks %s", rc ? err.msg : "");
	sh("dd if=/dev/zero of=%s bs=1M seek=4 count=8 conv=notrunc status=none",
	   raw);
	stat(img, &st1);
	rc = disk_compact(img, NULL, NULL, &err);
	ok(rc == 0, "compact %s", rc ? err.msg : "");
	stat(img, &st2);
	ok(st2.st_size < st1.st_size, "compact shrank the file (%lld -> %lld)",
	   (long long)st1.st_size, (long long)st2.st_size);
	is_int(sh("qemu-img compare -q -f vhdx -F raw %s %s", img, raw), 0,
	       "compacted image compares equal");
	is_int(sh("qemu-img check -q %s", img), 0, "compacted image checks clean");
	rc = disk_open(&d, img, 0, &err);
	if (rc == 0) {
		rc = disk_check(d, false, &cr, &err);
		disk_close(d);
	}
	ok(rc == 0 && cr.errors == 0 && cr.leaks == 0, "hv check clean (%s)",
	   cr.first);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return child_write(argv[2]);
	if (sh("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img not installed");
	snprintf(dir, sizeof dir, "/tmp/hv-vhdx-XXXXXX");
	if (mkdtemp(dir) == NULL)
		skip_all("mkdtemp failed");
	test_qemu_made();
	test_hv_made();
	test_differencing();
	test_dirty_log();
	test_crash_after_log();
	test_kill_points();
	test_samples();
	test_malformed();
	test_resize_discard_compact();
	sh("rm -rf %s", dir);
	return done_testing();
}
