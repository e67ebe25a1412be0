# The redis backend links Debian's hiredis (libhiredis-dev).
redis_CFLAGS := $(call pc_cflags,hiredis)
redis_LIBS := $(call pc_libs,hiredis)
