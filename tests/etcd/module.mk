# libFuzzer target for the etcd backend's gateway parsers (plain build
# only, like tests/fuzz): $(BUILD)/tests/fuzz_etcd; `make fuzz-etcd` runs it
# for FUZZ_TIME (default 300) seconds.
ETCD_FUZZ_CC ?= clang
ETCD_FUZZ := $(BUILD)/tests/fuzz_etcd
ETCD_FUZZ_SRCS := tests/etcd/fuzz_etcd.c backends/etcd/etcd_json.c \
                  backends/etcd/etcd_conf.c
ifneq ($(SAN),1)
TEST_PROGS += $(ETCD_FUZZ)
endif

$(ETCD_FUZZ): $(ETCD_FUZZ_SRCS) backends/etcd/etcd_int.h
	@mkdir -p $(dir $@)
	$(ETCD_FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Ibackends/etcd \
	  $(call pc_cflags,jansson libcurl) -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $(ETCD_FUZZ_SRCS) $(call pc_libs,jansson)

.PHONY: fuzz-etcd
fuzz: fuzz-etcd
fuzz-etcd: $(ETCD_FUZZ)  ## fuzz the etcd backend's gateway parsers
	@mkdir -p $(BUILD)/fuzz/etcd
	$(ETCD_FUZZ) -max_total_time=$${FUZZ_TIME:-300} $(BUILD)/fuzz/etcd \
	  tests/etcd/fuzz-corpus

# Unit test (TAP) of the same pure parts: $(BUILD)/tests/etcd_parse_test,
# run by tests/etcd/test_etcd_unit.py.
ETCD_PARSE_TEST := $(BUILD)/tests/etcd_parse_test
TEST_PROGS += $(ETCD_PARSE_TEST)

$(ETCD_PARSE_TEST): tests/etcd/etcd_parse_test.c $(ETCD_FUZZ_SRCS) \
                    backends/etcd/etcd_int.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,jansson libcurl) -Ibackends/etcd \
	  -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ tests/etcd/etcd_parse_test.c \
	  backends/etcd/etcd_json.c backends/etcd/etcd_conf.c \
	  $(call pc_libs,jansson)
