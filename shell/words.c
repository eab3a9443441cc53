/*
 * words.c - split a command line into words, the way sh does for the
 * cases a script needs: 'single' and "double" quotes, backslash escapes,
 * and # starting a comment at the start of a word.
 */
#include <stdlib.h>
#include <string.h>

#include "shell/cmd.h"

void
words_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

int
words_split(const char *line, char ***out, const char **why)
{
	size_t len = strlen(line);
	char **argv = calloc(len / 2 + 2, sizeof *argv);
	char *w = malloc(len + 1);
	int argc = 0;
	const char *p = line;

	*out = NULL;
	if (argv == NULL || w == NULL)
		goto fail_oom;
	for (;;) {
		size_t n = 0;
		bool have = false;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			have = true;
			if (*p == '\'') {
				const char *e = strchr(p + 1, '\'');

				if (e == NULL)
					goto fail_quote;
				memcpy(w + n, p + 1, (size_t)(e - p - 1));
				n += (size_t)(e - p - 1);
				p = e + 1;
			} else if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (*p == '\0')
						goto fail_quote;
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
						p++;
					w[n++] = *p;
				}
				p++;
			} else if (*p == '\\' && p[1] != '\0') {
				w[n++] = p[1];
				p += 2;
			} else {
				w[n++] = *p++;
			}
		}
		if (have) {
			w[n] = '\0';
			argv[argc] = strdup(w);
			if (argv[argc] == NULL)
				goto fail_oom;
			argc++;
		}
	}
	free(w);
	*out = argv;
	return argc;
fail_quote:
	*why = "unterminated quote";
	goto fail;
fail_oom:
	*why = "out of memory";
fail:
	free(w);
	words_free(argv);
	return -1;
}
