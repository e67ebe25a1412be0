/* Unit tests of core/timeutil.c: RFC 3339 times and Go durations. */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "timeutil.h"

static void parse_ok(const char *s, int64_t want)
{
	int64_t got = -1;
	int rc = elector_time_parse(s, &got);
	ok(rc == 0 && got == want, "parse \"%s\" = %lld (got rc %d, %lld)", s,
	   (long long)want, rc, (long long)got);
}

static void parse_bad(const char *s)
{
	int64_t got = 0;
	ok(elector_time_parse(s, &got) != 0, "parse refuses \"%s\"", s);
}

static void fmt_is(int64_t us, const char *want)
{
	char buf[32];
	int rc = elector_time_format(us, buf, sizeof buf);
	ok(rc == 0 && strcmp(buf, want) == 0, "format %lld = %s (got %s)",
	   (long long)us, want, rc == 0 ? buf : "error");
}

static void dur_ok(const char *s, int64_t want)
{
	int64_t ms = -1;
	char err[128];
	int rc = elector_duration_parse(s, &ms, err, sizeof err);
	ok(rc == 0 && ms == want,
	   "duration \"%s\" = %lld ms (rc %d, got %lld, %s)", s,
	   (long long)want, rc, (long long)ms, err);
}

static void dur_bad(const char *s, const char *reason)
{
	int64_t ms = 0;
	char err[128] = "";
	int rc = elector_duration_parse(s, &ms, err, sizeof err);
	ok(rc != 0 && strstr(err, reason) != NULL,
	   "duration \"%s\" refused with \"%s\" (got \"%s\")", s, reason, err);
}

static void dfmt_is(int64_t ms, const char *want)
{
	char buf[64];
	int rc = elector_duration_format(ms, buf, sizeof buf);
	ok(rc == 0 && strcmp(buf, want) == 0, "format %lld ms = %s (got %s)",
	   (long long)ms, want, rc == 0 ? buf : "error");
}

static void test_times(void)
{
	fmt_is(0, "1970-01-01T00:00:00.000000Z");
	fmt_is(1795255200123456LL, "2026-11-21T10:00:00.123456Z");
	fmt_is(-1, "1969-12-31T23:59:59.999999Z");
	fmt_is(951782400000000LL, "2000-02-29T00:00:00.000000Z");
	fmt_is(-62135596800LL * 1000000LL, "0001-01-01T00:00:00.000000Z");
	fmt_is(253402300799999999LL, "9999-12-31T23:59:59.999999Z");
	char buf[32];
	ok(elector_time_format(253402300800000000LL, buf, sizeof buf) != 0,
	   "format refuses year 10000");
	ok(elector_time_format(-62135596800000001LL, buf, sizeof buf) != 0,
	   "format refuses year 0");
	ok(elector_time_format(0, buf, 27) != 0,
	   "format refuses a 27-byte buffer");

	parse_ok("2026-11-21T10:00:00.123456Z", 1795255200123456LL);
	parse_ok("2026-11-21T10:00:00Z", 1795255200000000LL);
	parse_ok("2026-11-21t10:00:00.1z", 1795255200100000LL);
	parse_ok("2026-11-21T10:00:00.123456789Z", 1795255200123456LL);
	parse_ok("2026-11-21T11:30:00.5+01:30", 1795255200500000LL);
	parse_ok("2026-11-21T08:00:00-02:00", 1795255200000000LL);
	parse_ok("1969-12-31T23:59:59.999999Z", -1);
	parse_ok("2000-02-29T00:00:00Z", 951782400000000LL);
	parse_bad("");
	parse_bad("2026-11-21");
	parse_bad("2026-11-21T10:00:00");
	parse_bad("2026-11-21 10:00:00Z");
	parse_bad("2026-11-21T10:00:00.Z");
	parse_bad("2026-11-21T10:00:00.1234567890Z");
	parse_bad("2026-02-30T10:00:00Z");
	parse_bad("2025-02-29T10:00:00Z");
	parse_bad("2026-13-01T10:00:00Z");
	parse_bad("2026-11-21T24:00:00Z");
	parse_bad("2026-11-21T10:60:00Z");
	parse_bad("2026-11-21T10:00:60Z");
	parse_bad("2026-11-21T10:00:00+0100");
	parse_bad("2026-11-21T10:00:00+24:00");
	parse_bad("2026-11-21T10:00:00Zjunk");
	parse_bad("0000-01-01T00:00:00Z");
	parse_bad("0001-01-01T00:00:00+00:01");
	parse_bad("9999-12-31T23:59:59-00:01");
	parse_bad("+026-11-21T10:00:00Z");
	parse_bad("2026-1-21T10:00:00Z");

	/* Round trip of a few thousand instants over the whole range. */
	int bad = 0;
	for (int64_t us = -62135596800LL * 1000000LL;
	     us < 253402300799LL * 1000000LL; us += 123456789012345LL + 7) {
		char b[32];
		int64_t back = 0;
		if (elector_time_format(us, b, sizeof b) != 0 ||
		    elector_time_parse(b, &back) != 0 || back != us)
			bad++;
	}
	ok(bad == 0, "format/parse round trip over years 1..9999 (%d bad)",
	   bad);

	int64_t now = elector_wall_now_us();
	ok(now > 1700000000LL * 1000000LL, "wall clock is after 2023");
}

static void test_durations(void)
{
	dur_ok("15s", 15000);
	dur_ok("500ms", 500);
	dur_ok("1m30s", 90000);
	dur_ok("1.5s", 1500);
	dur_ok(".5s", 500);
	dur_ok("1.s", 1000);
	dur_ok("2h", 7200000);
	dur_ok("1h2m3s4ms", 3723004);
	dur_ok("0", 0);
	dur_ok("-0", 0);
	dur_ok("+2s", 2000);
	dur_ok("0s", 0);
	dur_ok("1500us", 1);
	dur_ok("1500\xc2\xb5s", 1);
	dur_ok("1500\xce\xbcs", 1);
	dur_ok("999999ns", 0);
	dur_ok("1000000ns", 1);
	dur_ok("2562047h", 2562047LL * 3600000LL);
	dur_ok("0.000000001s", 0);
	dur_ok("1.0000000000000000000000001s", 1000);
	dur_bad("15", "missing unit");
	dur_bad("1.5", "missing unit");
	dur_bad("1.5.5s", "malformed number");
	dur_bad("1..5s", "malformed number");
	dur_bad("1s1.5.5ms", "malformed number");
	dur_bad("", "invalid");
	dur_bad("s", "invalid");
	dur_bad(".s", "invalid");
	dur_bad("-1s", "negative");
	dur_bad("1x", "unknown unit");
	dur_bad("1sec", "invalid");
	dur_bad("3000000h", "range");
	dur_bad("99999999999999999999s", "range");
	dur_bad("1s 2s", "invalid");

	dfmt_is(0, "0s");
	dfmt_is(1, "1ms");
	dfmt_is(500, "500ms");
	dfmt_is(1000, "1s");
	dfmt_is(1500, "1.5s");
	dfmt_is(1250, "1.25s");
	dfmt_is(15000, "15s");
	dfmt_is(90000, "1m30s");
	dfmt_is(120000, "2m0s");
	dfmt_is(3600000, "1h0m0s");
	dfmt_is(3723004, "1h2m3.004s");
	dfmt_is(-1500, "-1.5s");
	char small[4];
	ok(elector_duration_format(15000, small, sizeof small) == 0,
	   "\"15s\" fits in 4 bytes");
	ok(elector_duration_format(90000, small, sizeof small) != 0 &&
	       small[0] == '\0',
	   "\"1m30s\" does not fit in 4 bytes: error, empty");
}

int main(void)
{
	test_times();
	test_durations();
	return done_testing();
}
