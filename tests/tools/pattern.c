/*
 * pattern - write or check the probe guest's sector pattern on a raw file
 * (tests/guest/pattern.h), so host tests can verify what the guest wrote
 * through virtio-blk, or prepare what it should read.
 *
 *	pattern write FILE START COUNT SEED
 *	pattern check FILE START COUNT SEED
 * START and COUNT are in 512-byte sectors; numbers may be 0x-prefixed.
 * check prints "ok" or the first bad sector and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/guest/pattern.h"

#define CHUNK	256	/* sectors per pread/pwrite */

static int
usage(void)
{
	fprintf(stderr, "usage: pattern write|check FILE START COUNT SEED\n");
	return 2;
}

static int
parse(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end ? -1 : 0;
}

static int
do_write(int fd, uint64_t start, uint64_t count, uint64_t seed)
{
	static uint8_t buf[CHUNK * PATTERN_SECTOR];
	uint64_t s = start;

	while (s < start + count) {
		uint64_t n = start + count - s, i;

		if (n > CHUNK)
			n = CHUNK;
		for (i = 0; i < n; i++)
			pattern_fill(buf + i * PATTERN_SECTOR, seed, s + i);
		if (pwrite(fd, buf, n * PATTERN_SECTOR, (off_t)(s * PATTERN_SECTOR)) !=
		    (ssize_t)(n * PATTERN_SECTOR)) {
			fprintf(stderr, "pattern: write at sector %" PRIu64 ": %s\n",
				s, strerror(errno));
			return 1;
		}
		s += n;
	}
	return 0;
}

static int
do_check(int fd, uint64_t start, uint64_t count, uint64_t seed)
{
	static uint8_t buf[CHUNK * PATTERN_SECTOR];
	uint64_t s = start;

	while (s < start + count) {
		uint64_t n = start + count - s, i;
		ssize_t got;

		if (n > CHUNK)
			n = CHUNK;
		got = pread(fd, buf, n * PATTERN_SECTOR, (off_t)(s * PATTERN_SECTOR));
		if (got < 0) {
			fprintf(stderr, "pattern: read: %s\n", strerror(errno));
			return 1;
		}
		/* past the end of the file reads as zeroes: a mismatch */
		memset(buf + got, 0, n * PATTERN_SECTOR - (size_t)got);
		for (i = 0; i < n; i++) {
			int w = pattern_check(buf + i * PATTERN_SECTOR, seed, s + i);

			if (w >= 0) {
				printf("mismatch sector=%" PRIu64 " word=%d\n", s + i, w);
				return 1;
			}
		}
		s += n;
	}
	printf("ok\n");
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t start, count, seed;
	int fd, rc, wr;

	if (argc != 6 || parse(argv[3], &start) || parse(argv[4], &count) ||
	    parse(argv[5], &seed))
		return usage();
	wr = !strcmp(argv[1], "write");
	if (!wr && strcmp(argv[1], "check"))
		return usage();
	fd = open(argv[2], wr ? O_RDWR | O_CREAT : O_RDONLY, 0644);
	if (fd < 0) {
		fprintf(stderr, "pattern: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	rc = wr ? do_write(fd, start, count, seed) : do_check(fd, start, count, seed);
	if (close(fd) && !rc) {
		fprintf(stderr, "pattern: %s: %s\n", argv[2], strerror(errno));
		rc = 1;
	}
	return rc;
}
