# Unit test of the gist backend's answer parser: $(BUILD)/tests/gist_parse_test
# (TAP), run by tests/gist/test_gist_unit.py.
GIST_PARSE_TEST := $(BUILD)/tests/gist_parse_test
TEST_PROGS += $(GIST_PARSE_TEST)

$(GIST_PARSE_TEST): tests/gist/gist_parse_test.c backends/gist/gist_parse.c \
                    backends/gist/gist_int.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,jansson) -Ibackends/gist -Itests/unit \
	  $(CFLAGS) $(LDFLAGS) -o $@ tests/gist/gist_parse_test.c \
	  backends/gist/gist_parse.c $(call pc_libs,jansson)

# libFuzzer target for the same parser (plain build only, like tests/fuzz):
# $(BUILD)/tests/fuzz_gist_answer; `make fuzz-gist-answer`.
GIST_FUZZ_CC ?= clang
GIST_FUZZ := $(BUILD)/tests/fuzz_gist_answer
GIST_FUZZ_SRCS := tests/gist/fuzz_gist_answer.c backends/gist/gist_parse.c
ifneq ($(SAN),1)
TEST_PROGS += $(GIST_FUZZ)
endif

$(GIST_FUZZ): $(GIST_FUZZ_SRCS) backends/gist/gist_int.h
	@mkdir -p $(dir $@)
	$(GIST_FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Ibackends/gist \
	  $(call pc_cflags,jansson) -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $(GIST_FUZZ_SRCS) $(call pc_libs,jansson)

.PHONY: fuzz-gist-answer
fuzz: fuzz-gist-answer
fuzz-gist-answer: $(GIST_FUZZ)  ## fuzz the gist answer parser
	@mkdir -p $(BUILD)/fuzz/gist-answer
	$(GIST_FUZZ) -max_total_time=$${FUZZ_TIME:-300} $(BUILD)/fuzz/gist-answer \
	  tests/gist/fuzz-corpus
