# tests/k8s: a tiny driver for core/podlabel.c (the daemon's --label-pod
# helper), run by tests/k8s/test_lease_podlabel.py against the emulator.
PODLABEL_TEST := $(BUILD)/tests/podlabel_test
TEST_PROGS += $(PODLABEL_TEST)

$(PODLABEL_TEST): tests/k8s/podlabel_test.c core/podlabel.c core/podlabel.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,libcurl) $(CFLAGS) $(LDFLAGS) \
	  -o $@ tests/k8s/podlabel_test.c core/podlabel.c $(call pc_libs,libcurl) -lpthread
