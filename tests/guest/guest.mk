# tests/guest/guest.mk - the probe guest (included by the top Makefile).
# Freestanding, built by the host compiler; runs in ring 3 after a few
# ring-0 instructions (see tests/guest/entry.S and ../shared/PLATFORM.md).

GUEST_SRC    := $(wildcard tests/guest/*.c) $(filter-out tests/guest/bootsect.S,$(wildcard tests/guest/*.S))
GUEST_OBJ    := $(patsubst tests/guest/%,$(B)/guest/obj/%.o,$(GUEST_SRC))
GUEST_CFLAGS := -std=c11 $(WARN) -O2 -g -ffreestanding -nostdlib -static \
		-fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
		-fno-stack-protector -fno-asynchronous-unwind-tables \
		-fcf-protection=none -fno-tree-loop-distribute-patterns \
		-I. -MMD -MP

all: $(B)/guest/probe.elf $(B)/pattern

$(B)/guest/obj/%.c.o: tests/guest/%.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/obj/%.S.o: tests/guest/%.S
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/probe.elf: $(GUEST_OBJ) tests/guest/probe.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,tests/guest/probe.ld \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 \
		-o $@ $(GUEST_OBJ)

# host side of the pattern (tests/guest/pattern.h): write/check raw files
$(B)/pattern: tests/tools/pattern.c tests/guest/pattern.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -I. -o $@ $<

# Gen1 tests: an MBR boot sector SeaBIOS loads from a virtio-blk disk
all: $(B)/guest/bootsect.bin

$(B)/guest/bootsect.bin: tests/guest/bootsect.S
	@mkdir -p $(@D)
	$(CC) -m32 -c -o $(B)/guest/bootsect.o $<
	$(LD) -m elf_i386 -Ttext 0x7C00 --oformat binary -e _start -o $@ $(B)/guest/bootsect.o
