/*
 * pattern.h - the sector pattern the probe guest writes and checks, shared
 * with the host tool tests/tools/pattern.c so a test can verify on the host
 * exactly what the guest wrote (and the other way round).
 *
 * Sector s (512 bytes) is 64 little-endian 64-bit words; word i is
 *	splitmix64(seed * 0x9E3779B97F4A7C15 + s * 64 + i)
 * where splitmix64(x) is one step of Vigna's SplitMix64 from state x:
 *	z = x + 0x9E3779B97F4A7C15;
 *	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *	z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *	return z ^ (z >> 31);
 * Every word of the disk differs, so a sector written at the wrong offset,
 * with the wrong seed or torn in the middle shows up as a mismatch.
 *
 * Header-only and freestanding (stdint.h only): the guest has no libc.
 */
#ifndef HV_PATTERN_H
#define HV_PATTERN_H

#include <stdint.h>

#define PATTERN_SECTOR		512
#define PATTERN_WORDS		(PATTERN_SECTOR / 8)
#define PATTERN_GOLDEN		0x9E3779B97F4A7C15ull

static inline uint64_t
pattern_splitmix64(uint64_t x)
{
	uint64_t z = x + PATTERN_GOLDEN;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t
pattern_word(uint64_t seed, uint64_t sector, unsigned int i)
{
	return pattern_splitmix64(seed * PATTERN_GOLDEN + sector * 64 + i);
}

/* fill one 512-byte sector; byte by byte so it is little-endian anywhere */
static inline void
pattern_fill(uint8_t *buf, uint64_t seed, uint64_t sector)
{
	unsigned int i, b;

	for (i = 0; i < PATTERN_WORDS; i++) {
		uint64_t w = pattern_word(seed, sector, i);

		for (b = 0; b < 8; b++)
			buf[i * 8 + b] = (uint8_t)(w >> (8 * b));
	}
}

static inline uint64_t
pattern_get_le64(const uint8_t *p)
{
	uint64_t w = 0;
	int b;

	for (b = 7; b >= 0; b--)
		w = (w << 8) | p[b];
	return w;
}

/* -1 when the sector holds the pattern, else the first bad word's index */
static inline int
pattern_check(const uint8_t *buf, uint64_t seed, uint64_t sector)
{
	unsigned int i;

	for (i = 0; i < PATTERN_WORDS; i++)
		if (pattern_get_le64(buf + i * 8) !=
		    pattern_word(seed, sector, i))
			return (int)i;
	return -1;
}

#endif
