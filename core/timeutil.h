/*
 * Wall-clock formats and Go-style durations.
 */
#ifndef ELECTOR_CORE_TIMEUTIL_H
#define ELECTOR_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Kubernetes MicroTime: "2026-11-21T10:00:00.123456Z" (27 chars + NUL).
 * Returns ELECTOR_OK or ELECTOR_ERROR if cap < 28 or the time is out of
 * range (years 0001..9999). */
int elector_time_format(int64_t unix_us, char *buf, size_t cap);
/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.0-9 digits](Z|+hh:mm|-hh:mm); 't'/'z'
 * accepted. Digits past the 6th are truncated. Returns ELECTOR_OK or
 * ELECTOR_INVALID (also for impossible dates like Feb 30). */
int elector_time_parse(const char *s, int64_t *unix_us);
/* Current wall clock in unix microseconds. */
int64_t elector_wall_now_us(void);

/* Go time.ParseDuration subset: a sequence of decimal numbers with optional
 * fraction and a unit each (ns, us, µs, ms, s, m, h), e.g. "15s", "500ms",
 * "1m30s", "1.5s"; "0" alone is zero. Result in milliseconds (sub-ms parts
 * truncated toward zero). Returns ELECTOR_OK or ELECTOR_INVALID with a reason
 * ("missing unit in duration \"15\""). Negative durations are INVALID. */
int elector_duration_parse(const char *s, int64_t *ms, char *err,
                           size_t errlen);
/* Format ms as Go would print it ("15s", "1.5s", "500ms", "2m0s"). */
int elector_duration_format(int64_t ms, char *buf, size_t cap);

#endif
