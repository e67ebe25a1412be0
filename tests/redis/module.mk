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
