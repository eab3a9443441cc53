/*
 * form.c - a wizard on the screen: the steps on the left (Hyper-V's
 * wizard layout), the page's fields on the right, the focused field's
 * help and the page's error under them. Finish runs the wizard's script
 * through the shell's script runner on a thread, so the screen can show
 * each command and a progress bar while disks are made or converted.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tui/tui.h"
#include "wizards/wizard.h"

#define LEFT_W		26	/* the step list */
#define LABEL_W		20

struct form {
	struct tui *t;
	struct wizard *w;
	int focus;		/* index into the page's fields */
	char error[TUI_MSG_MAX];
	char *script;		/* on the summary page */
};

/* --- Finish: the script on a thread ------------------------------------ */

struct finish {
	pthread_mutex_t mu;
	char *script;
	int nsteps, step;
	char line[512];
	char what[32];
	int pct;
	bool done;
	enum cmd_ret rc;
	char *out, *err;
	size_t outlen, errlen;
};

static void
on_command(void *arg, const char *where, const char *line)
{
	struct finish *f = arg;

	(void)where;
	pthread_mutex_lock(&f->mu);
	f->step++;
	snprintf(f->line, sizeof f->line, "%s", line);
	f->line[strcspn(f->line, "\n")] = '\0';
	f->pct = -1;
	pthread_mutex_unlock(&f->mu);
}

static void
on_progress(void *arg, const char *what, int pct)
{
	struct finish *f = arg;

	pthread_mutex_lock(&f->mu);
	snprintf(f->what, sizeof f->what, "%s", what);
	f->pct = pct;
	pthread_mutex_unlock(&f->mu);
}

static void *
finish_thread(void *arg)
{
	struct finish *f = arg;
	FILE *in = fmemopen(f->script, strlen(f->script), "r");
	FILE *out = open_memstream(&f->out, &f->outlen);
	FILE *errf = open_memstream(&f->err, &f->errlen);
	struct cmd_ctx ctx = {
		.out = out, .errf = errf, .tty = false,
		.on_command = on_command, .on_progress = on_progress, .hook_arg = f,
	};
	enum cmd_ret rc = CMD_FAIL;

	if (in != NULL && out != NULL && errf != NULL)
		rc = script_run_stream(&ctx, in, NULL);	/* its own engine context */
	hv_close(ctx.hv);
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	if (errf != NULL)
		fclose(errf);
	pthread_mutex_lock(&f->mu);
	f->rc = rc;
	f->done = true;
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void
finish_draw(struct form *fm, struct finish *f)
{
	struct tui *t = fm->t;
	char head[128];
	int y = 3, overall;

	erase();
	snprintf(head, sizeof head, "%s: Finish", wiz_title(fm->w));
	draw_box(t, 0, 0, LINES, COLS, head);
	pthread_mutex_lock(&f->mu);
	snprintf(head, sizeof head, "Running step %d of %d", f->step > 0 ? f->step : 1, f->nsteps);
	attron(A_BOLD);
	draw_text(2, 2, COLS - 4, head, false);
	attroff(A_BOLD);
	draw_text(y++, 2, COLS - 4, f->line, false);
	overall = f->nsteps ? ((f->step > 0 ? f->step - 1 : 0) * 100 +
			       (f->pct > 0 ? f->pct : 0)) / f->nsteps : 0;
	if (f->pct >= 0) {
		snprintf(head, sizeof head, "%s:", f->what);
		draw_text(++y, 2, 12, head, false);
		draw_bar(t, y, 14, COLS - 18, f->pct);
	}
	pthread_mutex_unlock(&f->mu);
	y += 2;
	draw_text(y, 2, 12, "overall:", false);
	draw_bar(t, y, 14, COLS - 18, overall);
	refresh();
}

/* run the script; true if every command succeeded, else the error shown */
static bool
finish(struct form *fm)
{
	struct finish f;
	pthread_t th;
	bool ok;

	memset(&f, 0, sizeof f);
	pthread_mutex_init(&f.mu, NULL);
	f.script = fm->script;
	f.pct = -1;
	for (const char *p = fm->script; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, "hv ", 3) == 0)
			f.nsteps++;
	if (pthread_create(&th, NULL, finish_thread, &f) != 0) {
		snprintf(fm->error, sizeof fm->error, "hv: cannot start the work thread");
		return false;
	}
	for (;;) {
		bool done;

		finish_draw(fm, &f);
		pthread_mutex_lock(&f.mu);
		done = f.done;
		pthread_mutex_unlock(&f.mu);
		if (done)
			break;
		napms(50);
	}
	pthread_join(th, NULL);
	pthread_mutex_destroy(&f.mu);
	ok = f.rc == CMD_OK;
	if (!ok) {
		const char *e = f.err && f.err[0] ? f.err : "hv: failed";

		snprintf(fm->error, sizeof fm->error, "%.*s", (int)strcspn(e, "\n"), e);
	}
	free(f.out);
	free(f.err);
	return ok;
}

/* --- the page ---------------------------------------------------------- */

static struct wiz_field *
focused(struct form *fm)
{
	return wiz_field_at(fm->w, wiz_page(fm->w), fm->focus);
}

/* move the focus by dir to the next visible field */
static void
move_focus(struct form *fm, int dir)
{
	int n = wiz_nfields(fm->w, wiz_page(fm->w));

	for (int i = 1; i <= n; i++) {
		int k = ((fm->focus + dir * i) % n + n) % n;
		struct wiz_field *f = wiz_field_at(fm->w, wiz_page(fm->w), k);

		if (f != NULL && !f->hidden && !f->readonly) {
			fm->focus = k;
			return;
		}
	}
}

static void
focus_first(struct form *fm)
{
	fm->focus = -1;
	move_focus(fm, 1);
	if (fm->focus < 0)
		fm->focus = 0;
}

static bool
last_field(struct form *fm)
{
	int n = wiz_nfields(fm->w, wiz_page(fm->w));

	for (int k = fm->focus + 1; k < n; k++) {
		struct wiz_field *f = wiz_field_at(fm->w, wiz_page(fm->w), k);

		if (f != NULL && !f->hidden && !f->readonly)
			return false;
	}
	return true;
}

static void
draw_value(struct tui *t, int y, int x, int w, const struct wiz_field *f, bool focus)
{
	char shown[WIZ_VALUE_MAX + 16];
	const char *v = f->value;
	int len = (int)strlen(v);

	if (f->type == WF_TOGGLE)
		snprintf(shown, sizeof shown, "[%s] %s", strcmp(v, "on") == 0 ? "x" : " ", v);
	else if (f->type == WF_CHOICE)
		snprintf(shown, sizeof shown, "< %s >%s", v, f->readonly ? " (fixed)" : "");
	else
		snprintf(shown, sizeof shown, "%s", len > w - 1 ? v + len - (w - 1) : v);
	attron(focus ? A_REVERSE : f->type == WF_CHOICE || f->type == WF_TOGGLE ? A_BOLD : A_UNDERLINE);
	draw_text(y, x, w, shown, f->type != WF_CHOICE && f->type != WF_TOGGLE);
	attroff(focus ? A_REVERSE : f->type == WF_CHOICE || f->type == WF_TOGGLE ? A_BOLD : A_UNDERLINE);
	if (focus && f->type != WF_CHOICE && f->type != WF_TOGGLE) {
		curs_set(1);
		move(y, x + (len > w - 1 ? w - 1 : len));
	}
}

/* word-wrap s into the box from row y, continuation lines indented;
   returns the next row */
static int
draw_wrapped(int y, int x, int w, int ymax, const char *s, int indent)
{
	bool cont = false;

	while (*s && y < ymax) {
		int n = (int)strcspn(s, "\n"), iw = cont ? indent : 0, cut = n;

		if (cut > w - iw) {
			cut = w - iw;
			while (cut > (w - iw) / 2 && s[cut] != ' ')
				cut--;
			if (s[cut] != ' ')
				cut = w - iw;
		}
		mvaddnstr(y++, x + iw, s, cut);
		s += cut;
		cont = cut != n;
		while (*s == ' ' && cont)
			s++;
		if (*s == '\n')
			s++;
	}
	return y;
}

static void
form_draw(struct form *fm)
{
	static const char *const page_hints[] = {
		"Tab/Dn", "Next field", "Space/</>", "Change", "PgDn", "Next", "PgUp", "Back",
		"^U", "Clear", "Esc", "Cancel", NULL, NULL,
	};
	static const char *const summary_hints[] = {
		"Enter", "Finish", "s", "Save script", "PgUp", "Back", "Esc", "Cancel", NULL, NULL,
	};
	struct tui *t = fm->t;
	struct wizard *w = fm->w;
	int page = wiz_page(w), np = wiz_npages(w);
	bool left = COLS >= 72 && !wiz_at_summary(w);	/* the script wants the width */
	int x0 = left ? LEFT_W + 1 : 2, rw = COLS - x0 - 2, y = 2, fy = -1, fx = 0;
	char head[256];
	struct wiz_field *fo = focused(fm);

	erase();
	curs_set(0);
	draw_box(t, 0, 0, LINES - 1, COLS, wiz_title(w));
	if (left) {
		for (int p = 0; p < np && p + 2 < LINES - 2; p++) {
			snprintf(head, sizeof head, "%s %s", p == page ? draw_glyph(t, "\u25b6", ">") : " ",
				 wiz_page_title(w, p));
			if (p == page)
				attron(A_BOLD | A_REVERSE);
			draw_text(p + 2, 2, LEFT_W - 3, head, true);
			if (p == page)
				attroff(A_BOLD | A_REVERSE);
		}
		for (int r = 1; r < LINES - 2; r++)
			mvaddstr(r, LEFT_W - 1, draw_glyph(t, "\u2502", "|"));
	}
	snprintf(head, sizeof head, "Page %d of %d: %s", page + 1, np, wiz_page_title(w, page));
	attron(A_BOLD);
	draw_text(y++, x0, rw, head, false);
	attroff(A_BOLD);
	y = draw_wrapped(y, x0, rw, LINES - 4, wiz_page_intro(w, page), 0) + 1;
	if (wiz_at_summary(w)) {
		attron(draw_attr(t, PAIR_DIM, A_BOLD));
		y = draw_wrapped(y, x0, rw, LINES - 5, fm->script ? fm->script : "", 4);
		attroff(draw_attr(t, PAIR_DIM, A_BOLD));
	} else {
		for (int i = 0; i < wiz_nfields(w, page) && y < LINES - 5; i++) {
			struct wiz_field *f = wiz_field_at(w, page, i);
			int vw = rw - LABEL_W - 2;

			if (f == NULL || f->hidden)
				continue;
			snprintf(head, sizeof head, "%*.*s:", LABEL_W - 1, LABEL_W - 1, f->label);
			draw_text(y, x0, LABEL_W, head, false);
			if (f == fo) {
				fy = y;
				fx = x0 + LABEL_W + 1;
			} else {
				draw_value(t, y, x0 + LABEL_W + 1, vw > 44 ? 44 : vw, f, false);
			}
			y++;
		}
		if (fo != NULL && !fo->hidden) {
			attron(draw_attr(t, PAIR_DIM, A_NORMAL));
			y = draw_wrapped(y + 1, x0, rw, LINES - 4, fo->help, 0);
			attroff(draw_attr(t, PAIR_DIM, A_NORMAL));
		}
	}
	if (fm->error[0]) {
		attron(draw_attr(t, PAIR_ERROR, A_BOLD));
		draw_wrapped(y + 1 < LINES - 4 ? y + 1 : LINES - 4, x0, rw, LINES - 2, fm->error, 0);
		attroff(draw_attr(t, PAIR_ERROR, A_BOLD));
	}
	draw_hints(t, LINES - 1, wiz_at_summary(w) ? summary_hints : page_hints);
	/* the focused field last, so the cursor ends there */
	if (fy >= 0) {
		int vw = rw - LABEL_W - 2;

		draw_value(t, fy, fx, vw > 44 ? 44 : vw, fo, true);
	}
	refresh();
}

/* --- keys -------------------------------------------------------------- */

static void
save_script(struct form *fm)
{
	char path[256 + 64], cwd[256] = ".";
	FILE *f;

	if (getcwd(cwd, sizeof cwd) == NULL)
		snprintf(cwd, sizeof cwd, ".");
	snprintf(path, sizeof path, "%s/%s.hv", cwd, wiz_result(fm->w)[0] && !strchr(wiz_result(fm->w), '/') ?
		 wiz_result(fm->w) : "wizard");
	form_draw(fm);
	if (!tui_prompt(fm->t, "Save script as:", path, sizeof path) || !path[0])
		return;
	if ((f = fopen(path, "w")) == NULL) {
		snprintf(fm->error, sizeof fm->error, "hv: %s: %m", path);
		return;
	}
	fprintf(f, "#!/usr/bin/env hv\n%s", fm->script);
	if (fclose(f) != 0) {
		snprintf(fm->error, sizeof fm->error, "hv: %s: %m", path);
		return;
	}
	chmod(path, 0755);
	snprintf(fm->error, sizeof fm->error, "saved to %s (run it with hv -f)", path);
}

static void
next_page(struct form *fm)
{
	struct hv_err err;

	fm->error[0] = '\0';
	if (wiz_next(fm->w, &err) != 0) {
		snprintf(fm->error, sizeof fm->error, "%s", err.msg);
		/* the focus goes to the field to fix */
		for (int i = 0; wiz_error_field(fm->w) && i < wiz_nfields(fm->w, wiz_page(fm->w)); i++)
			if (strcmp(wiz_field_at(fm->w, wiz_page(fm->w), i)->id, wiz_error_field(fm->w)) == 0)
				fm->focus = i;
		return;
	}
	focus_first(fm);
	if (wiz_at_summary(fm->w)) {
		free(fm->script);
		fm->script = wiz_script(fm->w, &err);
		if (fm->script == NULL)
			snprintf(fm->error, sizeof fm->error, "%s", err.msg);
	}
}

static void
edit_key(struct form *fm, struct wiz_field *f, int ch)
{
	char v[WIZ_VALUE_MAX];
	struct hv_err err;
	size_t n = strlen(f->value);
	int r = 0;

	if (f->type == WF_CHOICE || f->type == WF_TOGGLE) {
		if (ch == ' ' || ch == KEY_RIGHT)
			r = wiz_cycle(fm->w, f->id, 1, &err);
		else if (ch == KEY_LEFT)
			r = wiz_cycle(fm->w, f->id, -1, &err);
		else if (ch > 32 && ch < 127)	/* the first choice with that letter */
			for (int c = 0; c < f->nchoices; c++)
				if (f->choices[c][0] == ch) {
					r = wiz_set(fm->w, f->id, f->choices[c], &err);
					break;
				}
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (n > 0) {
			snprintf(v, sizeof v, "%.*s", (int)n - 1, f->value);
			r = wiz_set(fm->w, f->id, v, &err);
		}
	} else if (ch == 21) {	/* Ctrl-U */
		r = wiz_set(fm->w, f->id, "", &err);
	} else if (ch >= 32 && ch < 127 && n + 1 < sizeof v) {
		memcpy(v, f->value, n);
		v[n] = (char)ch;
		v[n + 1] = '\0';
		r = wiz_set(fm->w, f->id, v, &err);
	}
	if (r != 0)
		snprintf(fm->error, sizeof fm->error, "%s", err.msg);
}

/* one key; true when the form is done (finished or cancelled) */
static bool
form_key(struct form *fm, int ch, bool *finished)
{
	struct wiz_field *f = focused(fm);

	switch (ch) {
	case 27:
		return true;
	case KEY_NPAGE: case 14:	/* Ctrl-N */
		next_page(fm);
		return false;
	case KEY_PPAGE: case 16:	/* Ctrl-P */
		fm->error[0] = '\0';
		wiz_back(fm->w);
		focus_first(fm);
		return false;
	case KEY_RESIZE:
		return false;
	}
	if (wiz_at_summary(fm->w)) {
		if (ch == 's')
			save_script(fm);
		if ((ch == '\r' || ch == '\n' || ch == KEY_ENTER || ch == KEY_F(10) || ch == 'f') &&
		    fm->script != NULL && finish(fm))
			return *finished = true;
		return false;
	}
	switch (ch) {
	case '\t': case KEY_DOWN:
		move_focus(fm, 1);
		return false;
	case KEY_BTAB: case KEY_UP:
		move_focus(fm, -1);
		return false;
	case '\r': case '\n': case KEY_ENTER:
		if (last_field(fm))
			next_page(fm);
		else
			move_focus(fm, 1);
		return false;
	}
	if (f != NULL && !f->hidden)
		edit_key(fm, f, ch);
	return false;
}

bool
form_run(struct tui *t, const char *kind, const char *target, char *result,
	 size_t len)
{
	struct form fm;
	struct hv_err err;
	bool finished = false;

	memset(&fm, 0, sizeof fm);
	fm.t = t;
	if ((fm.w = wiz_new(kind, t->hv, target, &err)) == NULL) {
		tui_error(t, &err);
		return false;
	}
	focus_first(&fm);
	for (;;) {
		int ch;

		form_draw(&fm);
		if ((ch = getch()) == ERR)
			continue;
		if (form_key(&fm, ch, &finished))
			break;
	}
	curs_set(0);
	if (finished)
		snprintf(result, len, "%s", wiz_result(fm.w));
	free(fm.script);
	wiz_free(fm.w);
	return finished;
}
