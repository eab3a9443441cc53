/*
 * config.c - the host configuration, $HV_HOME/hv.conf (libconfig syntax).
 *
 * The file is written with commented defaults the first time hv runs on
 * a home, so an admin can see every knob in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hv-int.h"

static const char default_conf[] =
"# hv host configuration (libconfig syntax: https://hyperrealm.github.io/libconfig/)\n"
"# Written with the defaults on first use; edit and keep.\n"
"\n"
"# Defaults for new virtual machines (hv vm create, the New VM wizard).\n"
"defaults:\n"
"{\n"
"  generation = 2;          # 1: legacy BIOS (SeaBIOS), 2: direct kernel boot, virtio only\n"
"  vcpus = 1;\n"
"  memory = \"1G\";           # startup memory, a multiple of 2M\n"
"  dynamic_memory = false;\n"
"  minimum_memory = \"512M\";\n"
"  maximum_memory = \"1T\";\n"
"  memory_buffer = 20;      # percent above demand, 5..2000\n"
"  memory_priority = 50;    # 0..100, who gets memory under pressure\n"
"  disk_format = \"vhdx\";    # raw, vhd, vhdx, qcow2, vmdk\n"
"};\n"
"\n"
"paths:\n"
"{\n"
"  firmware = \"/usr/share/seabios/bios-256k.bin\";   # Gen1 BIOS\n"
"  disks = \"disks\";        # new virtual disks, relative to HV_HOME\n"
"};\n"
"\n"
"inventory:\n"
"{\n"
"  busy_timeout_ms = 10000; # how long a writer waits for another admin's write\n"
"};\n"
"\n"
"migration:\n"
"{\n"
"  port = 6790;\n"
"  secret = \"\";             # shared secret; empty: migration refused\n"
"};\n"
"\n"
"storage:\n"
"{\n"
"  iops_capacity = 0;       # normalized 8 KiB IOPS the host's storage gives all VMs;\n"
"                           # 0: unknown (disks' minimum IOPS are then only recorded)\n"
"};\n"
"\n"
"memory:\n"
"{\n"
"  budget = \"0\";            # memory all VMs together may hold, e.g. \"48G\"; dynamic\n"
"                           # memory shares it by priority, smart paging backs a\n"
"                           # start it cannot give; 0: no budget\n"
"};\n";

static void
config_defaults(struct hv_config *cfg)
{
	cfg->def_generation = 2;
	cfg->def_vcpus = 1;
	cfg->def_memory = HV_GIB;
	cfg->def_dynamic_memory = false;
	cfg->def_min_memory = 512 * HV_MIB;
	cfg->def_max_memory = HV_TIB;
	cfg->def_buffer = 20;
	cfg->def_priority = 50;
	snprintf(cfg->def_disk_format, sizeof cfg->def_disk_format, "vhdx");
	snprintf(cfg->firmware, sizeof cfg->firmware,
		 "/usr/share/seabios/bios-256k.bin");
	snprintf(cfg->disk_dir, sizeof cfg->disk_dir, "%s/disks", cfg->home);
	cfg->busy_timeout_ms = 10000;
	cfg->migration_port = 6790;
	cfg->migration_secret[0] = '\0';
}

static int
write_default(const char *path, struct hv_err *err)
{
	char tmp[HV_PATH_MAX + 16];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "%s: %s", tmp, strerror(errno));
	if (write(fd, default_conf, sizeof default_conf - 1) !=
	    (ssize_t)(sizeof default_conf - 1) || fsync(fd) != 0) {
		int e = errno;

		close(fd);
		unlink(tmp);
		return hv_fail(err, HV_EIO, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	/* link() does not replace: two first runs racing keep one file */
	if (link(tmp, path) != 0 && errno != EEXIST) {
		int e = errno;

		unlink(tmp);
		return hv_fail(err, HV_EIO, "%s: %s", path, strerror(e));
	}
	unlink(tmp);
	return 0;
}

/* a size setting: a string like "1G" or an integer of bytes */
static int
get_size(config_t *c, const char *path, uint64_t *out, struct hv_err *err,
	 const char *file)
{
	config_setting_t *s = config_lookup(c, path);
	long long v;

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		if (hv_parse_size(config_setting_get_string(s), out) == 0)
			return 0;
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		if (v >= 0) {
			*out = (uint64_t)v;
			return 0;
		}
		break;
	}
	return hv_fail(err, HV_EINVAL, "%s:%d: %s: not a size (like \"512M\")",
		       file, config_setting_source_line(s), path);
}

static int
get_int(config_t *c, const char *path, int *out, int lo, int hi,
	struct hv_err *err, const char *file)
{
	config_setting_t *s = config_lookup(c, path);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return hv_fail(err, HV_EINVAL, "%s:%d: %s: not a number",
			       file, config_setting_source_line(s), path);
	v = config_setting_get_int64(s);
	if (v < lo || v > hi)
		return hv_fail(err, HV_EINVAL, "%s:%d: %s: %lld is out of range %d..%d",
			       file, config_setting_source_line(s), path, v, lo, hi);
	*out = (int)v;
	return 0;
}

static int
get_str(config_t *c, const char *path, char *out, size_t len,
	struct hv_err *err, const char *file)
{
	config_setting_t *s = config_lookup(c, path);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return hv_fail(err, HV_EINVAL, "%s:%d: %s: not a string",
			       file, config_setting_source_line(s), path);
	if (strlen(config_setting_get_string(s)) >= len)
		return hv_fail(err, HV_EINVAL, "%s:%d: %s: too long",
			       file, config_setting_source_line(s), path);
	snprintf(out, len, "%s", config_setting_get_string(s));
	return 0;
}

int
config_load(struct hv_config *cfg, const char *home, struct hv_err *err)
{
	config_t c;
	char disks[HV_PATH_MAX] = "";
	const char *f;
	int dm, rc = -1;

	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->home, sizeof cfg->home, "%s", home);
	snprintf(cfg->conf_path, sizeof cfg->conf_path, "%s/hv.conf", home);
	config_defaults(cfg);
	f = cfg->conf_path;

	if (access(f, F_OK) != 0 && write_default(f, err) != 0)
		return -1;

	config_init(&c);
	if (config_read_file(&c, f) != CONFIG_TRUE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
			hv_fail(err, HV_EIO, "%s: cannot read: %s", f, strerror(errno));
		else
			hv_fail(err, HV_EINVAL, "%s:%d: %s", config_error_file(&c) ?
				config_error_file(&c) : f, config_error_line(&c),
				config_error_text(&c));
		goto out;
	}
	dm = cfg->def_dynamic_memory;
	if (get_int(&c, "defaults.generation", &cfg->def_generation, 1, 2, err, f) ||
	    get_int(&c, "defaults.vcpus", &cfg->def_vcpus, 1, HV_VCPUS_MAX, err, f) ||
	    get_size(&c, "defaults.memory", &cfg->def_memory, err, f) ||
	    get_size(&c, "defaults.minimum_memory", &cfg->def_min_memory, err, f) ||
	    get_size(&c, "defaults.maximum_memory", &cfg->def_max_memory, err, f) ||
	    get_int(&c, "defaults.memory_buffer", &cfg->def_buffer, 5, 2000, err, f) ||
	    get_int(&c, "defaults.memory_priority", &cfg->def_priority, 0, 100, err, f) ||
	    get_str(&c, "defaults.disk_format", cfg->def_disk_format,
		    sizeof cfg->def_disk_format, err, f) ||
	    get_str(&c, "paths.firmware", cfg->firmware, sizeof cfg->firmware, err, f) ||
	    get_str(&c, "paths.disks", disks, sizeof disks, err, f) ||
	    get_int(&c, "inventory.busy_timeout_ms", &cfg->busy_timeout_ms, 0,
		    3600000, err, f) ||
	    get_int(&c, "migration.port", &cfg->migration_port, 1, 65535, err, f) ||
	    get_str(&c, "migration.secret", cfg->migration_secret,
		    sizeof cfg->migration_secret, err, f) ||
	    get_int(&c, "storage.iops_capacity", &cfg->storage_iops_capacity, 0,
		    1000000000, err, f) ||
	    get_size(&c, "memory.budget", &cfg->memory_budget, err, f))
		goto out;
	if (config_lookup_bool(&c, "defaults.dynamic_memory", &dm) == CONFIG_TRUE)
		cfg->def_dynamic_memory = dm;
	if (disks[0] == '/')
		snprintf(cfg->disk_dir, sizeof cfg->disk_dir, "%s", disks);
	else if (disks[0] != '\0')
		snprintf(cfg->disk_dir, sizeof cfg->disk_dir, "%s/%s", home, disks);
	rc = 0;
out:
	config_destroy(&c);
	return rc;
}
