/*
 * disk-diff.c - differencing VHD and VHDX end to end: a parent made by
 * converting a known pattern, an hv child written in odd places (partial
 * sectors of a block, whole blocks, the last sector), reads through the
 * chain, merge into the parent, and qemu-img as the oracle of the merged
 * parent's bytes.
 */
#include <stdlib.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "tests/tap.h"

#define SIZE	(64ull << 20)

static char dir[] = "/tmp/hv-diff.XXXXXX";

static const char *
tp(const char *name)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static void
fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + i / 512) ^ seed);
}

static void
run(const char *fmt)
{
	struct disk_create_opts co = { .fmt = disk_format_parse(fmt) };
	struct disk_convert_opts cv = { .fmt = disk_format_parse(fmt), .fixed = 0 };
	struct { uint64_t off, len; } w[] = {
		{ 512, 1536 },			/* sectors inside the first block */
		{ 3 << 20, 2 << 20 },		/* whole MiBs across a block edge */
		{ (17 << 20) + 4096, 512 },	/* one sector far away */
		{ SIZE - 512, 512 },		/* the last sector */
	};
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	char parent[64], child[64], cmd[512];
	struct hv_err err = { 0 };
	struct disk *d;
	FILE *f;

	snprintf(parent, sizeof parent, "parent.%s", fmt);
	snprintf(child, sizeof child, "child.%s", fmt);
	/* the parent: a pattern in the first 8 MiB, converted by hv */
	memset(want, 0, SIZE);
	fill(want, 8 << 20, 1);
	f = fopen(tp("base.raw"), "w");
	fwrite(want, 1, SIZE, f);
	fclose(f);
	ok(disk_convert(tp("base.raw"), tp(parent), &cv, &err) == 0, "%s: parent made by convert", fmt);

	co.parent = tp(parent);
	ok(disk_create(tp(child), &co, &err) == 0, "%s: differencing child created (%s)", fmt,
	   err.msg);
	ok(disk_open(&d, tp(child), 0, &err) == 0, "%s: child opens with its parent", fmt);
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		fill(want + w[i].off, w[i].len, 10 + (unsigned)i);
		ok(disk_write(d, w[i].off, want + w[i].off, w[i].len, &err) == 0,
		   "%s: child write %zu at %llu", fmt, i, (unsigned long long)w[i].off);
	}
	ok(disk_read(d, 0, got, SIZE, &err) == 0 && memcmp(got, want, SIZE) == 0,
	   "%s: reads through the chain = parent + child's writes", fmt);
	disk_close(d);

	/* the parent is untouched until the merge */
	snprintf(cmd, sizeof cmd, "qemu-img compare -q -f raw %s %s", tp("base.raw"), tp(parent));
	ok(system(cmd) == 0, "%s: parent unchanged by the child's writes", fmt);
	ok(disk_merge(tp(child), NULL, NULL, &err) == 0, "%s: merge child into parent (%s)", fmt,
	   err.msg);
	f = fopen(tp("want.raw"), "w");
	fwrite(want, 1, SIZE, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "qemu-img compare -q -f raw %s %s", tp("want.raw"), tp(parent));
	ok(system(cmd) == 0, "%s: qemu-img reads the merged parent as parent + child", fmt);
	if (strcmp(fmt, "vhdx") == 0) {
		snprintf(cmd, sizeof cmd, "qemu-img check -q %s", tp(parent));
		ok(system(cmd) == 0, "%s: merged parent passes qemu-img check", fmt);
	}
	unlink(tp(child));
	unlink(tp(parent));
	free(want);
	free(got);
}

int
main(void)
{
	char cmd[128];

	if (system("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img is not installed");
	if (mkdtemp(dir) == NULL)
		return 1;
	run("vhd");
	run("vhdx");
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
