/* Unit tests of core/record.c: the client-go LeaderElectionRecord codec. */
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "tap.h"

static struct elector_record full(void)
{
	struct elector_record r;
	memset(&r, 0, sizeof r);
	snprintf(r.holder_identity, sizeof r.holder_identity, "%s", "a_1f2e");
	r.lease_duration_seconds = 15;
	r.flags = ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME;
	r.acquire_time_us = 1795255200123456LL;
	r.renew_time_us = 1795255204000001LL;
	r.leader_transitions = 3;
	return r;
}

static void decode_bad(const char *json, const char *field, const char *what)
{
	struct elector_record r;
	char err[256] = "";
	int rc = elector_record_decode(json, strlen(json), &r, err, sizeof err);
	ok(rc == ELECTOR_CORRUPT && strstr(err, field) != NULL,
	   "%s is CORRUPT naming \"%s\" (rc %d: %s)", what, field, rc, err);
}

static void decode_good(const char *json, const char *what,
                        struct elector_record *out)
{
	char err[256] = "";
	int rc =
	    elector_record_decode(json, strlen(json), out, err, sizeof err);
	ok(rc == ELECTOR_OK, "%s decodes (rc %d: %s)", what, rc, err);
}

static void test_encode(void)
{
	struct elector_record r = full();
	char buf[ELECTOR_RECORD_JSON_MAX];
	size_t len = 0;
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_OK,
	       "encode a full record");
	is_str(buf,
	       "{\"holderIdentity\":\"a_1f2e\",\"leaseDurationSeconds\":15,"
	       "\"acquireTime\":\"2026-11-21T10:00:00.123456Z\","
	       "\"renewTime\":\"2026-11-21T10:00:04.000001Z\","
	       "\"leaderTransitions\":3}",
	       "client-go field names, order, MicroTime with 6 digits");
	is_int(len, strlen(buf), "length returned");

	r.flags = 0;
	snprintf(r.preferred_holder, sizeof r.preferred_holder,
	         "b\"\\/\xc3\xa4");
	snprintf(r.strategy, sizeof r.strategy, "OldestEmulationVersion");
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_OK,
	       "encode without times, with preferredHolder/strategy");
	is_str(buf,
	       "{\"holderIdentity\":\"a_1f2e\",\"leaseDurationSeconds\":15,"
	       "\"leaderTransitions\":3,\"preferredHolder\":\"b\\\"\\\\/"
	       "\xc3\xa4\","
	       "\"strategy\":\"OldestEmulationVersion\"}",
	       "unset times omitted, strings escaped");

	struct elector_record back;
	char err[128];
	is_int(elector_record_decode(buf, len, &back, err, sizeof err),
	       ELECTOR_OK, "decode what was encoded");
	ok(elector_record_equal(&r, &back), "round trip is equal");

	is_int(elector_record_encode(&r, buf, 20, &len), ELECTOR_ERROR,
	       "too small buffer is an error");
	is_str(buf, "", "buffer left empty on error");

	r = full();
	r.lease_duration_seconds = 0;
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_ERROR,
	       "encode refuses leaseDurationSeconds 0 with a holder");
	r.holder_identity[0] = '\0';
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_OK,
	       "encode accepts 0 for a released record");
	r = full();
	memset(r.holder_identity, 'x', sizeof r.holder_identity);
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_ERROR,
	       "encode refuses an unterminated holder");
	r = full();
	snprintf(r.holder_identity, sizeof r.holder_identity, "\xff\xfe");
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_ERROR,
	       "encode refuses invalid UTF-8");
	r = full();
	r.renew_time_us = 253402300800000000LL;
	is_int(elector_record_encode(&r, buf, sizeof buf, &len), ELECTOR_ERROR,
	       "encode refuses a time past year 9999");
	r = full();
	r.leader_transitions = -1;
	char verr[128];
	is_int(elector_record_validate(&r, verr, sizeof verr), ELECTOR_CORRUPT,
	       "validate refuses negative transitions");
	ok(strstr(verr, "leaderTransitions") != NULL,
	   "reason names the field: %s", verr);
}

static void test_decode(void)
{
	struct elector_record r;
	decode_good("{\"holderIdentity\":\"n1\",\"leaseDurationSeconds\":15,"
	            "\"acquireTime\":\"2026-11-21T11:00:00.123456789+01:00\","
	            "\"renewTime\":null,\"leaderTransitions\":0,"
	            "\"somethingNew\":{\"x\":[1,2]}}",
	            "9 digits, offset, null, unknown field", &r);
	is_str(r.holder_identity, "n1", "holder");
	is_int(r.flags, ELECTOR_REC_HAS_ACQUIRE_TIME, "only acquireTime set");
	is_int(r.acquire_time_us, 1795255200123456LL,
	       "offset applied, truncated to us");
	decode_good("{\"holderIdentity\":\"\",\"leaseDurationSeconds\":0}",
	            "released with 0 seconds", &r);
	decode_good("{}", "empty object (all defaults)", &r);
	is_int(r.lease_duration_seconds, 0, "default duration 0");
	decode_good(" {\"holderIdentity\":\"x\",\"leaseDurationSeconds\":86400,"
	            "\"leaderTransitions\":9223372036854775807} ",
	            "limits and whitespace", &r);

	decode_bad("", "empty", "empty input");
	decode_bad("[]", "object", "an array");
	decode_bad("{\"holderIdentity\":\"x\"", "JSON", "truncated JSON");
	decode_bad("{\"holderIdentity\":1,\"leaseDurationSeconds\":1}",
	           "holderIdentity", "numeric holder");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":\"15\"}",
	           "leaseDurationSeconds", "string duration");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":15.0}",
	           "leaseDurationSeconds", "real duration");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":86401}",
	           "leaseDurationSeconds", "duration too long");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":-1}",
	           "leaseDurationSeconds", "negative duration");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":0}",
	           "leaseDurationSeconds", "0 seconds with a holder");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":1,"
	           "\"leaderTransitions\":-1}",
	           "leaderTransitions", "negative transitions");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":1,"
	           "\"leaderTransitions\":true}",
	           "leaderTransitions", "boolean transitions");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":1,"
	           "\"renewTime\":\"yesterday\"}",
	           "renewTime", "bad time");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":1,"
	           "\"acquireTime\":12}",
	           "acquireTime", "numeric time");
	decode_bad("{\"holderIdentity\":\"x\",\"holderIdentity\":\"y\"}",
	           "duplicate", "duplicate key");
	decode_bad(
	    "{\"holderIdentity\":\"a\\u0000b\",\"leaseDurationSeconds\":1}",
	    "JSON", "NUL in a string");
	decode_bad("{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":1,"
	           "\"strategy\":[]}",
	           "strategy", "array strategy");

	char big[600];
	memset(big, 0, sizeof big);
	int n = snprintf(big, sizeof big, "{\"holderIdentity\":\"");
	memset(big + n, 'h', 256);
	snprintf(big + n + 256, sizeof big - (size_t)n - 256,
	         "\",\"leaseDurationSeconds\":1}");
	decode_bad(big, "holderIdentity", "holder of 256 bytes");
	memset(big + n, 'h', 255);
	big[n + 255] = '"';
	snprintf(big + n + 256, sizeof big - (size_t)n - 256,
	         ",\"leaseDurationSeconds\":1}");
	decode_good(big, "holder of 255 bytes", &r);

	static char huge[ELECTOR_RECORD_JSON_MAX + 64];
	memset(huge, ' ', sizeof huge - 1);
	huge[0] = '{';
	huge[sizeof huge - 2] = '}';
	huge[sizeof huge - 1] = '\0';
	decode_bad(huge, "exceeds", "record over the size cap");

	char err[64];
	struct elector_record z;
	memset(&z, 0x55, sizeof z);
	elector_record_decode("nope", 4, &z, err, sizeof err);
	ok(z.holder_identity[0] == '\0' && z.lease_duration_seconds == 0,
	   "record zeroed after a failed decode");
	char tiny[8];
	elector_record_decode("nope", 4, &z, tiny, sizeof tiny);
	ok(strlen(tiny) < sizeof tiny, "error message truncated to the buffer");
}

static void test_equal(void)
{
	struct elector_record a = full(), b = full();
	ok(elector_record_equal(&a, &b), "equal records");
	b.renew_time_us++;
	ok(!elector_record_equal(&a, &b), "renewTime differs");
	a.flags = b.flags = ELECTOR_REC_HAS_ACQUIRE_TIME;
	ok(elector_record_equal(&a, &b), "unset times are not compared");
	b = a;
	snprintf(b.strategy, sizeof b.strategy, "x");
	ok(!elector_record_equal(&a, &b), "strategy differs");
	b = a;
	b.leader_transitions = 4;
	ok(!elector_record_equal(&a, &b), "transitions differ");
}

int main(void)
{
	test_encode();
	test_decode();
	test_equal();
	return done_testing();
}
