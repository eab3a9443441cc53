/* files.c - what the engine does with whole files: copy one, synced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hv-int.h"

int
file_copy(const char *src, const char *dst, struct hv_err *err)
{
	char dir[HV_PATH_MAX + 256], buf[65536], *slash;
	int in, out, rc = -1;
	ssize_t r;

	snprintf(dir, sizeof dir, "%s", dst);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return hv_fail(err, HV_EIO, "%s: %s", dir, strerror(errno));
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hv_fail(err, HV_EIO, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		hv_fail(err, HV_EIO, "%s: %s", dst, strerror(errno));
		goto out_in;
	}
	while ((r = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)r) != r) {
			hv_fail(err, HV_EIO, "%s: %s", dst, strerror(errno ? errno : ENOSPC));
			goto out_out;
		}
	if (r < 0) {
		hv_fail(err, HV_EIO, "%s: %s", src, strerror(errno));
		goto out_out;
	}
	if (fsync(out) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", dst, strerror(errno));
		goto out_out;
	}
	rc = 0;
out_out:
	close(out);
	if (rc != 0)
		unlink(dst);
out_in:
	close(in);
	return rc;
}
