/* util.c - values every layer parses: sizes, names, UUIDs. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/hv.h"

int
hv_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "BKMGTPE";
	const char *u;
	char *end;
	double frac = 0;
	unsigned long long whole;
	int shift;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	whole = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == '.') {
		char *fend;

		if (!isdigit((unsigned char)end[1]))
			return -1;
		frac = strtod(end, &fend);
		end = fend;
	}
	if (*end == '\0') {
		if (frac != 0)
			return -1;	/* fractional bytes */
		*out = whole;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*end));
	if (u == NULL || *u == '\0')
		return -1;
	end++;
	/* accept 2G, 2GB, 2GiB */
	if (*u != 'B' && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0')
		return -1;
	shift = 10 * (int)(u - units);
	if (shift > 0 && whole > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)whole << shift;
	if (frac != 0) {
		double extra = frac * (double)(1ull << shift);

		if (extra != (double)(uint64_t)extra)
			return -1;	/* not a whole number of bytes */
		if (*out > UINT64_MAX - (uint64_t)extra)
			return -1;
		*out += (uint64_t)extra;
	}
	return 0;
}

void
hv_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int i = -1;

	if (bytes == 0) {
		snprintf(buf, len, "0");
		return;
	}
	while (i < 5 && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes, units[i]);
}

bool
hv_name_valid(const char *name, struct hv_err *err)
{
	size_t n = strlen(name);

	if (n == 0)
		return hv_fail(err, HV_EUSAGE, "name is empty"), false;
	if (n >= HV_NAME_MAX)
		return hv_fail(err, HV_EUSAGE, "name '%.20s...' is longer than %d characters",
			       name, HV_NAME_MAX - 1), false;
	if (name[0] == '-' || name[0] == '.')
		return hv_fail(err, HV_EUSAGE, "name '%s' must not start with '%c'",
			       name, name[0]), false;
	for (const char *p = name; *p; p++) {
		if (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.')
			continue;
		if (isprint((unsigned char)*p))
			return hv_fail(err, HV_EUSAGE,
				       "name '%s' contains '%c' (use letters, digits, '.', '-', '_')",
				       name, *p), false;
		return hv_fail(err, HV_EUSAGE,
			       "name contains a non-printable or non-ASCII character (use letters, digits, '.', '-', '_')"),
		       false;
	}
	return true;
}

void
hv_uuid_new(char out[HV_UUID_LEN])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
		/* no urandom: fall back to something unique enough */
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (unsigned char)(rand() ^ getpid() ^ (int)i);
	}
	if (fd >= 0)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, HV_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

bool
hv_uuid_like(const char *s)
{
	if (strlen(s) != HV_UUID_LEN - 1)
		return false;
	for (int i = 0; i < HV_UUID_LEN - 1; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}
