/*
 * mem-arbiter.c - a running VM's memory, as its worker manages it each
 * second: dynamic memory (the guest's demand from balloon statistics,
 * engine/dynmem.c's step, the balloon's target), the host's memory budget
 * shared with every other VM by priority, and smart paging.
 *
 * Why in each worker, against a shared table (engine/qos.h, domain
 * "memory"), and not in a daemon: hv has no daemon, VMs outlive any
 * front end, and each worker already wakes every second; the table and
 * its flock make the workers one balancer without anyone to start.
 * Priority becomes a weight of 2^(priority/5), so a higher priority is
 * served first almost strictly, as Hyper-V's memory weight is.
 *
 * Smart paging: when a VM starts and the budget cannot give its startup
 * memory, the shortfall (the top of its startup memory) is a shared
 * mapping of $HV_HOME/paging/NAME.paging; once the host grants the memory
 * the VM now holds, the file's data moves into memory and the file goes.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/qos.h"
#include "engine/vm/host/mem-arbiter.h"

struct mem_arbiter {
	struct hv_vm vm;
	uint64_t budget;
	struct qos *q;
	struct hv_dynmem_state dm;
	uint64_t demand, guest_free, grant;
	bool paging;
	char page_file[HV_PATH_MAX + 96];
};

static unsigned
weight_of(int priority)
{
	return 1u << (priority < 0 ? 0 : priority > 100 ? 20 : priority / 5);
}

/* what the VM holds at least, at most, and wants now */
static struct qos_claim
claim_of(const struct mem_arbiter *a, uint64_t want)
{
	const struct hv_vm *vm = &a->vm;
	struct qos_claim c = { vm->memory, vm->memory, weight_of(vm->dm.priority), vm->memory };

	if (vm->dm.enabled) {
		c.reserve = vm->dm.minimum;
		c.limit = vm->dm.maximum;
		c.demand = want;
	}
	return c;
}

int
mem_arbiter_open(struct mem_arbiter **out, const char *home, const struct hv_vm *vm,
		 uint64_t budget, struct vmm_config *cfg, struct hv_err *err)
{
	struct mem_arbiter *a = calloc(1, sizeof *a);
	struct qos_claim c;
	uint64_t grant, need;
	char dir[HV_PATH_MAX + 16];

	*out = NULL;
	if (a == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	a->vm = *vm;
	a->budget = budget;
	a->dm.assigned = vm->memory;
	*out = a;
	if (vm->dm.enabled) {
		/* RAM is the maximum; the balloon holds what startup leaves */
		cfg->mem_bytes = vm->dm.maximum;
		cfg->balloon = true;	/* also to go below the startup memory */
		cfg->balloon_bytes = vm->dm.maximum - vm->memory;
	}
	if (budget == 0)
		return 0;
	if (qos_join(&a->q, home, "memory", vm->uuid, err) != 0)
		return -1;
	c = claim_of(a, vm->memory);
	grant = a->grant = qos_update(a->q, budget, &c);
	if (grant >= vm->memory)
		return 0;
	/* smart paging: the top of the startup memory on disk for now */
	need = (vm->memory - grant + HV_MEM_ALIGN - 1) / HV_MEM_ALIGN * HV_MEM_ALIGN;
	snprintf(dir, sizeof dir, "%s/paging", home);
	mkdir(dir, 0700);
	snprintf(a->page_file, sizeof a->page_file, "%s/%s.paging", dir, vm->name);
	cfg->page_file = a->page_file;
	cfg->page_offset = vm->memory - need;
	cfg->page_bytes = need;
	a->paging = true;
	return 0;
}

bool
mem_arbiter_paging(const struct mem_arbiter *a, uint64_t *bytes, const char **file)
{
	if (a == NULL || !a->paging)
		return false;
	*bytes = (a->vm.memory - a->grant + HV_MEM_ALIGN - 1) / HV_MEM_ALIGN * HV_MEM_ALIGN;
	*file = a->page_file;
	return true;
}

/* what the guest uses: its total less what it has free, less the
   balloon where the total still holds it. Linux takes ballooned pages
   out of MemTotal unless DEFLATE_ON_OOM was negotiated; then they stay
   in, as used memory (the real Debian server's demand was its balloon
   plus what it used, and its memory never came down). Which way a guest
   counts shows in the numbers: a total without the balloon can never
   exceed the VM's RAM less the balloon it held when it counted (not the
   balloon now: it may have moved since, and the probe guest's numbers
   then looked like Linux's). */
static bool
guest_demand(const struct vmm_balloon_info *b, uint64_t ram, uint64_t *demand, uint64_t *avail)
{
	unsigned tag = b->stats_seen & 1u << VMM_BS_AVAIL ? VMM_BS_AVAIL : VMM_BS_MEMFREE;
	uint64_t total = b->stats[VMM_BS_MEMTOT], used;

	if (!(b->stats_seen & 1u << VMM_BS_MEMTOT) || !(b->stats_seen & 1u << tag))
		return false;
	*avail = b->stats[tag];
	used = total > *avail ? total - *avail : 0;
	if (total + b->stats_actual > ram)
		used = used > b->stats_actual ? used - b->stats_actual : 0;
	*demand = used;
	return true;
}

int
mem_arbiter_tick(struct mem_arbiter *a, struct vmm *vmm, char *event, size_t len)
{
	const struct hv_vm *vm = &a->vm;
	struct vmm_balloon_info b;
	struct qos_claim c;
	uint64_t want = vm->memory, holds = vm->memory;
	bool steered = false;
	struct hv_err err;

	event[0] = '\0';
	if (vm->dm.enabled) {
		vmm_balloon_info(vmm, &b);
		vmm_balloon_ask_stats(vmm);	/* for the next tick */
		/* a guest without a balloon driver keeps its startup memory */
		steered = b.driver_ok && guest_demand(&b, vm->dm.maximum, &a->demand, &a->guest_free);
		if (steered)
			want = hv_dynmem_step(&vm->dm, &a->dm, a->demand, a->guest_free);
		holds = vm->dm.maximum - (b.actual_bytes < vm->dm.maximum ? b.actual_bytes : 0);
	}
	if (a->q != NULL) {
		c = claim_of(a, want);
		a->grant = qos_update(a->q, a->budget, &c);
		if (steered && a->grant < want) {
			want = a->grant > vm->dm.minimum ? a->grant / HV_MEM_ALIGN * HV_MEM_ALIGN :
			       vm->dm.minimum;
			a->dm.assigned = want;	/* the next step starts from here */
		}
	}
	if (steered)
		vmm_balloon_set(vmm, vm->dm.maximum - want);
	/* the host can hold what the VM has now: paging is over */
	if (a->paging && a->grant >= holds) {
		if (vmm_unpage(vmm, &err) != 0) {
			snprintf(event, len, "smart paging: %s", err.msg);
			return -1;
		}
		a->paging = false;
		snprintf(event, len, "smart paging over: the VM's memory is all in RAM again");
	}
	return 0;
}

cJSON *
mem_arbiter_json(struct mem_arbiter *a, struct vmm *vmm)
{
	const struct hv_vm *vm = &a->vm;
	struct vmm_balloon_info b;
	cJSON *m = cJSON_CreateObject();
	uint64_t ram = vm->dm.enabled ? vm->dm.maximum : vm->memory;

	vmm_balloon_info(vmm, &b);
	/* assigned: RAM less what the guest gave the balloon */
	cJSON_AddNumberToObject(m, "assigned", (double)(ram - (b.actual_bytes < ram ? b.actual_bytes : 0)));
	cJSON_AddNumberToObject(m, "demand", b.present && b.stats_age_ms >= 0 ? (double)a->demand : 0);
	cJSON_AddNumberToObject(m, "target", vm->dm.enabled ? (double)a->dm.assigned : (double)ram);
	cJSON_AddNumberToObject(m, "guest_free", (double)a->guest_free);
	cJSON_AddNumberToObject(m, "host_grant", a->q != NULL ? (double)a->grant : 0);
	cJSON_AddBoolToObject(m, "smart_paging", a->paging);
	cJSON_AddNumberToObject(m, "balloon_target", (double)b.target_bytes);
	cJSON_AddNumberToObject(m, "balloon_actual", (double)b.actual_bytes);
	cJSON_AddNumberToObject(m, "released_bytes", (double)b.released_bytes);
	cJSON_AddBoolToObject(m, "balloon_driver", b.driver_ok);
	return m;
}

void
mem_arbiter_close(struct mem_arbiter *a)
{
	if (a == NULL)
		return;
	qos_leave(a->q);
	free(a);
}
