# libFuzzer target for the record codec and the time/duration parsers:
# $(BUILD)/tests/fuzz_record, built with clang straight from the core
# sources (not in the ASan variant: it carries its own sanitizers).
# `make fuzz` runs every fuzz-* target for longer than the test does;
# other parsers' fuzzers can hook in with `fuzz: fuzz-NAME`.
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Icore -g -O1 \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_RECORD := $(BUILD)/tests/fuzz_record
FUZZ_RECORD_SRCS := tests/fuzz/fuzz_record.c core/record.c core/timeutil.c
FUZZ_TIME ?= 300

ifneq ($(SAN),1)
TEST_PROGS += $(FUZZ_RECORD)
endif

$(FUZZ_RECORD): $(FUZZ_RECORD_SRCS) core/record.h core/timeutil.h include/elector/backend.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(call pc_cflags,jansson) -o $@ $(FUZZ_RECORD_SRCS) \
	  $(call pc_libs,jansson)

.PHONY: fuzz-record
fuzz: fuzz-record
fuzz-record: $(FUZZ_RECORD)  ## fuzz the record codec for FUZZ_TIME seconds
	@mkdir -p $(BUILD)/fuzz/record
	$(FUZZ_RECORD) -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/record.dict \
	  $(BUILD)/fuzz/record tests/fuzz/corpus
