/* hv.c - opening an hv home: directories, hv.conf, hv.db. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/hv-int.h"

const char *
hv_default_home(void)
{
	const char *h = getenv("HV_HOME");

	return h != NULL && h[0] != '\0' ? h : "/var/lib/hv";
}

static int
mkdir_p(const char *path, mode_t mode, struct hv_err *err)
{
	char buf[HV_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return hv_fail(err, HV_EINVAL, "%s: path too long", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return hv_fail(err, HV_EIO, "cannot create %s: %s", buf,
				       strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int
hv_open(struct hv_ctx **out, const char *home, struct hv_err *err)
{
	static const char *const sub[] = { "run", "log", "vms", NULL };
	char abs[HV_PATH_MAX], dir[HV_PATH_MAX + 8];
	struct hv_ctx *hv;

	*out = NULL;
	if (home == NULL)
		home = hv_default_home();
	if (strlen(home) >= HV_PATH_MAX - 64)
		return hv_fail(err, HV_EINVAL, "HV_HOME %s: path too long", home);
	if (mkdir_p(home, 0755, err) != 0)
		return -1;
	if (realpath(home, abs) == NULL)
		return hv_fail(err, HV_EIO, "%s: %s", home, strerror(errno));
	for (int i = 0; sub[i] != NULL; i++) {
		snprintf(dir, sizeof dir, "%s/%s", abs, sub[i]);
		if (mkdir_p(dir, strcmp(sub[i], "run") == 0 ? 0700 : 0755, err) != 0)
			return -1;
	}
	hv = calloc(1, sizeof *hv);
	if (hv == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (config_load(&hv->cfg, abs, err) != 0 || store_open(hv, err) != 0) {
		free(hv);
		return -1;
	}
	/* where new disks go by default (the wizards offer it); a read-only
	   home still opens, so this is best effort */
	mkdir_p(hv->cfg.disk_dir, 0755, NULL);
	*out = hv;
	return 0;
}

void
hv_close(struct hv_ctx *hv)
{
	if (hv == NULL)
		return;
	lifecycle_reap(hv);
	store_close(hv);
	free(hv);
}

const struct hv_config *
hv_config(const struct hv_ctx *hv)
{
	return &hv->cfg;
}
