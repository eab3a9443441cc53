/*
 * qcow2-pattern.h - the image both qcow2 unit tests write: a 5 MiB + 1536
 * byte disk (not cluster aligned) with full clusters, partial clusters,
 * holes and the last sector filled with a never-zero pattern.
 */
#ifndef HV_TEST_QCOW2_PATTERN_H
#define HV_TEST_QCOW2_PATTERN_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "tests/tap.h"

#define KIB		1024u
#define MIB		(1024u * 1024)
#define SIZE		(5 * MIB + 1536)	/* not cluster aligned */

static uint8_t *pattern;	/* what the raw file holds */

static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (uint8_t)(seed >> 16) | 1;	/* never zero */
	}
}

/* full clusters, partial clusters, holes, and the last sector */
static const struct { uint64_t off, len; } runs[] = {
	{ 0, 64 * KIB },
	{ 64 * KIB + 512, 3584 },
	{ 200 * KIB, 1536 },
	{ MIB - 512, 2 * MIB + 1024 },
	{ 3 * MIB + 7 * 512, 2 * 512 },
	{ 4 * MIB, 64 * KIB + 512 },
	{ SIZE - 512, 512 },
};
#define NRUNS (sizeof runs / sizeof runs[0])

static void
write_raw(const char *path, const uint8_t *buf)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (ftruncate(fd, SIZE) < 0)
		diag("ftruncate failed");
	for (size_t i = 0; i < NRUNS; i++)
		if (pwrite(fd, buf + runs[i].off, runs[i].len,
			   (off_t)runs[i].off) < 0)
			diag("pwrite failed");
	close(fd);
}

#endif
