/*
 * RFC 3339 times (Kubernetes MicroTime) and Go-style durations.
 *
 * Calendar arithmetic uses Howard Hinnant's days_from_civil/civil_from_days
 * so that no libc time function (timegm, gmtime_r: TZ, locale, locks) is on
 * the path; every input is range-checked before any arithmetic, so the
 * parsers cannot overflow whatever bytes they are given.
 */
#include "timeutil.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "elector/backend.h"

#define US_PER_S 1000000LL
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z */
#define MIN_UNIX_S (-62135596800LL)
#define MAX_UNIX_S (253402300799LL)

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe =
	    (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
	                                      31, 31, 30, 31, 30, 31};
	if (m == 2 && is_leap(y))
		return 29;
	return dim[m - 1];
}

int elector_time_format(int64_t unix_us, char *buf, size_t cap)
{
	if (buf == NULL || cap < 28)
		return ELECTOR_ERROR;
	buf[0] = '\0';
	int64_t s = unix_us / US_PER_S;
	int64_t us = unix_us % US_PER_S;
	if (us < 0) {
		us += US_PER_S;
		s -= 1;
	}
	if (s < MIN_UNIX_S || s > MAX_UNIX_S)
		return ELECTOR_ERROR;
	int64_t days = s / 86400;
	int64_t sod = s % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int n = snprintf(buf, cap, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
	                 (int)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
	                 (int)(sod % 60), (int)us);
	if (n != 27) {
		buf[0] = '\0';
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

/* Reads exactly n decimal digits at *p into *out; advances *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int elector_time_parse(const char *s, int64_t *unix_us)
{
	if (s == NULL || unix_us == NULL)
		return ELECTOR_INVALID;
	const char *p = s;
	int Y, M, D, h, mi, sec;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) ||
	    *p++ != '-' || digits(&p, 2, &D))
		return ELECTOR_INVALID;
	if (*p != 'T' && *p != 't')
		return ELECTOR_INVALID;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return ELECTOR_INVALID;
	if (Y < 1 || M < 1 || M > 12 || D < 1 ||
	    (unsigned)D > days_in_month(Y, (unsigned)M) || h > 23 || mi > 59 ||
	    sec > 59)
		return ELECTOR_INVALID;
	int64_t frac_us = 0;
	if (*p == '.') {
		p++;
		int nd = 0;
		while (*p >= '0' && *p <= '9') {
			if (nd < 6)
				frac_us = frac_us * 10 + (*p - '0');
			nd++;
			p++;
		}
		if (nd < 1 || nd > 9)
			return ELECTOR_INVALID;
		for (int i = nd; i < 6; i++)
			frac_us *= 10;
	}
	int offset_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
			return ELECTOR_INVALID;
		if (oh > 23 || om > 59)
			return ELECTOR_INVALID;
		offset_s = sign * (oh * 3600 + om * 60);
	} else {
		return ELECTOR_INVALID;
	}
	if (*p != '\0')
		return ELECTOR_INVALID;
	int64_t secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 +
	               h * 3600 + mi * 60 + sec - offset_s;
	/* An offset can push 0001-01-01 or 9999-12-31 out of the range that
	 * elector_time_format can write back; refuse rather than produce a
	 * time that cannot round-trip. */
	if (secs < MIN_UNIX_S || secs > MAX_UNIX_S)
		return ELECTOR_INVALID;
	*unix_us = secs * US_PER_S + frac_us;
	return ELECTOR_OK;
}

int64_t elector_wall_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

/* --- durations --------------------------------------------------------- */

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

#define DUR_MAX_NS ((uint64_t)INT64_MAX)

static int dur_err(char *err, size_t errlen, const char *what, const char *s)
{
	if (err != NULL && errlen > 0) {
		/* The input may be long or binary: quote a bounded prefix. */
		int n = snprintf(err, errlen, "%s in duration \"%.64s%s\"",
		                 what, s, strlen(s) > 64 ? "..." : "");
		if (n < 0)
			err[0] = '\0';
	}
	return ELECTOR_INVALID;
}

int elector_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL || ms == NULL)
		return ELECTOR_INVALID;
	const char *p = s;
	int neg = 0;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*ms = 0;
		return ELECTOR_OK;
	}
	if (*p == '\0')
		return dur_err(err, errlen, "invalid syntax", s);
	uint64_t total = 0;
	while (*p != '\0') {
		uint64_t v = 0;
		int nd = 0, overflow = 0;
		while (*p >= '0' && *p <= '9') {
			uint64_t dgt = (uint64_t)(*p - '0');
			if (v > (DUR_MAX_NS - dgt) / 10)
				overflow = 1;
			else
				v = v * 10 + dgt;
			nd++;
			p++;
		}
		if (overflow)
			return dur_err(err, errlen, "value out of range", s);
		/* Fraction: keep up to 18 significant digits; the rest cannot
		 * change the result by a whole nanosecond's worth that matters
		 * for a millisecond result. */
		uint64_t f = 0, scale = 1;
		int nf = 0;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (scale < 1000000000000000000ULL) {
					f = f * 10 + (uint64_t)(*p - '0');
					scale *= 10;
				}
				nf++;
				p++;
			}
		}
		if (nd == 0 && nf == 0)
			return dur_err(err, errlen, "invalid syntax", s);
		const struct unit *u = NULL;
		size_t ulen = 0;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t l = strlen(units[i].name);
			if (strncmp(p, units[i].name, l) == 0 && l > ulen) {
				/* "m" must not match the start of "ms". */
				u = &units[i];
				ulen = l;
			}
		}
		if (u == NULL) {
			/* "1.5.5s": a second point, not a forgotten unit */
			if (*p == '.')
				return dur_err(
				    err, errlen,
				    "malformed number (more than one '.')", s);
			if (*p == '\0' || (*p >= '0' && *p <= '9'))
				return dur_err(err, errlen, "missing unit", s);
			return dur_err(err, errlen, "unknown unit", s);
		}
		p += ulen;
		if (v > DUR_MAX_NS / u->ns)
			return dur_err(err, errlen, "value out of range", s);
		uint64_t part = v * u->ns;
		if (f > 0) {
			/* f/scale < 1, u->ns <= 3.6e12: compute f*u->ns/scale
			 * in long double to avoid 128-bit arithmetic; exact
			 * enough for a millisecond result. */
			long double fr = (long double)f * (long double)u->ns /
			                 (long double)scale;
			uint64_t fp = (uint64_t)fr;
			if (part > DUR_MAX_NS - fp)
				return dur_err(err, errlen,
				               "value out of range", s);
			part += fp;
		}
		if (total > DUR_MAX_NS - part)
			return dur_err(err, errlen, "value out of range", s);
		total += part;
	}
	if (neg && total != 0)
		return dur_err(err, errlen, "negative value", s);
	*ms = (int64_t)(total / 1000000ULL);
	return ELECTOR_OK;
}

/* Appends a formatted number to buf at *pos; -1 if it does not fit. */
static int put_num(char *buf, size_t cap, size_t *pos, unsigned long long v,
                   const char *suffix)
{
	if (*pos >= cap)
		return -1;
	int n = snprintf(buf + *pos, cap - *pos, "%llu%s", v, suffix);
	if (n < 0 || (size_t)n >= cap - *pos)
		return -1;
	*pos += (size_t)n;
	return 0;
}

int elector_duration_format(int64_t ms, char *buf, size_t cap)
{
	if (buf == NULL || cap == 0)
		return ELECTOR_ERROR;
	buf[0] = '\0';
	size_t pos = 0;
	uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (ms < 0) {
		if (cap < 2)
			return ELECTOR_ERROR;
		buf[pos++] = '-';
		buf[pos] = '\0';
	}
	if (u < 1000) {
		/* Go prints zero as "0s" and sub-second values in ms. */
		if (put_num(buf, cap, &pos, u, u == 0 ? "s" : "ms") != 0)
			goto fail;
		return ELECTOR_OK;
	}
	uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60,
	         frac = u % 1000;
	if (h > 0 && put_num(buf, cap, &pos, h, "h") != 0)
		goto fail;
	if ((h > 0 || m > 0) && put_num(buf, cap, &pos, m, "m") != 0)
		goto fail;
	if (put_num(buf, cap, &pos, s, "") != 0)
		goto fail;
	if (frac > 0) {
		char f[8];
		int n = snprintf(f, sizeof f, ".%03u", (unsigned)frac);
		if (n != 4)
			goto fail;
		while (f[n - 1] == '0')
			f[--n] = '\0';
		if (pos + (size_t)n >= cap)
			goto fail;
		memcpy(buf + pos, f, (size_t)n + 1);
		pos += (size_t)n;
	}
	if (pos + 1 >= cap)
		goto fail;
	buf[pos++] = 's';
	buf[pos] = '\0';
	return ELECTOR_OK;
fail:
	buf[0] = '\0';
	return ELECTOR_ERROR;
}
