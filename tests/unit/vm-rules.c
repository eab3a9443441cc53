/* vm-rules.c - hv_vm_validate's value and cross-field rules, and the
 * inventory's schema versioning (forward migration, newer refused). */
#include <stdlib.h>
#include <unistd.h>
#include <sqlite3.h>

#include "engine/hv.h"
#include "tests/tap.h"

static struct hv_vm
base(void)
{
	struct hv_vm vm;

	memset(&vm, 0, sizeof vm);
	snprintf(vm.name, sizeof vm.name, "t");
	vm.generation = 2;
	vm.vcpus = 1;
	vm.memory = HV_GIB;
	vm.dm.minimum = 512 * HV_MIB;
	vm.dm.maximum = 4 * HV_GIB;
	vm.dm.buffer = 20;
	vm.dm.priority = 50;
	return vm;
}

#define BAD(expr, why) do {						\
	struct hv_vm v_ = base(), *bvm = &v_;				\
	struct hv_err e_;						\
	expr;								\
	int rc_ = hv_vm_validate(bvm, &e_);				\
	ok(rc_ != 0 && e_.code == HV_EUSAGE, "rejected: %s (%s)", why,	\
	   rc_ ? e_.msg : "accepted");					\
} while (0)

int
main(void)
{
	struct hv_vm vm = base();
	struct hv_err err;
	struct hv_ctx *hv;
	char dir[] = "/tmp/hv-unit.XXXXXX", cmd[256];
	sqlite3 *db;

	ok(hv_vm_validate(&vm, &err) == 0, "a plain definition is valid");
	vm.dm.enabled = true;
	ok(hv_vm_validate(&vm, &err) == 0, "minimum <= startup <= maximum is valid");

	BAD(bvm->dm.enabled = true; bvm->dm.minimum = 2 * HV_GIB, "minimum above startup");
	BAD(bvm->dm.enabled = true; bvm->dm.maximum = 512 * HV_MIB, "startup above maximum");
	BAD(bvm->dm.buffer = 4, "buffer 4%");
	BAD(bvm->dm.buffer = 2001, "buffer 2001%");
	BAD(bvm->dm.priority = 101, "priority 101");
	BAD(bvm->memory = HV_GIB + HV_MIB, "memory not a multiple of 2M");
	BAD(bvm->memory = 16 * HV_MIB, "memory below 32M");
	BAD(bvm->generation = 3, "generation 3");
	BAD(bvm->vcpus = 0, "0 vCPUs");
	BAD(bvm->generation = 1; snprintf(bvm->kernel, sizeof bvm->kernel, "/k"), "kernel on gen 1");
	BAD(snprintf(bvm->firmware, sizeof bvm->firmware, "/f"), "firmware on gen 2");
	BAD(snprintf(bvm->name, sizeof bvm->name, "a b"), "name with a space");
	BAD(bvm->ndisks = 2; snprintf(bvm->disks[0], HV_PATH_MAX, "/d"); snprintf(bvm->disks[1], HV_PATH_MAX, "/d"),
	    "the same disk twice");

	/* schema: a new home migrates to the current version */
	if (mkdtemp(dir) == NULL)
		return 1;
	ok(hv_open(&hv, dir, &err) == 0, "open a new home");
	hv_close(hv);
	snprintf(cmd, sizeof cmd, "%s/hv.db", dir);
	ok(sqlite3_open(cmd, &db) == SQLITE_OK, "inventory exists");
	/* a database from a newer hv is refused, not damaged */
	ok(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK,
	   "pretend a newer hv wrote it");
	sqlite3_close(db);
	ok(hv_open(&hv, dir, &err) != 0 && strstr(err.msg, "newer") != NULL,
	   "newer schema refused: %s", err.msg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
