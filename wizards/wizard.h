/*
 * wizard.h - wizards as data: pages of typed fields with defaults from
 * hv.conf and the inventory, per-field and cross-field rules, Back/Next,
 * and a script of the exact `hv` commands Finish runs.
 *
 * No ncurses here: the TUI renders a wizard and feeds it keys, and the
 * unit tests drive the same calls headless. A wizard never touches a
 * disk or the inventory except to read defaults and check what exists;
 * Finish is the front end running wiz_script() through the shell.
 *
 *	w = wiz_new("new-vm", hv, NULL, &err);
 *	wiz_set(w, "name", "web1", &err);
 *	while (!wiz_at_summary(w))
 *		if (wiz_next(w, &err) != 0) show(err.msg, wiz_error_field(w));
 *	script = wiz_script(w);
 */
#ifndef HV_WIZARD_H
#define HV_WIZARD_H

#include <stdbool.h>

#include "engine/hv.h"

#define WIZ_VALUE_MAX	HV_PATH_MAX
#define WIZ_CHOICES_MAX	16

enum wiz_type {
	WF_TEXT,	/* free text, a name or a command line */
	WF_NUMBER,	/* whole number in [min, max] */
	WF_SIZE,	/* "512M", "8G" */
	WF_CHOICE,	/* one of choices[] */
	WF_PATH,	/* a file name */
	WF_TOGGLE,	/* "on" / "off" */
};

struct wiz_field {
	const char *id;		/* "min-memory" */
	const char *label;	/* "Minimum memory" */
	enum wiz_type type;
	const char *help;	/* one line shown while the field has focus */
	char value[WIZ_VALUE_MAX];
	int nchoices;
	char *choices[WIZ_CHOICES_MAX];	/* WF_CHOICE values, owned */
	bool hidden;		/* not on the page (another field rules it out) */
	bool readonly;		/* shown, refused on change (with why) */
	bool touched;		/* the user set it: defaults stop following */
};

struct wizard;

/*
 * Wizards by kind: "new-vm", "vm-settings" (target: a VM name; the
 * dynamic memory page of an existing VM), "new-disk", "edit-disk"
 * (target: an image path or NULL), "new-switch" (target: a switch name
 * or NULL), "move-vm" (target: a running VM's name; live migration to
 * another host). Defaults come from hv's config, the inventory and (for
 * new-switch) the host's network interfaces; hv must stay open while the
 * wizard lives.
 */
struct wizard *wiz_new(const char *kind, struct hv_ctx *hv, const char *target,
		       struct hv_err *err);
void wiz_free(struct wizard *w);
/* the kinds, NULL-terminated, and their titles */
extern const char *const wiz_kinds[];
const char *wiz_title(const struct wizard *w);

/* pages: 0 .. wiz_npages()-1; the last one is the summary */
int wiz_npages(const struct wizard *w);
int wiz_page(const struct wizard *w);
const char *wiz_page_title(const struct wizard *w, int page);
const char *wiz_page_intro(const struct wizard *w, int page);
bool wiz_at_summary(const struct wizard *w);
/* the fields of a page, hidden ones included (check ->hidden) */
int wiz_nfields(const struct wizard *w, int page);
struct wiz_field *wiz_field_at(struct wizard *w, int page, int i);
struct wiz_field *wiz_find(struct wizard *w, const char *id);
const char *wiz_get(const struct wizard *w, const char *id);

/*
 * Set a field from what the user typed. Refused (-1, err) for a read-only
 * field or a choice that is not offered; any text is taken otherwise and
 * judged by wiz_next. Fields that follow this one update.
 */
int wiz_set(struct wizard *w, const char *id, const char *value,
	    struct hv_err *err);
/* the next / previous choice of a WF_CHOICE or WF_TOGGLE field */
int wiz_cycle(struct wizard *w, const char *id, int dir, struct hv_err *err);

/*
 * Next: check the current page (each field, then the rules across fields)
 * and move on. -1 with err's message and wiz_error_field() naming the
 * field to fix; the page does not change. Back never checks and keeps
 * every value entered.
 */
int wiz_next(struct wizard *w, struct hv_err *err);
void wiz_back(struct wizard *w);
const char *wiz_error_field(const struct wizard *w);
/* check every page (what Finish does before it runs anything) */
int wiz_check_all(struct wizard *w, struct hv_err *err);

/*
 * The commands Finish runs, one `hv ...` line each, arguments quoted for
 * sh and for `hv -f`, after '#' comment lines saying what they do.
 * malloc'd; NULL if the wizard does not check out.
 */
char *wiz_script(struct wizard *w, struct hv_err *err);
/* what Finish makes, for the front end to select afterwards: a VM name,
   a disk path, a switch name, or "" */
const char *wiz_result(const struct wizard *w);

#endif
