/*
 * state-file.c - a saved VM's state on disk: HV_HOME/vms/NAME/state.hvs,
 * written to a temporary file, synced and renamed into place, so a crash
 * mid-save leaves the old file or none, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/vmm.h"

int
vmm_state_path(const char *home, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vms/%s/state.hvs", home, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* the directory holding path (made, 0700, with its parent) */
static int
make_dirs(const char *path, char *dir, size_t len)
{
	char *slash;

	snprintf(dir, len, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int
vmm_save_file(struct vmm *vm, const char *path, struct hv_err *err)
{
	char tmp[4200], dir[4200];
	int fd, dfd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return hv_fail(err, HV_EINVAL, "state file path too long");
	if (make_dirs(path, dir, sizeof dir) != 0)
		return hv_fail(err, HV_EIO, "%s: %s", dir, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "%s: %s", tmp, strerror(errno));
	if (vmm_save_state(vm, fd, err) != 0)
		goto fail;
	if (fsync(fd) != 0) {
		hv_fail(err, HV_EIO, "%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

int
vmm_restore_file(struct vmm *vm, const char *path, struct hv_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return hv_fail(err, HV_EIO, "saved state %s: %s", path, strerror(errno));
	rc = vmm_restore_state(vm, fd, err);
	close(fd);
	return rc;
}
