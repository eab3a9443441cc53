/*
 * vmm-probe.c - the probe guest (tests/guest, built to
 * $(B)/guest/probe.elf) on the VMM: PVH boot to `probe: ready`, console
 * input, a pattern written through virtio-blk that is on the raw image
 * at exactly those offsets and reads back in the guest, and the
 * `hostile` chains: each puts the device in NEEDS_RESET, the VMM keeps
 * running and the device works again after a reset.
 * Needs root, /dev/kvm and the probe; skips otherwise.
 */
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "engine/vm/vmm.h"
#include "tests/guest/pattern.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"

#define IMG_MB		8
#define WAIT_MS		60000

static char probe[4096], dir[64], img[128];
static char out[65536];

static struct vmm *
start(const char *cmdline, bool disk)
{
	struct vmm_config c = { .mem_bytes = 128ull << 20, .vcpus = 1,
				.generation = 2, .kernel = probe,
				.cmdline = cmdline };
	struct hv_err err;
	struct vmm *vm;

	if (disk) {
		c.ndisks = 1;
		c.disks[0].path = img;
		strcpy(c.disks[0].serial, "probe-disk");
	}
	out[0] = 0;
	if (vmm_create(&vm, &c, &err) != 0 || vmm_start(vm, &err) != 0) {
		diag("%s", err.msg);
		return NULL;
	}
	return vm;
}

/* wait until the console shows s (or the VM stops) */
static bool
wait_for(struct vmm *vm, const char *s)
{
	return mini_wait_for(vm, out, sizeof out, s, WAIT_MS);
}

static void
test_ready(void)
{
	struct vmm *vm = start("ready", false);
	struct vmm_exit e;

	if (!ok(vm != NULL, "probe VM starts"))
		return;
	ok(wait_for(vm, "probe: ready"), "serial shows 'probe: ready'");
	ok(vmm_running(vm), "the VM keeps running while the probe idles");
	vmm_console_input(vm, "shutdown\n", 9);
	ok(mini_wait(vm, out, sizeof out, WAIT_MS), "'shutdown' on the console ends it");
	vmm_exit_info(vm, &e);
	is_int(e.reason, VMM_EXIT_DEBUG, "through the debug-exit port");
	is_int(e.code, 1, "with status 0 ((0 << 1) | 1)");
	vmm_destroy(vm);
}

static bool
sector_is(int fd, uint64_t s, uint64_t seed)
{
	uint8_t buf[512];

	if (pread(fd, buf, 512, s * 512) != 512)
		return false;
	if (seed)
		return pattern_check(buf, seed, s) < 0;
	for (int i = 0; i < 512; i++)
		if (buf[i])
			return false;
	return true;
}

static void
test_blk(void)
{
	struct vmm *vm = start("blk-write dev=0 start=100 count=40 seed=7;"
			       "blk-flush dev=0;"
			       "blk-read dev=0 start=100 count=40 seed=7", true);
	struct vmm_stats st;
	struct vmm_exit e;
	bool all = true;
	uint64_t s;
	int fd;

	if (!ok(vm != NULL, "probe VM with a raw disk starts"))
		return;
	ok(mini_wait(vm, out, sizeof out, WAIT_MS), "the probe ran its commands");
	ok(strstr(out, "blk-write: ok sectors=40") != NULL, "blk-write ok");
	ok(strstr(out, "blk-flush: ok supported=1") != NULL, "blk-flush ok");
	ok(strstr(out, "blk-read: ok sectors=40 mismatches=0") != NULL,
	   "blk-read: the guest reads back its pattern");
	vmm_exit_info(vm, &e);
	is_int(e.code, 1, "probe exit status 0");
	vmm_stats(vm, &st);
	ok(st.disks[0].writes >= 1 && st.disks[0].write_bytes == 40 * 512,
	   "stats: %llu writes, %llu bytes written",
	   (unsigned long long)st.disks[0].writes,
	   (unsigned long long)st.disks[0].write_bytes);
	ok(st.disks[0].read_bytes >= 40 * 512 && st.disks[0].flushes >= 1,
	   "stats: reads and a flush");
	vmm_destroy(vm);
	fd = open(img, O_RDONLY);
	for (s = 100; s < 140; s++)
		all = all && sector_is(fd, s, 7);
	ok(all, "the image holds the pattern at sectors 100..139");
	ok(sector_is(fd, 99, 0) && sector_is(fd, 140, 0),
	   "and nothing outside them");
	close(fd);
	if (!all)
		diag("console: %s", out);
}

static void
test_hostile(void)
{
	struct vmm *vm = start("hostile dev=0", true);
	struct vmm_stats st;
	struct vmm_exit e;
	int cases = 0, reset = 0;
	char *p;

	if (!ok(vm != NULL, "hostile probe starts"))
		return;
	ok(mini_wait(vm, out, sizeof out, WAIT_MS), "the hostile run ended");
	for (p = out; (p = strstr(p, "hostile: case=")); p++) {
		char line[128], *l = strchr(p, '\n');

		if (!l)
			break;
		snprintf(line, sizeof line, "%.*s", (int)(l - p), p);
		if (strstr(line, "skipped"))
			continue;
		cases++;
		if (strstr(line, "needs_reset=1"))
			reset++;
	}
	ok(cases >= 5, "%d hostile cases ran", cases);
	is_int(reset, cases, "every one put the device in NEEDS_RESET");
	ok(strstr(out, "hostile: done good_read=ok") != NULL,
	   "after a reset the device reads correctly again");
	vmm_stats(vm, &st);
	ok(st.needs_reset >= (uint64_t)cases, "the VMM counted %llu resets",
	   (unsigned long long)st.needs_reset);
	vmm_exit_info(vm, &e);
	is_int(e.reason, VMM_EXIT_DEBUG, "the VMM survived to the probe's own exit");
	vmm_destroy(vm);
	if (reset != cases)
		diag("console: %s", out);
}

int
main(int argc, char **argv)
{
	const char *why, *env = getenv("HV_PROBE");
	char self[4096];
	int fd;

	if (!kvm_usable(&why))
		skip_all(why);
	/* $(B)/asan/tests/unit/vmm-probe.t -> $(B)/guest/probe.elf */
	snprintf(self, sizeof self, "%s", argv[0]);
	if (env)
		snprintf(probe, sizeof probe, "%s", env);
	else
		snprintf(probe, sizeof probe, "%s/../../../guest/probe.elf",
			 dirname(self));
	if (access(probe, R_OK) != 0)
		skip_all("no probe guest (build it with make)");
	snprintf(dir, sizeof dir, "/tmp/vmm-probe.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof img, "%s/disk.raw", dir);
	fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_MB << 20) != 0)
		return 1;
	close(fd);
	(void)argc;
	test_ready();
	test_blk();
	test_hostile();
	unlink(img);
	rmdir(dir);
	return done_testing();
}
