# hiddenq — plain Makefile.  Outputs go to build/.
#   make            build build/hiddenq
#   make run        set up, build, and run `hiddenq diagnose` on this machine
#   make check      set up, the layer check, build, then every test (unit, end-to-end, sanitizers, short fuzz runs)
#   make check-layers  only the include rule between src/ directories (docs/architecture.md)
#   make static     build/hiddenq-static, to copy onto any VM
#   make fuzz       longer fuzz runs (FUZZ_SECONDS per target, default 60)
#   make bench      cost figures side by side with sysstat (and serve beside node_exporter)
#   make install    PREFIX=/usr/local (binary, man page, systemd units in $(PREFIX)/lib/systemd/system)
#   make contrib    regenerate the Prometheus rules, Grafana dashboard and their doc from the tables

CC       ?= cc
CLANG    ?= clang
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTEST   ?= /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 60
# make check builds and fuzzes on every CPU (the four builds of the tree and
# the fuzz targets are independent); the tests themselves run one at a time
NPROC    ?= $(shell nproc 2>/dev/null || echo 1)
comma := ,

WARN     := -Wall -Wextra -Wstrict-prototypes -Wshadow -Wformat=2 -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -D_GNU_SOURCE $(WARN)
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
INIH_LIBS      := $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
LDLIBS   := $(JANSSON_LIBS) $(INIH_LIBS) -lm -lpthread
# hwloc: dynamic build only (Debian's libhwloc.a needs libudev, which has no
# static library).  Without it, src/topo/hwloc.c compiles to stubs.
HWLOC_CFLAGS := $(shell pkg-config --exists hwloc 2>/dev/null && echo -DHAVE_HWLOC $$(pkg-config --cflags hwloc))
HWLOC_LIBS   := $(shell pkg-config --libs hwloc 2>/dev/null)
STATIC_LDLIBS := $(LDLIBS)
LDLIBS   += $(HWLOC_LIBS)

# Every source except main.c forms the library the tests link against.
LIB_SRCS := \
	src/core/util.c \
	src/core/json.c \
	src/core/catalog.c \
	src/core/sample.c \
	src/sys/fsroot.c \
	src/sys/qmp.c \
	src/sys/proc_run.c \
	src/sys/identity.c \
	src/parse/identity.c \
	src/sys/stackprobe.c \
	src/parse/stackparse.c \
	src/analysis/stack.c \
	src/analysis/rules_wakeup.c \
	src/analysis/join.c \
	src/sinks/join.c \
	src/cmd/join.c \
	src/parse/scan.c \
	src/parse/procstat.c \
	src/parse/psi.c \
	src/parse/schedstat.c \
	src/parse/memparse.c \
	src/parse/cpumask.c \
	src/parse/stallparse.c \
	src/sample/sampler.c \
	src/sample/bundle.c \
	src/sources/memsrc.c \
	src/sources/stallmon.c \
	src/sources/stalls.c \
	src/analysis/cpu.c \
	src/analysis/findings.c \
	src/analysis/steal.c \
	src/analysis/rules.c \
	src/analysis/mem.c \
	src/analysis/rules_mem.c \
	src/analysis/analysis.c \
	src/analysis/status.c \
	src/engine/engine.c \
	src/engine/series.c \
	src/sinks/report.c \
	src/sinks/watch.c \
	src/sinks/metrics.c \
	src/sinks/openmetrics.c \
	src/cmd/metrics.c \
	src/cmd/watch.c \
	src/cmd/cmdutil.c \
	src/cmd/diagnose.c \
	src/cmd/capture.c \
	src/cmd/record.c \
	src/parse/topo.c \
	src/topo/topo.c \
	src/topo/hwloc.c \
	src/topo/fit.c \
	src/topo/view.c \
	src/sinks/topo.c \
	src/sinks/fit.c \
	src/cmd/topo.c \
	src/cmd/fit.c
MAIN_SRC := src/main.c

UNIT_TESTS := \
	tests/unit/test_parse.c \
	tests/unit/test_cpu.c \
	tests/unit/test_mem.c \
	tests/unit/test_stalls.c \
	tests/unit/test_util.c \
	tests/unit/test_catalog.c \
	tests/unit/test_engine.c \
	tests/unit/test_openmetrics.c \
	tests/unit/test_bundle.c \
	tests/unit/test_topo.c \
	tests/unit/test_stack.c

FUZZ_TARGETS := \
	tests/fuzz/fuzz_procstat.c \
	tests/fuzz/fuzz_psi.c \
	tests/fuzz/fuzz_schedstat.c \
	tests/fuzz/fuzz_cgroup.c \
	tests/fuzz/fuzz_identity.c \
	tests/fuzz/fuzz_bundle.c \
	tests/fuzz/fuzz_memparse.c \
	tests/fuzz/fuzz_stalls.c \
	tests/fuzz/fuzz_topo.c \
	tests/fuzz/fuzz_thresholds.c \
	tests/fuzz/fuzz_stack.c

# ---- eBPF (src/bpf: kernel halves; src/sources/bpf: user halves) ----
# BPF=1 (default) builds the programs with clang -target bpf against the
# checked-in vmlinux.h, turns them into skeletons with bpftool, and links
# libbpf.  BPF=0, or a machine without clang/bpftool/libbpf-dev, builds the
# same API as stubs that report "built without eBPF".
BPF      ?= 1
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_PROGS := runqlat biolat compact taskstat timerlate
LIB_SRCS += src/sources/bpf/bpfsrc.c src/sources/bpf/runqlat.c src/sources/bpf/biolat.c src/sources/bpf/compact.c \
	src/sources/bpf/taskstat.c src/sources/bpf/timerlate.c \
	src/analysis/bpfhist.c
# Said by the make that compiles, not when this file is parsed: `make run`
# and `make check` parse it before scripts/setup.sh installs the tools, then
# build in a sub-make that finds them (see bpf-missing below).
BPF_MISSING :=
ifeq ($(BPF),1)
  ifneq ($(shell command -v $(CLANG) >/dev/null 2>&1 && command -v $(BPFTOOL) >/dev/null 2>&1 && \
	  test -f /usr/include/bpf/libbpf.h && test -f src/bpf/vmlinux/$(ARCH)/vmlinux.h && echo yes),yes)
    BPF_MISSING := clang, bpftool, libbpf-dev or src/bpf/vmlinux/$(ARCH)/vmlinux.h missing
    override BPF := 0
  endif
endif
ifeq ($(BPF),1)
  CFLAGS += -DHQ_WITH_BPF -I$(B)/bpf
  BPF_LIBS := -lbpf -lelf -lz
  LDLIBS += $(BPF_LIBS)
  STATIC_LDLIBS += $(BPF_LIBS)
endif
UNIT_TESTS += tests/unit/test_bpfhist.c tests/unit/test_taskstat.c
FUZZ_TARGETS += tests/fuzz/fuzz_bpfhist.c tests/fuzz/fuzz_taskstat.c

B := build

# ---- IO and network layers ----
LIB_SRCS += src/parse/diskstats.c src/parse/netfiles.c src/sources/iosrc.c \
	src/sources/net/ethtool.c src/sources/net/netlink.c src/analysis/io.c src/analysis/rules_io.c
UNIT_TESTS += tests/unit/test_io.c
FUZZ_TARGETS += tests/fuzz/fuzz_ioparse.c tests/fuzz/fuzz_netlink.c
# libmnl for the netlink dumps: libmnl.so in the normal build.  Debian ships
# no libmnl.a, so the static binary links src/sources/net/mnl_compat.c (the
# few libmnl calls we use, over raw netlink) instead; so does any build
# without libmnl-dev.
MNL_LIBS   := $(shell pkg-config --libs libmnl 2>/dev/null)
MNL_STATIC := $(shell d=$$(pkg-config --variable=libdir libmnl 2>/dev/null); test -n "$$d" && test -f "$$d/libmnl.a" && echo yes)
ifeq ($(MNL_LIBS),)
  LIB_SRCS += src/sources/net/mnl_compat.c
else
  LDLIBS += $(MNL_LIBS)
endif

# ---- active probes and the lab (src/probe) ----
# libnuma for the mem probe's node pairs; without numa.h it measures one node.
NUMA_OK := $(shell test -f /usr/include/numa.h && echo yes)
LIB_SRCS += src/probe/probe.c src/probe/hist.c src/probe/precopy.c src/probe/pagemap.c \
	src/probe/jitter.c src/probe/mem.c src/probe/io.c src/probe/oversub.c src/probe/dirty.c \
	src/probe/net.c src/probe/wakeup.c src/sinks/probe.c src/cmd/probe.c src/cmd/probe_jitter.c src/cmd/probe_mem.c src/cmd/probe_io.c \
	src/cmd/probe_oversub.c src/cmd/probe_dirty.c src/cmd/probe_net.c src/cmd/probe_wakeup.c src/probe/lab.c src/sinks/lab.c src/cmd/lab.c
UNIT_TESTS += tests/unit/test_probe.c
FUZZ_TARGETS += tests/fuzz/fuzz_pagemap.c
ifeq ($(NUMA_OK),yes)
  CFLAGS += -DHQ_WITH_NUMA
  LDLIBS += -lnuma
  STATIC_LDLIBS += -lnuma
endif

# ---- KVM host mode and the audit (src/host) ----
# libxml2 reads libvirt domain XML in the dynamic build.  Its static archive
# links (with ICU and libstdc++), but ICU's data adds ~33 MB to a binary that
# is copied into every test VM, so the static binary takes the stub object
# (src/host/libvirt_xml.c without HQ_WITH_LIBXML2) and says so when asked.
LIB_SRCS += src/parse/qemucmd.c src/parse/vmmcmd.c src/parse/vmconf.c src/parse/procpid.c src/host/vmscan.c src/analysis/vms.c src/parse/qmphist.c src/sinks/vms.c \
	src/parse/migparse.c src/analysis/migrate.c src/parse/hwlog.c src/analysis/hwlog.c src/analysis/rules_hw.c \
	src/parse/imghdr.c src/host/images.c \
	src/host/audit.c src/analysis/audit.c src/sinks/audit.c src/host/libvirt_xml.c src/analysis/rules_host.c src/cmd/vms.c src/cmd/audit.c
UNIT_TESTS += tests/unit/test_host.c tests/unit/test_qmphist.c tests/unit/test_migrate.c tests/unit/test_hwlog.c tests/unit/test_imghdr.c
FUZZ_TARGETS += tests/fuzz/fuzz_qemucmd.c tests/fuzz/fuzz_libvirt.c tests/fuzz/fuzz_vms.c tests/fuzz/fuzz_migparse.c tests/fuzz/fuzz_hwlog.c tests/fuzz/fuzz_imghdr.c
ifeq ($(shell pkg-config --exists libxml-2.0 2>/dev/null && echo yes),yes)
  XML_CFLAGS := -DHQ_WITH_LIBXML2 $(shell pkg-config --cflags libxml-2.0)
  LDLIBS += $(shell pkg-config --libs libxml-2.0)
endif

# ---- the exporter (hiddenq serve): libmicrohttpd, libcrypt (basic auth), zlib (gzip) ----
# The static binary serves plain HTTP from a small server of its own
# (src/sinks/httpd.c without HQ_WITH_MHD, so it can serve inside a VM):
# libmicrohttpd.a needs GnuTLS and its dependencies, which Debian does not
# all ship as static archives.
LIB_SRCS += src/sinks/httpd.c src/cmd/serve.c src/sinks/promrules.c src/cmd/rules.c
FUZZ_TARGETS += tests/fuzz/fuzz_webcfg.c tests/fuzz/fuzz_plainhttp.c
ifeq ($(shell pkg-config --exists libmicrohttpd 2>/dev/null && test -f /usr/include/crypt.h && echo yes),yes)
  MHD_CFLAGS := -DHQ_WITH_MHD $(shell pkg-config --cflags libmicrohttpd)
  LDLIBS += $(shell pkg-config --libs libmicrohttpd) -lcrypt -lz
endif

# ---- the live view (hiddenq top): ncurses for the terminal ----
# Debian ships libncursesw.a and libtinfo.a, so the static binary draws too;
# without them (or without libncurses-dev) src/sinks/topui.c compiles to a
# stub and top prints plain blocks.
LIB_SRCS += src/sinks/top.c src/sinks/topui.c src/cmd/top.c
UNIT_TESTS += tests/unit/test_top.c
ifeq ($(shell pkg-config --exists ncursesw 2>/dev/null && echo yes),yes)
  CURSES_CFLAGS := -DHQ_WITH_CURSES $(shell pkg-config --cflags ncursesw)
  LDLIBS += $(shell pkg-config --libs ncursesw)
  CURSES_STATIC := $(shell d=$$(pkg-config --variable=libdir ncursesw); test -f $$d/libncursesw.a && test -f $$d/libtinfo.a && echo yes)
endif
ifeq ($(CURSES_STATIC),yes)
  STATIC_LDLIBS += $(shell pkg-config --static --libs ncursesw)
  STATIC_TOPUI_CFLAGS := $(CURSES_CFLAGS)
endif

# ---- recordings (hiddenq record): SQLite for crash-safe appends, zstd for size ----
LIB_SRCS += src/sample/store.c
# ---- hiddenq report: a recording drawn as one HTML file (inline SVG) ----
LIB_SRCS += src/sinks/history.c src/sinks/html.c src/sinks/summary.c src/cmd/report.c
UNIT_TESTS += tests/unit/test_history.c
FUZZ_TARGETS += tests/fuzz/fuzz_store.c
STORE_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
LDLIBS += $(STORE_LIBS)
STATIC_LDLIBS += $(STORE_LIBS) -lm -lpthread

# ---- the what-if model (hiddenq sim): src/sim, its sink, its command ----
LIB_SRCS += src/sim/dist.c src/sim/scenario.c src/sim/base.c src/sim/station.c src/sim/sched.c src/sim/work.c \
	src/sim/view.c src/sim/sim.c src/sinks/sim.c src/cmd/sim.c
UNIT_TESTS += tests/unit/test_sim.c
FUZZ_TARGETS += tests/fuzz/fuzz_scenario.c

# ---- generated from the rule tables, committed: `make contrib` writes them,
# `make check` fails early (contrib-check) when they differ from what the
# binary prints.  Each entry is FLAG:FILE of `hiddenq rules FLAG`.
CONTRIB := --prometheus:contrib/prometheus/hiddenq-rules.yml \
	--grafana:contrib/grafana/hiddenq-dashboard.json \
	--markdown:docs/prometheus-rules.md

define objs
$(patsubst src/%.c,$(1)/obj/%.o,$(2))
endef

LIB_OBJS      := $(call objs,$(B),$(LIB_SRCS))
MAIN_OBJ      := $(call objs,$(B),$(MAIN_SRC))
ASAN_LIB_OBJS := $(call objs,$(B)/asan,$(LIB_SRCS))
ASAN_MAIN_OBJ := $(call objs,$(B)/asan,$(MAIN_SRC))
SAN_FLAGS     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all run check check-layers setup setup-test static asan unit unit-asan e2e e2e-asan fuzz fuzz-quick bench benches bench-probes bench-wakeup bench-daemon bench-record bench-serve bench-top install clean \
	contrib contrib-check
all: $(B)/hiddenq

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

$(B)/obj/%.o: src/%.c $(wildcard src/*/*.h src/*/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(JANSSON_CFLAGS) -c $< -o $@

$(B)/asan/obj/%.o: src/%.c $(wildcard src/*/*.h src/*/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN_FLAGS) $(JANSSON_CFLAGS) -c $< -o $@

# eBPF objects and skeletons: src/bpf/NAME.bpf.c -> $(B)/bpf/NAME.bpf.o -> $(B)/bpf/NAME.skel.h
BPF_SKELS     := $(patsubst %,$(B)/bpf/%.skel.h,$(BPF_PROGS))
BPF_USER_SRCS := src/sources/bpf/bpfsrc.c src/sources/bpf/runqlat.c src/sources/bpf/biolat.c src/sources/bpf/compact.c \
	src/sources/bpf/taskstat.c src/sources/bpf/timerlate.c
$(call objs,$(B),$(BPF_USER_SRCS) src/analysis/bpfhist.c) $(call objs,$(B)/asan,$(BPF_USER_SRCS) src/analysis/bpfhist.c): \
	$(wildcard src/bpf/*.h src/sources/bpf/*.h)
ifeq ($(BPF),1)
$(call objs,$(B),$(BPF_USER_SRCS)) $(call objs,$(B)/asan,$(BPF_USER_SRCS)): $(BPF_SKELS)
endif
# The eBPF user halves are where a build without the tools differs: say it
# when one of them is compiled (once per make), which is when it is true.
ifneq ($(BPF_MISSING),)
$(call objs,$(B),$(BPF_USER_SRCS)) $(call objs,$(B)/asan,$(BPF_USER_SRCS)): | bpf-missing
.PHONY: bpf-missing
bpf-missing:
	@echo "hiddenq: $(BPF_MISSING): building without eBPF (BPF=0)" >&2
endif

$(B)/bpf/%.bpf.o: src/bpf/%.bpf.c $(wildcard src/bpf/*.h) src/bpf/vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Isrc/bpf/vmlinux/$(ARCH) -Isrc/bpf -c $< -o $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(B)/libhiddenq.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/asan/libhiddenq.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/hiddenq: $(MAIN_OBJ) $(B)/libhiddenq.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/asan/hiddenq: $(ASAN_MAIN_OBJ) $(B)/asan/libhiddenq.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

asan: $(B)/asan/hiddenq

# Debian ships libjansson.a; glibc's static libc is fine for what we call.
static: $(B)/hiddenq-static
# the static link: libmnl.a if there is one, else mnl_compat.o (see above)
ifneq ($(MNL_LIBS),)
  ifeq ($(MNL_STATIC),yes)
$(B)/hiddenq-static: STATIC_LDLIBS += $(MNL_LIBS)
  else
$(B)/hiddenq-static: LDLIBS := $(filter-out $(MNL_LIBS),$(LDLIBS))
$(B)/hiddenq-static: STATIC_LDLIBS := $(filter-out $(MNL_LIBS),$(STATIC_LDLIBS))
$(B)/hiddenq-static: $(B)/obj/sources/net/mnl_compat.o
  endif
endif
$(B)/hiddenq-static: $(MAIN_OBJ) $(B)/static/topo_hwloc.o $(B)/static/libvirt_xml.o $(B)/static/httpd.o $(B)/static/topui.o $(B)/libhiddenq.a
	$(CC) $(CFLAGS) -static -o $@ $^ $(STATIC_LDLIBS)

# hwloc.c with HAVE_HWLOC in the library, as stubs for the static link: the
# stub object comes first, so the archive's hwloc member is never pulled in.
$(B)/obj/topo/hwloc.o $(B)/asan/obj/topo/hwloc.o: CFLAGS += $(HWLOC_CFLAGS)
$(B)/static/topo_hwloc.o: src/topo/hwloc.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# libvirt_xml.c: with libxml2 in the library, as a stub for the static link
$(B)/obj/host/libvirt_xml.o $(B)/asan/obj/host/libvirt_xml.o: CFLAGS += $(XML_CFLAGS)
$(B)/static/libvirt_xml.o: src/host/libvirt_xml.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/fuzz/obj/host/libvirt_xml.o: FUZZ_CFLAGS += $(XML_CFLAGS)

# httpd.c: with libmicrohttpd in the library, as a stub for the static link
$(B)/obj/sinks/httpd.o $(B)/asan/obj/sinks/httpd.o: CFLAGS += $(MHD_CFLAGS)
$(B)/static/httpd.o: src/sinks/httpd.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# topui.c: with ncurses in the library; in the static link with it too when
# the static archives exist, else as a stub
$(B)/obj/sinks/topui.o $(B)/asan/obj/sinks/topui.o: CFLAGS += $(CURSES_CFLAGS)
$(B)/static/topui.o: src/sinks/topui.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(STATIC_TOPUI_CFLAGS) $(JANSSON_CFLAGS) -c $< -o $@

contrib: $(B)/hiddenq
	@for e in $(CONTRIB); do flag=$${e%%:*}; f=$${e#*:}; mkdir -p $$(dirname $$f); \
		$(B)/hiddenq rules $$flag > $$f.tmp && mv $$f.tmp $$f || { rm -f $$f.tmp; exit 1; }; \
		echo "wrote $$f"; done
	@/usr/bin/python3 scripts/prometheus_doc.py $(B)/hiddenq && echo "wrote docs/prometheus.md (its series table)"

contrib-check: $(B)/hiddenq
	@rc=0; for e in $(CONTRIB); do flag=$${e%%:*}; f=$${e#*:}; \
		if ! $(B)/hiddenq rules $$flag | diff -u $$f - >$(B)/contrib.diff 2>&1; then \
			head -40 $(B)/contrib.diff; \
			echo "contrib-check: $$f is not what 'hiddenq rules $$flag' prints: run 'make contrib' and commit it" >&2; \
			rc=1; fi; done; rm -f $(B)/contrib.diff; \
	/usr/bin/python3 scripts/prometheus_doc.py $(B)/hiddenq --check || { echo "contrib-check: run 'make contrib' and commit docs/prometheus.md" >&2; rc=1; }; \
	exit $$rc

run: setup
	@$(MAKE) --no-print-directory all
	@rc=0; $(B)/hiddenq diagnose || rc=$$?; \
	 if [ $$rc -le 2 ]; then exit 0; else echo "hiddenq diagnose could not diagnose (exit $$rc)" >&2; exit $$rc; fi

# ---- tests ----

$(B)/tests/%: tests/unit/%.c tests/unit/harness.h $(B)/libhiddenq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(JANSSON_CFLAGS) -Isrc -o $@ $< $(B)/libhiddenq.a $(LDLIBS) -lcmocka

$(B)/asan/tests/%: tests/unit/%.c tests/unit/harness.h $(B)/asan/libhiddenq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN_FLAGS) $(JANSSON_CFLAGS) -Isrc -o $@ $< $(B)/asan/libhiddenq.a $(LDLIBS) -lcmocka

UNIT_BINS      := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_TESTS))
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_TESTS))

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; HIDDENQ_PEER_DATA=$(CURDIR)/../shared/peer-data $$t || exit 1; done

unit-asan: $(ASAN_UNIT_BINS)
	@for t in $(ASAN_UNIT_BINS); do echo "== $$t"; HIDDENQ_PEER_DATA=$(CURDIR)/../shared/peer-data $$t || exit 1; done

e2e: $(B)/hiddenq $(B)/hiddenq-static
	HIDDENQ_BIN=$(CURDIR)/$(B)/hiddenq HIDDENQ_REQUIRE_VM=$${HIDDENQ_REQUIRE_VM-1} $(PYTEST) -q -p no:cacheprovider --durations=15 tests/e2e tests/vm

e2e-asan: $(B)/asan/hiddenq
	HIDDENQ_BIN=$(CURDIR)/$(B)/asan/hiddenq HIDDENQ_SANITIZED=1 $(PYTEST) -q -p no:cacheprovider --durations=15 tests/e2e

# ---- fuzzing (clang libFuzzer) ----

FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_TARGETS))

# The library is compiled once for all targets (coverage instrumentation
# without libFuzzer's main), then each target links against it.  Built
# without HQ_WITH_BPF/NUMA/HWLOC: the fuzzers exercise parsers and analysis,
# the optional sources compile to their stubs.
FUZZ_CFLAGS   := -std=c17 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all $(JANSSON_CFLAGS)
FUZZ_LIB_OBJS := $(call objs,$(B)/fuzz,$(LIB_SRCS))

$(B)/fuzz/obj/%.o: src/%.c $(wildcard src/*/*.h src/*/*.def)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(B)/fuzz/libhiddenq.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libhiddenq.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< $(B)/fuzz/libhiddenq.a $(LDLIBS)

# fuzz_one,NAME,LIMIT,LABEL: one target over its seeds plus a scratch
# corpus; one line when it is done (targets run side by side), its log's
# tail when it fails.
define fuzz_one
	@n=$(1); rm -rf $(B)/fuzz-corpus/$$n; mkdir -p $(B)/fuzz-corpus/$$n; \
	$(B)/fuzz/$$n $(2) -max_len=65536 -timeout=10 -rss_limit_mb=1024 -print_final_stats=0 \
	    -artifact_prefix=$(B)/fuzz-corpus/$$n- \
	    $(B)/fuzz-corpus/$$n tests/fuzz/seeds/$$n >$(B)/fuzz-corpus/$$n.log 2>&1 \
	  || { echo "== fuzz $$n ($(3)): FAILED"; tail -40 $(B)/fuzz-corpus/$$n.log; exit 1; }; \
	echo "== fuzz $$n ($(3)): $$(grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" $(B)/fuzz-corpus/$$n.log | tail -1)"
endef
FUZZ_NAMES := $(notdir $(FUZZ_BINS))

# make check runs a fixed, reproducible slice (seed 1, a fixed number of
# runs): a CI run must not fail on an input no one can replay.  `make fuzz`
# explores at random for FUZZ_SECONDS per target; crashes it finds become
# seeds under tests/fuzz/seeds/.  Both run NPROC targets at a time.
FUZZ_QUICK_RUNS ?= 20000
fuzz-quick: $(FUZZ_BINS)
	@$(MAKE) --no-print-directory -j$(NPROC) $(addprefix fuzz-quick-run-,$(FUZZ_NAMES))

fuzz: $(FUZZ_BINS)
	@$(MAKE) --no-print-directory -j$(NPROC) $(addprefix fuzz-run-,$(FUZZ_NAMES))

fuzz-quick-run-%: $(B)/fuzz/%
	$(call fuzz_one,$*,-seed=1 -runs=$(FUZZ_QUICK_RUNS),seed 1$(comma) $(FUZZ_QUICK_RUNS) runs)

fuzz-run-%: $(B)/fuzz/%
	$(call fuzz_one,$*,-max_total_time=$(FUZZ_SECONDS),$(FUZZ_SECONDS) s)

# the include rule of docs/architecture.md (a few seconds, before any build)
check-layers:
	@scripts/check-layers.sh

# the benches are not run by check, but they must keep compiling
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
benches: $(BENCH_BINS)

check: check-layers setup-test
	@$(MAKE) --no-print-directory -j$(NPROC) all static asan benches $(UNIT_BINS) $(ASAN_UNIT_BINS) $(FUZZ_BINS)
	@$(MAKE) --no-print-directory contrib-check
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory fuzz-quick
	@$(MAKE) --no-print-directory e2e-asan
	@$(MAKE) --no-print-directory e2e

bench: setup-test $(B)/hiddenq
	@$(MAKE) --no-print-directory $(B)/bench/bench_cpu
	$(B)/bench/bench_cpu
	@$(MAKE) --no-print-directory $(B)/bench/bench_stalls
	$(B)/bench/bench_stalls
	@$(MAKE) --no-print-directory $(B)/bench/bench_numamaps
	$(B)/bench/bench_numamaps
	/usr/bin/python3 bench/bench_cli.py $(B)/hiddenq
	@$(MAKE) --no-print-directory $(B)/bench/bench_vms
	$(B)/bench/bench_vms
	@$(MAKE) --no-print-directory $(B)/bench/bpf_hold $(B)/bench/qd1read $(B)/bench/pingpong
	/usr/bin/python3 bench/bench_bpf.py $(B)
	@$(MAKE) --no-print-directory $(B)/bench/bench_sim
	$(B)/bench/bench_sim bench/sim_large.ini
	@$(MAKE) --no-print-directory bench-serve
	@$(MAKE) --no-print-directory bench-top
	@$(MAKE) --no-print-directory bench-probes
	@$(MAKE) --no-print-directory bench-wakeup
	@$(MAKE) --no-print-directory bench-record
	@$(MAKE) --no-print-directory bench-daemon

# left running: watch and serve beside sadc for MINUTES (default 10)
MINUTES ?= 10
bench-daemon: setup-test $(B)/hiddenq
	/usr/bin/python3 bench/bench_daemon.py $(B)/hiddenq $(MINUTES)

# the recorder beside atop -w and sadc over the same minute
bench-record: setup-test $(B)/hiddenq
	/usr/bin/python3 bench/bench_record.py $(B)/hiddenq

# hiddenq serve beside prometheus-node-exporter (per scrape, steady state
# with 15 s scrapes, wrk), and what publishing a snapshot costs: about 2 min
bench-serve: setup-test $(B)/hiddenq $(B)/bench/bench_render
	$(B)/bench/bench_render
	/usr/bin/python3 bench/bench_serve.py $(B)/hiddenq

# hiddenq top on a terminal and top -b beside hiddenq watch over the same minute
bench-top: setup-test $(B)/hiddenq
	/usr/bin/python3 bench/bench_top.py $(B)/hiddenq

# each probe beside its reference tool (fio, cyclictest, a plain pointer
# chase, sysbench memory) on the same target: about 80 s
bench-probes: setup-test $(B)/hiddenq $(B)/bench/chase
	/usr/bin/python3 bench/bench_probes.py $(B)/hiddenq $(B)/bench/chase

# the idle-vCPU wake-up: ioping back to back and spaced 100 ms beside probe io
# and probe wakeup on the same file, in one run: about 40 s
bench-wakeup: $(B)/hiddenq
	/usr/bin/python3 bench/bench_wakeup.py $(B)/hiddenq

# hiddenq report on an hour-long and a day-long recording made from 30 s of this
# machine: seconds and peak RSS beside watch --replay (about 10 minutes)
.PHONY: bench-report
bench-report: $(B)/hiddenq $(B)/bench/mkrec
	/usr/bin/python3 bench/bench_report.py $(B)/hiddenq $(B)/bench/mkrec

$(B)/bench/%: bench/%.c $(B)/libhiddenq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(JANSSON_CFLAGS) -Isrc -o $@ $< $(B)/libhiddenq.a $(LDLIBS)

# The systemd unit goes where systemd looks for units of its prefix
# (/usr/local/lib/systemd/system is on its search path), with ExecStart
# pointing at the installed binary.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

install: $(B)/hiddenq
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(B)/hiddenq $(DESTDIR)$(PREFIX)/bin/hiddenq
	install -m 0644 docs/hiddenq.1 $(DESTDIR)$(PREFIX)/share/man/man1/hiddenq.1
	for u in hiddenq-serve hiddenq-record; do \
		sed 's|/usr/local/bin/hiddenq|$(PREFIX)/bin/hiddenq|g' contrib/systemd/$$u.service > $(B)/$$u.service && \
		install -m 0644 $(B)/$$u.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$u.service || exit 1; done

clean:
	rm -rf $(B)
