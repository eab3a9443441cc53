/*
 * switch.c - virtual switches as the inventory knows them. The switch
 * commands and the bridges behind them come with networking; front ends
 * (the New VM wizard, the TUI's Switches view) already list what exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hv-int.h"

static void
text(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", s ? (const char *)s : "");
}

int
hv_switch_list(struct hv_ctx *hv, struct hv_switch **out, size_t *n,
	       struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv,
		"SELECT name, type, nic, host_ip FROM switches ORDER BY name", err);
	struct hv_switch *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			struct hv_switch *nv;

			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
				sqlite3_finalize(st);
				free(v);
				return hv_fail(err, HV_EINTERNAL, "out of memory");
			}
			v = nv;
		}
		memset(&v[*n], 0, sizeof v[*n]);
		text(st, 0, v[*n].name, sizeof v[*n].name);
		text(st, 1, v[*n].type, sizeof v[*n].type);
		text(st, 2, v[*n].nic, sizeof v[*n].nic);
		text(st, 3, v[*n].host_ip, sizeof v[*n].host_ip);
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = v;
	return 0;
}
