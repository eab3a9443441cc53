/* shell.h - the parts of the hv shell main() ties together. */
#ifndef HV_SHELL_H
#define HV_SHELL_H

#include "shell/cmd.h"

/* script.c */
enum cmd_ret script_run(struct cmd_ctx *ctx, const char *path);
/* the same from an open stream; name is what errors call it (NULL:
   errors read as for one command) */
enum cmd_ret script_run_stream(struct cmd_ctx *ctx, FILE *f, const char *name);
/* console.c */
enum cmd_ret console_attach(struct cmd_ctx *ctx, const char *name);
/* cmd-vm-nic.c: `hv vm nic add|set|remove|list`, and adapters for vm show */
extern const struct cmd_opt cmd_vm_nic_opts[];
enum cmd_ret cmd_vm_nic(struct cmd_ctx *ctx, const struct cmd_args *a);
/* cmd-vm-disk.c: `hv vm disk set|list` (storage QoS), and for vm show */
extern const struct cmd_opt cmd_vm_disk_opts[];
enum cmd_ret cmd_vm_disk(struct cmd_ctx *ctx, const struct cmd_args *a);
struct cJSON *cmd_disk_json(const struct hv_vm *vm, int slot);
void cmd_disk_qos_text(const struct hv_disk_qos *q, char *buf, size_t len);
/* cmd-vm-dvd.c: `hv vm dvd add|set|remove|list`, and drives for vm show */
extern const struct cmd_opt cmd_vm_dvd_opts[];
enum cmd_ret cmd_vm_dvd(struct cmd_ctx *ctx, const struct cmd_args *a);
struct cJSON *cmd_dvd_json(const struct hv_vm *vm, int slot);
void cmd_dvd_print(FILE *f, const struct hv_vm *vm);
/* cmd-vm-metrics.c */
extern const struct cmd_opt cmd_vm_metrics_opts[];
enum cmd_ret cmd_vm_metrics(struct cmd_ctx *ctx, const struct cmd_args *a);
extern const struct cmd_opt cmd_vm_migrate_opts[];
enum cmd_ret cmd_vm_migrate(struct cmd_ctx *ctx, const struct cmd_args *a);
struct cJSON *cmd_nic_json(const struct hv_nic *nic, int slot);
void cmd_nic_print(FILE *f, const struct hv_vm *vm);
/* repl.c */
enum cmd_ret repl_run(struct cmd_ctx *ctx);
/* tui/tui.c: `hv tui` */
enum cmd_ret tui_main(struct cmd_ctx *ctx, int argc, char **argv);

#endif
