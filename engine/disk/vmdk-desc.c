/*
 * vmdk-desc.c - the VMDK text descriptor: createType, CIDs, the parent
 * hint and the extent lines
 *
 *	RW 2048 SPARSE "x-s001.vmdk"
 *	RW 4096 FLAT "x-flat.vmdk" 0
 *	RDONLY 1024 ZERO
 *
 * The text comes from a file or from inside a sparse extent, so every
 * line is untrusted: lengths are bounded and numbers range-checked.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/vmdk-int.h"

#define LINE_MAX_LEN	4096

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Parse an unsigned decimal; advances *sp. */
static bool
parse_u64(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*sp = s;
	*v = n;
	return true;
}

/* A word of letters; returns its length. */
static size_t
word_len(const char *s)
{
	size_t n = 0;

	while (isalpha((unsigned char)s[n]))
		n++;
	return n;
}

static bool
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncmp(s, w, n) == 0;
}

/* Value of key=value with optional quotes, copied to out (bounded). */
static bool
key_value(const char *line, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key), n = 0;
	const char *s;

	if (strncmp(line, key, kl) != 0)
		return false;
	s = skip_ws(line + kl);
	if (*s != '=')
		return false;
	s = skip_ws(s + 1);
	if (*s == '"') {
		s++;
		while (s[n] && s[n] != '"')
			n++;
	} else {
		while (s[n] && !isspace((unsigned char)s[n]))
			n++;
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static int
extent_type(const char *s, size_t n, enum vmdk_ext_type *t)
{
	if (word_is(s, n, "FLAT") || word_is(s, n, "VMFS"))
		*t = VMDK_EXT_FLAT;
	else if (word_is(s, n, "SPARSE"))
		*t = VMDK_EXT_SPARSE;
	else if (word_is(s, n, "ZERO"))
		*t = VMDK_EXT_ZERO;
	else if (word_is(s, n, "SESPARSE"))
		*t = VMDK_EXT_SESPARSE;
	else
		return -1;
	return 0;
}

static int
parse_extent(const char *line, const char *path, unsigned lineno,
	     struct vmdk_desc_extent *x, struct hv_err *err)
{
	const char *s = line, *q;
	size_t n = word_len(s);

	memset(x, 0, sizeof(*x));
	if (word_is(s, n, "RW"))
		x->access = VMDK_RW;
	else if (word_is(s, n, "RDONLY"))
		x->access = VMDK_RDONLY;
	else
		x->access = VMDK_NOACCESS;
	s = skip_ws(s + n);
	if (!parse_u64(&s, &x->sectors) || x->sectors > VMDK_MAX_SECTORS)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VMDK descriptor line %u: bad extent size",
			       path, lineno);
	s = skip_ws(s);
	n = word_len(s);
	if (extent_type(s, n, &x->type) < 0)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: VMDK extent type '%.*s' is not supported",
			       path, (int)(n > 16 ? 16 : n), s);
	s = skip_ws(s + n);
	if (x->type == VMDK_EXT_ZERO)
		return 0;
	q = *s == '"' ? strchr(s + 1, '"') : NULL;
	if (q == NULL || q == s + 1)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VMDK descriptor line %u: extent file name "
			       "missing", path, lineno);
	x->file = strndup(s + 1, (size_t)(q - s - 1));
	if (x->file == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	s = skip_ws(q + 1);
	if (x->type == VMDK_EXT_FLAT && *s &&
	    (!parse_u64(&s, &x->offset) || x->offset > VMDK_MAX_SECTORS))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VMDK descriptor line %u: bad extent offset",
			       path, lineno);
	return 0;
}

static bool
is_extent_line(const char *s)
{
	size_t n = word_len(s);

	return (word_is(s, n, "RW") || word_is(s, n, "RDONLY") ||
		word_is(s, n, "NOACCESS")) && (s[n] == ' ' || s[n] == '\t');
}

static int
add_extent(struct vmdk_desc *desc, const char *line, const char *path,
	   unsigned lineno, struct hv_err *err)
{
	struct vmdk_desc_extent *x;

	if (desc->n_ext >= VMDK_MAX_EXTENTS)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK descriptor has too "
			       "many extents", path);
	x = realloc(desc->ext, (desc->n_ext + 1) * sizeof(*x));
	if (x == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	desc->ext = x;
	if (parse_extent(line, path, lineno, &x[desc->n_ext], err) < 0) {
		free(x[desc->n_ext].file);
		return -1;
	}
	desc->n_ext++;
	return 0;
}

static void
parse_cid(const char *line, const char *key, uint32_t *v)
{
	char buf[16];

	if (key_value(line, key, buf, sizeof(buf)))
		*v = (uint32_t)strtoul(buf, NULL, 16);
}

static int
parse_line(struct vmdk_desc *desc, const char *line, const char *path,
	   unsigned lineno, struct hv_err *err)
{
	char hint[4096];

	if (is_extent_line(line))
		return add_extent(desc, line, path, lineno, err);
	if (key_value(line, "createType", desc->create_type,
		      sizeof(desc->create_type)))
		return 0;
	parse_cid(line, "CID", &desc->cid);
	parse_cid(line, "parentCID", &desc->parent_cid);
	if (key_value(line, "parentFileNameHint", hint, sizeof(hint)) &&
	    hint[0] && desc->parent_hint == NULL) {
		desc->parent_hint = strdup(hint);
		if (desc->parent_hint == NULL)
			return hv_fail(err, HV_EIO, "%s: out of memory", path);
	}
	return 0;
}

int
vmdk_desc_parse(const char *text, size_t len, const char *path,
		struct vmdk_desc *desc, struct hv_err *err)
{
	char line[LINE_MAX_LEN];
	unsigned lineno = 0;
	size_t i = 0;

	memset(desc, 0, sizeof(*desc));
	desc->parent_cid = 0xffffffffu;
	while (i < len && text[i] != '\0') {
		size_t n = 0;

		lineno++;
		while (i < len && text[i] != '\0' && text[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = text[i];
			i++;
		}
		if (i < len && text[i] == '\n')
			i++;
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		line[n] = '\0';
		const char *s = skip_ws(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (parse_line(desc, s, path, lineno, err) < 0)
			goto fail;
	}
	if (desc->create_type[0] == '\0') {
		hv_fail(err, HV_ECORRUPT, "%s: VMDK descriptor has no "
			"createType", path);
		goto fail;
	}
	return 0;
fail:
	vmdk_desc_free(desc);
	return -1;
}

void
vmdk_desc_free(struct vmdk_desc *desc)
{
	for (unsigned i = 0; i < desc->n_ext; i++)
		free(desc->ext[i].file);
	free(desc->ext);
	free(desc->parent_hint);
	desc->ext = NULL;
	desc->n_ext = 0;
	desc->parent_hint = NULL;
}

bool
vmdk_desc_set_cid(char *text, size_t len, uint32_t cid)
{
	char hex[9];

	snprintf(hex, sizeof(hex), "%08x", cid);
	for (size_t i = 0; i + 12 <= len && text[i]; i++) {
		if ((i == 0 || text[i - 1] == '\n') &&
		    strncmp(text + i, "CID=", 4) == 0) {
			for (int k = 0; k < 8; k++)
				if (!isxdigit((unsigned char)text[i + 4 + k]))
					return false;
			memcpy(text + i + 4, hex, 8);
			return true;
		}
	}
	return false;
}
