# Tracekit -- build, test, demo and the original's compatibility targets.
#
#   make            build build/tracekit
#   make demo       install what is missing, build, trace a small workload
#   make test       install what is missing, build (plus an ASan/UBSan build), run all tests
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       FUZZ_SECONDS=60: every libFuzzer harness, then the end-to-end mutation test
#   V=1             print the full compiler commands (default: one short line per file)

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
# libnl's headers live in their own folder (the taskstats exit records, collect/taskstats.c).
NLINC   := $(shell pkg-config --cflags libnl-genl-3.0 2>/dev/null || echo -I/usr/include/libnl3)
CPPFLAGS += -D_GNU_SOURCE -Isrc $(NLINC)
LDLIBS   = -ljansson -lhiredis -lsnappy -lzstd -lnl-genl-3 -lnl-3 -lm -lpthread
# The collector's BPF backend (collect --backend bpf; src/collect/bpf/): measured and NOT
# kept (docs/benchmarks.md, "A BPF backend (#19)": 1.0-1.8x cheaper per sample than /proc,
# not the 3x it had to be), so it is left out of the build.  `make BPF=1 all benches`
# builds it to measure it again (scripts/install-deps bpf: clang, bpftool, libbpf-dev;
# the kernel's BTF).
BPFTOOL ?= $(firstword $(shell command -v bpftool 2>/dev/null) $(wildcard /usr/sbin/bpftool /sbin/bpftool))
BPF     ?= 0
ifeq ($(BPF),1)
CPPFLAGS += -DTK_HAVE_BPF -Ibuild/bpf
LDLIBS   += -lbpf -lelf -lz
BPFLIBS   = -lbpf -lelf -lz
endif
# Quiet build lines ("  CC      build/obj/x.o"); V=1 prints the whole commands.
V ?= 0
ifeq ($(V),1)
say =
else
say = @printf '  %-7s %s\n' $(1) $(2);
endif

SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(wildcard src/*.c src/*/*.c)
LIBSRC   := $(filter-out src/main.c,$(SRC))
OBJ      := $(SRC:src/%.c=build/obj/%.o)
AOBJ     := $(SRC:src/%.c=build/asan/obj/%.o)
ALIBOBJ  := $(LIBSRC:src/%.c=build/asan/obj/%.o)
UNITSRC  := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNITSRC:tests/unit/%.c=build/asan/%)
BENCHSRC := $(wildcard bench/*/*.c)
BENCHES  := $(BENCHSRC:bench/%.c=build/bench/%)
EXSRC    := $(wildcard examples/*.c)
EXAMPLES := $(EXSRC:examples/%.c=build/examples/%)

.PHONY: all asan units benches examples test demo install man clean check-tests FORCE \
        start-collect stop-collect stop parse export-opendc fuzzers fuzz
.DEFAULT_GOAL := all

all: build/tracekit examples

# The release binary links jansson, hiredis, snappy, zstd and snappy's
# libstdc++ statically when their archives are installed (Debian's -dev
# packages ship them), libc and libm dynamically.  Every task a worker runs
# starts a `tracekit exec`: loading eight shared objects cost more than the
# rest of exec's start-up together (docs/benchmarks.md, "Scheduling plane").
# STATIC_LIBS=0 links everything dynamically; the ASan build always does.
STATIC_LIBS ?= $(if $(filter-out /%,$(foreach l,jansson hiredis snappy zstd nl-genl-3 nl-3 stdc++,\
                 $(shell $(CC) -print-file-name=lib$(l).a))),0,1)
ifeq ($(STATIC_LIBS),1)
RELLIBS  = -static-libgcc -Wl,-Bstatic -ljansson -lhiredis -lsnappy -lzstd -lnl-genl-3 -lnl-3 \
           $(BPFLIBS) -lstdc++ \
           -Wl,-Bdynamic -lm -lpthread
else
RELLIBS  = $(LDLIBS)
endif

build/tracekit: $(OBJ)
	$(call say,LD,$@)$(CC) $(CFLAGS) -o $@ $^ $(RELLIBS)

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

# The BPF object is compiled against this machine's BTF and relocated to the
# running kernel's at load time (CO-RE); its skeleton is generated, never committed.
ifeq ($(BPF),1)
build/obj/collect/bpftask.o build/asan/obj/collect/bpftask.o build/fuzz/obj/collect/bpftask.o: \
  build/bpf/tasks.skel.h
endif
# Switching BPF=1/0 rebuilds the one object it changes (and so relinks).
build/obj/collect/bpftask.o build/asan/obj/collect/bpftask.o build/fuzz/obj/collect/bpftask.o: \
  build/bpf.cfg
build/bpf.cfg: FORCE
	@mkdir -p build; echo $(BPF) | cmp -s - $@ || echo $(BPF) >$@
FORCE:

build/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp && mv $@.tmp $@

# `bpftool gen object` links it and drops the DWARF (-g is there for BTF).
build/bpf/tasks.bpf.o: src/collect/bpf/tasks.bpf.c src/collect/bpf/tasks.h build/bpf/vmlinux.h
	$(call say,BPF,$@)clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ibuild/bpf -Isrc/collect/bpf \
	  -c -o $@.tmp.o $< && $(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

build/bpf/tasks.skel.h: build/bpf/tasks.bpf.o
	$(call say,GEN,$@)$(BPFTOOL) gen skeleton $< name tasks_bpf >$@.tmp && mv $@.tmp $@

asan: build/asan/tracekit

build/asan/tracekit: $(AOBJ)
	$(call say,LD,$@)$(CC) $(SAN) -O1 -g -o $@ $^ $(LDLIBS)

build/asan/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -MMD -MP -c -o $@ $<

units: $(UNITS)

build/asan/test_%: tests/unit/test_%.c $(ALIBOBJ)
	$(call say,LD,$@)$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -Itests/unit -o $@ $< $(ALIBOBJ) -lcmocka $(LDLIBS)

benches: $(BENCHES)

build/bench/%: bench/%.c $(filter-out build/obj/main.o,$(OBJ))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ $< $(filter-out build/obj/main.o,$(OBJ)) $(LDLIBS)

# Example workloads (examples/README.md), linked with the library like the benches.
examples: $(EXAMPLES)

build/examples/%: examples/%.c $(filter-out build/obj/main.o,$(OBJ))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ $< $(filter-out build/obj/main.o,$(OBJ)) $(LDLIBS)

# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c, docs/security.md), built with
# clang against the library compiled for fuzzing (coverage + ASan/UBSan).
FUZZCC    ?= clang
FUZZFLAGS  = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
FUZZSRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS   := $(FUZZSRC:tests/fuzz/%.c=build/fuzz/%)
FUZZOBJ   := $(LIBSRC:src/%.c=build/fuzz/obj/%.o)
FUZZ_SECONDS ?= 60

fuzzers: $(FUZZERS)

# Objects shared by every harness: keep them (make would delete them as
# intermediates of the pattern rule below).
.SECONDARY: $(FUZZOBJ)

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FUZZCC) $(WARN) $(FUZZFLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZOBJ)
	$(call say,LD,$@)$(FUZZCC) $(WARN) $(FUZZFLAGS) -fsanitize=fuzzer $(CPPFLAGS) -Itests/fuzz -o $@ $< \
	  $(FUZZOBJ) $(LDLIBS)

fuzz:
	@scripts/install-deps fuzz
	@$(MAKE) --no-print-directory all asan fuzzers
	@scripts/fuzz $(FUZZ_SECONDS)

# The README's two commands.  Each installs what it needs first.
test:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory all asan units benches man fuzzers
	@tests/run.sh

demo:
	@scripts/install-deps demo
	@$(MAKE) --no-print-directory all
	@scripts/demo

# Man pages are made from the binary's own --help texts (scripts/mkman) plus
# man/*.man, so they cannot drift from the options.
man: build/tracekit scripts/mkman $(wildcard man/*.man)
	@rm -rf build/man
	$(call say,MAN,build/man)scripts/mkman build/tracekit build/man

# The binary, its man pages, bash completion, the systemd units (not
# enabled), the README and docs/ (laid out as here, so the README's links resolve).  systemd's unit folder is $(PREFIX)/lib/systemd/system.
install: build/tracekit man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/tracekit
	install -m 0755 build/tracekit $(DESTDIR)$(PREFIX)/bin/tracekit
	install -m 0644 build/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 dist/bash-completion/tracekit $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tracekit
	for u in dist/systemd/*.service; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u >$(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; done
	install -d $(DESTDIR)$(PREFIX)/share/doc/tracekit/docs
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/tracekit/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/tracekit/docs/
	install -D -m 0644 examples/README.md $(DESTDIR)$(PREFIX)/share/doc/tracekit/examples/README.md

clean:
	rm -rf build

# Compatibility with the original Makefile: RUN_ID, NODE_ID, STAGE on the make
# command line or in the environment; run_id.env is read by tracekit itself.
# PROC_MATCH and every other regex are read by tracekit from the environment:
# make never expands them (the original turned '^ffmpeg$|^ffprobe$' into
# '^ffmpeg^ffprobe$', bug B1).  A PROC_MATCH given on the make command line is
# passed through unexpanded too.
ifneq ($(filter command line,$(origin PROC_MATCH)),)
override PROC_MATCH := $(value PROC_MATCH)
export PROC_MATCH
endif
# (Variables from the environment or the command line reach tracekit as they
# are; exporting unset ones here would hand it empty values, and an empty
# PROC_PID_DIR means scan mode.)

# The original's switches that have nothing left to switch: one line each
# when set (no commas in them: $(if) splits there), so a command line copied from the original says what happened.
# VM_IP is read by tracekit itself (collect: the interface routing to it).
legacy_notes = \
  $(if $(USE_PY_COLLECT),echo "note: USE_PY_COLLECT=$(USE_PY_COLLECT) ignored: the collector is built into tracekit (no Python or shell collector)";)\
  $(if $(PROC_SAMPLING),echo "note: PROC_SAMPLING=$(PROC_SAMPLING) ignored: processes are always sampled (every PROC_INTERVAL_MS)";)\
  $(if $(PROC_REFRESH),echo "note: PROC_REFRESH=$(PROC_REFRESH) ignored: the PID folder (or /proc in scan mode) is re-read every interval";)\
  $(if $(STOP_ALL),echo "note: STOP_ALL=$(STOP_ALL) ignored: tracekit starts no mpstat/ifstat/vmstat samplers: there is nothing more to stop";)

start-collect: build/tracekit
	@$(legacy_notes):
	@build/tracekit collect start

stop-collect: build/tracekit
	@$(legacy_notes):
	@build/tracekit collect stop

parse: build/tracekit
	@build/tracekit parse

# The original's `make stop` stopped its Docker demo service and the shell
# collector; here there is only the run's collector to stop.
stop: build/tracekit
	@$(legacy_notes):
	@build/tracekit collect stop || echo "make stop: no running collector to stop (the original ignored this too)"

# The original's `make export-opendc`: logs/RUN_ID into opendc_traces/RUN_ID.
OPENDC_OUT ?= opendc_traces/$(RUN_ID)
export-opendc: build/tracekit
	@if [ -z "$(RUN_ID)" ]; then \
	  echo "make export-opendc: error: RUN_ID is required (make export-opendc RUN_ID=...)" >&2; exit 2; fi
	@build/tracekit export opendc --input $(or $(LOGS),logs)/$(RUN_ID) --output $(OPENDC_OUT)
	@echo "OpenDC workload of run $(RUN_ID) in $(OPENDC_OUT) (check it: tracekit verify opendc --input $(OPENDC_OUT))"

-include $(OBJ:.o=.d) $(AOBJ:.o=.d) $(FUZZOBJ:.o=.d)
