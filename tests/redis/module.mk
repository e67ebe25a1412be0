# Unit test of the redis backend's URL/duration parsers and SHA-1:
# $(BUILD)/tests/redis_url_test (TAP), run by tests/redis/test_redis_unit.py.
REDIS_URL_TEST := $(BUILD)/tests/redis_url_test
TEST_PROGS += $(REDIS_URL_TEST)

$(REDIS_URL_TEST): tests/redis/redis_url_test.c backends/redis/redis_url.c \
                   backends/redis/redis_sha1.c backends/redis/redis_int.h \
                   tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,hiredis) -Ibackends/redis \
	  -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ tests/redis/redis_url_test.c \
	  backends/redis/redis_url.c backends/redis/redis_sha1.c

# libFuzzer target for the same parsers (plain build only, like
# tests/fuzz): $(BUILD)/tests/fuzz_redis_url; `make fuzz-redis-url`.
REDIS_FUZZ_CC ?= clang
REDIS_FUZZ := $(BUILD)/tests/fuzz_redis_url
REDIS_FUZZ_SRCS := tests/redis/fuzz_redis_url.c backends/redis/redis_url.c \
                   backends/redis/redis_sha1.c
ifneq ($(SAN),1)
TEST_PROGS += $(REDIS_FUZZ)
endif

$(REDIS_FUZZ): $(REDIS_FUZZ_SRCS) backends/redis/redis_int.h
	@mkdir -p $(dir $@)
	$(REDIS_FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Ibackends/redis \
	  $(call pc_cflags,hiredis) -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $(REDIS_FUZZ_SRCS)

.PHONY: fuzz-redis-url
fuzz: fuzz-redis-url
fuzz-redis-url: $(REDIS_FUZZ)  ## fuzz the redis URL/duration parsers
	@mkdir -p $(BUILD)/fuzz/redis-url
	$(REDIS_FUZZ) -max_total_time=$${FUZZ_TIME:-300} $(BUILD)/fuzz/redis-url \
	  tests/redis/fuzz-corpus
