/* wiz-int.h - what the wizard definitions (wiz-vm.c, wiz-disk.c,
   wiz-switch.c, wiz-move.c) share with the wizard core (wizard.c). Not
   for front ends. */
#ifndef HV_WIZ_INT_H
#define HV_WIZ_INT_H

#include <stdio.h>

#include "wizards/wizard.h"

/* field flags */
#define WIZ_REQUIRED	0x1u	/* may not be empty */
#define WIZ_NAME	0x2u	/* an hv object name (hv_name_valid) */
#define WIZ_EXISTS	0x4u	/* WF_PATH: the file must exist */
#define WIZ_NEW		0x8u	/* WF_PATH: must not exist, its folder must */

struct wiz_field_def {
	const char *id, *label;
	enum wiz_type type;
	const char *help;
	const char *choices;	/* WF_CHOICE: "vhdx|vhd|qcow2|raw" */
	long long min, max;	/* WF_NUMBER */
	unsigned flags;
};

#define WIZ_PAGE_FIELDS	10

struct wiz_page_def {
	const char *title;
	const char *intro;
	const char *fields[WIZ_PAGE_FIELDS];	/* ids; NULL ends */
};

struct wiz_kind {
	const char *kind, *title;
	const struct wiz_field_def *fields;	/* { NULL } ends */
	const struct wiz_page_def *pages;	/* { NULL } ends; a summary follows */
	/* defaults (and the object edited, for target) */
	int (*init)(struct wizard *w, const char *target, struct hv_err *err);
	/* visibility and defaults that follow other fields */
	void (*update)(struct wizard *w);
	/* rules across the fields of a page, after each field checked out */
	int (*rules)(struct wizard *w, int page, struct hv_err *err);
	/* the commands, after the summary comments */
	void (*script)(struct wizard *w, FILE *f);
};

struct wizard {
	const struct wiz_kind *k;
	struct hv_ctx *hv;
	int nfields, npages, page;
	struct wiz_field *f;	/* as k->fields */
	const char *error_field;
	char target[HV_PATH_MAX];
	char result[HV_PATH_MAX];
	struct hv_vm vm;	/* vm-settings, move-vm: the VM as it was */
	uint64_t disk_size;	/* edit-disk: the image's virtual size */
	bool disk_has_parent;
	char disk_subformat[32];
	char disk_format[16];
};

/* wizard.c, for definitions */
void wiz_default(struct wizard *w, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wiz_show(struct wizard *w, const char *id, bool shown);
bool wiz_is(const struct wizard *w, const char *id, const char *value);
uint64_t wiz_size(const struct wizard *w, const char *id);
long long wiz_num(const struct wizard *w, const char *id);
void wiz_choices_add(struct wizard *w, const char *id, const char *value);
/* fail naming the field to fix */
int wiz_blame(struct wizard *w, const char *id, struct hv_err *err,
	      enum hv_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* script output: " --opt" / " 'quoted word'" */
void wiz_word(FILE *f, const char *word);
void wiz_opt(FILE *f, const char *opt, const char *value);
void wiz_opt_size(FILE *f, const char *opt, uint64_t v);
void wiz_set_result(struct wizard *w, const char *s);
/* the rules memory follows in new-vm and vm-settings (wiz-vm.c) */
int wiz_memory_rules(struct wizard *w, struct hv_err *err);

/* wiz-disk.c: a size the format holds; the file extension of a format;
   whether an image opens (headers check out) */
int wiz_disk_size_rules(struct wizard *w, const char *fmt, uint64_t size,
			const char *size_id, struct hv_err *err);
bool wiz_disk_opens(const char *path, struct hv_err *err);
const char *wiz_disk_ext(const char *fmt);

extern const struct wiz_kind wiz_new_vm, wiz_vm_settings;
extern const struct wiz_kind wiz_new_disk, wiz_edit_disk;
extern const struct wiz_kind wiz_new_switch;
extern const struct wiz_kind wiz_move_vm;

#endif
