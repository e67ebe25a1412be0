/*
 * elector-keeper: the keeper as its own small executable (see keeper.h),
 * installed beside elector. It links only libc, so the process that
 * outlives nothing but still runs while we lead costs a few hundred KiB,
 * not elector's TLS-capable HTTP stack (libmicrohttpd pulls in gnutls,
 * p11-kit and their constructors). elector falls back to exec'ing itself
 * (`/proc/self/exe __keeper`) when this file is missing.
 */
#include "keeper.h"

int main(int argc, char **argv)
{
	return elector_keeper_main(argc, argv);
}
