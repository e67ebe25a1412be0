# The Kubernetes Lease backend: libcurl (HTTP, TLS), jansson (JSON),
# libyaml (kubeconfig).
lease_CFLAGS := $(call pc_cflags,libcurl jansson yaml-0.1)
lease_LIBS := $(call pc_libs,libcurl jansson yaml-0.1) -lpthread
