/*
 * disk-core.c - the disk core: names, probing, the parent chain (loops,
 * missing parents, long chains, relative names, reads through layers),
 * merge and convert of chains. Chains need a format with backing files:
 * those cases use qcow2 images made by qemu-img and are skipped when
 * the qcow2 driver is not built in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/disk/disk-int.h"
#include "engine/disk/disk-tools.h"
#include "tests/tap.h"

#define MIB	(1024u * 1024)

static char dir[64];

static const char *
tpath(const char *name)
{
	static char bufs[4][256];
	static int i;
	char *p = bufs[i++ % 4];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* run a shell command in the temp dir; its exit status */
static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n, st;

	n = snprintf(cmd, sizeof cmd, "cd %s && ", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* read all of path through hv into out.raw-like file `dst` */
static int
hv_dump(const char *path, const char *dst)
{
	struct hv_err err;
	struct disk *d;
	FILE *f;
	char *buf = malloc(MIB);
	int rc = -1;

	if (disk_open(&d, path, DISK_RDONLY, &err) < 0) {
		diag("%s", err.msg);
		free(buf);
		return -1;
	}
	f = fopen(dst, "w");
	for (uint64_t off = 0; f && off < disk_size(d); off += MIB) {
		size_t n = disk_size(d) - off < MIB ? disk_size(d) - off : MIB;

		if (disk_read(d, off, buf, n, &err) < 0) {
			diag("%s", err.msg);
			goto out;
		}
		fwrite(buf, 1, n, f);
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	disk_close(d);
	free(buf);
	return rc;
}

static void
test_names(void)
{
	static const char z[4096];
	char nz[4096] = { 0 };

	for (int i = 0; i < DISK_FMT_COUNT; i++)
		is_int(disk_format_parse(disk_format_name(i)), i,
		       "format name %s round-trips", disk_format_name(i));
	is_int(disk_format_parse("vpc"), DISK_FMT_VHD, "vpc is vhd");
	is_int(disk_format_parse("VHDX"), DISK_FMT_VHDX, "names ignore case");
	is_int(disk_format_parse("floppy"), DISK_FMT_NONE, "unknown name");
	is_str(disk_format_name(DISK_FMT_NONE), "unknown", "name of NONE");
	ok(disk_is_zero(z, sizeof z) && disk_is_zero(z, 7), "zero buffers");
	nz[4095] = 1;
	ok(!disk_is_zero(nz, sizeof nz), "last byte set is not zero");
	nz[4095] = 0;
	nz[3] = 1;
	ok(!disk_is_zero(nz, sizeof nz), "early byte set is not zero");
}

static void
test_plain(void)
{
	struct disk_create_opts co = { .fmt = DISK_FMT_COUNT, .size = MIB };
	struct disk_check_result r;
	struct disk_info info;
	struct hv_err err;
	struct disk *d;

	sh("qemu-img create -q -f raw plain.raw 4M");
	is_int(disk_probe(tpath("plain.raw"), &err), DISK_FMT_RAW, "probe raw");
	ok(disk_probe(tpath("none"), &err) == DISK_FMT_NONE &&
	   err.code == HV_ENOENT, "probe a missing file: %s", err.msg);
	ok(disk_open(&d, tpath("plain.raw"), 0, &err) == 0, "open raw");
	ok(disk_get_info(d, &info, &err) == 0 && info.fmt == DISK_FMT_RAW &&
	   info.size == 4 * MIB && info.parent[0] == '\0', "info of raw");
	ok(disk_check(d, false, &r, &err) < 0 && err.code == HV_ENOTSUP &&
	   strstr(err.msg, "no check for this format"),
	   "check without a driver check: %s", err.msg);
	ok(disk_parent(d) == NULL, "raw has no parent");
	disk_close(d);
	ok(disk_create(tpath("x.img"), &co, &err) < 0 && err.code == HV_ENOTSUP,
	   "create of an unknown format refused: %s", err.msg);
	ok(disk_merge(tpath("plain.raw"), NULL, NULL, &err) < 0 &&
	   strstr(err.msg, "no parent"), "merge without a parent: %s", err.msg);
	ok(disk_open(&d, dir, 0, &err) < 0, "a directory is not an image: %s",
	   err.msg);
}

static bool
have_qcow2(void)
{
	struct hv_err err;

	sh("qemu-img create -q -f qcow2 probe.qcow2 1M");
	return disk_probe(tpath("probe.qcow2"), &err) == DISK_FMT_QCOW2;
}

static void
test_chain_read(void)
{
	struct hv_err err;
	struct disk *d;
	uint64_t pnum;

	/* base.raw <- mid.qcow2 <- top.qcow2, named relative to each other */
	sh("qemu-img create -q -f raw base.raw 4M && "
	   "qemu-io -f raw -c 'write -P 0xaa 0 4M' base.raw >/dev/null && "
	   "qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
	   "qemu-io -c 'write -P 0xbb 1M 64k' -c 'write -z 3M 64k' mid.qcow2 >/dev/null && "
	   "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 && "
	   "qemu-io -c 'write -P 0xcc 2M 4k' top.qcow2 >/dev/null && "
	   "qemu-img convert -O raw top.qcow2 top-want.raw");
	ok(disk_open(&d, tpath("top.qcow2"), 0, &err) == 0,
	   "open a 3-image chain");
	ok(disk_parent(d) && disk_parent(disk_parent(d)) &&
	   disk_format_of(disk_parent(disk_parent(d))) == DISK_FMT_RAW,
	   "parents found relative to the child");
	ok(disk_parent(d) && (disk_parent(d)->flags & DISK_RDONLY),
	   "parents are opened read-only");
	is_int(disk_block_status(d, 0, MIB, &pnum, &err), DISK_ST_UNALLOC,
	       "top layer: unallocated at 0");
	is_int(disk_chain_status(d, 0, MIB, &pnum, &err), DISK_ST_DATA,
	       "chain: data at 0 (the base)");
	is_int(disk_chain_status(d, 3 * MIB, 64 * 1024, &pnum, &err),
	       DISK_ST_ZERO, "chain: zero cluster in the middle hides the base");
	disk_close(d);
	ok(hv_dump(tpath("top.qcow2"), tpath("top-got.raw")) == 0 &&
	   sh("cmp -s top-want.raw top-got.raw") == 0,
	   "reads through the chain match qemu-img");
	ok(disk_open(&d, tpath("top.qcow2"), DISK_NOBACKING, &err) == 0 &&
	   disk_parent(d) == NULL, "NOBACKING opens one layer");
	disk_close(d);

	/* a bigger child over a smaller backing file: zeros past its end */
	sh("qemu-img create -q -f qcow2 -b base.raw -F raw big.qcow2 8M && "
	   "qemu-io -c 'write -P 0xdd 6M 4k' big.qcow2 >/dev/null && "
	   "qemu-img convert -O raw big.qcow2 big-want.raw");
	ok(hv_dump(tpath("big.qcow2"), tpath("big-got.raw")) == 0 &&
	   sh("cmp -s big-want.raw big-got.raw") == 0,
	   "a qcow2 larger than its backing file reads zeros past it");
}

static void
test_chain_errors(void)
{
	struct hv_err err;
	struct disk *d;
	int i;

	sh("qemu-img create -q -f qcow2 -u -b gone.raw -F raw orphan.qcow2 4M");
	ok(disk_open(&d, tpath("orphan.qcow2"), 0, &err) < 0 &&
	   err.code == HV_ENOENT && strstr(err.msg, "gone.raw of ") &&
	   strstr(err.msg, "No such file"), "missing parent: %s", err.msg);

	sh("qemu-img create -q -f qcow2 -u -b b.qcow2 -F qcow2 a.qcow2 4M && "
	   "qemu-img create -q -f qcow2 -u -b a.qcow2 -F qcow2 b.qcow2 4M");
	ok(disk_open(&d, tpath("a.qcow2"), DISK_RDONLY, &err) < 0 &&
	   err.code == HV_ECORRUPT && strstr(err.msg, "loops"),
	   "a loop in the chain: %s", err.msg);
	/* qemu-img will not name a file its own backing file: rename after */
	sh("qemu-img create -q -f qcow2 -u -b self.qcow2 -F qcow2 self0.qcow2 4M && "
	   "mv self0.qcow2 self.qcow2");
	ok(disk_open(&d, tpath("self.qcow2"), DISK_RDONLY, &err) < 0 &&
	   strstr(err.msg, "loops"), "an image that is its own parent");

	sh("qemu-img create -q -f raw l0.img 1M");
	for (i = 1; i <= DISK_MAX_CHAIN + 1; i++)
		sh("qemu-img create -q -f qcow2 -u -b l%d.img -F %s l%d.img 1M",
		   i - 1, i == 1 ? "raw" : "qcow2", i);
	ok(disk_open(&d, tpath("l64.img"), DISK_RDONLY, &err) == 0,
	   "a chain of %d images opens", DISK_MAX_CHAIN + 1);
	disk_close(d);
	ok(disk_open(&d, tpath("l65.img"), DISK_RDONLY, &err) < 0 &&
	   strstr(err.msg, "longer than"), "a longer chain: %s", err.msg);
}

static void
test_chain_tools(void)
{
	struct disk_convert_opts co = { .fmt = DISK_FMT_RAW, .fixed = 0 };
	struct hv_err err;

	ok(disk_convert(tpath("top.qcow2"), tpath("flat.raw"), &co, &err) == 0,
	   "convert a chain: %s", err.msg);
	ok(sh("qemu-img compare -q -F raw top.qcow2 flat.raw") == 0,
	   "the flattened copy matches");

	/* merge a qcow2 child into its raw parent */
	sh("cp base.raw mbase.raw && "
	   "qemu-img create -q -f qcow2 -b mbase.raw -F raw mchild.qcow2 && "
	   "qemu-io -c 'write -P 0x5a 512k 1M' -c 'write -z 3M 512k' "
	   "-c 'write -P 0x17 4193792 512' mchild.qcow2 >/dev/null && "
	   "qemu-img convert -O raw mchild.qcow2 merge-want.raw && "
	   "cp mchild.qcow2 mchild.before");
	ok(disk_merge(tpath("mchild.qcow2"), NULL, NULL, &err) == 0,
	   "merge into a raw parent: %s", err.msg);
	ok(sh("cmp -s mbase.raw merge-want.raw") == 0,
	   "the parent now holds the child's view");
	ok(sh("cmp -s mchild.qcow2 mchild.before") == 0, "the child is untouched");

	/* merge into a qcow2 parent, which qemu-img can check */
	sh("qemu-img create -q -f qcow2 qbase.qcow2 4M && "
	   "qemu-io -c 'write -P 0x21 0 2M' qbase.qcow2 >/dev/null && "
	   "qemu-img create -q -f qcow2 -b qbase.qcow2 -F qcow2 qchild.qcow2 && "
	   "qemu-io -c 'write -P 0x42 1M 2M' qchild.qcow2 >/dev/null && "
	   "qemu-img convert -O raw qchild.qcow2 qmerge-want.raw");
	ok(disk_merge(tpath("qchild.qcow2"), NULL, NULL, &err) == 0,
	   "merge into a qcow2 parent: %s", err.msg);
	ok(sh("qemu-img compare -q -F raw qbase.qcow2 qmerge-want.raw") == 0,
	   "the qcow2 parent has the merged content");
	ok(sh("qemu-img check -q qbase.qcow2") == 0, "qemu-img check passes");
}

int
main(void)
{
	if (system("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img is not installed");
	snprintf(dir, sizeof dir, "/tmp/hv-disk-core.XXXXXX");
	if (mkdtemp(dir) == NULL)
		skip_all("cannot make a temp dir");
	test_names();
	test_plain();
	if (have_qcow2()) {
		test_chain_read();
		test_chain_errors();
		test_chain_tools();
	} else {
		ok(1, "# SKIP chain tests: the qcow2 driver is not built in");
	}
	sh("cd / && rm -rf %s", dir);
	return done_testing();
}
