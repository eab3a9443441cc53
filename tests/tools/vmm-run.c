/*
 * vmm-run - run one VM in this process with engine/vm, for tests and
 * benchmarks: the console goes to stdout, the exit status is the VM's.
 *
 *	vmm-run --kernel probe.elf [--cmdline S] [--initrd F] [--mem MIB]
 *		[--gen 1 [--firmware BIOS]] (Gen1: SeaBIOS, no --kernel)
 *		[--vcpus N] [--disk PATH[,ro][,serial=S]]... [--input S]
 *		[--tap IFNAME[,mac=M][,maxbw=BITS]]... [--timeout SEC] [--stats]
 *
 * Exit: the debug-exit code ((v << 1) | 1), 0 on power-off or reset,
 * 124 on --timeout, 125 when the VM cannot start, 126 on an internal
 * error or triple fault. With --stats, counters go to stderr at the end,
 * and "first-line-ms=" says when the first console line was complete.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/net/net.h"
#include "engine/vm/vmm.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
usage(void)
{
	fprintf(stderr, "usage: vmm-run {--kernel FILE | --gen 1 [--firmware F]} [--cmdline S] [--initrd F] "
		"[--mem MIB] [--vcpus N] [--disk PATH[,ro][,serial=S]] "
		"[--tap IFNAME[,mac=M][,maxbw=BITS]] [--input S] [--timeout SEC] [--stats]\n");
	exit(2);
}

static void
add_disk(struct vmm_config *c, char *arg)
{
	struct vmm_disk_config *d;
	char *opt;

	if (c->ndisks >= VMM_MAX_DISKS)
		usage();
	d = &c->disks[c->ndisks++];
	d->path = strtok(arg, ",");
	while ((opt = strtok(NULL, ",")) != NULL) {
		if (strcmp(opt, "ro") == 0)
			d->readonly = true;
		else if (strncmp(opt, "serial=", 7) == 0)
			snprintf(d->serial, sizeof d->serial, "%s", opt + 7);
		else
			usage();
	}
}

/* a TAP made here (it goes away with the process); the caller bridges it */
static void
add_tap(struct vmm_config *c, char *arg)
{
	struct vmm_nic_config *n;
	struct hv_err err;
	char *opt, *name;

	if (c->nnics >= VMM_MAX_NICS)
		usage();
	n = &c->nics[c->nnics];
	n->policy.mac[0] = 0x52;
	n->policy.mac[1] = 0x54;
	n->policy.mac[5] = (unsigned char)(c->nnics + 1);
	name = strtok(arg, ",");
	while ((opt = strtok(NULL, ",")) != NULL) {
		if (strncmp(opt, "mac=", 4) == 0 && net_mac_parse(opt + 4, n->policy.mac) == 0)
			continue;
		if (strncmp(opt, "maxbw=", 6) == 0)
			n->max_bw = strtoull(opt + 6, NULL, 0);
		else
			usage();
	}
	if (name == NULL || net_tap_open(name, &n->tap_fd, &err) != 0) {
		fprintf(stderr, "vmm-run: %s\n", name ? err.msg : "--tap needs a name");
		exit(125);
	}
	c->nnics++;
}

static void
print_stats(struct vmm *vm)
{
	struct vmm_stats s;
	int i;

	vmm_stats(vm, &s);
	fprintf(stderr, "exits=%llu", (unsigned long long)s.exits_total);
	for (i = 0; i < VMM_NR_EXIT_KINDS; i++)
		if (s.exits[i])
			fprintf(stderr, " %s=%llu", vmm_exit_name(i),
				(unsigned long long)s.exits[i]);
	fprintf(stderr, " needs_reset=%llu\n", (unsigned long long)s.needs_reset);
	for (i = 0; i < s.nnics; i++) {
		fprintf(stderr, "nic%d rx_packets=%llu rx_bytes=%llu tx_packets=%llu tx_bytes=%llu "
			"throttled=%llu tx_errors=%llu", i,
			(unsigned long long)s.nics[i].rx_packets, (unsigned long long)s.nics[i].rx_bytes,
			(unsigned long long)s.nics[i].tx_packets, (unsigned long long)s.nics[i].tx_bytes,
			(unsigned long long)s.nics[i].throttled, (unsigned long long)s.nics[i].tx_errors);
		for (int v = 1; v < NET_VERDICTS; v++)
			fprintf(stderr, " drop_%s=%llu", net_verdict_name((enum net_verdict)v),
				(unsigned long long)s.nics[i].drops[v]);
		fputc('\n', stderr);
	}
	for (i = 0; i < s.ndisks; i++)
		fprintf(stderr, "disk%d reads=%llu writes=%llu flushes=%llu "
			"read_bytes=%llu write_bytes=%llu errors=%llu\n", i,
			(unsigned long long)s.disks[i].reads,
			(unsigned long long)s.disks[i].writes,
			(unsigned long long)s.disks[i].flushes,
			(unsigned long long)s.disks[i].read_bytes,
			(unsigned long long)s.disks[i].write_bytes,
			(unsigned long long)s.disks[i].errors);
}

/* copy the console out; true once a newline went by */
static bool
drain(int fd)
{
	char buf[4096];
	bool nl = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (memchr(buf, '\n', n))
			nl = true;
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			break;
	}
	fflush(stdout);
	return nl;
}

static int
status_of(const struct vmm_exit *e)
{
	switch (e->reason) {
	case VMM_EXIT_DEBUG:
		return e->code & 0xFF;
	case VMM_EXIT_POWEROFF:
	case VMM_EXIT_RESET:
		return 0;
	default:
		fprintf(stderr, "vmm-run: %s: %s\n", vmm_exit_reason_name(e->reason),
			e->msg);
		return 126;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", 1, NULL, 'k' }, { "cmdline", 1, NULL, 'c' },
		{ "initrd", 1, NULL, 'i' }, { "mem", 1, NULL, 'm' },
		{ "vcpus", 1, NULL, 'n' }, { "disk", 1, NULL, 'd' },
		{ "input", 1, NULL, 'I' }, { "timeout", 1, NULL, 't' },
		{ "stats", 0, NULL, 's' }, { "gen", 1, NULL, 'g' },
		{ "firmware", 1, NULL, 'f' }, { "tap", 1, NULL, 'T' }, { 0 }
	};
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1,
				.generation = 2 };
	const char *input = NULL;
	double t0 = now_ms(), first = -1, timeout = 0;
	bool stats = false;
	struct vmm_exit e;
	struct hv_err err;
	struct vmm *vm;
	int o, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': c.kernel = optarg; break;
		case 'c': c.cmdline = optarg; break;
		case 'i': c.initrd = optarg; break;
		case 'm': c.mem_bytes = strtoull(optarg, NULL, 0) << 20; break;
		case 'n': c.vcpus = atoi(optarg); break;
		case 'd': add_disk(&c, optarg); break;
		case 'I': input = optarg; break;
		case 't': timeout = atof(optarg) * 1e3; break;
		case 's': stats = true; break;
		case 'g': c.generation = atoi(optarg); break;
		case 'f': c.firmware = optarg; break;
		case 'T': add_tap(&c, optarg); break;
		default: usage();
		}
	}
	if ((!c.kernel && c.generation != 1) || optind != argc)
		usage();
	if (vmm_create(&vm, &c, &err) != 0 || vmm_start(vm, &err) != 0) {
		fprintf(stderr, "vmm-run: %s\n", err.msg);
		return 125;
	}
	if (input)
		vmm_console_input(vm, input, strlen(input));
	for (;;) {
		struct pollfd p[2] = {
			{ vmm_console_fd(vm), POLLIN, 0 },
			{ vmm_wait_fd(vm), POLLIN, 0 },
		};

		rc = poll(p, 2, timeout > 0 ? 50 : -1);
		if (rc < 0 && errno != EINTR)
			break;
		if (drain(p[0].fd) && first < 0)
			first = now_ms() - t0;
		if (p[1].revents & POLLIN)
			break;
		if (timeout > 0 && now_ms() - t0 > timeout) {
			vmm_stop(vm);
			drain(vmm_console_fd(vm));
			fprintf(stderr, "vmm-run: timed out\n");
			if (stats)
				print_stats(vm);
			vmm_destroy(vm);
			return 124;
		}
	}
	vmm_stop(vm);
	drain(vmm_console_fd(vm));
	vmm_exit_info(vm, &e);
	if (stats) {
		fprintf(stderr, "first-line-ms=%.1f total-ms=%.1f\n", first,
			now_ms() - t0);
		print_stats(vm);
	}
	rc = status_of(&e);
	vmm_destroy(vm);
	return rc;
}
