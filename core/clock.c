#include "clock.h"

#include <sys/random.h>
#include <time.h>

#include "timeutil.h"

int64_t elector_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_mono_ms(void *ctx)
{
	(void)ctx;
	return elector_mono_ms();
}

static int64_t real_wall_us(void *ctx)
{
	(void)ctx;
	return elector_wall_now_us();
}

static uint32_t real_random(void *ctx)
{
	uint32_t v = 0;
	(void)ctx;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec * 2654435761u;
	}
	return v;
}

static const struct elector_clock real_clock = {
    .mono_ms = real_mono_ms,
    .wall_us = real_wall_us,
    .random = real_random,
    .ctx = 0,
};

const struct elector_clock *elector_clock_real(void)
{
	return &real_clock;
}
