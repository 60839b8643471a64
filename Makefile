# libbyol — plain Makefile.  make | make check | make demo | make bench |
# make install PREFIX=... DESTDIR=... (MANDIR=...) | make docs | make abi-check
# BLAS=blis (default) | openblas | netlib | <pkg-config name> selects the CBLAS provider.
# BLIS is the default: its kernels ran our GEMM shapes 1.4x faster than OpenBLAS's
# on the reference machine (docs/PERFORMANCE.md).

VERSION_H := include/byol/byol_version.h
MAJOR := $(shell sed -n 's/^\#define BYOL_VERSION_MAJOR \([0-9]*\)/\1/p' $(VERSION_H))
MINOR := $(shell sed -n 's/^\#define BYOL_VERSION_MINOR \([0-9]*\)/\1/p' $(VERSION_H))
PATCH := $(shell sed -n 's/^\#define BYOL_VERSION_PATCH \([0-9]*\)/\1/p' $(VERSION_H))
VERSION := $(MAJOR).$(MINOR).$(PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
BLAS ?= blis
ifeq ($(BLAS),openblas)
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
  BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null)
  BLAS_PC := openblas
else ifeq ($(BLAS),blis)
  BLAS_CFLAGS :=
  BLAS_LIBS := -lblis
  BLAS_PC :=
else ifeq ($(BLAS),netlib)
  NETLIB_DIR := /usr/lib/$(shell $(CC) -print-multiarch)/blas
  BLAS_CFLAGS :=
  BLAS_LIBS := -L$(NETLIB_DIR) -Wl,-rpath,$(NETLIB_DIR) -lblas
  BLAS_PC :=
else
  BLAS_CFLAGS := $(shell pkg-config --cflags $(BLAS))
  BLAS_LIBS := $(shell pkg-config --libs $(BLAS))
  BLAS_PC := $(BLAS)
endif

SAN ?=
ifeq ($(SAN),1)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BUILD := build/san
else
  OPT := -O3 -g
  BUILD := build/$(BLAS)
endif

# stb_image / stb_image_write from Debian's libstb-dev (pkg-config stb).
STB_CFLAGS := $(shell pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
STB_LIBS := $(shell pkg-config --libs stb 2>/dev/null || echo -lstb)

WARN := -std=c11 -Wall -Wextra -Werror
CFLAGS_LIB := $(WARN) $(OPT) -fPIC -fvisibility=hidden -fopenmp-simd -D_POSIX_C_SOURCE=200809L \
              -DBYOL_BUILDING_LIBRARY -Iinclude -Isrc $(BLAS_CFLAGS) $(STB_CFLAGS) $(CFLAGS)
LIBS := $(BLAS_LIBS) $(STB_LIBS) -lz -lm -ldl -lpthread

SRCS := $(sort $(wildcard src/*/*.c))
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
MAP := lib/libbyol.map

# lib/ holds the default build (BLIS, no sanitizer) only. Other builds
# keep their library in $(BUILD): else a BLAS=openblas build would replace
# lib/'s library, and a later plain `make` would keep it (its objects are
# up to date), silently linked to the wrong provider.
ifeq ($(SAN),1)
LIB_DIR := $(BUILD)
else ifneq ($(BLAS),blis)
LIB_DIR := $(BUILD)
else
LIB_DIR := lib
endif
LIB_A := $(LIB_DIR)/libbyol.a
LIB_SO := $(LIB_DIR)/libbyol.so.$(VERSION)
# The byol command (tools/byol): public API only, linked with the static library.
BYOL_TOOL := $(BUILD)/tools/byol

.PHONY: FORCE fuzz all check test data demo bench quality quality-steps quality-modes install uninstall abi-check abi-baseline clean \
        deps bench-deps check-symbols check-headers tools rust-test examples docs

all: $(LIB_A) $(LIB_SO) pkgconfig/libbyol.pc $(BYOL_TOOL)

# -MMD -MP: each object depends on the headers it really includes (.d files).
DEPFLAGS = -MMD -MP -MF $@.d
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) $(DEPFLAGS) -c $< -o $@

$(LIB_A): $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The newest node of the symbol map must name this MAJOR.MINOR (libbpf's rule).
# -z nodelete: dlclose() must not unmap the code the library's worker threads
# (core/pool.c) still wait in.
$(LIB_SO): $(OBJS) $(MAP)
	@grep -q "LIBBYOL_$(MAJOR).$(MINOR) " $(MAP) || \
	  { echo "$(MAP) has no node LIBBYOL_$(MAJOR).$(MINOR)"; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC $(OPT) -Wl,-soname,libbyol.so.$(MAJOR) -Wl,--version-script=$(MAP) \
	  -Wl,-z,noexecstack -Wl,-z,nodelete -Wl,--no-undefined -o $@ $(OBJS) $(LIBS)
	ln -sf libbyol.so.$(VERSION) $(dir $@)libbyol.so.$(MAJOR)
	ln -sf libbyol.so.$(MAJOR) $(dir $@)libbyol.so

# Remade on every run (FORCE): it depends on PREFIX, LIBDIR, INCLUDEDIR and
# BLAS, which a file date cannot see; replaced only when its text changes.
pkgconfig/libbyol.pc: pkgconfig/libbyol.pc.in FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES_PRIVATE@|$(strip $(BLAS_PC) stb)|g' -e 's|@BLAS_LIBS@|$(if $(BLAS_PC),,$(BLAS_LIBS))|g' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; echo "wrote $@"; fi

FORCE:

-include $(OBJS:%=%.d)

# ---- tests -----------------------------------------------------------------
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
-include $(TEST_BINS:%=%.d)
TEST_CFLAGS := $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -Itests $(STB_CFLAGS) \
               $(CFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) $< -o $@ $(LIB_A) -lcmocka $(LIBS)

# ---- libbyol-mpi: the MPI communicator adapter (mpi/, docs/cluster.md) -------
# A separate small library, so that libbyol never needs MPI: libbyol-mpi.so
# (SONAME libbyol-mpi.so.MAJOR, symbols in lib/libbyol-mpi.map),
# <byol/byol_mpi.h> from mpi/include and pkgconfig/libbyol-mpi.pc. Built when
# MPI is found: pkg-config's ompi-c (Open MPI) or mpich, else an mpicc on
# PATH; MPI_PC=mpich (or ompi-c) chooses when both are installed (a switch
# rebuilds what links MPI: MPI_STAMP); .ci/run builds MPICH's apart, with
# its own BUILD and LIB_DIR.
# MPI=0 turns it off; MPI=1 fails when no MPI is found. make test runs
# tests/mpi/run.sh under mpirun (SKIPPED without MPI, a failure with
# BYOL_REQUIRE_MPI=1, as CI sets). Needs only libbyol's headers: the adapter
# fills a byol_comm, it calls nothing of libbyol.
MPI ?=
# What is built with MPI is rebuilt when the MPI changes (MPI=0/1, MPI_PC):
# this stamp holds the compiler and flags, and changes only with them.
MPI_STAMP := $(BUILD)/mpi.stamp
ifneq ($(MPI),0)
  MPI_PC := $(firstword $(foreach p,ompi-c mpich,$(shell pkg-config --exists $(p) 2>/dev/null && echo $(p))))
  MPI_CC := $(if $(MPI_PC),$(CC),$(shell command -v mpicc 2>/dev/null))
endif
ifeq ($(MPI_CC),)
  ifeq ($(MPI),1)
    $(error MPI=1 but no MPI found (pkg-config ompi-c or mpich, or mpicc on PATH))
  endif
else
MPI_CFLAGS := $(if $(MPI_PC),$(shell pkg-config --cflags $(MPI_PC)))
MPI_LIBS := $(if $(MPI_PC),$(shell pkg-config --libs $(MPI_PC)))
MPI_SO := $(LIB_DIR)/libbyol-mpi.so.$(VERSION)
MPI_MAP := lib/libbyol-mpi.map
MPI_FLAGS := $(WARN) $(OPT) -Iinclude -Impi/include $(MPI_CFLAGS) $(CFLAGS)
# tests/mpi/test_mpi_python.py (after test_mpi_train, whose runs it compares
# with bit for bit) loads the libbyol.so.1 of $(LIB_DIR), in the default build
# only: not with SAN=1 (the ASan runtime would need preloading into Python),
# nor with BLAS=netlib, whose libblas.so.3 is numpy's SONAME too, so in Python
# libbyol would get numpy's BLAS (the C test's sums, another library's).
MPI_TESTS := $(BUILD)/tests/test_mpi_comm $(BUILD)/tests/test_mpi_comm_chunked \
             $(BUILD)/tests/test_mpi_train \
             $(if $(filter 1,$(SAN))$(filter-out blis,$(BLAS)),,tests/mpi/test_mpi_python.py)
# The byol command joins an mpirun run (tools/byol/dist.c): the adapter's
# object is linked in, as libbyol.a is, so the command needs no libbyol-mpi.so.
TOOL_MPI := -DBYOL_CLI_MPI -Impi/include $(MPI_CFLAGS)
TOOL_MPI_OBJ := $(BUILD)/mpi/byol_mpi.o
# tests/mpi/test_pretrain.sh runs it under mpirun, and the command built
# without MPI (BYOL_NOMPI) as one of two ranks, which it must refuse.
TOOL_NOMPI := $(BUILD)/tests/byol_nompi
MPI_CLI_TEST = echo "== tests/mpi/test_pretrain.sh"; BYOL=$(BYOL_TOOL) BYOL_NOMPI=$(TOOL_NOMPI) \
  bash tests/mpi/test_pretrain.sh || fail=1;

$(BUILD)/mpi/byol_mpi.o: mpi/byol_mpi.c mpi/include/byol/byol_mpi.h $(MPI_STAMP)
	@mkdir -p $(dir $@)
	$(MPI_CC) $(MPI_FLAGS) -fPIC -fvisibility=hidden $(DEPFLAGS) -c $< -o $@

$(MPI_SO): $(BUILD)/mpi/byol_mpi.o $(MPI_MAP)
	@mkdir -p $(dir $@)
	$(MPI_CC) -shared -fPIC $(OPT) -Wl,-soname,libbyol-mpi.so.$(MAJOR) \
	  -Wl,--version-script=$(MPI_MAP) -Wl,-z,noexecstack -Wl,--no-undefined -o $@ $< $(MPI_LIBS)
	ln -sf libbyol-mpi.so.$(VERSION) $(dir $@)libbyol-mpi.so.$(MAJOR)
	ln -sf libbyol-mpi.so.$(MAJOR) $(dir $@)libbyol-mpi.so

pkgconfig/libbyol-mpi.pc: pkgconfig/libbyol-mpi.pc.in FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@MPI_PC@|$(MPI_PC)|g' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; echo "wrote $@"; fi

# The adapter's test, against the shared library; then again compiled with
# the adapter's source and 1000-element chunks, to cover the chunking of
# counts above INT_MAX without gigabytes of memory.
$(BUILD)/tests/test_mpi_comm: tests/mpi/test_mpi_comm.c tests/mpi/mpi_check.h $(MPI_SO)
	@mkdir -p $(dir $@)
	$(MPI_CC) $(MPI_FLAGS) $< -o $@ -L$(LIB_DIR) -lbyol-mpi -Wl,-rpath,$(abspath $(LIB_DIR)) \
	  $(MPI_LIBS)

$(BUILD)/tests/test_mpi_comm_chunked: tests/mpi/test_mpi_comm.c mpi/byol_mpi.c tests/mpi/mpi_check.h \
                                      $(MPI_STAMP)
	@mkdir -p $(dir $@)
	$(MPI_CC) $(MPI_FLAGS) -DBYOL_MPI_CHUNK=1000 $(filter %.c,$^) -o $@ $(MPI_LIBS)

$(BUILD)/tests/test_mpi_train: tests/mpi/test_mpi_train.c tests/mpi/mpi_check.h $(MPI_SO) $(LIB_A)
	@mkdir -p $(dir $@)
	$(MPI_CC) $(MPI_FLAGS) -D_POSIX_C_SOURCE=200809L $< -o $@ $(LIB_A) -L$(LIB_DIR) -lbyol-mpi \
	  -Wl,-rpath,$(abspath $(LIB_DIR)) $(MPI_LIBS) $(LIBS)

$(TOOL_NOMPI): $(TOOL_SRCS) tools/byol/cli.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) $(TOOL_SRCS) -o $@ \
	  $(LIB_A) $(LIBS)

all: $(MPI_SO) pkgconfig/libbyol-mpi.pc
install: install-mpi
uninstall: uninstall-mpi
-include $(BUILD)/mpi/byol_mpi.o.d

.PHONY: install-mpi uninstall-mpi
install-mpi: $(MPI_SO) pkgconfig/libbyol-mpi.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/byol $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 mpi/include/byol/byol_mpi.h $(DESTDIR)$(INCLUDEDIR)/byol/
	install -m 755 $(MPI_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libbyol-mpi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbyol-mpi.so.$(MAJOR)
	ln -sf libbyol-mpi.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libbyol-mpi.so
	install -m 644 pkgconfig/libbyol-mpi.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

uninstall-mpi:
	rm -f $(DESTDIR)$(LIBDIR)/libbyol-mpi.* $(DESTDIR)$(LIBDIR)/pkgconfig/libbyol-mpi.pc
endif

# What the library makes of a file, for tests/cli/test_info_files.sh: public API only.
$(BUILD)/tests/file_probe: tests/cli/file_probe.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) $< -o $@ $(LIB_A) $(LIBS)

$(BUILD)/tests/net_tool: tests/ref/net_tool.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< -o $@ $(LIB_A) $(LIBS)

$(BUILD)/bench/bench_net: bench/bench_net.c bench/bench_util.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $< -o $@ $(LIB_A) $(LIBS)

# The data-parallel step under mpirun (bench/bench_mpi.c), when libbyol-mpi is
# built; linked like test_mpi_train. Without it, bench says why it is skipped.
ifneq ($(MPI_CC),)
BENCH_MPI := $(BUILD)/bench/bench_mpi
$(BENCH_MPI): bench/bench_mpi.c bench/bench_util.h $(MPI_SO) $(LIB_A)
	@mkdir -p $(dir $@)
	$(MPI_CC) $(MPI_FLAGS) $< -o $@ $(LIB_A) -L$(LIB_DIR) -lbyol-mpi \
	  -Wl,-rpath,$(abspath $(LIB_DIR)) $(MPI_LIBS) $(LIBS)
endif

$(BUILD)/bench/bench_loader: bench/bench_loader.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $< -o $@ $(LIB_A) $(LIBS)

$(BUILD)/bench/peak: bench/peak.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -D_POSIX_C_SOURCE=200809L -fopenmp $< -o $@

# One compiler call for the few files of the tool; it links libbyol.a like the
# benchmarks, so the installed command needs no libbyol.so.
# With MPI (the libbyol-mpi section) it is compiled by MPI's compiler and
# takes part in mpirun runs.
TOOL_SRCS := $(sort $(wildcard tools/byol/*.c))
$(MPI_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(MPI_CC) $(MPI_CFLAGS) $(MPI_LIBS)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(BYOL_TOOL): $(TOOL_SRCS) tools/byol/cli.h $(LIB_A) $(TOOL_MPI_OBJ) $(MPI_STAMP)
	@mkdir -p $(dir $@)
	$(or $(MPI_CC),$(CC)) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(TOOL_MPI) \
	  $(CFLAGS) $(TOOL_SRCS) -o $@ $(TOOL_MPI_OBJ) $(LIB_A) $(MPI_LIBS) $(LIBS)

tools: $(BYOL_TOOL)

# examples/: public API only, linked with libbyol.a like the benchmarks (`make
# examples`; make test runs examples/test.sh). With SAN=1 they are built with
# the sanitizers too, since they link the sanitized library.
EXAMPLE_OPT := $(if $(filter 1,$(SAN)),$(OPT),-O2)
EXAMPLES := $(addprefix $(BUILD)/examples/,net_tour custom_loop cpp_raii)

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(EXAMPLE_OPT) -Iinclude $< -o $@ $(LIB_A) $(LIBS)

$(BUILD)/examples/%: examples/%.cpp include/byol/byol.hpp $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -Wall -Wextra -Werror $(EXAMPLE_OPT) -Iinclude $< -o $@ $(LIB_A) $(LIBS)

examples: $(EXAMPLES)

# The main job: BYOL on Fashion-MNIST's 60,000 training images, then the
# linear probe and k-NN of raw pixels, the random encoder and the BYOL one on
# the 10,000 test images, as a table (scripts/demo.sh; about 8 minutes on
# 2 cores). Everything lands in out/demo.
demo: deps
	@$(MAKE) --no-print-directory $(BYOL_TOOL)
	@bash scripts/demo.sh $(BYOL_TOOL) out/demo

# Throughput against the PyTorch peer (when torch is installed), 2 threads:
# forward+backward and BYOL step cases, then the whole pipeline (the loader,
# 1 worker, feeding the step) on the CIFAR-10 JPEG folder, then the loader
# alone on that folder (1 and 2 workers) and the photos, then (with
# libbyol-mpi) the data-parallel step on 2 ranks against 2 threads.
# BENCH_BASELINE=<git revision> also builds that revision's bench_net (from
# git archive, in build/baseline/) and runs it alternately with this one,
# so each line says how this tree compares with it in the same run.
BENCH_BASELINE ?=
BASELINE_NET := $(if $(BENCH_BASELINE),build/baseline/$(BENCH_BASELINE)/$(BUILD)/bench/bench_net)

bench: bench-deps $(BUILD)/bench/bench_net $(BUILD)/bench/bench_loader $(BUILD)/bench/peak \
       $(BYOL_TOOL) data $(BASELINE_NET) $(BENCH_MPI)
	@python3 bench/compare.py --bench-net $(BUILD)/bench/bench_net --threads 2 \
	  --peak $(BUILD)/bench/peak --byol $(BYOL_TOOL) --blas $(BLAS) \
	  --bench-loader $(BUILD)/bench/bench_loader --cifar-dir $(CIFAR_JPG)/train \
	  --photos-dir $(BYOL_DATA)/photos $(if $(BASELINE_NET),--baseline-bench-net $(BASELINE_NET)) \
	  $(if $(BENCH_MPI),--bench-mpi $(BENCH_MPI))

# The data-parallel cases of bench alone (1 and 2 ranks of 1 thread against 1
# rank of 2 threads under mpirun; bench/compare.py's MPI_CASES), or the note
# saying why they are skipped.
.PHONY: bench-mpi
bench-mpi: $(BENCH_MPI)
	@python3 bench/compare.py --blas $(BLAS) $(if $(BENCH_MPI),--bench-mpi $(BENCH_MPI)) \
	  --case mpi_byol_step_cnn_small_b256 --case mpi_byol_step_resnet18_cifar_b64

# The PyTorch peers (Debian's python3-torch, python3-torchvision). Without
# them (no root, no network) bench still runs and says why there is no peer.
bench-deps:
	-@bash scripts/install-deps.sh --bench

# Feature quality on CIFAR-10 (docs/QUALITY.md). `make quality`: libbyol's
# `byol pretrain` and a PyTorch peer (bench/quality/torch_byol.py, the step of
# tests/ref/) train the same recipe (RECIPE in bench/quality/quality.py) one
# after the other, each for BUDGET minutes of wall clock (default 30; steps
# planned from a short calibration run of each side) with 2 threads and 1
# loader worker; byol eval scores both and the initialisation (k-NN and
# linear probe); prints the table and a QUALITY line. Under 70 minutes at
# BUDGET=30 on 2 cores. `make quality-steps STEPS=780` (or `make quality
# STEPS=780`): the comparison at equal steps, about an hour at 780. Both need
# the CIFAR-10 JPEG folders (`make data`) and /usr/bin/python3 with torch
# and torchvision, and stop before training without them.
BUDGET ?= 30
QUALITY_PY = BYOL_LIBRARY=$(abspath $(LIB_DIR))/libbyol.so.$(MAJOR) python3 \
  bench/quality/quality.py --byol $(BYOL_TOOL)
QUALITY_STEPS = $(QUALITY_PY) --arm libbyol --steps $(1) && \
  $(QUALITY_PY) --arm torch --steps $(1) && $(QUALITY_PY) --table
quality: $(BYOL_TOOL) $(LIB_SO) data
	@$(if $(STEPS),$(call QUALITY_STEPS,$(STEPS)),$(QUALITY_PY) --budget $(BUDGET))

quality-steps: $(BYOL_TOOL) $(LIB_SO) data
	@$(call QUALITY_STEPS,$(or $(STEPS),780))

# The numerics modes tested by training (docs/QUALITY.md): the same
# Fashion-MNIST run under nn.conv_algo=im2col, winograd, winograd2 and
# nn.precision=bf16; fails if a mode's k-NN is more than 0.5 points from
# im2col's. About 8 minutes at MODES_EPOCHS=1 on 2 cores.
quality-modes: $(BYOL_TOOL)
	@bash bench/quality/modes.sh $(BYOL_TOOL) out/modes

build/baseline/%/$(BUILD)/bench/bench_net:
	@rm -rf build/baseline/$* && mkdir -p build/baseline/$*
	git archive --format=tar $* | tar -x -C build/baseline/$*
	$(MAKE) --no-print-directory -C build/baseline/$* BLAS=$(BLAS) $(BUILD)/bench/bench_net

# ---- fuzz targets ------------------------------------------------------------
# Each tests/fuzz/fuzz_<name>.c is linked with tests/fuzz/replay.c into a plain
# program that `make test` runs over tests/fuzz/corpus/<name>/ (no libFuzzer
# needed; with SAN=1 it runs under ASan/UBSan). `make fuzz` builds the real
# libFuzzer binaries with clang and fuzzes each for FUZZ_TIME seconds.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
# The fuzzers link the modules that need neither BLAS nor OpenMP, whole:
# a file added to one of them needs no change here.
FUZZ_LIB_SRCS := $(sort $(wildcard $(patsubst %,src/%/*.c,core io augment data)))

$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) tests/fuzz/fuzz_$*.c tests/fuzz/replay.c -o $@ $(LIB_A) $(LIBS)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) $(wildcard include/byol/*.h) $(wildcard src/*/*.h src/*/*.def)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(STB_CFLAGS) $< $(FUZZ_LIB_SRCS) -o $@ \
	  $(STB_LIBS) -lz -lm -ldl -lpthread

fuzz: $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
	@for n in $(FUZZ_NAMES); do mkdir -p build/fuzz/corpus_$$n build/fuzz/artifacts; \
	  build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_TIME) -artifact_prefix=build/fuzz/artifacts/ \
	    build/fuzz/corpus_$$n tests/fuzz/corpus/$$n || exit 1; done

deps:
	@bash scripts/install-deps.sh

# Runs every unit test; each prints cmocka's summary. Fails if any fails.
# Real data (../shared/data beside the project; absent in a user's clone:
# the tests that need it say so). The CIFAR-10 JPEG folders are unpacked
# once into build/data.
BYOL_DATA ?= ../shared/data
CIFAR_JPG := build/data/cifar10-jpg
$(CIFAR_JPG)/.unpacked:
	@if [ -f $(BYOL_DATA)/cifar10-jpg/cifar10-jpg.tar.gz ]; then mkdir -p $(CIFAR_JPG) && \
	  tar -xzf $(BYOL_DATA)/cifar10-jpg/cifar10-jpg.tar.gz -C $(CIFAR_JPG) && touch $@; \
	  else echo "note: $(BYOL_DATA)/cifar10-jpg not found; tests that need it will say so"; fi

data: $(CIFAR_JPG)/.unpacked

test: all $(TEST_BINS) $(FUZZ_REPLAYS) $(BUILD)/tests/file_probe $(BUILD)/bench/bench_net examples data \
      $(MPI_TESTS) $(TOOL_NOMPI)
	@fail=0; for t in $(TEST_BINS); do echo "== $$t"; \
	  BYOL_FIXTURES=tests/fixtures BYOL_DATA_DIR=$(BYOL_DATA) BYOL_CIFAR10_JPG=$(CIFAR_JPG) \
	  $$t || fail=1; done; \
	  for n in $(FUZZ_NAMES); do echo "== replay tests/fuzz/corpus/$$n"; \
	  $(BUILD)/tests/replay_$$n tests/fuzz/corpus/$$n || fail=1; done; \
	  echo "== tests/cli/test_cli.sh"; BYOL=$(BYOL_TOOL) BYOL_CIFAR10_JPG=$(CIFAR_JPG) \
	  bash tests/cli/test_cli.sh || fail=1; \
	  echo "== tests/cli/test_crash.sh"; BYOL=$(BYOL_TOOL) bash tests/cli/test_crash.sh || fail=1; \
	  echo "== tests/cli/test_info_files.sh"; BYOL=$(BYOL_TOOL) PROBE=$(BUILD)/tests/file_probe \
	  bash tests/cli/test_info_files.sh || fail=1; \
	  echo "== tests/bench/test_compare.sh"; BENCH_NET=$(BUILD)/bench/bench_net \
	  bash tests/bench/test_compare.sh || fail=1; \
	  echo "== scripts/check-includes.sh"; bash scripts/check-includes.sh || fail=1; \
	  bash scripts/check-guarantees.sh || fail=1; \
	  bash tests/arch/test_check_includes.sh || fail=1; \
	  bash examples/test.sh $(BUILD)/examples $(FMNIST_DIR) || fail=1; \
	  echo "== tests/mpi/run.sh"; BYOL_LIBRARY=$(abspath $(LIB_DIR))/libbyol.so.$(MAJOR) \
	  bash tests/mpi/run.sh $(MPI_TESTS) || fail=1; \
	  $(MPI_CLI_TEST) \
	  if [ $$fail -ne 0 ]; then echo "SOME TESTS FAILED"; exit 1; fi

check: deps
	@$(MAKE) --no-print-directory test

# ---- bindings ----------------------------------------------------------------
# Rust: bindings/rust, a crate over the C ABI with no registry dependencies.
# Its build.rs links the library built here ($(LIB_DIR), BYOL_LIB_DIR) and
# writes that directory into the run path of the tests and the example, so
# no LD_LIBRARY_PATH is needed. cargo's output goes to build/rust. The example
# runs on random pixels, then on Fashion-MNIST (dataset-fashion-mnist). Last, a
# crate of a user's (tests/install/rust-dependent.sh) runs against libbyol
# installed in a temporary prefix. (Not with SAN=1: a sanitized libbyol.so
# needs the ASan runtime preloaded.)
CARGO ?= cargo
CARGO_FLAGS ?= --offline -j2
RUST_ENV = CARGO_TARGET_DIR=$(abspath build/rust) BYOL_LIB_DIR=$(abspath $(LIB_DIR))
RUST_MANIFEST := --manifest-path bindings/rust/Cargo.toml
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist

rust-test: all
	$(RUST_ENV) $(CARGO) test $(CARGO_FLAGS) $(RUST_MANIFEST)
	$(RUST_ENV) $(CARGO) build $(CARGO_FLAGS) $(RUST_MANIFEST) --examples
	$(RUST_ENV) $(CARGO) run $(CARGO_FLAGS) -q $(RUST_MANIFEST) --example train -- --steps 2 --batch 8
	$(RUST_ENV) $(CARGO) run $(CARGO_FLAGS) -q $(RUST_MANIFEST) --example train -- --steps 2 --batch 8 \
	  --data $(FMNIST_DIR)
	CARGO=$(CARGO) bash tests/install/rust-dependent.sh

# Python: bindings/python, the byol package over ctypes. run-tests.sh installs
# it with pip (offline, no build isolation) into build/python-venv, a venv that
# sees Debian's python3-numpy and python3-pytest, and runs its pytest suite with
# the installed package against this build's libbyol.so.$(MAJOR) (BYOL_LIBRARY).
# PYTEST_ARGS go to pytest. (Not with SAN=1: the ASan runtime would need preloading.)
PYTEST_ARGS ?=
.PHONY: python-test
python-test: all data
	@BYOL_LIBRARY=$(abspath $(LIB_DIR))/libbyol.so.$(MAJOR) BYOL_CIFAR10_JPG=$(abspath $(CIFAR_JPG)) \
	  bash bindings/python/run-tests.sh $(PYTEST_ARGS)

# ---- API reference -------------------------------------------------------------
# Doxygen over include/byol/*.h and the guide in docs/ (docs/Doxyfile) into
# build/docs/html. Any doxygen warning fails the build (an undocumented
# function, field, macro or parameter, a wrong @param name); then
# check-api-docs.sh checks that every function's comment states ownership and
# error codes. Installs doxygen first when it is missing (as root).
docs:
	@bash scripts/install-deps.sh --docs
	@rm -rf build/docs/html && mkdir -p build/docs
	BYOL_VERSION=$(VERSION) doxygen docs/Doxyfile
	@bash scripts/check-api-docs.sh
	@echo "docs: build/docs/html/index.html (libbyol $(VERSION), no doxygen warnings)"

# ---- ABI, symbols, headers ---------------------------------------------------
check-symbols: $(LIB_SO)
	@bash scripts/check-symbols.sh $(LIB_SO) $(MAP)

check-headers:
	@bash scripts/check-headers.sh

abi-baseline: $(LIB_SO)
	abidw --headers-dir include/byol --out-file abi/libbyol-$(MAJOR).$(MINOR).abi $(LIB_SO)

# This release's baseline must match exactly; every older baseline of the
# same major must still be satisfied (additions allowed, nothing else).
OLD_ABIS := $(filter-out abi/libbyol-$(MAJOR).$(MINOR).abi,$(wildcard abi/libbyol-$(MAJOR).*.abi))
abi-check: $(LIB_SO)
	abidiff --headers-dir2 include/byol --suppressions abi/suppressions.abignore \
	  abi/libbyol-$(MAJOR).$(MINOR).abi $(LIB_SO)
	@for b in $(OLD_ABIS); do echo "abidiff --no-added-syms $$b"; \
	  abidiff --no-added-syms --headers-dir2 include/byol --suppressions abi/suppressions.abignore \
	    $$b $(LIB_SO) || exit 1; done

# ---- install -----------------------------------------------------------------
# For a LIBDIR the loader searches (/usr/local/lib, ...), install and uninstall
# run ldconfig as root with no DESTDIR, so programs find libbyol.so.1 at once;
# other prefixes need a run path in the program (docs/quickstart.md).
LDCONFIG ?= ldconfig
install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/byol $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/byol/*.h include/byol/*.hpp $(DESTDIR)$(INCLUDEDIR)/byol/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libbyol.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbyol.so.$(MAJOR)
	ln -sf libbyol.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libbyol.so
	install -m 644 pkgconfig/libbyol.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 $(BYOL_TOOL) $(DESTDIR)$(BINDIR)/byol
	install -m 644 docs/byol.1 $(DESTDIR)$(MANDIR)/man1/byol.1
	@LDCONFIG=$(LDCONFIG) sh scripts/install-ldconfig.sh "$(DESTDIR)" "$(LIBDIR)"

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/byol
	rm -f $(DESTDIR)$(LIBDIR)/libbyol.* $(DESTDIR)$(LIBDIR)/pkgconfig/libbyol.pc
	rm -f $(DESTDIR)$(BINDIR)/byol $(DESTDIR)$(MANDIR)/man1/byol.1
	@LDCONFIG=$(LDCONFIG) sh scripts/install-ldconfig.sh "$(DESTDIR)" "$(LIBDIR)"

clean:
	rm -rf build lib/libbyol.a lib/libbyol.so* lib/libbyol-mpi.so* pkgconfig/libbyol.pc \
	  pkgconfig/libbyol-mpi.pc
