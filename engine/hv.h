/*
 * hv.h - the engine API every front end calls (shell, TUI, wizards).
 *
 * Objects are found by name or UUID. Every call that can fail returns
 * -1 and fills a struct hv_err (engine/err.h); 0 means success.
 * State lives in $HV_HOME: hv.db (sqlite inventory), hv.conf (libconfig).
 */
#ifndef HV_H
#define HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define HV_VERSION	"0.1.0"
#define HV_NAME_MAX	64	/* bytes with the NUL */
#define HV_PATH_MAX	1024
#define HV_CMDLINE_MAX	2048
#define HV_MAX_DISKS	16
#define HV_MAX_NICS	8
#define HV_MAX_DVDS	4
#define HV_UUID_LEN	37

#define HV_MIB		(1024ull * 1024)
#define HV_GIB		(1024ull * HV_MIB)
#define HV_TIB		(1024ull * HV_GIB)

/* memory is given in whole multiples of 2 MiB, as on Hyper-V */
#define HV_MEM_ALIGN	(2 * HV_MIB)
#define HV_MEM_MIN	(32 * HV_MIB)
#define HV_MEM_MAX	(12 * HV_TIB)
#define HV_VCPUS_MAX	240

struct hv_ctx;

struct hv_config {
	char home[HV_PATH_MAX];
	char conf_path[HV_PATH_MAX];
	int def_generation;
	int def_vcpus;
	uint64_t def_memory;
	bool def_dynamic_memory;
	uint64_t def_min_memory;
	uint64_t def_max_memory;
	uint64_t memory_budget;	/* bytes all VMs may hold; 0: none */
	int def_buffer;
	int def_priority;
	char def_disk_format[16];
	char firmware[HV_PATH_MAX];	/* Gen1 BIOS image */
	char disk_dir[HV_PATH_MAX + 64];
	int migration_port;
	char migration_secret[256];
	int busy_timeout_ms;
	int storage_iops_capacity;	/* normalized IOPS the host's storage
					   gives all VMs; 0: unknown, no arbiter */
};

struct hv_dynmem {
	bool enabled;
	uint64_t minimum;
	uint64_t maximum;
	int buffer;		/* percent, 5..2000 */
	int priority;		/* 0..100 (Hyper-V's memory weight) */
};

#define HV_MAX_ACLS	16

/* one port ACL rule, as text "allow|deny,in|out|both,remote=X[,local=Y]" */
struct hv_acl {
	bool allow;
	char dir[5];		/* "in", "out", "both" */
	char local[64];		/* "": any; an IPv4/IPv6 address or prefix, */
	char remote[64];	/*   or a MAC address (canonical text) */
};

struct hv_nic {
	char switch_name[HV_NAME_MAX];
	char mac[18];		/* "52:54:00:xx:xx:xx" */
	int vlan;		/* 0: untagged (VLAN 1 on the switch); 1..4094 */
	uint64_t max_bw, min_bw;	/* bits/s; 0: no limit / no reserve */
	bool dhcp_guard;	/* drop DHCP server messages from the VM */
	bool router_guard;	/* drop router advertisements and redirects */
	bool mac_guard;		/* drop frames not from the adapter's MAC */
	int nacls;
	struct hv_acl acls[HV_MAX_ACLS];
};

/* storage QoS of one virtual disk, as Hyper-V counts: IOPS in normalized
   IOs of 8 KiB (a 64 KiB request is 8); 0: no limit / no reserve */
struct hv_disk_qos {
	uint32_t max_iops, min_iops;
	uint64_t max_bw;	/* bytes/s */
};

struct hv_vm {
	char uuid[HV_UUID_LEN];
	char name[HV_NAME_MAX];
	int generation;		/* 1 or 2, fixed after creation */
	int vcpus;
	uint64_t memory;	/* startup memory, bytes */
	struct hv_dynmem dm;
	char kernel[HV_PATH_MAX];	/* Gen2 direct boot */
	char initrd[HV_PATH_MAX];
	char cmdline[HV_CMDLINE_MAX];
	char firmware[HV_PATH_MAX];	/* Gen1 */
	char boot_order[24];	/* Gen1: "dvd,disk,net" in some order; "": DVD, disk (net only when named) */
	char notes[256];
	int ndisks;
	char disks[HV_MAX_DISKS][HV_PATH_MAX];	/* absolute paths */
	struct hv_disk_qos disk_qos[HV_MAX_DISKS];	/* disks[i]'s */
	int ndvds;
	char dvds[HV_MAX_DVDS][HV_PATH_MAX];	/* DVD drives on the VM's SCSI controller:
						   the ISO each holds, absolute; "" = empty */
	int nnics;
	struct hv_nic nics[HV_MAX_NICS];
	int64_t created;	/* unix time */
	/* runtime, kept by the worker; state is checked against the worker's
	   lock when read, so a dead worker shows as "Failed" */
	char state[16];		/* Off, Starting, Running, Paused, Failed */
	int pid;		/* the worker's, while it runs */
	int64_t started;	/* unix time the worker started */
	char last_exit[128];	/* why the VM last stopped */
};

/* --- context ----------------------------------------------------------- */

/* home NULL: $HV_HOME, else /var/lib/hv. Creates home, hv.conf, hv.db. */
int hv_open(struct hv_ctx **out, const char *home, struct hv_err *err);
void hv_close(struct hv_ctx *hv);
const struct hv_config *hv_config(const struct hv_ctx *hv);
/* resolve $HV_HOME / default without opening anything */
const char *hv_default_home(void);

/* --- values ------------------------------------------------------------ */

/* "512M", "2G", "1T", "1048576" (bytes), "1.5G"; -1 on a bad size */
int hv_parse_size(const char *s, uint64_t *out);
/* exact, shortest: 1073741824 -> "1G", 1536 MiB -> "1536M" */
void hv_format_size(uint64_t bytes, char *buf, size_t len);
/* 1..63 of [A-Za-z0-9._-], not starting with '-' or '.' */
bool hv_name_valid(const char *name, struct hv_err *err);
void hv_uuid_new(char out[HV_UUID_LEN]);
bool hv_uuid_like(const char *s);

/* --- virtual machines -------------------------------------------------- */

/* fill a definition with the host defaults from hv.conf */
void hv_vm_init(const struct hv_ctx *hv, struct hv_vm *vm);
/* value and cross-field rules; HV_EUSAGE/HV_EINVAL on a bad definition */
int hv_vm_validate(const struct hv_vm *vm, struct hv_err *err);
/* "dvd,disk,net": each of the three at most once, in the order to try;
   "" is the firmware's own */
int hv_boot_order_check(const char *s, struct hv_err *err);

int hv_vm_create(struct hv_ctx *hv, struct hv_vm *vm, struct hv_err *err);
int hv_vm_get(struct hv_ctx *hv, const char *name_or_uuid, struct hv_vm *vm,
	      struct hv_err *err);
/* *out is malloc'd, sorted by name */
int hv_vm_list(struct hv_ctx *hv, struct hv_vm **out, size_t *n,
	       struct hv_err *err);
/* replace the definition of `name` (generation and uuid must not change) */
int hv_vm_update(struct hv_ctx *hv, const char *name, const struct hv_vm *vm,
		 struct hv_err *err);
int hv_vm_delete(struct hv_ctx *hv, const char *name_or_uuid,
		 struct hv_err *err);
/* write / read a definition as a libconfig file */
int hv_vm_export(struct hv_ctx *hv, const char *name_or_uuid,
		 const char *path, struct hv_err *err);
/* new_name: register under another name; new_uuid: as a copy. A
   state.hvs beside the file (a whole export's) comes in with it: the VM
   is Saved, and hv_vm_start restores it */
int hv_vm_import(struct hv_ctx *hv, const char *path, const char *new_name,
		 bool new_uuid, struct hv_vm *vm, struct hv_err *err);

/* --- whole export (engine/vm-export.c; Hyper-V's Export-VM) ------------ */

struct hv_export_opts {
	bool memory;		/* a running VM's memory too (refused when Off) */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);	/* disk bytes */
	void *ctx;
};
struct hv_export_result {
	char path[HV_PATH_MAX];	/* DIR/NAME */
	bool live;		/* copied while it ran */
	bool state;		/* with its memory: state.hvs */
	int rounds;		/* live: copy-again rounds */
	uint64_t total_ms;
	uint64_t pause_us;	/* live: how long the VM stood still */
	uint64_t disk_bytes;	/* the copies' bytes on the host */
	uint64_t state_bytes;
};
/*
 * The VM into DIR/NAME/ (made; refused when it exists; DIR is made when
 * it ends in '/'): NAME.hvvm, its definition with the disks pointing at
 * disks/ (each disk copied in its format, VMDK as qcow2, a differencing
 * chain flattened), and state.hvs (a Saved VM's; a running VM's with
 * memory). A running VM is copied while it runs, stands still only for
 * the last blocks and its state, and runs on in its worker. On failure
 * DIR/NAME is gone.
 */
int hv_vm_export_dir(struct hv_ctx *hv, const char *name, const char *dir,
		     const struct hv_export_opts *o, struct hv_export_result *r,
		     struct hv_err *err);
int hv_vm_names(struct hv_ctx *hv, char ***names, size_t *n,
		struct hv_err *err);

/* --- running VMs (engine/lifecycle.c; each runs in its own hv-worker) -- */

/* start a detached worker; returns once the VM runs (or failed to) */
int hv_vm_start(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* turn off: the worker stops the VM at once */
int hv_vm_stop(struct hv_ctx *hv, const char *name, struct hv_err *err);
int hv_vm_pause(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* Save: the VM's state to HV_HOME/vms/NAME/state.hvs, the worker ends and
   the VM is Saved; hv_vm_start restores it, hv_vm_stop discards it */
int hv_vm_save(struct hv_ctx *hv, const char *name, struct hv_err *err);
int hv_vm_resume(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* ask the guest to shut down; wait up to timeout_s for it (0: don't
   wait); with force, turn it off when the time is up. 1 if it was
   turned off by force, 0 if the guest stopped by itself */
int hv_vm_shutdown(struct hv_ctx *hv, const char *name, int timeout_s,
		   bool force, struct hv_err *err);
/* a socket attached to the VM's serial console (raw bytes both ways);
   the backlog the worker kept arrives first */
int hv_vm_console(struct hv_ctx *hv, const char *name, int *fd,
		  struct hv_err *err);
/* one request to the worker; *reply is a malloc'd JSON line */
int hv_vm_request(struct hv_ctx *hv, const char *name, const char *json,
		  char **reply, struct hv_err *err);
/* --- live migration (engine/cluster/migrate.c) -------------------------- */

struct hv_migrate_opts {
	const char *to;			/* HOST[:PORT]; port: migration.port */
	uint64_t max_downtime_ms;	/* the last pass must fit (300) */
	bool storage;			/* copy the disks too (no shared storage) */
};
struct hv_migrate_progress {
	const char *phase;		/* "storage", "memory", "final" */
	int pass;
	uint64_t sent_bytes, remaining_bytes, rate, elapsed_ms;	/* rate: bytes/s */
};
struct hv_migrate_result {
	int passes;
	uint64_t total_ms, downtime_ms;
	uint64_t bytes, pages, zero_pages, disk_bytes;
	bool unconfirmed;	/* handed over, but the destination never said it runs */
};
typedef void (*hv_migrate_progress_fn)(void *ctx, const struct hv_migrate_progress *p);
typedef void (*hv_migrate_log_fn)(void *ctx, const char *line);
/*
 * Move a running VM to the host at o->to, which serves migrations
 * (hv_migrate_serve) and holds the same migration.secret. On success it
 * runs there and is gone from this inventory; on failure it runs here as
 * before, and nothing of it is left there.
 */
int hv_vm_migrate(struct hv_ctx *hv, const char *name, const struct hv_migrate_opts *o,
		  hv_migrate_progress_fn fn, void *ctx, struct hv_migrate_result *r,
		  struct hv_err *err);
/* take migrations on addr ("", ":PORT", "IP[:PORT]"); one, or forever */
int hv_migrate_serve(struct hv_ctx *hv, const char *addr, bool once, hv_migrate_log_fn log,
		     void *ctx, struct hv_err *err);

/* the last lines of the worker's log (for Failed VMs) */
int hv_vm_log_tail(struct hv_ctx *hv, const char *name, int lines,
		   char *buf, size_t len);
/* paths under HV_HOME for a VM's worker: "sock", "lock", "log", "console" */
int hv_vm_path(const struct hv_ctx *hv, const char *name, const char *what,
	       char *buf, size_t len);
/* for the worker: record its state in the inventory */
int hv_vm_set_runtime(struct hv_ctx *hv, const char *name, const char *state,
		      int pid, const char *last_exit, struct hv_err *err);

/* --- virtual switches (engine/switch.c; Linux bridges, engine/net/) ---- */

struct hv_switch {
	char name[HV_NAME_MAX];
	char type[16];		/* external, internal, private */
	char nic[64];		/* external: the physical NIC */
	char host_ip[64];	/* internal: the host's address, CIDR ("" none) */
	char bridge[16];	/* the Linux bridge behind it */
	int64_t created;	/* unix time */
	char state[16];		/* the bridge now: "up", "down", "missing" */
	bool vlans;		/* it filters VLANs (not on kernels without
				   CONFIG_BRIDGE_VLAN_FILTERING) */
	uint64_t bandwidth;	/* bits/s the switch carries, as given; 0: unknown */
	uint64_t capacity;	/* what minimum bandwidth is reserved out of:
				   bandwidth, else an external switch's uplink
				   speed now; 0: unknown, reserves not honoured */
};
/* check the definition, make the bridge (external: enslave nic and move
   its addresses and routes over; internal: give the host host_ip), then
   record it; on failure nothing is left behind. Fills bridge, created. */
int hv_switch_create(struct hv_ctx *hv, struct hv_switch *sw,
		     struct hv_err *err);
int hv_switch_get(struct hv_ctx *hv, const char *name, struct hv_switch *sw,
		  struct hv_err *err);
/* *out is malloc'd, sorted by name */
int hv_switch_list(struct hv_ctx *hv, struct hv_switch **out, size_t *n,
		   struct hv_err *err);
/* refused (HV_EBUSY) while any VM has a network adapter on it; deletes
   the bridge and gives an external switch's NIC its addresses back */
int hv_switch_delete(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* make the bridge again if it is missing (bridges do not outlive a host
   reboot): for whatever starts VMs; 0 if it is there */
int hv_switch_ensure(struct hv_ctx *hv, const char *name, struct hv_err *err);
/* a switch's capacity (as hv_switch.capacity) for a VM's worker at start:
   read from HV_HOME's inventory without hv_open(), which it has not yet */
int hv_switch_capacity(const char *home, const char *name, uint64_t *bits,
		       struct hv_err *err);

/* network adapters; each refused (HV_EBUSY) unless the VM is off.
   add: the switch must exist; an empty nic->mac gets a new random
   52:54:00:xx:xx:xx one (written back); returns the new slot.
   set: replaces adapter `slot` (an empty mac keeps the old one).
   remove: later adapters move up one slot. */
int hv_vm_nic_add(struct hv_ctx *hv, const char *vm, struct hv_nic *nic,
		  struct hv_err *err);
int hv_vm_nic_set(struct hv_ctx *hv, const char *vm, int slot,
		  const struct hv_nic *nic, struct hv_err *err);
int hv_vm_nic_remove(struct hv_ctx *hv, const char *vm, int slot,
		     struct hv_err *err);

/* network adapter values (engine/net/nic-values.c) */
/* one ACL rule: "allow|deny,in|out|both,remote=X[,local=Y]" where X, Y
   are "any", an IPv4/IPv6 address or prefix, or a MAC; HV_EUSAGE if bad */
int hv_acl_parse(const char *s, struct hv_acl *a, struct hv_err *err);
/* the canonical text hv_acl_parse takes back */
void hv_acl_format(const struct hv_acl *a, char *buf, size_t len);
/* bits/s with decimal K, M, G, T as Hyper-V counts: "100M" = 100000000;
   "1.5G", "10Mbps"; -1 on a bad value */
int hv_parse_bandwidth(const char *s, uint64_t *out);
/* exact, shortest: 100000000 -> "100M" */
void hv_format_bandwidth(uint64_t bps, char *buf, size_t len);
/* six hex pairs, unicast, not all zero */
bool hv_mac_valid(const char *mac, struct hv_err *err);
void hv_mac_random(char out[18]);
/* one adapter's value rules (hv_vm_validate runs them for each) */
int hv_nic_validate(const struct hv_nic *nic, struct hv_err *err);

/* --- DVD drives (engine/vm-dvd.c) -------------------------------------- */

/* A VM's DVD drives sit on its SCSI controller (virtio-scsi), drive N at
   target N; each is empty or holds an ISO image: a regular, readable file
   of whole 2048-byte sectors, stored by its absolute path. */

/* a new drive holding iso (NULL: empty); refused (HV_EBUSY) unless the VM
   is Off, and past HV_MAX_DVDS; *slot: the new drive's number */
/* 0 if path is an ISO image (a regular, readable file of whole 2048-byte
   sectors), its absolute path then in abs (HV_PATH_MAX bytes) */
int hv_iso_check(const char *path, char *abs, struct hv_err *err);

/* a Gen2 UEFI VM's variable store, HOME/vms/NAME/nvram.fd: its path, and
   the store itself, made from OVMF's template when the VM has none yet */
int hv_vm_nvram_path(const char *home, const char *name, char *buf, size_t len);
int hv_vm_nvram(const char *home, const char *name, char *path, size_t len, struct hv_err *err);
int hv_vm_dvd_add(struct hv_ctx *hv, const char *name, const char *iso, int *slot,
		  struct hv_err *err);
/* put iso into drive slot (NULL: eject), whatever the VM's state but
   Failed: while it runs (or is paused) its worker changes the medium
   first, and the guest sees a media change, also where it locked the
   drive (as Hyper-V's Set-VMDvdDrive: udev locks every loaded drive).
   The inventory follows only what the worker did. A Saved VM's guest
   sees the change when it is restored. */
int hv_vm_dvd_set(struct hv_ctx *hv, const char *name, int slot, const char *iso,
		  struct hv_err *err);
/* refused (HV_EBUSY) unless the VM is Off; later drives move down a slot */
int hv_vm_dvd_remove(struct hv_ctx *hv, const char *name, int slot, struct hv_err *err);
/* the worker's: the guest ejected drive slot's medium itself */
int hv_vm_dvd_guest_ejected(struct hv_ctx *hv, const struct hv_vm *vm, int slot,
			    struct hv_err *err);

/* --- dynamic memory policy (engine/dynmem.c) ---------------------------- */

struct hv_dynmem_state {
	uint64_t assigned;	/* memory the VM holds now */
	int calm;		/* seconds demand has wanted less */
};
/* one step a second: the memory to assign given the guest's demand and
   free memory (bytes); s->assigned starts at the startup memory */
uint64_t hv_dynmem_step(const struct hv_dynmem *dm, struct hv_dynmem_state *s,
			uint64_t demand, uint64_t guest_free);

/* --- metering (engine/metrics.c) ---------------------------------------- */

/* one adapter's traffic; drops by the reason the port's policy gave */
struct hv_port_counters {
	uint64_t rx_packets, rx_bytes;	/* to the VM */
	uint64_t tx_packets, tx_bytes;	/* from the VM */
	uint64_t drop_mac, drop_dhcp, drop_router, drop_acl, drop_vlan, drop_malformed;
	int64_t since, updated;		/* unix time: counting since, last added */
};
/* add what an adapter did since the last call (the worker does, every
   few seconds and when the VM stops) */
int hv_port_counters_add(struct hv_ctx *hv, const char *vm_uuid, int slot,
			 const struct hv_port_counters *delta, struct hv_err *err);
/* totals of VM slot; zeros (since 0) when it never sent or received */
int hv_port_counters_get(struct hv_ctx *hv, const char *vm, int slot,
			 struct hv_port_counters *out, struct hv_err *err);
/* start counting again, for every adapter of the VM */
int hv_port_counters_reset(struct hv_ctx *hv, const char *vm, struct hv_err *err);

/* resource use of a running VM, sampled by its worker every few seconds
   and when it stops (Hyper-V's Measure-VM). Counters are cumulative since
   that worker started (so they restart from zero with the next run) */
struct hv_vm_sample {
	int64_t time;		/* unix ms */
	int64_t started;	/* unix ms the worker started; 0: unknown */
	uint64_t cpu_ns;	/* CPU time of the worker, all its threads */
	uint64_t mem_assigned, mem_demand;	/* bytes, now; demand 0: unknown */
	uint64_t disk_read_bytes, disk_write_bytes;	/* summed over disks */
	uint64_t disk_ios;	/* read and write requests */
	uint64_t disk_normalized_ios;	/* in 8 KiB units, as storage QoS */
	uint64_t net_rx_bytes, net_tx_bytes;	/* summed over adapters */
};

/* Measure-VM's figures over a window of samples */
struct hv_vm_measure {
	size_t samples;
	int64_t first, last;	/* unix ms: the window's start (its first run's
				   worker start, else its first sample) and last sample */
	double seconds;		/* how long the VM ran in the window (the runs' spans) */
	double cpu_pct;		/* average; 100 = one host CPU busy */
	uint64_t mem_avg, mem_min, mem_max;	/* assigned memory */
	uint64_t demand_avg;	/* 0 when the guest never said */
	uint64_t disk_read_bytes, disk_write_bytes, disk_ios, disk_normalized_ios;
	double iops, normalized_iops;	/* averages over seconds */
	uint64_t net_rx_bytes, net_tx_bytes;
};

#define HV_SAMPLES_KEEP_MS	(24 * 3600 * 1000ll)	/* a VM's samples kept */

/* the worker's: record a sample (and forget the VM's samples older than
   HV_SAMPLES_KEEP_MS) */
int hv_vm_sample_add(struct hv_ctx *hv, const char *vm_uuid,
		     const struct hv_vm_sample *s, struct hv_err *err);
/* the VM's samples taken at since_ms or later, oldest first; *out is
   malloc'd (NULL when there are none) */
int hv_vm_samples(struct hv_ctx *hv, const char *vm, int64_t since_ms,
		  struct hv_vm_sample **out, size_t *n, struct hv_err *err);
/* forget all of a VM's samples */
int hv_vm_samples_reset(struct hv_ctx *hv, const char *vm, struct hv_err *err);
/* the averages over the samples taken at since_ms or later */
int hv_vm_measure(struct hv_ctx *hv, const char *vm, int64_t since_ms,
		  struct hv_vm_measure *out, struct hv_err *err);
/* the same over samples in memory, oldest first (pure: unit-tested). A
   sample whose counters went down, or whose worker start differs, begins
   a new run; each run counts from its worker's start when that lies at
   or after since_ms, else from its first sample; runs are added up. */
void hv_measure_compute(const struct hv_vm_sample *s, size_t n, int64_t since_ms,
			struct hv_vm_measure *out);

/* --- checkpoints (engine/checkpoint.c; Hyper-V's, of Off or Saved VMs) - */

#define HV_CHECKPOINT_NAME_MAX	128	/* bytes with the NUL */

struct hv_checkpoint {
	char uuid[HV_UUID_LEN];
	char name[HV_CHECKPOINT_NAME_MAX];
	char parent[HV_UUID_LEN];	/* the parent checkpoint's; "" at the root */
	int64_t created;		/* unix time */
	bool saved;			/* it holds the VM's memory (a saved state) */
	bool now;			/* the VM's current state hangs below it */
	int ndisks;
	char disks[HV_MAX_DISKS][HV_PATH_MAX];	/* the images it froze */
};

/* name NULL or "": "VM - YYYY-MM-DD HH:MM:SS". Each of the VM's disks
   (VHDX, VHD, qcow2) gets a differencing child the VM then writes to; a
   Saved VM's state file is copied into the checkpoint. The VM must be
   Off or Saved. Fills *out when not NULL. */
int hv_checkpoint_create(struct hv_ctx *hv, const char *vm, const char *name,
			 struct hv_checkpoint *out, struct hv_err *err);
/* the VM's checkpoints, parents before their children; *out is malloc'd */
int hv_checkpoint_list(struct hv_ctx *hv, const char *vm,
		       struct hv_checkpoint **out, size_t *n, struct hv_err *err);
/* back to checkpoint `name` (name or UUID): what the VM wrote since is
   discarded; the VM is Saved if the checkpoint holds a state, else Off */
int hv_checkpoint_apply(struct hv_ctx *hv, const char *vm, const char *name,
			struct hv_err *err);
/* forget a checkpoint; its disks are merged when the VM's current state
   depends on them. Refused (HV_EBUSY) for one with checkpoints below it */
int hv_checkpoint_delete(struct hv_ctx *hv, const char *vm, const char *name,
			 struct hv_err *err);

/* --- events ------------------------------------------------------------ */

struct hv_event {
	int64_t time;
	char object[HV_NAME_MAX];
	char message[256];
};
int hv_event_add(struct hv_ctx *hv, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int hv_event_list(struct hv_ctx *hv, int limit, struct hv_event **out,
		  size_t *n, struct hv_err *err);

#endif
