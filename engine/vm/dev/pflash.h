/*
 * pflash.h - a CFI flash (Intel command set, the subset OVMF's
 * QemuFlashFvbServicesRuntimeDxe uses) holding a Gen2 VM's UEFI
 * variables: the VM's own copy of OVMF_VARS, mapped just below the
 * firmware's code. Reads go straight to the file's pages; writes come
 * here as commands; what the firmware programs lands in the file, so boot
 * entries and variables outlive the VM.
 */
#ifndef HV_VM_PFLASH_H
#define HV_VM_PFLASH_H

#include "engine/vm/vmm-int.h"

#define PFLASH_BLOCK	4096u	/* OVMF's PcdOvmfFirmwareBlockSize */
#define PFLASH_CMD_PROGRAM	0x10
#define PFLASH_STATUS_READY	0x80

struct pflash;

/* map the file at path (its size a multiple of PFLASH_BLOCK) at gpa */
int pflash_create(struct vmm *vm, const char *path, uint64_t gpa, struct hv_err *err);
void pflash_destroy(struct pflash *f);

/* the command state (the contents are the file): state/snapshot.c */
void pflash_save(struct pflash *f, struct snap_w *w);
int pflash_load(struct pflash *f, struct snap_r *r);

/* the command machine alone (no KVM), for the unit test and the fuzz
   target: a write of val at off of the array mem[len], and what a read
   at off gives while !romd */
struct pflash_cmd {
	uint8_t cmd, status;
	bool second;		/* the next write is the command's second cycle */
	bool romd;		/* reads see the array */
};
void pflash_cmd_write(struct pflash_cmd *c, uint8_t *mem, size_t len, uint64_t off, uint8_t val);
uint8_t pflash_cmd_read(const struct pflash_cmd *c, const uint8_t *mem, size_t len, uint64_t off);
void pflash_read_array(struct pflash_cmd *c);

#endif
