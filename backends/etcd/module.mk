# The etcd backend: libcurl (HTTP, TLS) and jansson (the v3 gateway's JSON).
etcd_CFLAGS := $(call pc_cflags,libcurl jansson)
etcd_LIBS := $(call pc_libs,libcurl jansson) -lpthread
