/*
 * draw.c - the few drawing primitives every screen uses: colour or
 * monochrome (NO_COLOR, terminals without colour), UTF-8 box drawing or
 * ASCII (non-UTF-8 locales, HV_ASCII=1), clipped text, key hints and
 * progress bars.
 */
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

void
draw_init(struct tui *t)
{
	const char *nc = getenv("NO_COLOR"), *ascii = getenv("HV_ASCII");

	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0 &&
		  !(ascii != NULL && ascii[0] && strcmp(ascii, "0") != 0);
	t->color = has_colors() && !(nc != NULL && nc[0] != '\0');
	if (!t->color)
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
	init_pair(PAIR_RUNNING, COLOR_GREEN, -1);
	init_pair(PAIR_OFF, -1, -1);
	init_pair(PAIR_WARN, COLOR_YELLOW, -1);
	init_pair(PAIR_ERROR, COLOR_RED, -1);
	init_pair(PAIR_DIM, COLOR_CYAN, -1);
}

/* the attribute for a pair, or what stands in for it without colour */
int
draw_attr(struct tui *t, int pair, int fallback)
{
	if (!t->color)
		return fallback;
	return (int)COLOR_PAIR(pair) | (pair == PAIR_ERROR || pair == PAIR_TITLE ? A_BOLD : 0);
}

const char *
draw_glyph(struct tui *t, const char *utf8, const char *ascii)
{
	return t->utf8 ? utf8 : ascii;
}

void
draw_text(int y, int x, int w, const char *s, bool pad)
{
	int n = 0;

	if (w <= 0 || y < 0 || y >= LINES)
		return;
	move(y, x);
	/* count columns, not bytes: names are ASCII, paths may not be */
	for (const unsigned char *p = (const unsigned char *)s; *p && n < w; ) {
		int len = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 1;

		if (*p < 32) {
			addch(' ');
			p++;
		} else {
			addnstr((const char *)p, len);
			p += len;
		}
		n++;
	}
	while (pad && n++ < w)
		addch(' ');
}

void
draw_hline(struct tui *t, int y, int x, int w)
{
	for (int i = 0; i < w; i++)
		mvaddstr(y, x + i, draw_glyph(t, "\u2500", "-"));
}

void
draw_box(struct tui *t, int y, int x, int h, int w, const char *title)
{
	const char *v = draw_glyph(t, "\u2502", "|");

	if (h < 2 || w < 2)
		return;
	mvaddstr(y, x, draw_glyph(t, "\u250c", "+"));
	draw_hline(t, y, x + 1, w - 2);
	mvaddstr(y, x + w - 1, draw_glyph(t, "\u2510", "+"));
	for (int i = 1; i < h - 1; i++) {
		mvaddstr(y + i, x, v);
		mvaddstr(y + i, x + w - 1, v);
	}
	mvaddstr(y + h - 1, x, draw_glyph(t, "\u2514", "+"));
	draw_hline(t, y + h - 1, x + 1, w - 2);
	mvaddstr(y + h - 1, x + w - 1, draw_glyph(t, "\u2518", "+"));
	if (title != NULL && title[0]) {
		attron(A_BOLD);
		mvaddstr(y, x + 2, " ");
		draw_text(y, x + 3, w - 6, title, false);
		addstr(" ");
		attroff(A_BOLD);
	}
}

/* "k Label" pairs, keys bold, as many as fit */
void
draw_hints(struct tui *t, int y, const char *const *keys)
{
	int x = 0;

	move(y, 0);
	clrtoeol();
	for (int i = 0; keys[i] != NULL && keys[i + 1] != NULL; i += 2) {
		int need = (int)strlen(keys[i]) + (int)strlen(keys[i + 1]) + 2;

		if (x + need > COLS)
			break;
		attron(draw_attr(t, PAIR_TITLE, A_REVERSE));
		mvaddstr(y, x, keys[i]);
		attroff(draw_attr(t, PAIR_TITLE, A_REVERSE));
		mvaddstr(y, x + (int)strlen(keys[i]), " ");
		addstr(keys[i + 1]);
		x += need;
	}
}

void
draw_bar(struct tui *t, int y, int x, int w, int pct)
{
	int fill;

	if (w < 8)
		return;
	pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
	fill = (w - 7) * pct / 100;
	mvaddstr(y, x, "[");
	for (int i = 0; i < w - 7; i++)
		addstr(i < fill ? draw_glyph(t, "\u2588", "#") : draw_glyph(t, "\u00b7", "-"));
	printw("] %3d%%", pct);
}
