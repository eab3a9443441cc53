# hv - build, test, run.  See README.md.
#
#   make          build/hv (and build/hv-worker once the VMM lands)
#   make check    deps + build + ASan/UBSan build + every TAP test (prove)
#   make run      deps + build + start hv on HV_HOME=./var
#   make bench    run bench/* (ratios against QEMU / qemu-img)

# build directory (parallel builds may use their own)
B	?= build
CC	?= cc
CLANG	?= clang
CSTD	 = -std=c11 -D_GNU_SOURCE
WARN	 = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS	?= -O2 -g
CPPFLAGS += -I. -MMD -MP
LIBS	 = -lsqlite3 -lconfig -lcjson -lreadline -lncursesw -lmnl -lpthread -lm -lz -lcrypto
ASAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# engine/vm/ is the machine core with its parts one folder down (dev/,
# boot/, state/, host/, worker/: engine/vm/README)
ENGINE_SRC := $(wildcard engine/*.c engine/disk/*.c engine/vm/*.c \
		engine/vm/*/*.c engine/net/*.c engine/cluster/*.c wizards/*.c)
ENGINE_SRC := $(filter-out engine/vm/worker/%.c,$(ENGINE_SRC))
# the worker that owns a running VM: its main loop and its control socket
WORKER_SRC := $(wildcard engine/vm/worker/*.c)
HV_SRC	   := $(wildcard shell/*.c tui/*.c)
UNIT_SRC   := $(wildcard tests/unit/*.c)

OBJ	   = $(patsubst %.c,$(B)/obj/%.o,$(1))
AOBJ	   = $(patsubst %.c,$(B)/asan/obj/%.o,$(1))

# the worker that owns a running VM, once the VMM is in the tree
WORKER	   := $(if $(wildcard engine/vm/worker/worker-main.c),hv-worker)

.PHONY: all asan check check-quick check-vm check-long check-fresh run bench deps clean fuzz realos linux-guest install-iso
# objects made on the way to a test binary are kept, not rebuilt each time
.SECONDARY:
all: $(B)/hv $(addprefix $(B)/,$(WORKER)) $(B)/vmm-run $(B)/until-line

# the probe guest and its host-side pattern tool (adds to all)
include tests/guest/guest.mk

# V=1 shows the whole compiler lines
Q	   = $(if $(V),,@)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),:,echo "  CC      $<")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

$(B)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),:,echo "  CC/ASAN $<")
	$(Q)$(CC) $(CSTD) $(WARN) -O1 -g $(ASAN) $(CPPFLAGS) -c $< -o $@

$(B)/libhv.a: $(call OBJ,$(ENGINE_SRC))
	@rm -f $@; ar rcs $@ $^

$(B)/asan/libhv.a: $(call AOBJ,$(ENGINE_SRC))
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^

# binaries are linked beside and renamed into place: a test (or a VM) that
# starts one while it is rebuilt gets the old or the new one, never half
$(B)/hv: $(call OBJ,$(HV_SRC)) $(B)/libhv.a
	$(CC) $(CFLAGS) -o $@.tmp $^ $(LIBS) && mv -f $@.tmp $@

$(B)/asan/hv: $(call AOBJ,$(HV_SRC)) $(B)/asan/libhv.a
	$(CC) -g $(ASAN) -o $@.tmp $^ $(LIBS) && mv -f $@.tmp $@

# --as-needed: a worker starts faster without the shell's libraries
$(B)/hv-worker: $(call OBJ,$(WORKER_SRC)) $(B)/libhv.a
	$(CC) $(CFLAGS) -Wl,--as-needed -o $@.tmp $^ $(LIBS) && mv -f $@.tmp $@

# one VM in one process, for tests and benchmarks (tests/tools/vmm-run.c)
$(B)/vmm-run: $(B)/obj/tests/tools/vmm-run.o $(B)/libhv.a
	$(CC) $(CFLAGS) -Wl,--as-needed -o $@ $^ $(LIBS)

# bench/vm's stopwatch (tests/tools/until-line.c)
$(B)/until-line: $(B)/obj/tests/tools/until-line.o
	$(CC) $(CFLAGS) -o $@ $^

$(B)/asan/hv-worker: $(call AOBJ,$(WORKER_SRC)) $(B)/asan/libhv.a
	$(CC) -g $(ASAN) -o $@.tmp $^ $(LIBS) && mv -f $@.tmp $@

$(B)/asan/tests/unit/%.t: $(B)/asan/obj/tests/unit/%.o $(B)/asan/libhv.a
	@mkdir -p $(@D)
	$(CC) -g $(ASAN) -o $@ $^ $(LIBS)

UNIT_T := $(patsubst tests/unit/%.c,$(B)/asan/tests/unit/%.t,$(UNIT_SRC))

# libFuzzer targets for every parser of outside input (clang); the disk
# engine is rebuilt with coverage for them. tests/fuzz.t runs them.
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_LIB   := engine/err.c $(wildcard engine/disk/*.c) engine/net/filter.c engine/vm/dev/scsi.c \
	      engine/vm/dev/pflash-cmd.c
FUZZ_T	   := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS  = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),:,echo "  CC/FUZZ $<")
	$(Q)$(CLANG) $(CSTD) $(WARN) -Wno-unused-command-line-argument $(FUZZ_FLAGS) $(CPPFLAGS) -c $< -o $@

$(B)/fuzz/fuzz-%: $(B)/fuzz/obj/tests/fuzz/fuzz-%.o $(patsubst %.c,$(B)/fuzz/obj/%.o,$(FUZZ_LIB))
	$(CLANG) -fsanitize=fuzzer,address,undefined -g -o $@ $^ -lpthread -lm -lz

fuzz: $(FUZZ_T)

# test tools (tests/tools/NAME.c -> $(B)/tools/NAME), ASan-built
TOOL_T := $(patsubst tests/tools/%.c,$(B)/tools/%,$(wildcard tests/tools/*.c))

$(B)/tools/%: $(B)/asan/obj/tests/tools/%.o $(B)/asan/libhv.a
	@mkdir -p $(@D)
	$(CC) -g $(ASAN) -o $@ $^ $(LIBS)

asan: $(B)/asan/hv $(addprefix $(B)/asan/,$(WORKER)) $(UNIT_T) $(FUZZ_T) $(TOOL_T)

deps:
	@scripts/deps.sh

# Test files that run VMs ("# lab: runs VMs") go last: tests/lab/prove-exec
# runs each one natively where this host has a usable /dev/kvm, else in a
# lab of its own (scripts/lab), the rest natively; one prove counts every
# assertion.
# "# lab: long" files (the busybox Linux guest, the real server's switch
# features, its other moves, dynamic memory and storage QoS: 5-15 minutes
# each in the lab) run in make check-long, not make check, to keep it near
# 45 minutes on 2 cores
LONG_T	   := $(shell grep -l '^\# lab: long' tests/*.t tests/tui/*.t)
VM_T	   := $(filter-out $(LONG_T),$(shell grep -l '^\# lab: runs VMs' tests/*.t tests/tui/*.t))
HOST_T	   := $(filter-out $(VM_T) $(LONG_T),$(wildcard tests/*.t tests/tui/*.t))
UNIT_VM_T  := $(filter $(B)/asan/tests/unit/vmm-%,$(UNIT_T))
UNIT_HOST_T := $(filter-out $(UNIT_VM_T),$(UNIT_T))
# The VM test files share one lab (HV_LAB_NAME), booted by the first and
# stopped at the end; a file whose lab died or hung gets a fresh one.
in_lab	    = lab=check.$$$$; HV_LAB_NAME=$$lab $(1); rc=$$?; \
	      scripts/lab stop --name $$lab; rm -rf build/lab/$$lab; exit $$rc
PROVE	    = HV=$(CURDIR)/$(B)/asan/hv prove --timer --exec tests/lab/prove-exec

# the real Debian server the tests/realos-*.t boot, built from the archive
# here, on the host (the lab has no network), cached in build/realos
realos: all
	@HV=$(CURDIR)/$(B)/hv tests/realos/build.sh $(B)/realos

# the Debian kernel + busybox initramfs tests/vm-linux.t boots (cached in
# build/linux-guest), also made here on the host for the same reason
linux-guest:
	@tests/linux-guest.sh $(B)/linux-guest

# the installer ISO tests/vm-install.t installs from (build/install)
install-iso: linux-guest
	@tests/install/build.sh $(B)/install

# The builds use every core (CI's two), and the real server's mmdebstrap
# (mostly the network) runs beside the ASan build.
JOBS	?= $(shell nproc)
BUILD	 = $(MAKE) --no-print-directory -j$(JOBS)

# The integration tests run the ASan/UBSan hv (HV=$(B)/asan/hv), one file
# after another: run beside the VM files (prove -j2), the host files slowed
# the lab 2-2.5 times (its TCG keeps both cores busy). What the VM files
# boot (the real server's mmdebstrap, mostly the network: 4-5 minutes)
# is built beside the host files instead; tests/lab/prove-exec makes the
# first VM file wait for it (HV_FIXTURES: its .rc and .log).
FIXTURES    = realos linux-guest install-iso
bg_fixtures = rm -f $(B)/fixtures.rc; { $(BUILD) $(FIXTURES) >$(B)/fixtures.log 2>&1; \
	      echo $$? >$(B)/fixtures.rc; } &
check: deps
	@$(BUILD) all
	@$(BUILD) asan
	@scripts/lab native || true
	@$(bg_fixtures)
	$(call in_lab,HV_FIXTURES=$(CURDIR)/$(B)/fixtures \
		$(PROVE) $(HOST_T) $(UNIT_HOST_T) $(VM_T) $(UNIT_VM_T))

# the inner loop: every test that runs no VM, natively
check-quick: deps
	@$(BUILD) all asan
	$(PROVE) $(HOST_T) $(UNIT_HOST_T)

# only the tests that run VMs (in labs where this host has no /dev/kvm)
check-vm: deps
	@$(BUILD) all
	@$(BUILD) asan $(FIXTURES)
	$(call in_lab,$(PROVE) $(VM_T) $(UNIT_VM_T))

# the long VM tests (LONG_T), in a lab of their own
check-long: deps
	@$(BUILD) all
	@$(BUILD) asan realos
	$(call in_lab,HV_LAB_MEM=8G $(PROVE) $(LONG_T))

# make check on a fresh minimal Debian (mmdebstrap), as CI's machines are
check-fresh:
	scripts/check-fresh

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	HV_HOME=$${HV_HOME:-$(CURDIR)/var} ./$(B)/hv

bench: deps all
	@for b in bench/*; do [ -x "$$b" ] && echo "== $$b" && "$$b"; done; true

clean:
	rm -rf build

-include $(shell find $(B) \( -path $(B)/fresh -o -path $(B)/lab \) -prune -o -name '*.d' -type f -print 2>/dev/null)
