/*
 * fw_cfg.h - QEMU's firmware configuration interface, the way SeaBIOS
 * reads it: a 16-bit selector at port 0x510, data bytes at 0x511, items
 * by key (signature, RAM size, CPU count, ...) and named files listed in
 * a directory (etc/e820, the ACPI tables and their etc/table-loader
 * script, boot settings). Traditional port access only (no DMA).
 */
#ifndef HV_VM_FW_CFG_H
#define HV_VM_FW_CFG_H

#include "engine/vm/vmm-int.h"

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_UUID		0x02
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NB_CPUS		0x05
#define FW_CFG_MAX_CPUS		0x0f
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_FILE_FIRST	0x20
#define FW_CFG_IRQ0_OVERRIDE	0x8002

#define FW_CFG_MAX_ITEMS	48
#define FW_CFG_NAME_LEN		56

struct fw_cfg;

int fw_cfg_init(struct vmm *vm, struct hv_err *err);
void fw_cfg_free(struct vmm *vm);
/* copy len bytes as item key; -1 when full or out of memory */
int fw_cfg_add(struct vmm *vm, uint16_t key, const void *data, size_t len);
/* a named file (name < 56 bytes); the directory follows */
int fw_cfg_add_file(struct vmm *vm, const char *name, const void *data,
		    size_t len);

/* the guest's state (state/snapshot.c, with snap-io.h); load: 0, or -1
   when the payload does not fit */
void fw_cfg_save(struct fw_cfg *f, struct snap_w *w);
int fw_cfg_load(struct fw_cfg *f, struct snap_r *r);

#endif
