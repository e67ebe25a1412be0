/*
 * Local time for the engine. Election timing uses CLOCK_BOOTTIME only (a
 * suspend counts as time passed); the wall clock is used only to write
 * records. Tests swap in a fake clock through struct elector_clock.
 */
#ifndef ELECTOR_CORE_CLOCK_H
#define ELECTOR_CORE_CLOCK_H

#include <stdint.h>

struct elector_clock {
	int64_t (*mono_ms)(void *ctx);  /* monotonic (boot) time, ms */
	int64_t (*wall_us)(void *ctx);  /* unix time, us */
	uint32_t (*random)(void *ctx);  /* jitter and identity suffixes */
	void *ctx;
};

/* The real clock: CLOCK_BOOTTIME, gettimeofday, getrandom. Static. */
const struct elector_clock *elector_clock_real(void);
/* CLOCK_BOOTTIME in ms, for code that does not go through a clock. */
int64_t elector_mono_ms(void);

#endif
