# elector — build, test, demo, bench, install.
#
#   make                 build/bin/elector, build/lib/libelector.so, plugins
#   make test            install deps, build (plain + ASan/UBSan), run all tests
#   make demo            three electors on the file store, leader killed twice
#   make bench           the DESIGN §9 performance table
#   make install PREFIX=/usr/local [DESTDIR=]
#   make SAN=1           build with ASan+UBSan into build-asan/
#   make BUILD=dir       build into another directory (parallel work trees)
#
# Backends: every backends/NAME/ (but common/) becomes build/lib/elector/NAME.so
# from its *.c files; backends/NAME/module.mk may set NAME_CFLAGS/NAME_LIBS.
# Tests: tests/*/module.mk may add C test programs to TEST_PROGS.

SAN ?=
ifeq ($(SAN),1)
BUILD ?= build-asan
else
BUILD ?= build
endif
PREFIX ?= /usr/local
DESTDIR ?=
PYTHON ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
VERSION := $(shell sed -n 's/^\#define ELECTOR_VERSION_STRING "\(.*\)"/\1/p' include/elector/elector.h)

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Iinclude -Icore $(WARN)
LDFLAGS ?=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BASE_CFLAGS += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
endif

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

# libelector: the engine and everything a program embedding it needs.
LIB_SRCS := core/elector.c core/engine.c core/loader.c core/host.c \
            core/record.c core/timeutil.c core/log.c core/metrics.c \
            core/clock.c core/status.c
LIB_LIBS := $(call pc_libs,jansson) -ldl -lpthread
LIB_CFLAGS := $(call pc_cflags,jansson)
# The daemon: CLI, HTTP status, run mode.
# Optional daemon modules, dlopen'ed only when their feature is on so the
# daemon maps no TLS client stack: build/lib/elector/ext/NAME.so.
MODULE_SRCS := core/podlabel.c core/k8sevents.c core/k8sapi.c
# The keeper as its own executable (libc only; see core/keeper_bin.c).
KEEPER_SRCS := core/keeper_bin.c core/keeper.c core/keeper_main.c \
               core/proctree.c core/log.c
DAEMON_SRCS := $(filter-out $(LIB_SRCS) $(MODULE_SRCS) core/keeper_bin.c,$(wildcard core/*.c))
DAEMON_LIBS := $(call pc_libs,libmicrohttpd) -ldl -lpthread
DAEMON_CFLAGS := $(call pc_cflags,libmicrohttpd)
MODULES := $(BUILD)/lib/elector/ext/podlabel.so $(BUILD)/lib/elector/ext/k8sevents.so

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)

BACKENDS := $(filter-out common,$(notdir $(patsubst %/,%,$(wildcard backends/*/))))
COMMON_SRCS := $(wildcard backends/common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
COMMON_LIB := $(BUILD)/obj/backends/libelector_common.a
PLUGINS := $(BACKENDS:%=$(BUILD)/lib/elector/%.so)

TEST_PROGS :=
-include $(wildcard backends/*/module.mk)
-include $(wildcard tests/*/module.mk)
# Extra top-level targets (the cluster demo) live in scripts/*.mk.
-include $(wildcard scripts/*.mk)

ELECTOR_BIN := $(BUILD)/bin/elector
KEEPER_BIN := $(BUILD)/bin/elector-keeper
LIBELECTOR := $(BUILD)/lib/libelector.so
STATIC_LIB := $(BUILD)/obj/libelector.a

# C unit tests: tests/unit/test_*.c, each linked with the library objects.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_PROGS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(BUILD)/obj/%.o)

.PHONY: all lib daemon plugins tests test test-only deps demo bench install \
        uninstall clean help fuzz
.DEFAULT_GOAL := all

all: $(ELECTOR_BIN) $(KEEPER_BIN) $(LIBELECTOR) $(PLUGINS) $(MODULES)  ## build daemon, library, plugins
lib: $(LIBELECTOR)
daemon: $(ELECTOR_BIN)
plugins: $(PLUGINS)
tests: all $(UNIT_PROGS) $(TEST_PROGS)  ## build the C test programs

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBELECTOR): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libelector.so.0 -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(DAEMON_OBJS): BASE_CFLAGS += $(DAEMON_CFLAGS)
$(ELECTOR_BIN): $(DAEMON_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) -rdynamic $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(STATIC_LIB) $(DAEMON_LIBS) $(LIB_LIBS)

$(KEEPER_BIN): $(KEEPER_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# Each module links core/k8sapi.o (the in-cluster request) statically.
$(BUILD)/obj/core/podlabel.o $(BUILD)/obj/core/k8sevents.o \
$(BUILD)/obj/core/k8sapi.o: BASE_CFLAGS += $(call pc_cflags,libcurl)
$(BUILD)/lib/elector/ext/%.so: $(BUILD)/obj/core/%.o $(BUILD)/obj/core/k8sapi.o
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(call pc_libs,libcurl) -lpthread

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# One rule per backend: objects from backends/NAME/*.c, plus the common
# helpers archive, plus NAME_LIBS from its module.mk.
define backend_rule
$(1)_SRCS := $$(wildcard backends/$(1)/*.c)
$(1)_OBJS := $$($(1)_SRCS:%.c=$$(BUILD)/obj/%.o)
$$($(1)_OBJS): BASE_CFLAGS += $$($(1)_CFLAGS)
$$(BUILD)/lib/elector/$(1).so: $$($(1)_OBJS) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) -shared -Wl,--no-undefined $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(COMMON_LIB) $$($(1)_LIBS)
endef
$(foreach b,$(BACKENDS),$(eval $(call backend_rule,$(b))))

# test_keeper compiles core/keeper.c in (a daemon source, not in the library).
$(BUILD)/tests/test_keeper: core/keeper.c core/keeper.h

$(BUILD)/tests/%: tests/unit/%.c $(STATIC_LIB) $(UNIT_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(STATIC_LIB) $(LIB_LIBS)

deps:  ## install build and test dependencies (Debian 12)
	@scripts/install-deps.sh

# make test: everything, plain and under ASan/UBSan, one pytest summary.
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: deps  ## install deps, build plain + sanitized, run every test
	@$(MAKE) --no-print-directory -j$(NPROC) tests
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=1 BUILD=build-asan tests
	@$(MAKE) --no-print-directory test-only VARIANTS="$(BUILD) build-asan"

VARIANTS ?= $(BUILD)
PYTEST_ARGS ?=
test-only:  ## run the tests against already built trees
	ELECTOR_VARIANTS="$(VARIANTS)" PATH="$(CURDIR)/.tools/bin:$$PATH" \
	$(PYTHON) -m pytest -p no:cacheprovider -rs $(PYTEST_ARGS) tests

demo: deps-build all  ## three electors on the file store, with failover
	@scripts/demo.sh $(BUILD)

bench: deps all  ## print the DESIGN §9 performance table
	@$(PYTHON) scripts/bench.py --build $(BUILD)

.PHONY: deps-build
deps-build:
	@scripts/install-deps.sh --build

install: all  ## install under $(DESTDIR)$(PREFIX)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/elector \
	  $(DESTDIR)$(PREFIX)/include/elector $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(ELECTOR_BIN) $(DESTDIR)$(PREFIX)/bin/elector
	install -m 0755 $(KEEPER_BIN) $(DESTDIR)$(PREFIX)/bin/elector-keeper
	install -m 0755 $(LIBELECTOR) $(DESTDIR)$(PREFIX)/lib/libelector.so.0
	ln -sf libelector.so.0 $(DESTDIR)$(PREFIX)/lib/libelector.so
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/elector/
	install -d $(DESTDIR)$(PREFIX)/lib/elector/ext
	install -m 0755 $(MODULES) $(DESTDIR)$(PREFIX)/lib/elector/ext/
	install -m 0644 include/elector/elector.h include/elector/backend.h \
	  $(DESTDIR)$(PREFIX)/include/elector/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  scripts/elector.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/elector.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/elector $(DESTDIR)$(PREFIX)/bin/elector-keeper \
	  $(DESTDIR)$(PREFIX)/lib/elector \
	  $(DESTDIR)$(PREFIX)/lib/libelector.so $(DESTDIR)$(PREFIX)/lib/libelector.so.0 \
	  $(DESTDIR)$(PREFIX)/include/elector $(DESTDIR)$(PREFIX)/lib/pkgconfig/elector.pc

clean:  ## remove every build tree
	rm -rf build build-*

# The help texts may name make variables; print their values. The target
# column is as wide as the longest target.
help:  ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | \
	  sed -e 's|\$$(DESTDIR)\$$(PREFIX)|$(DESTDIR)$(PREFIX)|g' \
	      -e 's|\$$(IMAGE)|$(IMAGE)|g' | sort | \
	  awk -F'\t' '{t[NR] = $$1; h[NR] = $$2; if (length($$1) > w) w = length($$1)} \
	    END {for (i = 1; i <= NR; i++) printf "  make %-" w "s  %s\n", t[i], h[i]}'

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
