# gist backend: REST reads over libcurl (backends/common/http.c), JSON with
# jansson, compare-and-swap pushes with libgit2.
gist_CFLAGS := $(call pc_cflags,libcurl jansson libgit2)
gist_LIBS := $(call pc_libs,libcurl jansson libgit2)
