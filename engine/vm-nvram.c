/*
 * vm-nvram.c - a Gen2 UEFI VM's variable store: HV_HOME/vms/NAME/nvram.fd,
 * the VM's own copy of Debian's OVMF_VARS_4M.fd, made the first time the
 * VM starts. The firmware writes its boot entries and variables there
 * (engine/vm/dev/pflash.c), so they stay with the VM across restarts,
 * like the NVRAM file beside a Hyper-V VM's configuration. The copy goes
 * through a temporary file and a rename: a crash leaves no half store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hv-int.h"

#define NVRAM_TEMPLATE	"/usr/share/OVMF/OVMF_VARS_4M.fd"

int
hv_vm_nvram_path(const char *home, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vms/%s/nvram.fd", home, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
copy_template(const char *to, struct hv_err *err)
{
	char tmp[HV_PATH_MAX + 16], buf[65536];
	int in, out = -1, rc = -1;
	ssize_t n;

	in = open(NVRAM_TEMPLATE, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hv_fail(err, HV_EIO, "UEFI variable template %s: %s%s", NVRAM_TEMPLATE,
			       strerror(errno), errno == ENOENT ? " (install the ovmf package)" : "");
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		hv_fail(err, HV_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (n != 0 || fsync(out) != 0 || rename(tmp, to) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", to, strerror(errno ? errno : EIO));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

int
hv_vm_nvram(const char *home, const char *name, char *path, size_t len, struct hv_err *err)
{
	char dir[HV_PATH_MAX];

	if (hv_vm_nvram_path(home, name, path, len) != 0)
		return hv_fail(err, HV_EINVAL, "VM '%s': path too long", name);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(dir, sizeof dir, "%s/vms", home);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/vms/%s", home, name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return hv_fail(err, HV_EIO, "%s: %s", dir, strerror(errno));
	return copy_template(path, err);
}
