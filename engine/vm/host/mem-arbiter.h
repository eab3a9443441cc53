/*
 * mem-arbiter.h - a running VM's memory each second (dynamic memory, the
 * host's budget by priority, smart paging); see mem-arbiter.c.
 */
#ifndef HV_VM_MEM_ARBITER_H
#define HV_VM_MEM_ARBITER_H

#include <stdbool.h>

#include "engine/hv.h"
#include "engine/vm/vmm.h"

struct mem_arbiter;
struct cJSON;

/* before vmm_create: RAM and balloon for dynamic memory, and smart paging
   (cfg->page_*) when budget (bytes, 0: none) cannot give the startup memory */
int mem_arbiter_open(struct mem_arbiter **out, const char *home,
		     const struct hv_vm *vm, uint64_t budget,
		     struct vmm_config *cfg, struct hv_err *err);
/* smart paging in use: how much, in which file */
bool mem_arbiter_paging(const struct mem_arbiter *a, uint64_t *bytes,
			const char **file);
/* each second; event gets a line worth logging when something changed */
int mem_arbiter_tick(struct mem_arbiter *a, struct vmm *vmm, char *event,
		     size_t len);
struct cJSON *mem_arbiter_json(struct mem_arbiter *a, struct vmm *vmm);
void mem_arbiter_close(struct mem_arbiter *a);

#endif
