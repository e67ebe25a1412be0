# The file backend: jansson for the {"version":N,"record":{...}} wrapper.
file_CFLAGS := $(call pc_cflags,jansson)
file_LIBS := $(call pc_libs,jansson)
