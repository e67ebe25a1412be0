# Broken plugins for the loader tests: $(BUILD)/tests/abi/NAME.so
ABI_VARIANTS := good:0 nosym:1 nullentry:2 badabi:3 small:4 nullop:5 watchnowake:6 hang:7
ABI_PLUGINS := $(foreach v,$(ABI_VARIANTS),$(BUILD)/tests/abi/$(firstword $(subst :, ,$(v))).so)
TEST_PROGS += $(ABI_PLUGINS)

define abi_rule
$(BUILD)/tests/abi/$(1).so: tests/abi/broken_plugin.c include/elector/backend.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(CFLAGS) -shared -DVARIANT=$(2) -DPLUGIN_NAME='"$(1)"' $$(LDFLAGS) -o $$@ $$<
	@chmod go-w $$@
endef
$(foreach v,$(ABI_VARIANTS),$(eval $(call abi_rule,$(firstword $(subst :, ,$(v))),$(lastword $(subst :, ,$(v))))))
