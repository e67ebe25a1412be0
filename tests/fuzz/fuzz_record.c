/*
 * libFuzzer target for the record codec and the time/duration parsers.
 *
 * The same input goes to all three parsers; whatever a parser accepts must
 * survive a round trip through its formatter unchanged:
 *   record:   decode -> encode -> decode gives an equal record, and a
 *             second encode gives the same bytes (canonical output);
 *   time:     parse -> format -> parse gives the same microseconds;
 *   duration: parse -> format -> parse gives the same milliseconds.
 * A broken invariant aborts (a crash for libFuzzer); ASan/UBSan catch
 * memory errors and leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_record(const char *json, size_t len)
{
	struct elector_record a, b;
	char err[256], buf1[ELECTOR_RECORD_JSON_MAX + 1],
	    buf2[ELECTOR_RECORD_JSON_MAX + 1];
	size_t n1, n2;
	int rc = elector_record_decode(json, len, &a, err, sizeof err);
	check(strlen(err) < sizeof err);
	if (rc != ELECTOR_OK) {
		check(rc == ELECTOR_CORRUPT && err[0] != '\0');
		return;
	}
	check(elector_record_validate(&a, NULL, 0) == ELECTOR_OK);
	check(elector_record_encode(&a, buf1, sizeof buf1, &n1) == ELECTOR_OK);
	check(n1 == strlen(buf1));
	check(elector_record_decode(buf1, n1, &b, err, sizeof err) ==
	      ELECTOR_OK);
	check(elector_record_equal(&a, &b));
	check(elector_record_encode(&b, buf2, sizeof buf2, &n2) == ELECTOR_OK);
	check(n1 == n2 && memcmp(buf1, buf2, n1) == 0);
}

static void fuzz_time(const char *s)
{
	int64_t us, back;
	char buf[32];
	if (elector_time_parse(s, &us) != ELECTOR_OK)
		return;
	check(elector_time_format(us, buf, sizeof buf) == ELECTOR_OK);
	check(strlen(buf) == 27);
	check(elector_time_parse(buf, &back) == ELECTOR_OK && back == us);
}

static void fuzz_duration(const char *s)
{
	int64_t ms, back;
	char err[128], buf[64];
	int rc = elector_duration_parse(s, &ms, err, sizeof err);
	check(strlen(err) < sizeof err);
	if (rc != ELECTOR_OK) {
		check(rc == ELECTOR_INVALID && err[0] != '\0');
		return;
	}
	check(ms >= 0);
	check(elector_duration_format(ms, buf, sizeof buf) == ELECTOR_OK);
	check(elector_duration_parse(buf, &back, err, sizeof err) ==
	      ELECTOR_OK);
	check(back == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	char *json = malloc(size > 0 ? size : 1);
	char *str = malloc(size + 1);
	if (json == NULL || str == NULL)
		abort();
	if (size > 0)
		memcpy(json, data, size);
	fuzz_record(json, size);
	if (size > 0)
		memcpy(str, data, size);
	str[size] = '\0';
	fuzz_time(str);
	fuzz_duration(str);
	free(str);
	free(json);
	return 0;
}
