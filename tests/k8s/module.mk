# tests/k8s: a tiny driver for core/podlabel.c (the daemon's --label-pod
# helper), run by tests/k8s/test_lease_podlabel.py against the emulator.
PODLABEL_TEST := $(BUILD)/tests/podlabel_test
TEST_PROGS += $(PODLABEL_TEST)

$(PODLABEL_TEST): tests/k8s/podlabel_test.c core/podlabel.c core/podlabel.h \
                 core/k8sapi.c core/k8sapi.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,libcurl) $(CFLAGS) $(LDFLAGS) \
	  -o $@ tests/k8s/podlabel_test.c core/podlabel.c core/k8sapi.c \
	  $(call pc_libs,libcurl) -lpthread

# and for core/k8sevents.c (--k8s-events), run by test_lease_events.py.
K8SEVENTS_TEST := $(BUILD)/tests/k8sevents_test
TEST_PROGS += $(K8SEVENTS_TEST)

$(K8SEVENTS_TEST): tests/k8s/k8sevents_test.c core/k8sevents.c core/k8sevents.h \
                  core/k8sapi.c core/k8sapi.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,libcurl) $(CFLAGS) $(LDFLAGS) \
	  -o $@ tests/k8s/k8sevents_test.c core/k8sevents.c core/k8sapi.c \
	  $(call pc_libs,libcurl) -lpthread

# libFuzzer target for the Lease backend's parsers (Lease JSON, YAML,
# base64, kubeconfig resolution); plain build only, like tests/fuzz.
# `make fuzz-lease` runs it for FUZZ_TIME (default 300) seconds.
LEASE_FUZZ_CC ?= clang
LEASE_FUZZ := $(BUILD)/tests/fuzz_lease
LEASE_FUZZ_SRCS := tests/k8s/fuzz_lease.c backends/lease/kyaml.c \
                   backends/lease/kconfig.c backends/lease/lease_json.c \
                   core/timeutil.c
ifneq ($(SAN),1)
TEST_PROGS += $(LEASE_FUZZ)
endif

$(LEASE_FUZZ): $(LEASE_FUZZ_SRCS) backends/lease/lease_int.h core/timeutil.h
	@mkdir -p $(dir $@)
	$(LEASE_FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Icore -Ibackends/lease \
	  $(call pc_cflags,jansson yaml-0.1) -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $(LEASE_FUZZ_SRCS) $(call pc_libs,jansson yaml-0.1)

.PHONY: fuzz-lease
fuzz: fuzz-lease
fuzz-lease: $(LEASE_FUZZ)  ## fuzz the lease backend's parsers
	@mkdir -p $(BUILD)/fuzz/lease
	$(LEASE_FUZZ) -max_total_time=$${FUZZ_TIME:-300} $(BUILD)/fuzz/lease \
	  tests/k8s/fuzz-corpus
