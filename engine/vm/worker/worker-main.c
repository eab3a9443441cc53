/*
 * worker-main.c - build/hv-worker: the process that owns one running VM.
 *
 *	hv-worker --home HV_HOME [--ready-fd N] [--vm-fd N] [--restore FILE]
 *		  [--incoming-fd N [--incoming-storage]] NAME
 *
 * Started detached by hv_vm_start() (engine/lifecycle.c). It holds
 * run/NAME.lock for its whole life (how readers tell a live worker from a
 * dead one), serves run/NAME.sock (worker-ctl.c: one JSON object a line: status,
 * stats, pause, resume, stop, shutdown, flush, sample, console), keeps
 * the serial console in a ring buffer and log/NAME.console.log, and
 * records the VM's state (and every 5 s a resource sample) in the
 * inventory. One epoll loop (redis's ae idea); the vCPU
 * threads live in the VMM and only run KVM_RUN and device code.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/hv.h"
#include "engine/hv-int.h"	/* config_load: the worker reads hv.conf itself */
#include "engine/net/net.h"
#include "engine/vm/host/disk-arbiter.h"
#include "engine/vm/host/mem-arbiter.h"
#include "engine/vm/vmm.h"

#include "engine/vm/worker/worker.h"


void
logf_(const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	va_list ap;

	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
	fprintf(stderr, "%s hv-worker[%d]: ", ts, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* --- metering ---------------------------------------------------------- */

/* add what each adapter did since the last flush to the inventory */
void
meter_flush(struct worker *w)
{
	struct vmm_stats s;
	struct hv_err err;

	if (w->vmm == NULL || w->hv == NULL)
		return;
	vmm_stats(w->vmm, &s);
	for (int i = 0; i < s.nnics; i++) {
		const struct vmm_nic_stats *n = &s.nics[i], *o = &w->metered[i];
		struct hv_port_counters d = {
			.rx_packets = n->rx_packets - o->rx_packets,
			.rx_bytes = n->rx_bytes - o->rx_bytes,
			.tx_packets = n->tx_packets - o->tx_packets,
			.tx_bytes = n->tx_bytes - o->tx_bytes,
			.drop_mac = n->drops[NET_DROP_MAC] - o->drops[NET_DROP_MAC],
			.drop_dhcp = n->drops[NET_DROP_DHCP] - o->drops[NET_DROP_DHCP],
			.drop_router = n->drops[NET_DROP_ROUTER] - o->drops[NET_DROP_ROUTER],
			.drop_acl = n->drops[NET_DROP_ACL] - o->drops[NET_DROP_ACL],
			.drop_vlan = n->drops[NET_DROP_VLAN] - o->drops[NET_DROP_VLAN],
			.drop_malformed = n->drops[NET_DROP_MALFORMED] - o->drops[NET_DROP_MALFORMED],
		};

		if (hv_port_counters_add(w->hv, w->vm.uuid, i, &d, &err) != 0) {
			logf_("metering: %s", err.msg);
			continue;	/* the delta is kept for the next try */
		}
		w->metered[i] = *n;
	}
}

/* --- memory (engine/vm/host/mem-arbiter.c) -------------------------------- */

/* a medium the guest ejected itself (START STOP UNIT) is gone from the
   drive: the inventory says so too, as Hyper-V's settings do */
static void
dvd_tick(struct worker *w)
{
	struct hv_err err;

	if (w->vmm == NULL || w->migrating)
		return;
	for (int i = 0; i < w->vm.ndvds; i++) {
		if (w->vm.dvds[i][0] == '\0' || vmm_dvd_loaded(w->vmm, i))
			continue;
		logf_("DVD drive %d: the guest ejected %s", i, w->vm.dvds[i]);
		w->vm.dvds[i][0] = '\0';
		if (w->hv != NULL && hv_vm_dvd_guest_ejected(w->hv, &w->vm, i, &err) != 0)
			logf_("DVD drive %d: %s", i, err.msg);
	}
}

static void
memory_tick(struct worker *w)
{
	char event[256];

	if (w->mem == NULL || w->vmm == NULL || w->migrating)
		return;
	mem_arbiter_tick(w->mem, w->vmm, event, sizeof event);
	if (event[0] && w->hv != NULL) {
		logf_("%s", event);
		hv_event_add(w->hv, w->vm.name, "%s", event);
	}
}

/* --- resource samples (Measure-VM: hv vm metrics) ---------------------- */

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* record this run's cumulative counters and the memory now (as stats) */
void
sample_take(struct worker *w)
{
	struct hv_vm_sample smp = { .started = w->started_ms, .mem_assigned = w->vm.memory };
	struct vmm_stats s;
	struct hv_err err;

	if (w->vmm == NULL || w->hv == NULL)
		return;
	vmm_stats(w->vmm, &s);
	smp.time = clock_ns(CLOCK_REALTIME) / 1000000;
	smp.cpu_ns = (uint64_t)clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < s.ndisks; i++) {
		smp.disk_read_bytes += s.disks[i].read_bytes;
		smp.disk_write_bytes += s.disks[i].write_bytes;
		smp.disk_ios += s.disks[i].reads + s.disks[i].writes;
		smp.disk_normalized_ios += s.disks[i].normalized_ios;
	}
	for (int i = 0; i < s.nnics; i++) {
		smp.net_rx_bytes += s.nics[i].rx_bytes;
		smp.net_tx_bytes += s.nics[i].tx_bytes;
	}
	if (w->mem != NULL) {	/* what stats says, from the memory arbiter */
		cJSON *m = mem_arbiter_json(w->mem, w->vmm);

		smp.mem_assigned = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "assigned"));
		smp.mem_demand = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "demand"));
		cJSON_Delete(m);
	}
	if (hv_vm_sample_add(w->hv, w->vm.uuid, &smp, &err) != 0)
		logf_("metering sample: %s", err.msg);
}

static int
take_lock(struct worker *w, struct hv_err *err)
{
	char path[HV_PATH_MAX + 128];
	int fd;

	/* the inventory may not be open yet: hv_vm_path's layout, by hand */
	snprintf(path, sizeof path, "%s/run/%s.lock", w->home, w->vm.name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return hv_fail(err, HV_EBUSY, "VM '%s' already has a worker", w->vm.name);
	}
	return 0;	/* fd stays open: the lock lives as long as we do */
}

/*
 * The shell hands over the VM definition it just read (fd 4, a memfd:
 * "HVVM", the struct size, struct hv_vm), so the VM is built while the
 * inventory opens on another thread. Same build, same struct; anything
 * else (a size that differs, another name) falls back to the inventory.
 */
static bool
read_definition(int fd, const char *name, struct hv_vm *vm)
{
	uint8_t hdr[8];
	uint32_t size;

	if (fd < 0)
		return false;
	if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || memcmp(hdr, "HVVM", 4) != 0)
		goto no;
	memcpy(&size, hdr + 4, 4);
	if (size != sizeof *vm || pread(fd, vm, sizeof *vm, 8) != (ssize_t)sizeof *vm)
		goto no;
	close(fd);
	vm->name[sizeof vm->name - 1] = '\0';
	vm->firmware[sizeof vm->firmware - 1] = '\0';
	return strcmp(vm->name, name) == 0 && vm->ndisks >= 0 && vm->ndisks <= HV_MAX_DISKS;
no:
	close(fd);
	return false;
}

#define HV_NIC_ROM	"/usr/lib/ipxe/qemu/efi-virtio.rom"	/* ipxe-qemu */

static bool
names_net(const char *order)
{
	for (const char *p = order; *p != '\0'; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, "net", 3) == 0 && (p[3] == ',' || p[3] == '\0'))
			return true;
	return false;
}

static int
build_vmm(struct worker *w, struct hv_err *err)
{
	struct vmm_config cfg;
	const struct hv_vm *vm = &w->vm;

	memset(&cfg, 0, sizeof cfg);
	cfg.mem_bytes = vm->memory;
	cfg.vcpus = vm->vcpus;
	cfg.generation = vm->generation;
	cfg.kernel = vm->kernel[0] ? vm->kernel : NULL;
	cfg.initrd = vm->initrd[0] ? vm->initrd : NULL;
	cfg.cmdline = vm->cmdline;
	cfg.firmware = vm->firmware[0] ? vm->firmware : NULL;	/* NULL: SeaBIOS or OVMF */
	cfg.boot_order = vm->boot_order;
	/* Gen1 boots the network through iPXE, the adapters' option ROM,
	   when the boot order names it (Gen2's OVMF has its own driver) */
	if (vm->generation == 1 && names_net(vm->boot_order))
		cfg.nic_rom = getenv("HV_NIC_ROM") ? getenv("HV_NIC_ROM") : HV_NIC_ROM;
	if (vmm_uefi(&cfg)) {
		if (hv_vm_nvram(w->home, vm->name, w->nvram, sizeof w->nvram, err) != 0)
			return -1;
		cfg.nvram = w->nvram;
	}
	if (mem_arbiter_open(&w->mem, w->home, vm, w->budget, &cfg, err) != 0)
		return -1;
	cfg.restoring = w->restore != NULL || w->incoming_fd >= 0;
	cfg.ndisks = vm->ndisks;
	for (int i = 0; i < vm->ndisks; i++) {
		cfg.disks[i].path = vm->disks[i];
		snprintf(cfg.disks[i].serial, sizeof cfg.disks[i].serial, "hv-%.8s-%d", vm->uuid,
			 i % HV_MAX_DISKS);
		cfg.disks[i].max_iops = vm->disk_qos[i].max_iops;
		cfg.disks[i].max_bw = vm->disk_qos[i].max_bw;
	}
	cfg.ndvds = vm->ndvds;
	for (int i = 0; i < vm->ndvds; i++) {
		cfg.dvds[i].path = vm->dvds[i];
		snprintf(cfg.dvds[i].serial, sizeof cfg.dvds[i].serial, "hv-%.8s-dvd%d", vm->uuid,
			 i % HV_MAX_DVDS);
	}
	/* each adapter a port of its switch: a TAP on the switch's bridge */
	for (int i = 0; i < vm->nnics; i++) {
		if (net_port_open(w->home, vm, i, &cfg.nics[i], err) != 0) {
			for (int k = 0; k < i; k++)
				close(cfg.nics[k].tap_fd);
			return -1;
		}
		cfg.nnics++;
	}
	if (vmm_create(&w->vmm, &cfg, err) != 0)
		return -1;
	if (w->incoming_fd >= 0)
		return migrate_arrive(w, err);	/* it starts once handed over */
	if (w->restore && vmm_restore_file(w->vmm, w->restore, err) != 0)
		return -1;
	return vmm_start(w->vmm, err);
}

static void *
record_starting(void *arg)
{
	struct worker *w = arg;

	if (w->hv == NULL && hv_open(&w->hv, w->home, &w->open_err) != 0) {
		w->open_failed = true;
		return NULL;
	}
	set_state(w, "Starting", NULL);
	return NULL;
}

static int
setup(struct worker *w, const char *home, const char *name, int vm_fd,
      struct hv_err *err)
{
	char path[HV_PATH_MAX + 128];
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;
	sigset_t mask;
	int r, threaded;

	w->home = home;
	if (!read_definition(vm_fd, name, &w->vm)) {
		if (hv_open(&w->hv, home, err) != 0 || hv_vm_get(w->hv, name, &w->vm, err) != 0)
			return -1;
		if (w->vm.generation == 1 && w->vm.firmware[0] == '\0')
			snprintf(w->vm.firmware, sizeof w->vm.firmware, "%s",
				 hv_config(w->hv)->firmware);
	}
	if (take_lock(w, err) != 0)
		return -1;
	{
		/* the host's memory budget decides smart paging before RAM exists */
		struct hv_config c;
		struct hv_err e2;

		if (config_load(&c, home, &e2) == 0)
			w->budget = c.memory_budget;
	}
	/*
	 * Opening the inventory and recording Starting run beside the VM's
	 * construction (together they are a third of the time to the guest's
	 * first instruction); only that thread touches w->hv until joined.
	 */
	threaded = pthread_create(&t, NULL, record_starting, w) == 0;
	if (!threaded)
		record_starting(w);
	r = build_vmm(w, err);
	if (threaded)
		pthread_join(t, NULL);
	if (w->open_failed) {
		*err = w->open_err;
		return -1;
	}
	if (r != 0)
		return -1;
	if (hv_vm_path(w->hv, w->vm.name, "console", path, sizeof path) == 0)
		w->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (listen_socket(w, err) != 0)
		return -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	w->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	w->console_fd = vmm_console_fd(w->vmm);
	w->wait_fd = vmm_wait_fd(w->vmm);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->sig_fd < 0 || w->epfd < 0)
		return hv_fail(err, HV_EIO, "epoll/signalfd: %s", strerror(errno));
	ev.data.ptr = &w->listen_fd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fd, &ev);
	ev.data.ptr = &w->sig_fd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->sig_fd, &ev);
	ev.data.ptr = &w->console_fd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->console_fd, &ev);
	ev.data.ptr = &w->wait_fd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wait_fd, &ev);
	{	/* memory, metering and resource samples */
		struct itimerspec its = { { 1, 0 }, { 1, 0 } };

		w->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (w->tick_fd >= 0 && timerfd_settime(w->tick_fd, 0, &its, NULL) == 0) {
			ev.data.ptr = &w->tick_fd;
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tick_fd, &ev);
		}
	}
	/* storage QoS: without the arbiter each disk keeps its maximum */
	if (disk_arbiter_open(&w->arb, home, &w->vm, (uint64_t)hv_config(w->hv)->storage_iops_capacity,
			      w->vmm, err) != 0) {
		logf_("storage QoS: %s", err->msg);
	} else if (w->arb != NULL) {
		ev.data.ptr = &w->arb;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, disk_arbiter_fd(w->arb), &ev);
	}
	return 0;
}

/* why the VM stopped by itself, for the inventory and vm show */
static void
exit_words(const struct vmm_exit *e, char *buf, size_t len)
{
	switch (e->reason) {
	case VMM_EXIT_POWEROFF:
		snprintf(buf, len, "the guest powered off");
		break;
	case VMM_EXIT_RESET:
		snprintf(buf, len, "the guest reset (reboot is not supported yet): turned off");
		break;
	case VMM_EXIT_DEBUG:
		snprintf(buf, len, "the guest exited through the debug port (status %d)", e->code);
		break;
	case VMM_EXIT_TRIPLE_FAULT:
		snprintf(buf, len, "the guest triple-faulted");
		break;
	default:
		snprintf(buf, len, "%.120s", e->msg[0] ? e->msg : "the VM stopped");
	}
}

static void
run(struct worker *w)
{
	struct epoll_event evs[16];

	while (!w->quit) {
		/* typing the guest's UART had no room for: look again soon */
		int n = epoll_wait(w->epfd, evs, 16, console_flush(w) ? 10 : -1);

		for (int i = 0; i < n && !w->quit; i++) {
			void *p = evs[i].data.ptr;

			if (p == &w->listen_fd) {
				accept_client(w);
			} else if (p == &w->console_fd) {
				console_output(w);
			} else if (p == &w->tick_fd) {
				uint64_t ticks;

				if (read(w->tick_fd, &ticks, sizeof ticks) > 0) {
					memory_tick(w);
					dvd_tick(w);
					if (++w->ticks % METER_SECONDS == 0) {
						meter_flush(w);
						sample_take(w);
					}
				}
			} else if (p == &w->mig_event) {
				migrate_done(w);
			} else if (p == &w->arb) {
				disk_arbiter_tick(w->arb);
			} else if (p == &w->sig_fd) {
				snprintf(w->exit_why, sizeof w->exit_why, "worker signalled: turned off");
				w->quit = true;
			} else if (p == &w->wait_fd) {
				struct vmm_exit e;

				console_output(w);	/* the last words */
				vmm_exit_info(w->vmm, &e);
				exit_words(&e, w->exit_why, sizeof w->exit_why);
				w->quit = true;
			} else {
				client_input(w, p);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	const char *home = NULL, *name = NULL;
	struct worker w;
	struct hv_err err;
	int ready_fd = -1, vm_fd = -1;

	memset(&w, 0, sizeof w);
	w.started_ms = clock_ns(CLOCK_REALTIME) / 1000000;
	w.listen_fd = w.sig_fd = w.console_fd = w.wait_fd = w.epfd = w.log_fd = w.tick_fd = -1;
	w.incoming_fd = w.mig_event = w.mig_fd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		w.clients[i].fd = w.clients[i].passed_fd = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
			home = argv[++i];
		else if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc)
			ready_fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--vm-fd") == 0 && i + 1 < argc)
			vm_fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--restore") == 0 && i + 1 < argc)
			w.restore = argv[++i];
		else if (strcmp(argv[i], "--incoming-fd") == 0 && i + 1 < argc)
			w.incoming_fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--incoming-storage") == 0)
			w.incoming_storage = true;
		else if (name == NULL && argv[i][0] != '-')
			name = argv[i];
		else
			name = NULL, i = argc;
	}
	if (home == NULL || name == NULL) {
		fprintf(stderr, "usage: hv-worker --home HV_HOME [--ready-fd N] [--vm-fd N] [--restore FILE]\n"
				"                 [--incoming-fd N [--incoming-storage]] NAME\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (setup(&w, home, name, vm_fd, &err) != 0) {
		logf_("VM %s: %s", name, err.msg);
		if (w.incoming_fd >= 0 && !w.incoming_told)	/* the source keeps it, and hears why */
			vmm_migrate_refuse(w.incoming_fd, err.msg);
		if (ready_fd >= 0)
			dprintf(ready_fd, "error: %s\n", err.msg);
		/* a state that would not restore stays saved, untouched */
		if (w.hv != NULL && w.vm.name[0] != '\0') {
			if (err.code != HV_EBUSY)
				set_state(&w, w.restore ? "Saved" : "Off", err.msg);
		}
		if (w.sock_path[0] && err.code != HV_EBUSY)
			unlink(w.sock_path);
		/* what setup built: a restore can fail with the VM made */
		vmm_destroy(w.vmm);
		disk_arbiter_close(w.arb);
		mem_arbiter_close(w.mem);
		hv_close(w.hv);
		return 1;
	}
	set_state(&w, "Running", NULL);
	if (w.incoming_fd >= 0) {
		close(w.incoming_fd);
		w.incoming_fd = -1;
		hv_event_add(w.hv, w.vm.name, "arrived by live migration (worker pid %d)", (int)getpid());
	} else if (w.restore) {
		unlink(w.restore);	/* it runs on from here: the file is spent */
		hv_event_add(w.hv, w.vm.name, "restored from its saved state (worker pid %d)",
			     (int)getpid());
	} else {
		hv_event_add(w.hv, w.vm.name, "started (worker pid %d)", (int)getpid());
	}
	{
		uint64_t bytes;
		const char *file;
		char sz[32];

		if (mem_arbiter_paging(w.mem, &bytes, &file)) {
			hv_format_size(bytes, sz, sizeof sz);
			hv_event_add(w.hv, w.vm.name, "smart paging: %s of startup memory in %s "
				     "until the host's memory budget has it", sz, file);
		}
	}
	logf_("VM %s running", w.vm.name);
	if (ready_fd >= 0) {
		dprintf(ready_fd, "ok %d\n", (int)getpid());
		close(ready_fd);
	}
	run(&w);
	if (w.migrating) {	/* signalled mid-way: cut it, the VM stays ours */
		shutdown(w.mig_fd, SHUT_RDWR);
		pthread_join(w.mig_thread, NULL);
		w.migrating = false;
	}
	if (w.merging) {	/* it ends by itself, the VM on either image */
		pthread_join(w.mig_thread, NULL);
		w.merging = false;
	}
	if (w.exporting)	/* cut it: the VM is going, the export with it */
		export_abort(&w);
	logf_("VM %s stopping: %s", w.vm.name, w.exit_why);
	vmm_stop(w.vmm);
	sample_take(&w);	/* the last one, while the memory arbiter is there */
	disk_arbiter_close(w.arb);
	mem_arbiter_close(w.mem);
	meter_flush(&w);
	vmm_destroy(w.vmm);
	unlink(w.sock_path);
	set_state(&w, w.saved ? "Saved" : "Off", w.exit_why);
	hv_event_add(w.hv, w.vm.name, "stopped: %s", w.exit_why);
	hv_close(w.hv);
	return 0;
}
