# hv - build, test, run.  See README.md.
#
#   make          build/hv (and build/hv-worker once the VMM lands)
#   make check    deps + build + ASan/UBSan build + every TAP test (prove)
#   make run      deps + build + start hv on HV_HOME=./var
#   make bench    run bench/* (ratios against QEMU / qemu-img)

CC	?= cc
CLANG	?= clang
CSTD	 = -std=c11 -D_GNU_SOURCE
WARN	 = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS	?= -O2 -g
CPPFLAGS += -I. -MMD -MP
LIBS	 = -lsqlite3 -lconfig -lcjson -lreadline -lncursesw -lpthread -lm
ASAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

ENGINE_SRC := $(wildcard engine/*.c engine/disk/*.c engine/vm/*.c \
		engine/net/*.c engine/cluster/*.c wizards/*.c)
ENGINE_SRC := $(filter-out engine/vm/worker-main.c,$(ENGINE_SRC))
HV_SRC	   := $(wildcard shell/*.c tui/*.c)
UNIT_SRC   := $(wildcard tests/unit/*.c)

OBJ	   = $(patsubst %.c,build/obj/%.o,$(1))
AOBJ	   = $(patsubst %.c,build/asan/obj/%.o,$(1))

.PHONY: all asan check run bench deps clean fuzz
all: build/hv

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

build/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -O1 -g $(ASAN) $(CPPFLAGS) -c $< -o $@

build/libhv.a: $(call OBJ,$(ENGINE_SRC))
	@rm -f $@; ar rcs $@ $^

build/asan/libhv.a: $(call AOBJ,$(ENGINE_SRC))
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^

build/hv: $(call OBJ,$(HV_SRC)) build/libhv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

build/asan/hv: $(call AOBJ,$(HV_SRC)) build/asan/libhv.a
	$(CC) -g $(ASAN) -o $@ $^ $(LIBS)

build/asan/tests/unit/%.t: build/asan/obj/tests/unit/%.o build/asan/libhv.a
	@mkdir -p $(@D)
	$(CC) -g $(ASAN) -o $@ $^ $(LIBS)

UNIT_T := $(patsubst tests/unit/%.c,build/asan/tests/unit/%.t,$(UNIT_SRC))

asan: build/asan/hv $(UNIT_T)

deps:
	@scripts/deps.sh

# The integration tests run the ASan/UBSan hv (HV=build/asan/hv).
check: deps
	@$(MAKE) --no-print-directory all asan
	HV=$(CURDIR)/build/asan/hv prove -r tests/ $(if $(UNIT_T),build/asan/tests/unit/)

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	HV_HOME=$${HV_HOME:-$(CURDIR)/var} ./build/hv tui || HV_HOME=$${HV_HOME:-$(CURDIR)/var} ./build/hv

bench: deps all
	@for b in bench/*; do [ -x "$$b" ] && echo "== $$b" && "$$b"; done; true

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
