# numashadow - build, test, install.
#
#   make deps              install build and test dependencies (Debian, root)
#   make                   build/libnumashadow.so and build/numashadow
#   make check-tests       the tests, and the test build: build/test/ holds
#                          the library with runtime/corrupt.c (what
#                          NUMASHADOW_TEST_CORRUPT damages) and a copy of
#                          numashadow that finds it next to itself
#   make test              unit tests (plain and sanitized), integration
#                          tests and the 2-node VM tests; one summary line
#   make test SAN=thread   the sanitized unit build uses that sanitizer
#                          (address [default, with undefined], undefined, thread)
#   make vmtest            only the tests that run in the NUMA guest
#   make fuzz              the fuzzers (tests/fuzz), FUZZ_SECONDS each (600)
#   make bench             host benchmarks; make bench-vm for the 2-node ones
#                          and the NUMA ones (make bench-numa: those alone)
#   make install PREFIX=/usr/local DESTDIR=
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
SAN       ?= address
B         := build

CC        ?= gcc
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror
BASEFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Iruntime $(WARN) \
	     -DNS_VERSION=\"$(VERSION)\"
LIBFLAGS  := $(BASEFLAGS) -fPIC -fvisibility=hidden -fno-stack-protector \
	     -ftls-model=initial-exec

ifeq ($(SAN),address)
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
else ifeq ($(SAN),undefined)
SANFLAGS  := -fsanitize=undefined -fno-sanitize-recover=undefined
else ifeq ($(SAN),thread)
SANFLAGS  := -fsanitize=thread
else
$(error SAN must be one of: address, undefined, thread (got '$(SAN)'))
endif

# runtime/corrupt.c, the test-only damage, goes into build/test/'s library
# only: never into the shipped one, nor the unit tests and fuzzers.
TEST_SRC  := runtime/corrupt.c
RT_SRC    := $(filter-out $(TEST_SRC),$(sort $(wildcard runtime/*.c)))
IP_SRC    := $(sort $(wildcard interpose/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
RT_OBJ    := $(RT_SRC:%.c=$(B)/obj/%.o)
IP_OBJ    := $(IP_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/obj/%.o)
RT_SANOBJ := $(RT_SRC:%.c=$(B)/san-$(SAN)/%.o)

UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
UNIT_SAN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit-$(SAN)/%)
INT_SRC   := $(sort $(wildcard tests/integration/*.c))
INT_BIN   := $(INT_SRC:tests/integration/%.c=$(B)/tests/integration/%)
INT_SH    := $(sort $(wildcard tests/integration/*.sh))
PROG_SRC  := $(sort $(wildcard tests/progs/*.c))
PROG_BIN  := $(PROG_SRC:tests/progs/%.c=$(B)/tests/progs/%)
VM_SH     := $(sort $(wildcard tests/vm/*.sh))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
# bench/numa: NUMA workloads and their driver, numa_vm, run by bench-vm in a
# 2- and a 4-node guest; numactl goes in with them when the host has it.
NUMA_SRC  := $(sort $(wildcard bench/numa/*.c))
NUMA_BIN  := $(NUMA_SRC:bench/numa/%.c=$(B)/bench/numa/%)
NUMACTL   := $(shell command -v numactl 2>/dev/null)

TESTFLAGS := $(BASEFLAGS) -Itests -DNS_BUILD_DIR=\"$(CURDIR)/$(B)\"

# Fuzzers (tests/fuzz): libFuzzer harnesses, clang with ASan and UBSan, the
# runtime and tools/trace.c built again for them.  Without libFuzzer (make
# deps installs it) they are not built and their tests skip.
FUZZ_CC   ?= clang
FUZZFLAGS := -O1 -g $(BASEFLAGS) -Itools -fno-omit-frame-pointer \
	     -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OK   := $(wildcard $(shell $(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-$(shell uname -m).a)
FUZZ_RT   := $(RT_SRC:%.c=$(B)/fuzz/obj/%.o)
FUZZ_BIN  := $(if $(FUZZ_OK),$(B)/tests/fuzz/trace $(B)/tests/fuzz/ctl)
FUZZ_SH   := tests/fuzz/trace.sh tests/fuzz/ctl.sh
FUZZ_SECONDS ?= 600

.SECONDARY:
.PHONY: all deps test vmtest unit bench bench-vm bench-numa install clean check-tests demo fuzz
all: $(B)/libnumashadow.so $(B)/numashadow $(B)/numashadow-vm

$(B)/numashadow-vm: tools/numashadow-vm
	@mkdir -p $(B)
	install -m 755 $< $@

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	  gcc make libc6-dev pkg-config libnuma-dev \
	  libcmocka-dev qemu-system-x86 busybox-static cpio numactl libcap2-bin \
	  python3 git sqlite3 ca-certificates clang libclang-rt-dev \
	  chromium binutils

$(B)/obj/%.o: %.c $(wildcard runtime/*.h runtime/*.def interpose/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIBFLAGS) -c $< -o $@

LINK_LIB   = $(CC) -shared -o $@ $(filter %.o,$^) \
	  -Wl,--version-script=interpose/libnumashadow.map -Wl,-z,now \
	  -ldl -lpthread
$(B)/libnumashadow.so: $(RT_OBJ) $(IP_OBJ) interpose/libnumashadow.map Makefile
	$(LINK_LIB)
# The test build: the same objects plus corrupt.o, and the command copied
# beside it (it looks for the library next to its resolved path, so a
# symbolic link would find the shipped one).
$(B)/test/libnumashadow.so: $(RT_OBJ) $(IP_OBJ) $(TEST_OBJ) interpose/libnumashadow.map Makefile
	@mkdir -p $(dir $@)
	$(LINK_LIB)
$(B)/test/numashadow: $(B)/numashadow
	@mkdir -p $(dir $@)
	cp -f $< $@

$(B)/numashadow: $(TOOL_SRC) $(wildcard tools/*.h include/*.h runtime/settings.*)
	@mkdir -p $(B)
	$(CC) $(CFLAGS) $(BASEFLAGS) -Itools -DNS_PREFIX=\"$(PREFIX)\" -o $@ $(TOOL_SRC)

# Unit tests link the runtime model directly, plain and sanitized.
$(B)/san-$(SAN)/%.o: %.c $(wildcard runtime/*.h runtime/*.def include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@
$(B)/tests/unit/%: tests/unit/%.c $(RT_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) -o $@ $< $(RT_OBJ) -lcmocka -ldl -lpthread
$(B)/tests/unit-$(SAN)/%: tests/unit/%.c $(RT_SANOBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) $(SANFLAGS) -o $@ $< $(RT_SANOBJ) -lcmocka -ldl -lpthread

$(B)/fuzz/obj/%.o: %.c $(wildcard runtime/*.h runtime/*.def include/*.h tools/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
# Small chunks and caps (processes; the report's mappings, pages, heatmap
# events, sites and durations): small inputs reach them all (tools/).
FUZZ_TOOLS := $(B)/fuzz/obj/tools/trace.o $(B)/fuzz/obj/tools/report_html.o \
	$(B)/fuzz/obj/tools/report_sites.o $(B)/fuzz/obj/tools/markup.o
$(FUZZ_TOOLS): FUZZFLAGS += -DTR_CHUNK=4 -DTR_MAX_PROCS=32u -DRP_MAX_MAPS=8u \
	-DRP_MAX_PAGES=64u -DRP_MAX_EVENTS=16u -DRP_MAX_SITES=8u -DRP_MAX_LAT=16u
$(B)/tests/fuzz/trace: tests/fuzz/fuzz_trace.c $(FUZZ_TOOLS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
$(B)/tests/fuzz/ctl: tests/fuzz/fuzz_ctl.c $(FUZZ_RT)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ -ldl -lpthread

$(B)/tests/integration/%: tests/integration/%.c $(wildcard tests/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) -o $@ $< -ldl -lpthread -lnuma
# -rdynamic: site rules name the programs' own functions, found by dladdr().
$(B)/tests/progs/%: tests/progs/%.c $(wildcard tests/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) -rdynamic -o $@ $< -ldl -lpthread -lnuma
$(B)/bench/%: bench/%.c $(wildcard bench/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) -o $@ $< -ldl -lpthread -lnuma
$(B)/bench/numa/%: bench/numa/%.c $(wildcard bench/*.h bench/numa/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TESTFLAGS) -Ibench -o $@ $< -ldl -lpthread -lnuma

# The quick start's main job: a NUMA workload in a 2-node guest, moved from
# node 0 to node 1 half a second in, verified, with before/after counts.
demo: all $(B)/tests/progs/workload
	$(B)/numashadow vm --nodes 2 -- $(B)/numashadow run --verify --report \
	  --migrate-after 0.5:1 -- $(B)/tests/progs/workload 32 4

check-tests: all $(B)/test/libnumashadow.so $(B)/test/numashadow $(UNIT_BIN) $(UNIT_SAN) $(INT_BIN) $(PROG_BIN) $(FUZZ_BIN)

test: check-tests
	@tests/run.sh $(UNIT_BIN) $(UNIT_SAN) $(INT_BIN) $(INT_SH) $(FUZZ_SH) $(VM_SH)

unit: $(UNIT_BIN) $(UNIT_SAN)
	@tests/run.sh $(UNIT_BIN) $(UNIT_SAN)

vmtest: check-tests
	@tests/run.sh $(VM_SH)

fuzz: $(FUZZ_BIN)
	$(if $(FUZZ_OK),,$(error make fuzz needs libFuzzer: clang and libclang-rt-dev (make deps)))
	@NS_FUZZ_SECONDS=$(FUZZ_SECONDS) NS_FUZZ_KEEP=1 \
	  tests/run.sh -t $$(($(FUZZ_SECONDS) + 60)) $(FUZZ_SH)

bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do case $$b in *_vm) ;; *) $$b || exit 1;; esac; done

# bench-vm: the *_vm benchmarks in a 2-node guest, then bench-numa.
bench-vm: all $(BENCH_BIN) $(NUMA_BIN)
	@for b in $(filter %_vm,$(BENCH_BIN)); do \
	  $(B)/numashadow vm --nodes 2 -- $$b || exit 1; done
	@$(MAKE) --no-print-directory bench-numa

# The NUMA benchmarks (bench/numa) in a 2- and a 4-node guest, each guest's
# output kept in build/bench/numa/N.out; then, on the host, the tables side
# by side and build/bench/numa/WORKLOAD.svg.
bench-numa: all $(NUMA_BIN)
	@for n in 2 4; do \
	  { $(B)/numashadow vm --nodes $$n --timeout 900 \
	      $(foreach f,$(filter-out %/numa_vm,$(NUMA_BIN)) $(NUMACTL),--file $(f)) \
	      -- $(B)/bench/numa/numa_vm; echo $$? > $(B)/bench/numa/$$n.status; } | \
	    tee $(B)/bench/numa/$$n.out; \
	  [ "$$(cat $(B)/bench/numa/$$n.status)" = 0 ] || exit 1; done
	@$(B)/bench/numa/numa_vm --chart $(B)/bench/numa $(B)/bench/numa/2.out $(B)/bench/numa/4.out

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/lib/numashadow
	install -m 755 $(B)/libnumashadow.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/numashadow $(DESTDIR)$(PREFIX)/bin/
	install -m 755 tools/numashadow-vm $(DESTDIR)$(PREFIX)/lib/numashadow/
	install -m 644 include/numashadow.h include/numashadow_trace.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/numashadow.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  numashadow.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/numashadow.pc

clean:
	rm -rf $(B)
