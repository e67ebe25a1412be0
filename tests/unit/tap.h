/*
 * A tiny TAP (Test Anything Protocol) producer for C test programs.
 * Header-only: include it from exactly one .c file per program.
 *
 *     #include "tap.h"
 *     int main(void) {
 *         ok(1 + 1 == 2, "addition works for %d", 1);
 *         is_int(f(), 3, "f returns 3");
 *         is_str(g(), "x", "g returns x");
 *         diag("a comment");
 *         return done_testing();
 *     }
 *
 * ok(cond, fmt, ...) prints "ok N - name" or "not ok N - name" (plus a
 * "#   Failed test at file:line" diagnostic) and returns cond != 0.
 * is_int/is_str also print what was got and expected on failure.
 * diag() prints a "# ..." line on stdout. skip(n, why) records n passing
 * "# SKIP why" results (use it only when the reason is real and printed).
 * done_testing() prints the plan "1..N" and returns the exit status:
 * 0 when every test passed and at least one ran, 1 otherwise.
 *
 * Output is line-buffered and flushed after each line so that a crash still
 * leaves every earlier result visible, and so that forked children do not
 * duplicate pending output.
 */
#ifndef ELECTOR_TAP_H
#define ELECTOR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run_;
static int tap_failed_;

static void tap_vline_(const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0), unused));
static void tap_vline_(const char *prefix, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* A newline inside a test name would break the TAP stream. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%s%s\n", prefix, msg);
	fflush(stdout);
}

static int tap_ok_(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), unused));
static int tap_ok_(int cond, const char *file, int line, const char *fmt, ...)
{
	char prefix[64];
	tap_run_++;
	if (!cond)
		tap_failed_++;
	snprintf(prefix, sizeof prefix, "%sok %d - ", cond ? "" : "not ",
	         tap_run_);
	va_list ap;
	va_start(ap, fmt);
	tap_vline_(prefix, fmt, ap);
	va_end(ap);
	if (!cond) {
		printf("#   Failed test at %s line %d\n", file, line);
		fflush(stdout);
	}
	return cond;
}

static void diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline_("# ", fmt, ap);
	va_end(ap);
}

static void skip(int n, const char *why) __attribute__((unused));
static void skip(int n, const char *why)
{
	for (int i = 0; i < n; i++) {
		tap_run_++;
		printf("ok %d # SKIP %s\n", tap_run_, why);
	}
	fflush(stdout);
}

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
	printf("1..%d\n", tap_run_);
	if (tap_failed_ > 0)
		printf("# failed %d of %d tests\n", tap_failed_, tap_run_);
	fflush(stdout);
	return tap_failed_ == 0 && tap_run_ > 0 ? 0 : 1;
}

#define ok(cond, ...) tap_ok_((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, expected, ...)                                             \
	do {                                                                   \
		long long tap_g_ = (long long)(got);                           \
		long long tap_e_ = (long long)(expected);                      \
		if (!ok(tap_g_ == tap_e_, __VA_ARGS__))                        \
			diag("  got: %lld, expected: %lld", tap_g_, tap_e_);   \
	} while (0)

#define is_str(got, expected, ...)                                             \
	do {                                                                   \
		const char *tap_gs_ = (got);                                   \
		const char *tap_es_ = (expected);                              \
		int tap_eq_ = tap_gs_ != NULL && tap_es_ != NULL &&            \
		              strcmp(tap_gs_, tap_es_) == 0;                   \
		if (!ok(tap_eq_, __VA_ARGS__))                                 \
			diag("  got: \"%s\", expected: \"%s\"",                \
			     tap_gs_ ? tap_gs_ : "(null)",                     \
			     tap_es_ ? tap_es_ : "(null)");                    \
	} while (0)

#endif
