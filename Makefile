# heapql: the one, non-recursive Makefile.
#
#   make            build everything under build/
#   make test       unit tests + integration tests of victims and real programs under the preload
#   make check      test + exports check + -Werror build + sanitizers (analyzer, kernels)
#   make bench      benchmarks (ratios against the uninstrumented program and heaptrack)
#   make demo       install missing packages, build, run heapql on real programs, print reports
#   make install    PREFIX=/usr/local DESTDIR=
#
# Switches: DEBUG=1 (-O0, HQ_DEBUG=2), SANITIZE=address,undefined (never applied to the preload),
# HQ_CUDA=auto|0|1, CUDA_ARCH=native, V=1 (show commands).  User CFLAGS/LDFLAGS add to ours.

.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all
SHELL := /bin/bash

PKG_CONFIG ?= pkg-config
CC  ?= cc
CXX ?= c++
ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif
NVCC ?= nvcc
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
DEBUG ?= 0
SANITIZE ?=
V ?= 0
HQ_CUDA ?= auto
CUDA_ARCH ?= native

HQ_VERSION := 0.1.0

ifeq ($(V),1)
Q :=
else
Q := @
endif
quiet = $(if $(filter 1,$(V)),,@printf '  %-7s %s\n' $(1) $(2);)

# ---- dependencies (pkg-config only: a bare -lunwind may be LLVM's, see DESIGN §7) ----
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)
pc_exists = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo yes)

ifneq ($(MAKECMDGOALS),deps)
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(MAKECMDGOALS),demo)
HQ_MISSING := $(foreach p,sqlite3 libunwind libdw cmocka openblas,$(if $(call pc_exists,$(p)),,$(p)))
ifneq ($(strip $(HQ_MISSING)),)
$(error missing build dependencies ($(HQ_MISSING)): run 'scripts/install-deps.sh' (as root) first)
endif
endif
endif
endif

SQLITE_CFLAGS := $(call pc_cflags,sqlite3)
SQLITE_LIBS   := $(call pc_libs,sqlite3)
UNWIND_CFLAGS := $(call pc_cflags,libunwind)
DW_CFLAGS     := $(call pc_cflags,libdw)
DW_LIBS       := $(call pc_libs,libdw)
CMOCKA_CFLAGS := $(call pc_cflags,cmocka)
CMOCKA_LIBS   := $(call pc_libs,cmocka)
BLAS_CFLAGS   := $(call pc_cflags,openblas)
BLAS_LIBS     := $(call pc_libs,openblas)
# The preload links SQLite statically and hides it (--exclude-libs), so its copy never interposes
# on the host program's own.  libunwind.a is not PIC on Debian: it is linked dynamically, as
# heaptrack does.
LIBDIR_SYS    := $(shell $(PKG_CONFIG) --variable=libdir sqlite3 2>/dev/null)
PRELOAD_STATIC_LIBS := $(LIBDIR_SYS)/libsqlite3.a
PRELOAD_STATIC_DEPS := $(filter-out -lsqlite3 -L%,$(shell $(PKG_CONFIG) --static --libs sqlite3 2>/dev/null)) $(call pc_libs,libunwind)

# ---- CUDA: optional, auto-detected ----
ifeq ($(HQ_CUDA),auto)
HQ_CUDA := $(if $(shell command -v $(NVCC) 2>/dev/null || test -x /usr/local/cuda/bin/nvcc && echo y),1,0)
ifeq ($(HQ_CUDA),1)
NVCC := $(if $(shell command -v $(NVCC) 2>/dev/null),$(NVCC),/usr/local/cuda/bin/nvcc)
endif
endif
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC) 2>/dev/null || echo /usr/local/cuda/bin/nvcc)))

# ---- flags ----
HQ_STD  := -std=c11 -D_GNU_SOURCE
HQ_WARN := -Wall -Wextra -Wstrict-prototypes -Wshadow
ifeq ($(DEBUG),1)
OPT := -O0 -g -DHQ_DEBUG=2
else
OPT := -O2 -g
endif
DEP_CFLAGS = -MMD -MP
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer,)
FINAL_CFLAGS  = $(HQ_STD) $(HQ_WARN) $(OPT) $(DEP_CFLAGS) -fPIC -Iinclude -I$(BUILD)/gen \
                -DHQ_VERSION_STRING='"$(HQ_VERSION)"' -DHQ_CUDA_ENABLED=$(HQ_CUDA) $(CFLAGS)
FINAL_LDFLAGS = $(LDFLAGS)

# ---- outputs ----
BIN := $(BUILD)/bin
LIB := $(BUILD)/lib
OBJ := $(BUILD)/obj
PRELOAD_SO := $(LIB)/libheapql_preload.so
ANALYZER_A := $(LIB)/libheapql.a
ANALYZER_SO := $(LIB)/libheapql.so
KERNELS_A  := $(LIB)/libheapql_kernels.a
KERNELS_SO := $(LIB)/libheapql_kernels.so
HEAPQL_BIN := $(BIN)/heapql
DEMO_BIN   := $(BIN)/heapql-demo

all: $(PRELOAD_SO) $(ANALYZER_A) $(ANALYZER_SO) $(KERNELS_A) $(KERNELS_SO) $(HEAPQL_BIN) \
     $(DEMO_BIN) $(BUILD)/heapql.pc

# Rebuild everything when the flags change (redis persist-settings).
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(HQ_CUDA)
$(shell mkdir -p $(BUILD); test "`cat $(FLAGS_STAMP) 2>/dev/null`" = '$(FLAGS_NOW)' || echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

# ---- generated: the schema embedded as a C string ----
SCHEMA_H := $(BUILD)/gen/hq_schema_sql.h
$(SCHEMA_H): analyzer/base/hq_schema.sql scripts/embed.sh
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)$(SHELL) scripts/embed.sh hq__schema_sql < $< > $@

# ---- the shared contracts' sources (include/heapql/internal/): error strings, kinds, output
# names, misuse.  Built once, unsanitized, into every library: libheapql, libheapql_kernels and
# the preload. ----
COMMON_SRC := $(wildcard analyzer/common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(OBJ)/%.o)
COMMON_A   := $(BUILD)/obj/libhq_common.a
$(OBJ)/analyzer/common/%.o: analyzer/common/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) -fvisibility=hidden -DHQ_BUILDING_LIB -c $< -o $@
$(COMMON_A): $(COMMON_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

# ---- analyzer: libheapql + the CLI.  Layers (docs/architecture.md): base <- import, symbols
# <- query <- output <- cli.  The import sub-library (base + import) is also linked into the
# preload, which reaches it only through hq_import(). ----
IMPORT_SRC   := $(wildcard analyzer/base/*.c analyzer/import/*.c)
ANALYZER_SRC := $(IMPORT_SRC) $(wildcard analyzer/symbols/*.c analyzer/query/*.c analyzer/output/*.c)
ANALYZER_OBJ := $(ANALYZER_SRC:%.c=$(OBJ)/%.o)
IMPORT_OBJ   := $(IMPORT_SRC:%.c=$(OBJ)/%.o)
IMPORT_A     := $(BUILD)/obj/libhq_import.a
CLI_SRC := $(wildcard analyzer/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(OBJ)/%.o)
ANALYZER_CFLAGS = $(SQLITE_CFLAGS) $(DW_CFLAGS) -Ianalyzer -fvisibility=hidden -DHQ_BUILDING_LIB
ANALYZER_LIBS := $(SQLITE_LIBS) $(DW_LIBS) -lm -lpthread

$(OBJ)/analyzer/%.o: analyzer/%.c $(FLAGS_STAMP) | $(SCHEMA_H)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(ANALYZER_CFLAGS) -c $< -o $@
# The preload is never sanitized (ASan interposes malloc too): in a sanitizer build it gets an
# unsanitized copy of the import sub-library, same sources and flags otherwise.
ifeq ($(SANITIZE),)
PRELOAD_IMPORT_A := $(IMPORT_A)
$(IMPORT_A): $(IMPORT_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^
else
PRELOAD_IMPORT_A := $(BUILD)/obj/nosan/libhq_import.a
NOSAN_IMPORT_OBJ := $(IMPORT_SRC:%.c=$(OBJ)/nosan/%.o)
$(OBJ)/nosan/analyzer/%.o: analyzer/%.c $(FLAGS_STAMP) | $(SCHEMA_H)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(ANALYZER_CFLAGS) -c $< -o $@
$(PRELOAD_IMPORT_A): $(NOSAN_IMPORT_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^
endif

$(ANALYZER_A): $(ANALYZER_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^
$(ANALYZER_SO): $(ANALYZER_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) -shared $(SAN_FLAGS) -o $@ $^ $(FINAL_LDFLAGS) -Wl,-soname,libheapql.so $(ANALYZER_LIBS)
$(HEAPQL_BIN): $(CLI_OBJ) $(ANALYZER_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $(CLI_OBJ) $(ANALYZER_A) $(FINAL_LDFLAGS) $(ANALYZER_LIBS)

# ---- preload: libheapql_preload.so (never sanitized: ASan interposes malloc too) ----
PRELOAD_SRC := $(wildcard preload/*.c) $(wildcard preload/*.S)
PRELOAD_OBJ := $(patsubst %,$(OBJ)/%.o,$(basename $(PRELOAD_SRC)))
PRELOAD_CFLAGS = $(UNWIND_CFLAGS) -fvisibility=hidden -fno-semantic-interposition \
                 -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc \
                 -fno-builtin-realloc -fno-omit-frame-pointer

# PRELOAD_SAN: only for check-tsan's build of the recorder's objects into a test (never the .so).
$(OBJ)/preload/%.o: preload/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(PRELOAD_SAN) $(PRELOAD_CFLAGS) -c $< -o $@
$(OBJ)/preload/%.o: preload/%.S $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,AS,$<)$(CC) -c $< -o $@
$(PRELOAD_SO): $(PRELOAD_OBJ) $(PRELOAD_IMPORT_A) $(COMMON_A) preload/heapql.map
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) -shared -o $@ $(PRELOAD_OBJ) $(PRELOAD_IMPORT_A) $(COMMON_A) $(FINAL_LDFLAGS) \
	  -Wl,--version-script=preload/heapql.map -Wl,--exclude-libs,ALL -Wl,-z,nodelete \
	  -Wl,-soname,libheapql_preload.so $(PRELOAD_STATIC_LIBS) $(PRELOAD_STATIC_DEPS) -ldl -lpthread -lm

# ---- kernels: libheapql_kernels (CPU always, CUDA when nvcc is there) ----
KERNELS_SRC := $(wildcard kernels/*.c)
ifeq ($(HQ_CUDA),1)
KERNELS_CU  := $(wildcard kernels/cuda/*.cu)
KERNELS_SRC += $(filter-out kernels/cuda/hq_cuda_stub.c,$(wildcard kernels/cuda/*.c))
CUDA_LIBS   := -L$(CUDA_HOME)/lib64 -lcublas -lcusparse -lcudart
CUDA_CFLAGS := -isystem $(CUDA_HOME)/include
else
KERNELS_CU  :=
KERNELS_SRC += $(wildcard kernels/cuda/hq_cuda_stub.c)
CUDA_LIBS   :=
CUDA_CFLAGS :=
endif
KERNELS_OBJ := $(KERNELS_SRC:%.c=$(OBJ)/%.o) $(KERNELS_CU:%.cu=$(OBJ)/%.cu.o)
KERNELS_CFLAGS = $(BLAS_CFLAGS) $(CUDA_CFLAGS) -fvisibility=hidden -DHQ_BUILDING_LIB
KERNELS_LIBS := $(BLAS_LIBS) $(CUDA_LIBS) -lm -lpthread -ldl

$(OBJ)/kernels/%.o: kernels/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(KERNELS_CFLAGS) -c $< -o $@
$(OBJ)/kernels/%.cu.o: kernels/%.cu $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,NVCC,$<)$(NVCC) -O2 -arch=$(CUDA_ARCH) -Xcompiler -fPIC,-fvisibility=hidden -Iinclude -Ikernels -c $< -o $@
$(KERNELS_A): $(KERNELS_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^
$(KERNELS_SO): $(KERNELS_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) -shared $(SAN_FLAGS) -o $@ $^ $(FINAL_LDFLAGS) -Wl,-soname,libheapql_kernels.so $(KERNELS_LIBS)

DEMO_SRC := $(wildcard kernels/demo/*.c)
DEMO_OBJ := $(DEMO_SRC:%.c=$(OBJ)/%.o)
$(DEMO_BIN): $(DEMO_OBJ) $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $(DEMO_OBJ) $(KERNELS_A) $(FINAL_LDFLAGS) $(KERNELS_LIBS)

# ---- bench: checkpointing (model and training) ----
BENCH_CKPT_BIN := $(BIN)/hq-bench-ckpt
$(OBJ)/bench/ckpt_bench.o: bench/ckpt_bench.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(BLAS_CFLAGS) -c $< -o $@
$(BENCH_CKPT_BIN): $(OBJ)/bench/ckpt_bench.o $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(KERNELS_A) $(FINAL_LDFLAGS) $(KERNELS_LIBS)
all: $(BENCH_CKPT_BIN)
bench-ckpt: $(BENCH_CKPT_BIN)
	$(Q)$(BENCH_CKPT_BIN)
bench: bench-ckpt
.PHONY: bench-ckpt

# ---- kernels benchmark (not a test): build/bin/hq-bench-kernels, run by make bench ----
BENCH_KERNELS := $(BIN)/hq-bench-kernels
$(OBJ)/bench/kernels_bench.o: bench/kernels_bench.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(BENCH_KERNELS): $(OBJ)/bench/kernels_bench.o $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(KERNELS_A) $(FINAL_LDFLAGS) $(KERNELS_LIBS)
all: $(BENCH_KERNELS)
bench-kernels: $(BENCH_KERNELS)
	$(Q)$(BENCH_KERNELS)
bench: bench-kernels
.PHONY: bench-kernels

# ---- GPU benchmark (not a test): build/bin/hq-bench-cuda, only with CUDA; prints "no CUDA
# device" and exits 0 where there is none ----
ifeq ($(HQ_CUDA),1)
BENCH_CUDA := $(BIN)/hq-bench-cuda
$(OBJ)/bench/cuda_bench.o: bench/cuda_bench.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(CUDA_CFLAGS) -c $< -o $@
$(BENCH_CUDA): $(OBJ)/bench/cuda_bench.o $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(KERNELS_A) $(FINAL_LDFLAGS) $(KERNELS_LIBS)
all: $(BENCH_CUDA)
bench-cuda: $(BENCH_CUDA)
	$(Q)$(BENCH_CUDA)
bench: bench-cuda
.PHONY: bench-cuda
endif

# ---- pkg-config file ----
$(BUILD)/heapql.pc: scripts/heapql.pc.in Makefile
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(HQ_VERSION)|g' $< > $@

# ---- tests ----
TEST_BIN := $(BUILD)/tests
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(TEST_BIN)/unit/%)
PRELOAD_TEST_SRC := $(wildcard tests/preload/test_*.c)
PRELOAD_TEST_BINS := $(PRELOAD_TEST_SRC:tests/preload/%.c=$(TEST_BIN)/preload/%)
TEST_SUPPORT_SRC := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(OBJ)/%.o)
VICTIM_C   := $(filter-out tests/preload/victims/lib%.c tests/preload/victims/v_glib.c,\
                $(wildcard tests/preload/victims/*.c))
VICTIM_CXX := $(wildcard tests/preload/victims/*.cpp)
VICTIM_LIB := $(wildcard tests/preload/victims/lib*.c)
VICTIMS := $(VICTIM_C:tests/preload/victims/%.c=$(TEST_BIN)/victims/%) \
           $(VICTIM_CXX:tests/preload/victims/%.cpp=$(TEST_BIN)/victims/%) \
           $(VICTIM_LIB:tests/preload/victims/%.c=$(TEST_BIN)/victims/%.so)
TEST_CFLAGS = $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) $(BLAS_CFLAGS) -Ianalyzer -Ikernels -Itests/support -DHQ_TESTING $(if $(SANITIZE),-DHQ_SANITIZED=1,)
TEST_LIBS = $(KERNELS_A) $(ANALYZER_A) $(CMOCKA_LIBS) $(ANALYZER_LIBS) $(KERNELS_LIBS)

# Victims: -O0 by default, -O2 when the name ends in _O2; frame pointers kept either way.
victim_opt = $(if $(findstring _O2,$(1)),-O2,-O0)
$(OBJ)/tests/%.o: tests/%.c $(FLAGS_STAMP) | $(SCHEMA_H)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SAN_FLAGS) $(TEST_CFLAGS) -c $< -o $@
$(TEST_BIN)/unit/%: $(OBJ)/tests/unit/%.o $(TEST_SUPPORT_OBJ) $(ANALYZER_A) $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(TEST_LIBS) $(FINAL_LDFLAGS)
$(TEST_BIN)/preload/%: $(OBJ)/tests/preload/%.o $(TEST_SUPPORT_OBJ) $(ANALYZER_A) $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(TEST_LIBS) $(FINAL_LDFLAGS)
$(TEST_BIN)/victims/lib%.so: tests/preload/victims/lib%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -std=gnu11 -g -O0 -fno-omit-frame-pointer -fPIC -shared -o $@ $< -ldl -lpthread
$(TEST_BIN)/victims/%: tests/preload/victims/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -std=gnu11 -g $(call victim_opt,$*) -fno-omit-frame-pointer -fno-builtin -Iinclude -o $@ $< -ldl -lpthread
$(TEST_BIN)/victims/%: tests/preload/victims/%.cpp
	@mkdir -p $(@D)
	$(call quiet,CXX,$<)$(CXX) -std=c++17 -g $(call victim_opt,$*) -fno-omit-frame-pointer -fno-builtin -o $@ $< -lpthread

tests: all $(UNIT_BINS) $(PRELOAD_TEST_BINS) $(VICTIMS)

# A victim linked with a library whose constructor allocates (libvctor.so, found beside it).
$(TEST_BIN)/victims/v_ctor: tests/preload/victims/v_ctor.c $(TEST_BIN)/victims/libvctor.so
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -std=gnu11 -g -O0 -fno-omit-frame-pointer -o $@ $< -L$(TEST_BIN)/victims -lvctor -Wl,-rpath,'$$ORIGIN'

# A victim that allocates through glib, built when glib's headers are there (its test skips
# otherwise).
ifeq ($(shell pkg-config --exists glib-2.0 2>/dev/null && echo 1),1)
$(TEST_BIN)/victims/v_glib: tests/preload/victims/v_glib.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -std=gnu11 -g -O0 -fno-omit-frame-pointer $(shell pkg-config --cflags glib-2.0) -o $@ $< $(shell pkg-config --libs glib-2.0)
tests: $(TEST_BIN)/victims/v_glib
endif

# The recorder without the interposer (preload/hq_recorder.h): its ring, writer and record path
# linked into a test directly, no LD_PRELOAD.
RECORDER_OBJ := $(filter-out $(addprefix $(OBJ)/preload/,hq_preload.o hq_cuda_hooks.o hq_dlsym.o \
                  hq_dlopen.o hq_init.o hq_import_glue.o hq_signal.o hq_exec.o hq_leakscan.o hq_liveset.o hq_embedded.o hq_nvtx.o),$(PRELOAD_OBJ))
$(TEST_BIN)/unit/test_recorder: $(OBJ)/tests/unit/test_recorder.o $(RECORDER_OBJ) $(TEST_SUPPORT_OBJ) $(ANALYZER_A) $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(RECORDER_OBJ) $(TEST_SUPPORT_OBJ) $(TEST_LIBS) $(call pc_libs,libunwind) -ldl $(FINAL_LDFLAGS)

# Kernels tests: a stand-in recorder (exports heapql_annotate_v1) that the tests dlopen to count
# the annotations the kernels emit.
FAKE_ANNOTATE_SO := $(TEST_BIN)/unit/libhq_fake_annotate.so
$(FAKE_ANNOTATE_SO): tests/unit/fake/hq_fake_annotate.c include/heapql/annotate.h
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -std=gnu11 -g -O1 -fPIC -shared -Iinclude -o $@ $< -lpthread
tests: $(FAKE_ANNOTATE_SO)

# CUDA recorder tests: the libcuda.so.1 test double and the programs that call it (no toolkit,
# no GPU).  Victims linked with it bind to the driver through the PLT and find it by RUNPATH.
CUDA_TEST_DIR := $(TEST_BIN)/cuda
CUDA_TEST_SRC := tests/preload/cuda
CUDA_TEST_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O0 -fno-omit-frame-pointer -I$(CUDA_TEST_SRC)
CUDA_TEST_RPATH := -Wl,-rpath,$(abspath $(CUDA_TEST_DIR))
CUDA_TEST_ARTIFACTS := $(addprefix $(CUDA_TEST_DIR)/,libcuda.so.1 old/libcuda.so.1 v_cuda_plt \
                         v_cuda_vmm v_cuda_threads v_cuda_dlopen v_cuda_probe v_next v_nvtx_double v_cuda_kinds nvml/libnvidia-ml.so.1)
$(CUDA_TEST_DIR)/libcuda.so.1: $(CUDA_TEST_SRC)/fake_libcuda.c $(CUDA_TEST_SRC)/fake_cuda.h
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CUDA_TEST_CFLAGS) -fPIC -shared -Wl,-soname,libcuda.so.1 -Wl,-Bsymbolic -o $@ $< -ldl -lpthread
$(CUDA_TEST_DIR)/nvml/libnvidia-ml.so.1: $(CUDA_TEST_SRC)/fake_libnvml.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CUDA_TEST_CFLAGS) -fPIC -shared -Wl,-soname,libnvidia-ml.so.1 -o $@ $<
$(CUDA_TEST_DIR)/old/libcuda.so.1: $(CUDA_TEST_SRC)/fake_libcuda.c $(CUDA_TEST_SRC)/fake_cuda.h
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CUDA_TEST_CFLAGS) -DFAKE_CUDA_NO_VMM_CREATE -fPIC -shared -Wl,-soname,libcuda.so.1 -Wl,-Bsymbolic -o $@ $< -ldl -lpthread
$(addprefix $(CUDA_TEST_DIR)/,v_cuda_plt v_cuda_vmm v_cuda_threads v_nvtx_double v_cuda_kinds): $(CUDA_TEST_DIR)/%: $(CUDA_TEST_SRC)/%.c $(CUDA_TEST_SRC)/victim_util.h $(CUDA_TEST_SRC)/fake_cuda.h $(CUDA_TEST_DIR)/libcuda.so.1
	$(call quiet,CC,$<)$(CC) $(CUDA_TEST_CFLAGS) -o $@ $< -L$(CUDA_TEST_DIR) -l:libcuda.so.1 $(CUDA_TEST_RPATH) -ldl -lpthread
$(CUDA_TEST_DIR)/v_cuda_dlopen: $(CUDA_TEST_SRC)/v_cuda_dlopen.c $(CUDA_TEST_SRC)/victim_util.h $(CUDA_TEST_SRC)/fake_cuda.h
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CUDA_TEST_CFLAGS) -o $@ $< $(CUDA_TEST_RPATH) -ldl
$(CUDA_TEST_DIR)/v_cuda_probe: $(CUDA_TEST_SRC)/v_cuda_probe.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CUDA_TEST_CFLAGS) -o $@ $< -ldl
$(CUDA_TEST_DIR)/libvnext_%.so: $(CUDA_TEST_SRC)/libvnext_%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CUDA_TEST_CFLAGS) -fPIC -shared -o $@ $< -ldl
$(CUDA_TEST_DIR)/v_next: $(CUDA_TEST_SRC)/v_next.c $(CUDA_TEST_DIR)/libvnext_b.so $(CUDA_TEST_DIR)/libvnext_c.so
	$(call quiet,CC,$<)$(CC) $(CUDA_TEST_CFLAGS) -o $@ $< -L$(CUDA_TEST_DIR) -Wl,--no-as-needed \
	  -l:libvnext_b.so -l:libvnext_c.so $(CUDA_TEST_RPATH) -ldl
tests: $(CUDA_TEST_ARTIFACTS)
ifeq ($(HQ_CUDA),1)
# Static cudart (nvcc's default), to check its driver bootstrap goes through the hooks.
$(CUDA_TEST_DIR)/rt_bootstrap: $(CUDA_TEST_SRC)/rt_bootstrap.cu
	@mkdir -p $(@D)
	$(call quiet,NVCC,$<)$(NVCC) -O1 -g -o $@ $<
tests: $(CUDA_TEST_DIR)/rt_bootstrap
endif

# Kernels GPU tests (tests/cuda/test_*.c): built only with CUDA, like the unit tests otherwise;
# each test that needs a device skips when none is present.
ifeq ($(HQ_CUDA),1)
GPU_TEST_BINS := $(patsubst tests/cuda/%.c,$(TEST_BIN)/gpu/%,$(wildcard tests/cuda/test_*.c))
endif
$(TEST_BIN)/gpu/%: $(OBJ)/tests/cuda/%.o $(TEST_SUPPORT_OBJ) $(ANALYZER_A) $(KERNELS_A)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(SAN_FLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(TEST_LIBS) $(FINAL_LDFLAGS)
tests: $(GPU_TEST_BINS)

test: tests
	$(Q)$(SHELL) scripts/check-structure.sh $(BUILD)
	$(Q)HEAPQL_TEST_BUILD=$(BUILD) $(SHELL) scripts/run-tests.sh $(UNIT_BINS) $(PRELOAD_TEST_BINS) \
	  $(GPU_TEST_BINS)

# ---- check: the long runs ----
check: test check-exports check-werror check-sanitize check-tsan check-crash check-fuzz

# ---- fuzz: libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang over a clang build of the
# libraries with fuzzer coverage, ASan and UBSan (BUILD/fuzz); FUZZ_SECONDS per target. ----
FUZZ_TARGETS := raw db npy
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_SAN := fuzzer-no-link,address,undefined
fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=$(FUZZ_CC) SANITIZE=$(FUZZ_SAN) \
	  $(BUILD)/fuzz/lib/libheapql.a $(BUILD)/fuzz/lib/libheapql_kernels.a
	@mkdir -p $(BUILD)/fuzz/bin
	$(Q)for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -o $(BUILD)/fuzz/bin/fuzz_$$t \
	    tests/fuzz/fuzz_$$t.c $(BUILD)/fuzz/lib/libheapql.a $(BUILD)/fuzz/lib/libheapql_kernels.a \
	    $(ANALYZER_LIBS) $(KERNELS_LIBS) || exit 1; done
fuzz: fuzz-build
	$(Q)$(SHELL) scripts/fuzz.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
check-fuzz: fuzz-build
	$(Q)$(SHELL) scripts/fuzz.sh $(BUILD) 10 $(FUZZ_TARGETS)

# ThreadSanitizer over the recorder's ring and writer: test_recorder (threads appending while the
# writer drains, a ring that fills, fork, failures) built with -fsanitize=thread, recorder objects
# included.  clang's runtime: gcc 12's crashes in its own clock code on this test.
TSAN_CC ?= clang
check-tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan CC=$(TSAN_CC) SANITIZE=thread \
	  PRELOAD_SAN=-fsanitize=thread $(BUILD)/tsan/tests/unit/test_recorder
	$(Q)HEAPQL_TEST_BUILD=$(BUILD) TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(SHELL) scripts/run-tests.sh $(BUILD)/tsan/tests/unit/test_recorder

# The kill storm of tests/preload/test_preload_crash.c, 200 times instead of make test's 20.
check-crash: tests
	$(Q)HEAPQL_TEST_BUILD=$(BUILD) HEAPQL_CRASH_RUNS=200 $(SHELL) scripts/run-tests.sh \
	  $(TEST_BIN)/preload/test_preload_crash

check-exports: $(PRELOAD_SO)
	$(Q)$(SHELL) scripts/check-exports.sh $(PRELOAD_SO) preload/heapql.map

check-werror:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/werror CFLAGS='$(CFLAGS) -Werror' all

check-sanitize:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=address,undefined test

# ---- bench, demo ----
# bench/gen_db: a synthetic 10-million-allocation database for the analyzer benchmark
# (scripts/bench-analyzer.sh).
GEN_DB := $(BUILD)/bench/gen_db
$(GEN_DB): bench/gen_db.c $(ANALYZER_A) $(FLAGS_STAMP) | $(SCHEMA_H)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(SQLITE_CFLAGS) -Ianalyzer -o $@ $< $(ANALYZER_A) $(FINAL_LDFLAGS) $(ANALYZER_LIBS)
bench-analyzer: all $(GEN_DB) $(BUILD)/bench/churn
	$(Q)HEAPQL_BUILD=$(BUILD) $(SHELL) scripts/bench-analyzer.sh
bench: bench-analyzer
.PHONY: bench-analyzer

# The leak check and gate against memcheck and LeakSanitizer (scripts/bench-gate.sh).
bench-gate: all
	$(Q)BUILD=$(BUILD) $(SHELL) scripts/bench-gate.sh
bench: bench-gate
.PHONY: bench-gate

# The recorder's benchmark runs last: its final line is the heapql/heaptrack ratio.
BENCH_BINS := $(BUILD)/bench/churn
$(BUILD)/bench/churn: bench/churn.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) -O2 -g -fno-omit-frame-pointer -o $@ $< -lpthread

bench: all $(BENCH_BINS)
	$(Q)BUILD=$(BUILD) $(SHELL) scripts/bench.sh

demo:
	$(Q)$(SHELL) scripts/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SHELL) scripts/demo.sh

deps:
	$(Q)$(SHELL) scripts/install-deps.sh

# ---- install ----
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/heapql \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(HEAPQL_BIN) $(DEMO_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(PRELOAD_SO) $(ANALYZER_SO) $(KERNELS_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(ANALYZER_A) $(KERNELS_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/heapql/*.h $(DESTDIR)$(PREFIX)/include/heapql/
	install -m 644 $(BUILD)/heapql.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

clean:
	rm -rf $(BUILD)

print-%:
	@echo '$*=$($*)'

.PHONY: all tests test check check-exports check-werror check-sanitize check-tsan check-crash check-fuzz fuzz fuzz-build bench demo deps install clean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
