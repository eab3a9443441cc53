/*
 * wizard-test.h - what the wizard unit tests share: driving a wizard
 * headless as the TUI does (set, Next, Back, and what must be refused),
 * running its script through `$HV -f`, and reading `hv ... --json`.
 */
#ifndef HV_WIZARD_TEST_H
#define HV_WIZARD_TEST_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "wizards/wizard.h"
#include "tests/tap.h"
#include "tests/unit/disk-test.h"

/* the hv under test ($HV) and the context the wizards read */
static const char *hvbin;
static struct hv_ctx *hv;

/* --- driving a wizard -------------------------------------------------- */

static inline struct wizard *
open_wiz(const char *kind, const char *target)
{
	struct hv_err err;
	struct wizard *w = wiz_new(kind, hv, target, &err);

	if (w == NULL) {
		printf("Bail out! %s wizard: %s\n", kind, err.msg);
		exit(1);
	}
	return w;
}

/* "@name": that file in the test's directory, which is also $HV_HOME */
static inline const char *
at(const char *value)
{
	return value[0] == '@' ? tpath(value + 1) : value;
}

/* what the user types, NULL-terminated pairs of id and value; the
   wizard must take each */
static inline void
set(struct wizard *w, ...)
{
	struct hv_err err;
	const char *id, *v;
	va_list ap;

	va_start(ap, w);
	while ((id = va_arg(ap, const char *)) != NULL) {
		v = at(va_arg(ap, const char *));
		if (wiz_set(w, id, v, &err) != 0)
			ok(0, "set %s to '%s': %s", id, v, err.msg);
	}
	va_end(ap);
}

/* fields and their values, NULL-terminated pairs */
static inline void
has(struct wizard *w, const char *what, ...)
{
	const char *id, *want;
	va_list ap;

	va_start(ap, what);
	while ((id = va_arg(ap, const char *)) != NULL) {
		want = at(va_arg(ap, const char *));
		is_str(wiz_get(w, id), want, "%s: %s is '%s'", what, id, want);
	}
	va_end(ap);
}

/* fields on the page and fields hidden (space-separated ids) */
static inline void
visible(struct wizard *w, const char *what, const char *shown, const char *hidden)
{
	char buf[256], *id, *save;

	for (int h = 0; h < 2; h++) {
		snprintf(buf, sizeof buf, "%s", h ? hidden : shown);
		for (id = strtok_r(buf, " ", &save); id != NULL; id = strtok_r(NULL, " ", &save)) {
			struct wiz_field *f = wiz_find(w, id);

			ok(f != NULL && f->hidden == h, "%s: %s %s", what, id, h ? "hidden" : "shown");
		}
	}
}

/* Next must refuse: want in the message, field named, the page kept */
static inline void
refused(struct wizard *w, const char *field, const char *want)
{
	struct hv_err err = { 0 };
	int page = wiz_page(w), rc = wiz_next(w, &err);
	const char *f = wiz_error_field(w);

	if (rc == 0)
		wiz_back(w);
	if (!ok(rc != 0 && strstr(err.msg, want) != NULL && f != NULL && strcmp(f, field) == 0 &&
		wiz_page(w) == page, "refused on %s: %s", field, rc ? err.msg : "accepted"))
		diag("  want '%s' on %s (page %d), got %s (page %d)", want, field, page,
		     f ? f : "no field", wiz_page(w));
}

/* wiz_set must refuse (a read-only field, a choice not offered) and keep
   the value */
static inline void
set_refused(struct wizard *w, const char *id, const char *value, const char *want)
{
	struct hv_err err = { 0 };
	char *before = strdup(wiz_get(w, id));
	int rc = wiz_set(w, id, value, &err);
	const char *f = wiz_error_field(w);

	ok(rc == -1 && strstr(err.msg, want) != NULL && f != NULL && strcmp(f, id) == 0 &&
	   strcmp(wiz_get(w, id), before) == 0, "%s '%s' refused: %s", id, value, rc ? err.msg : "taken");
	free(before);
}

static inline void
accepted(struct wizard *w, const char *what)
{
	struct hv_err err;
	int page = wiz_page(w);

	if (!ok(wiz_next(w, &err) == 0 && wiz_page(w) == page + 1, "Next: %s", what))
		diag("  page %d: %s (on %s)", page, err.msg, wiz_error_field(w));
}

/*
 * What the user does, a row each: set id to value (id NULL: nothing),
 * then by field: NULL nothing more; NEXT: Next goes on (want says why);
 * BACK: Back; else Next must refuse naming field, with want in its message.
 */
#define NEXT	"+"
#define BACK	"-"

struct step {
	const char *id, *value, *field, *want;
};

static inline void
walk(struct wizard *w, const struct step *s)
{
	for (; s->id != NULL || s->field != NULL; s++) {
		if (s->id != NULL)
			set(w, s->id, s->value, NULL);
		if (s->field == NULL)
			continue;
		if (strcmp(s->field, NEXT) == 0)
			accepted(w, s->want);
		else if (strcmp(s->field, BACK) == 0)
			wiz_back(w);
		else
			refused(w, s->field, s->want);
	}
}

/* Next to the summary; a page that does not check out fails the test */
static inline void
finish_pages(struct wizard *w)
{
	struct hv_err err;

	while (!wiz_at_summary(w))
		if (wiz_next(w, &err) != 0) {
			ok(0, "%s page %d: %s", wiz_title(w), wiz_page(w), err.msg);
			return;
		}
}

/* --- running what Finish runs ------------------------------------------ */

/* the wizard's script (NULL after a failed test) */
static inline char *
script_of(struct wizard *w)
{
	struct hv_err err;
	char *s = wiz_script(w, &err);

	if (!ok(s != NULL, "%s: a script", wiz_title(w)))
		diag("  %s", err.msg);
	else
		diag("script:\n%s", s);
	return s;
}

/* Finish: the script through `hv -f`; its exit status */
static inline int
run_script(const char *script)
{
	const char *path = tpath("finish.hv");
	FILE *f;

	if (script == NULL || (f = fopen(path, "w")) == NULL)
		return -1;
	fputs(script, f);
	fclose(f);
	return sh("'%s' -f '%s' >&2", hvbin, path);
}

/* the lines of a script that run something */
static inline int
command_lines(const char *script)
{
	int n = 0;

	/* the first line is always a comment */
	for (const char *l = script; l != NULL && (l = strstr(l, "\nhv ")) != NULL; l++)
		n++;
	return n;
}

/* a command's output as JSON; NULL if it fails */
static inline cJSON * __attribute__((format(printf, 1, 2)))
json_of(const char *fmt, ...)
{
	char cmd[4096], out[1 << 16];
	va_list ap;
	size_t n;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if ((p = popen(cmd, "r")) == NULL)
		return NULL;
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	return pclose(p) == 0 ? cJSON_Parse(out) : NULL;
}

/* "boot.kernel", "disks.0" */
static inline const cJSON *
jget(const cJSON *j, const char *path)
{
	char buf[128], *k, *save;

	snprintf(buf, sizeof buf, "%s", path);
	for (k = strtok_r(buf, ".", &save); k != NULL && j != NULL; k = strtok_r(NULL, ".", &save))
		j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, atoi(k)) : cJSON_GetObjectItemCaseSensitive(j, k);
	return j;
}

static inline long long
jnum(const cJSON *j, const char *path)
{
	const cJSON *v = jget(j, path);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

static inline const char *
jstr(const cJSON *j, const char *path)
{
	const cJSON *v = jget(j, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* $HV, a temp directory (also $HV_HOME) from template, and the engine
   context on it; skips the test without an hv to run */
static inline void
wiz_test_setup(const char *template)
{
	struct hv_err err;

	hvbin = getenv("HV");
	if (hvbin == NULL || access(hvbin, X_OK) != 0)
		skip_all("HV does not name an hv to run the wizards' scripts (make check sets it)");
	snprintf(dir, sizeof dir, "%s", template);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("HV_HOME", dir, 1);
	if (hv_open(&hv, dir, &err) != 0) {
		printf("Bail out! hv_open %s: %s\n", dir, err.msg);
		exit(1);
	}
}

static inline void
wiz_test_cleanup(void)
{
	hv_close(hv);
	if (sh("rm -rf '%s'", dir) != 0)
		diag("could not remove %s", dir);
}

#endif
