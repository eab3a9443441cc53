/*
 * disk-crash.c - the writer and the verifier of the crash-safety test
 * (tests/disk-crash.t).
 *
 *	disk-crash create IMAGE FORMAT BYTES	(a dynamic image made by hv)
 *	disk-crash write IMAGE SEED COUNT
 *		COUNT writes of deterministic content at deterministic
 *		places (some whole blocks, some partial, some at the last
 *		sector), each followed by a flush; after each flush prints
 *		"ack I" on stdout. The test kills it part way
 *		(HV_DISK_FAULT=pwrite:N:kill).
 *	disk-crash verify IMAGE SEED ACKED
 *		opens the image (a VHDX replays its log here), runs the
 *		driver's check, and reads every sector: each must hold what
 *		the last acknowledged write put there (zeros if none); only
 *		sectors of the one write in flight (ACKED+1) may hold either.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk.h"

#define SECT	DISK_SECTOR

struct wr {
	uint64_t off, len;
};

static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* write i of a run: where it goes (deterministic from seed and i) */
static struct wr
plan_write(uint64_t seed, uint64_t size, long i)
{
	uint64_t r = mix(seed * 1000003 + (uint64_t)i), nsect = size / SECT;
	struct wr w;

	switch (r % 4) {
	case 0:		/* a whole 1 MiB-aligned MiB */
		w.len = 1 << 20;
		w.off = (mix(r) % (size >> 20)) << 20;
		break;
	case 1:		/* the last sectors of the disk */
		w.len = (1 + mix(r) % 8) * SECT;
		w.off = size - w.len;
		break;
	default:	/* a few sectors anywhere */
		w.len = (1 + mix(r) % 64) * SECT;
		w.off = (mix(r + 1) % (nsect - w.len / SECT)) * SECT;
		break;
	}
	return w;
}

static void
fill_sector(uint8_t *p, uint64_t seed, long i, uint64_t sector)
{
	for (int k = 0; k < (int)(SECT / 8); k++) {
		uint64_t v = mix(seed ^ mix((uint64_t)i * 0x100000001b3ull + sector * 64 + (uint64_t)k));

		memcpy(p + 8 * k, &v, 8);
	}
}

static int
do_write(const char *path, uint64_t seed, long count)
{
	struct hv_err err;
	struct disk *d;
	uint8_t *buf = malloc(1 << 20);
	uint64_t size;

	if (buf == NULL || disk_open(&d, path, 0, &err) != 0) {
		fprintf(stderr, "disk-crash: %s\n", buf ? err.msg : "out of memory");
		return 1;
	}
	size = disk_size(d);
	for (long i = 0; i < count; i++) {
		struct wr w = plan_write(seed, size, i);

		for (uint64_t s = 0; s < w.len / SECT; s++)
			fill_sector(buf + s * SECT, seed, i, w.off / SECT + s);
		if (disk_write(d, w.off, buf, w.len, &err) != 0 ||
		    disk_flush(d, &err) != 0) {
			fprintf(stderr, "disk-crash: write %ld: %s\n", i, err.msg);
			return 1;
		}
		printf("ack %ld\n", i);
		fflush(stdout);
	}
	disk_close(d);
	free(buf);
	return 0;
}

static int
do_verify(const char *path, uint64_t seed, long acked)
{
	struct disk_check_result cr;
	struct hv_err err;
	struct disk *d;
	uint64_t size, nsect, bad = 0;
	long *owner;
	uint8_t *inflight, got[SECT], want[SECT];

	if (disk_open(&d, path, 0, &err) != 0) {
		printf("verify: open failed: %s\n", err.msg);
		return 1;
	}
	memset(&cr, 0, sizeof cr);
	if (disk_check(d, false, &cr, &err) != 0 && strstr(err.msg, "no check") == NULL) {
		printf("verify: check failed: %s\n", err.msg);
		return 1;
	}
	if (cr.errors != 0) {
		printf("verify: check found %" PRIu64 " errors: %s\n", cr.errors, cr.first);
		return 1;
	}
	size = disk_size(d);
	nsect = size / SECT;
	owner = malloc(nsect * sizeof *owner);
	inflight = calloc(nsect, 1);
	if (owner == NULL || inflight == NULL)
		return 1;
	for (uint64_t s = 0; s < nsect; s++)
		owner[s] = -1;
	for (long i = 0; i <= acked + 1; i++) {
		struct wr w = plan_write(seed, size, i);

		for (uint64_t s = w.off / SECT; s < (w.off + w.len) / SECT; s++) {
			if (i <= acked)
				owner[s] = i;
			else
				inflight[s] = 1;
		}
	}
	for (uint64_t s = 0; s < nsect; s++) {
		bool ok_old, ok_new = false;

		if (disk_read(d, s * SECT, got, SECT, &err) != 0) {
			printf("verify: read sector %" PRIu64 ": %s\n", s, err.msg);
			return 1;
		}
		if (owner[s] < 0)
			memset(want, 0, SECT);
		else
			fill_sector(want, seed, owner[s], s);
		ok_old = memcmp(got, want, SECT) == 0;
		if (!ok_old && inflight[s]) {
			fill_sector(want, seed, acked + 1, s);
			ok_new = memcmp(got, want, SECT) == 0;
		}
		if (!ok_old && !ok_new && bad++ == 0)
			printf("verify: sector %" PRIu64 " lost (last acked writer %ld)\n", s, owner[s]);
	}
	printf("verify: %s acked=%ld bad_sectors=%" PRIu64 "\n", bad ? "FAIL" : "ok", acked, bad);
	free(owner);
	free(inflight);
	disk_close(d);
	return bad ? 1 : 0;
}

static int
do_create(const char *path, const char *fmt, const char *size)
{
	struct disk_create_opts o = { .fmt = disk_format_parse(fmt) };
	struct hv_err err;

	o.size = strtoull(size, NULL, 0);
	if (o.fmt == DISK_FMT_NONE || disk_create(path, &o, &err) != 0) {
		fprintf(stderr, "disk-crash: create %s: %s\n", path,
			o.fmt == DISK_FMT_NONE ? "unknown format" : err.msg);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "create") == 0)
		return do_create(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], strtoull(argv[3], NULL, 0), atol(argv[4]));
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], strtoull(argv[3], NULL, 0), atol(argv[4]));
	fprintf(stderr, "usage: disk-crash create IMAGE FORMAT BYTES | write IMAGE SEED COUNT | verify IMAGE SEED ACKED\n");
	return 2;
}
