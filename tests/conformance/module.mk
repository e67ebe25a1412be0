# The backend conformance program: $(BUILD)/tests/conformance (see the
# comment at the top of tests/conformance/conformance.c for its usage).
# STATIC_LIB is defined after this file is included, so the prerequisite
# names the archive directly.
CONFORMANCE_SRCS := $(wildcard tests/conformance/*.c)
CONFORMANCE_BIN := $(BUILD)/tests/conformance
TEST_PROGS += $(CONFORMANCE_BIN)

$(CONFORMANCE_BIN): $(CONFORMANCE_SRCS) tests/conformance/conf.h tests/unit/tap.h \
                    $(BUILD)/obj/libelector.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) \
	  -o $@ $(CONFORMANCE_SRCS) $(STATIC_LIB) $(LIB_LIBS)
