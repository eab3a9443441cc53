/*
 * tui.h - what the TUI's screens share: the session (engine context,
 * current view, status message), drawing helpers and the screens'
 * entry points. One file per screen (nEMU's habit): vms.c, views.c
 * (disks, switches, hosts, events), form.c (wizards), draw.c.
 *
 * The TUI never talks to KVM or sqlite itself: lists come from engine
 * calls, actions are engine calls, wizards finish by running their
 * script through the shell's command table.
 */
#ifndef HV_TUI_H
#define HV_TUI_H

#include <curses.h>
#include <stdbool.h>

#include "shell/shell.h"

enum tui_view { VIEW_VMS, VIEW_DISKS, VIEW_SWITCHES, VIEW_HOSTS, VIEW_EVENTS, VIEW_COUNT };

/* colour pairs (all A_NORMAL/A_REVERSE/A_BOLD without colour) */
enum { PAIR_TITLE = 1, PAIR_RUNNING, PAIR_OFF, PAIR_WARN, PAIR_ERROR, PAIR_DIM };

#define TUI_MSG_MAX	512
#define TUI_ROWS_MAX	4096

struct tui_disk {
	char path[HV_PATH_MAX];
	char vm[HV_NAME_MAX];	/* attached to, or "" */
	char format[16], subformat[32];
	uint64_t size, file_size;
	char error[128];	/* could not be read */
};

struct tui_cpu {		/* last CPU sample of a worker */
	int pid;
	unsigned long long ticks;
	double pct;
	uint64_t assigned, demand;	/* memory, as the worker's stats say */
	double mem_at;		/* when it was asked (once a second at most) */
};

#define TUI_SPARK	30	/* memory samples in the details' sparkline */

struct tui {
	struct cmd_ctx *ctx;
	struct hv_ctx *hv;
	enum tui_view view;
	bool color, utf8, quit;
	char msg[TUI_MSG_MAX];	/* one line: what happened, or "hv: ..." */
	bool msg_error;

	/* VMs */
	struct hv_vm *vms;
	size_t nvms;
	int *order;		/* indexes into vms, filtered and sorted */
	int nshown, sel, top;
	char filter[64];
	int sort;		/* SORT_* in vms.c */
	struct tui_cpu cpu[TUI_ROWS_MAX / 16];
	int ncpu;
	double last_sample;
	/* the selected VM's last memory samples from the inventory */
	char spark_uuid[HV_UUID_LEN];
	double spark_at;
	int nspark;
	uint64_t spark_assigned[TUI_SPARK], spark_demand[TUI_SPARK];
	char want_select[HV_PATH_MAX];	/* select this VM/disk once listed */

	/* other views */
	struct tui_disk *disks;
	size_t ndisks;
	int disk_sel, disk_top;
	bool disks_stale;
	struct hv_switch *switches;	/* as last drawn, sorted by name */
	size_t nswitches;
	int sw_sel, sw_top;
};

/* tui.c */
void tui_message(struct tui *t, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tui_error(struct tui *t, const struct hv_err *err);
/* a one-line question in the status row; false on Esc */
bool tui_prompt(struct tui *t, const char *label, char *buf, size_t len);
bool tui_confirm(struct tui *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
double tui_now(void);

/* term.c: the terminal given back on SIGTERM/SIGINT/SIGHUP/SIGQUIT;
   term_save before initscr, term_arm after */
void term_save(void);
void term_arm(void);

/* draw.c */
void draw_init(struct tui *t);
void draw_box(struct tui *t, int y, int x, int h, int w, const char *title);
void draw_hline(struct tui *t, int y, int x, int w);
/* text clipped to w columns, padded with blanks when pad */
void draw_text(int y, int x, int w, const char *s, bool pad);
void draw_hints(struct tui *t, int y, const char *const *keys);
int draw_attr(struct tui *t, int pair, int fallback);
void draw_bar(struct tui *t, int y, int x, int w, int pct);
const char *draw_glyph(struct tui *t, const char *utf8, const char *ascii);

/* vms.c */
void vms_refresh(struct tui *t);
void vms_draw(struct tui *t, int top, int rows);
bool vms_key(struct tui *t, int key);
const char *const *vms_hints(void);
void vms_free(struct tui *t);

/* views.c */
void views_draw(struct tui *t, int top, int rows);
bool views_key(struct tui *t, int key);
const char *const *views_hints(struct tui *t);
void views_free(struct tui *t);

/* form.c: run a wizard full screen; true when Finish ran its script,
   with the wizard's result (a VM name or disk path) in result */
bool form_run(struct tui *t, const char *kind, const char *target,
	      char *result, size_t len);

#endif
