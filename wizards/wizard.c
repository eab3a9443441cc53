/*
 * wizard.c - the wizard machine: fields and pages from a struct
 * wiz_kind, checking each field by its type, Back/Next, and the script.
 * What a wizard asks and how it turns answers into commands lives in
 * wiz-vm.c, wiz-disk.c, wiz-switch.c and wiz-move.c.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wizards/wiz-int.h"

static const struct wiz_kind *const kinds[] = {
	&wiz_new_vm, &wiz_vm_settings, &wiz_new_disk, &wiz_edit_disk, &wiz_new_switch,
	&wiz_move_vm, NULL,
};

const char *const wiz_kinds[] = {
	"new-vm", "vm-settings", "new-disk", "edit-disk", "new-switch", "move-vm", NULL,
};

static int
field_index(const struct wizard *w, const char *id)
{
	for (int i = 0; i < w->nfields; i++)
		if (strcmp(w->f[i].id, id) == 0)
			return i;
	return -1;
}

struct wiz_field *
wiz_find(struct wizard *w, const char *id)
{
	int i = field_index(w, id);

	return i < 0 ? NULL : &w->f[i];
}

const char *
wiz_get(const struct wizard *w, const char *id)
{
	int i = field_index(w, id);

	return i < 0 ? "" : w->f[i].value;
}

bool
wiz_is(const struct wizard *w, const char *id, const char *value)
{
	return strcmp(wiz_get(w, id), value) == 0;
}

uint64_t
wiz_size(const struct wizard *w, const char *id)
{
	uint64_t v = 0;

	hv_parse_size(wiz_get(w, id), &v);
	return v;
}

long long
wiz_num(const struct wizard *w, const char *id)
{
	return strtoll(wiz_get(w, id), NULL, 10);
}

/* a default: set unless the user already chose */
void
wiz_default(struct wizard *w, const char *id, const char *fmt, ...)
{
	struct wiz_field *f = wiz_find(w, id);
	va_list ap;

	if (f == NULL || f->touched)
		return;
	va_start(ap, fmt);
	vsnprintf(f->value, sizeof f->value, fmt, ap);
	va_end(ap);
}

void
wiz_show(struct wizard *w, const char *id, bool shown)
{
	struct wiz_field *f = wiz_find(w, id);

	if (f != NULL)
		f->hidden = !shown;
}

void
wiz_choices_add(struct wizard *w, const char *id, const char *value)
{
	struct wiz_field *f = wiz_find(w, id);

	if (f == NULL || f->nchoices == WIZ_CHOICES_MAX)
		return;
	f->choices[f->nchoices] = strdup(value);
	if (f->choices[f->nchoices] != NULL)
		f->nchoices++;
}

int
wiz_blame(struct wizard *w, const char *id, struct hv_err *err,
	  enum hv_errcode code, const char *fmt, ...)
{
	va_list ap;

	w->error_field = wiz_find(w, id) ? wiz_find(w, id)->id : NULL;
	va_start(ap, fmt);
	hv_vfail(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void
wiz_set_result(struct wizard *w, const char *s)
{
	snprintf(w->result, sizeof w->result, "%s", s);
}

/* --- life -------------------------------------------------------------- */

struct wizard *
wiz_new(const char *kind, struct hv_ctx *hv, const char *target,
	struct hv_err *err)
{
	const struct wiz_kind *k = NULL;
	struct wizard *w;

	for (int i = 0; kinds[i] != NULL; i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			k = kinds[i];
	if (k == NULL) {
		char list[256] = "";

		/* from the table, so a new kind cannot be left out */
		for (int i = 0; kinds[i] != NULL; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 i ? ", " : "", kinds[i]->kind);
		hv_fail(err, HV_EUSAGE, "no wizard '%s' (%s)", kind, list);
		return NULL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL)
		goto oom;
	w->k = k;
	w->hv = hv;
	while (k->fields[w->nfields].id != NULL)
		w->nfields++;
	while (k->pages[w->npages].title != NULL)
		w->npages++;
	w->npages++;	/* the summary */
	if ((w->f = calloc((size_t)w->nfields, sizeof *w->f)) == NULL)
		goto oom;
	for (int i = 0; i < w->nfields; i++) {
		const struct wiz_field_def *d = &k->fields[i];
		const char *c = d->choices;

		w->f[i].id = d->id;
		w->f[i].label = d->label;
		w->f[i].type = d->type;
		w->f[i].help = d->help;
		if (d->type == WF_TOGGLE)
			c = "off|on";
		while (c != NULL && *c) {
			const char *bar = strchr(c, '|');
			char one[64];

			snprintf(one, sizeof one, "%.*s", bar ? (int)(bar - c) : (int)strlen(c), c);
			wiz_choices_add(w, d->id, one);
			c = bar ? bar + 1 : NULL;
		}
		if (w->f[i].nchoices > 0)
			snprintf(w->f[i].value, sizeof w->f[i].value, "%s", w->f[i].choices[0]);
	}
	if (target != NULL)
		snprintf(w->target, sizeof w->target, "%s", target);
	if (k->init(w, target, err) != 0) {
		wiz_free(w);
		return NULL;
	}
	k->update(w);
	return w;
oom:
	free(w);
	hv_fail(err, HV_EINTERNAL, "out of memory");
	return NULL;
}

void
wiz_free(struct wizard *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->nfields; i++)
		for (int c = 0; c < w->f[i].nchoices; c++)
			free(w->f[i].choices[c]);
	free(w->f);
	free(w);
}

const char *
wiz_title(const struct wizard *w)
{
	return w->k->title;
}

int
wiz_npages(const struct wizard *w)
{
	return w->npages;
}

int
wiz_page(const struct wizard *w)
{
	return w->page;
}

bool
wiz_at_summary(const struct wizard *w)
{
	return w->page == w->npages - 1;
}

const char *
wiz_page_title(const struct wizard *w, int page)
{
	if (page < 0 || page >= w->npages)
		return "";
	return page == w->npages - 1 ? "Summary" : w->k->pages[page].title;
}

const char *
wiz_page_intro(const struct wizard *w, int page)
{
	if (page < 0 || page >= w->npages)
		return "";
	if (page == w->npages - 1)
		return "Finish runs these commands (s saves them as a script for hv -f).";
	return w->k->pages[page].intro ? w->k->pages[page].intro : "";
}

int
wiz_nfields(const struct wizard *w, int page)
{
	int n = 0;

	if (page < 0 || page >= w->npages - 1)
		return 0;
	while (n < WIZ_PAGE_FIELDS && w->k->pages[page].fields[n] != NULL)
		n++;
	return n;
}

struct wiz_field *
wiz_field_at(struct wizard *w, int page, int i)
{
	if (i < 0 || i >= wiz_nfields(w, page))
		return NULL;
	return wiz_find(w, w->k->pages[page].fields[i]);
}

const char *
wiz_error_field(const struct wizard *w)
{
	return w->error_field;
}

const char *
wiz_result(const struct wizard *w)
{
	return w->result;
}

/* --- changing fields --------------------------------------------------- */

static int
choice_index(const struct wiz_field *f, const char *v)
{
	for (int c = 0; c < f->nchoices; c++)
		if (strcmp(f->choices[c], v) == 0)
			return c;
	return -1;
}

int
wiz_set(struct wizard *w, const char *id, const char *value,
	struct hv_err *err)
{
	struct wiz_field *f = wiz_find(w, id);

	w->error_field = NULL;
	if (f == NULL)
		return hv_fail(err, HV_EUSAGE, "%s: no field '%s'", w->k->kind, id);
	if (f->readonly) {
		if (strcmp(f->value, value) == 0)
			return 0;
		return wiz_blame(w, id, err, HV_EUSAGE, "%s cannot change: %s", f->label, f->help);
	}
	if (strlen(value) >= sizeof f->value)
		return wiz_blame(w, id, err, HV_EUSAGE, "%s: too long", f->label);
	if (f->nchoices > 0 && choice_index(f, value) < 0) {
		char list[512] = "";

		for (int c = 0; c < f->nchoices; c++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 c ? ", " : "", f->choices[c]);
		return wiz_blame(w, id, err, HV_EUSAGE, "%s: '%s' is not one of %s", f->label, value, list);
	}
	snprintf(f->value, sizeof f->value, "%s", value);
	f->touched = true;
	w->k->update(w);
	return 0;
}

int
wiz_cycle(struct wizard *w, const char *id, int dir, struct hv_err *err)
{
	struct wiz_field *f = wiz_find(w, id);
	int c;

	if (f == NULL || f->nchoices == 0)
		return hv_fail(err, HV_EUSAGE, "%s: not a choice", id);
	c = choice_index(f, f->value);
	c = ((c < 0 ? 0 : c) + (dir < 0 ? f->nchoices - 1 : 1)) % f->nchoices;
	return wiz_set(w, id, f->choices[c], err);
}

/* --- checking ---------------------------------------------------------- */

static int
check_path(struct wizard *w, const struct wiz_field *f, unsigned flags,
	   struct hv_err *err)
{
	struct stat st;
	char dir[WIZ_VALUE_MAX];

	if (flags & WIZ_EXISTS) {
		if (stat(f->value, &st) != 0)
			return wiz_blame(w, f->id, err, HV_ENOENT, "%s: %s: %s", f->label, f->value,
					 strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return wiz_blame(w, f->id, err, HV_EINVAL, "%s: %s is not a file", f->label,
					 f->value);
	}
	if (flags & WIZ_NEW) {
		if (lstat(f->value, &st) == 0)
			return wiz_blame(w, f->id, err, HV_EEXIST,
					 "%s: %s already exists; choose another name", f->label, f->value);
		snprintf(dir, sizeof dir, "%s", f->value);
		if (stat(dirname(dir), &st) != 0 || !S_ISDIR(st.st_mode))
			return wiz_blame(w, f->id, err, HV_ENOENT, "%s: folder %s does not exist",
					 f->label, dirname(strcpy(dir, f->value)));
	}
	return 0;
}

static int
check_field(struct wizard *w, const struct wiz_field_def *d,
	    const struct wiz_field *f, struct hv_err *err)
{
	uint64_t size;
	long long n;
	char *end;

	if (f->value[0] == '\0') {
		if (d->flags & WIZ_REQUIRED)
			return wiz_blame(w, f->id, err, HV_EUSAGE, "%s is required", f->label);
		return 0;
	}
	switch (f->type) {
	case WF_NUMBER:
		errno = 0;
		n = strtoll(f->value, &end, 10);
		if (*end != '\0' || errno != 0)
			return wiz_blame(w, f->id, err, HV_EUSAGE, "%s: '%s' is not a whole number",
					 f->label, f->value);
		if (n < d->min || n > d->max)
			return wiz_blame(w, f->id, err, HV_EUSAGE, "%s %lld: must be %lld..%lld",
					 f->label, n, d->min, d->max);
		break;
	case WF_SIZE:
		if (hv_parse_size(f->value, &size) != 0)
			return wiz_blame(w, f->id, err, HV_EUSAGE,
					 "%s: '%s' is not a size (use 512M, 2G, 1T)", f->label, f->value);
		break;
	case WF_PATH:
		if (f->value[0] != '/')
			return wiz_blame(w, f->id, err, HV_EUSAGE, "%s: give a full path (starting with /)",
					 f->label);
		return check_path(w, f, d->flags, err);
	case WF_TEXT:
		if ((d->flags & WIZ_NAME) && !hv_name_valid(f->value, err)) {
			w->error_field = f->id;
			return -1;
		}
		break;
	case WF_CHOICE:
	case WF_TOGGLE:
		break;
	}
	return 0;
}

static int
check_page(struct wizard *w, int page, struct hv_err *err)
{
	w->error_field = NULL;
	for (int i = 0; i < wiz_nfields(w, page); i++) {
		struct wiz_field *f = wiz_field_at(w, page, i);

		if (f == NULL || f->hidden || f->readonly)
			continue;
		if (check_field(w, &w->k->fields[f - w->f], f, err) != 0)
			return -1;
	}
	return w->k->rules(w, page, err);
}

int
wiz_next(struct wizard *w, struct hv_err *err)
{
	if (wiz_at_summary(w))
		return hv_fail(err, HV_EUSAGE, "this is the last page: Finish or Back");
	if (check_page(w, w->page, err) != 0)
		return -1;
	w->page++;
	w->k->update(w);
	return 0;
}

void
wiz_back(struct wizard *w)
{
	w->error_field = NULL;
	if (w->page > 0)
		w->page--;
}

int
wiz_check_all(struct wizard *w, struct hv_err *err)
{
	for (int p = 0; p < w->npages - 1; p++)
		if (check_page(w, p, err) != 0) {
			w->page = p;
			return -1;
		}
	return 0;
}

/* --- the script -------------------------------------------------------- */

/* a word as sh and words_split() read it back */
void
wiz_word(FILE *f, const char *word)
{
	bool plain = word[0] != '\0';

	for (const char *c = word; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:=@%+,-", *c))
			plain = false;
	if (plain) {
		fprintf(f, " %s", word);
		return;
	}
	fputs(" '", f);
	for (const char *c = word; *c; c++)
		if (*c == '\'')
			fputs("'\\''", f);
		else
			fputc(*c, f);
	fputc('\'', f);
}

void
wiz_opt(FILE *f, const char *opt, const char *value)
{
	fprintf(f, " %s", opt);
	if (value != NULL)
		wiz_word(f, value);
}

void
wiz_opt_size(FILE *f, const char *opt, uint64_t v)
{
	char s[32];

	hv_format_size(v, s, sizeof s);
	wiz_opt(f, opt, s);
}

char *
wiz_script(struct wizard *w, struct hv_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int page = w->page;

	if (wiz_check_all(w, err) != 0)
		return NULL;
	w->page = page;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		return NULL;
	}
	fprintf(f, "# %s (hv %s wizard)\n", w->k->title, w->k->kind);
	w->k->script(w, f);
	if (fclose(f) != 0) {
		free(buf);
		hv_fail(err, HV_EINTERNAL, "out of memory");
		return NULL;
	}
	return buf;
}
