/*
 * Unit tests (TAP) of the etcd backend's pure parts: base64, the gateway's
 * answers as etcd 3.4 sends them (int64 as strings, zero values omitted),
 * watch lines (events, DELETE, compaction, cancel), errors, request bodies,
 * endpoints and durations.
 */
#include <stdio.h>
#include <string.h>

#include "etcd_int.h"
#include "tap.h"

#define KEY "/elector/default/demo"
#define KEY64 "L2VsZWN0b3IvZGVmYXVsdC9kZW1v"
#define VAL64 "eyJhIjoxfQ==" /* {"a":1} */

static void test_b64(void)
{
	char out[64], enc[64];
	long n;

	n = elector_etcd_b64dec(VAL64, strlen(VAL64), out, sizeof out);
	ok(n == 7 && memcmp(out, "{\"a\":1}", 7) == 0, "base64 decode");
	ok(elector_etcd_b64enc("{\"a\":1}", 7, enc, sizeof enc) == 12 &&
	       strcmp(enc, VAL64) == 0,
	   "base64 encode");
	ok(elector_etcd_b64enc("", 0, enc, sizeof enc) == 0 && enc[0] == '\0',
	   "base64 of nothing");
	ok(elector_etcd_b64dec("abc", 3, out, sizeof out) < 0,
	   "base64 without padding refused");
	ok(elector_etcd_b64dec("a=bc", 4, out, sizeof out) < 0,
	   "base64 with padding inside refused");
	ok(elector_etcd_b64dec("!!!!", 4, out, sizeof out) < 0,
	   "base64 with bad characters refused");
	ok(elector_etcd_b64enc("abcdef", 6, enc, 8) < 0,
	   "base64 encode into a short buffer refused");
}

static void test_range(void)
{
	struct elector_etcd_resp r;
	char err[256];
	const char *body =
	    "{\"header\":{\"cluster_id\":\"1\",\"revision\":\"7\"},\"kvs\":"
	    "[{\"key\":\"" KEY64 "\",\"create_revision\":\"2\","
	    "\"mod_revision\":\"7\",\"version\":\"3\",\"value\":\"" VAL64
	    "\"}],\"count\":\"1\"}";

	ok(elector_etcd_parse_resp(body, strlen(body), 0, KEY, &r, err,
	                           sizeof err) == ELECTOR_OK &&
	       r.kv.present && r.kv.mod_revision == 7 &&
	       r.kv.create_revision == 2 && r.revision == 7 &&
	       r.kv.value_len == 7 && strcmp(r.kv.value, "{\"a\":1}") == 0,
	   "range with a kv");
	body = "{\"header\":{\"revision\":\"1\"}}";
	ok(elector_etcd_parse_resp(body, strlen(body), 0, KEY, &r, err,
	                           sizeof err) == ELECTOR_OK &&
	       !r.kv.present && r.revision == 1,
	   "range without kvs: absent");
	body = "{\"kvs\":[{\"key\":\"L290aGVy\",\"mod_revision\":\"3\"}]}";
	ok(elector_etcd_parse_resp(body, strlen(body), 0, KEY, &r, err,
	                           sizeof err) == ELECTOR_CORRUPT,
	   "a kv for another key is refused (%s)", err);
	body = "{\"header\":{\"revision\":\"-4\"}}";
	ok(elector_etcd_parse_resp(body, strlen(body), 0, KEY, &r, err,
	                           sizeof err) == ELECTOR_CORRUPT,
	   "a negative revision is refused");
	ok(elector_etcd_parse_resp("<html>", 6, 0, KEY, &r, err, sizeof err) ==
	       ELECTOR_CORRUPT,
	   "not JSON is refused");
}

static void test_txn(void)
{
	struct elector_etcd_resp r;
	char err[256];
	const char *ok_body =
	    "{\"header\":{\"revision\":\"8\"},\"succeeded\":true,\"responses\":"
	    "[{\"response_put\":{\"header\":{\"revision\":\"8\"}}}]}";
	const char *fail_body =
	    "{\"header\":{\"revision\":\"9\"},\"responses\":[{\"response_range"
	    "\":{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"" KEY64
	    "\",\"create_revision\":\"2\",\"mod_revision\":\"9\","
	    "\"value\":\"" VAL64 "\"}],\"count\":\"1\"}}]}";

	ok(elector_etcd_parse_resp(ok_body, strlen(ok_body), 1, KEY, &r, err,
	                           sizeof err) == ELECTOR_OK &&
	       r.succeeded && r.revision == 8,
	   "txn succeeded: new revision from the header");
	ok(elector_etcd_parse_resp(fail_body, strlen(fail_body), 1, KEY, &r,
	                           err, sizeof err) == ELECTOR_OK &&
	       !r.succeeded && r.kv.present && r.kv.mod_revision == 9 &&
	       r.kv.value_len == 7,
	   "txn failed: the failure branch's kv");
}

static void test_watch(void)
{
	struct elector_etcd_wresult w;
	char err[256];
	const char *line =
	    "{\"result\":{\"header\":{\"revision\":\"10\"},\"events\":[{\"kv\":"
	    "{\"key\":\"" KEY64 "\",\"mod_revision\":\"9\",\"value\":\"" VAL64
	    "\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"" KEY64 "\","
	    "\"mod_revision\":\"10\"}}]}}";

	ok(elector_etcd_parse_watch(line, strlen(line), KEY, &w, err,
	                            sizeof err) == ELECTOR_OK &&
	       w.n_events == 2 && w.deleted && w.kv.mod_revision == 10 &&
	       !w.kv.present,
	   "watch: PUT then DELETE, the last one counts");
	line =
	    "{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,"
	    "\"compact_revision\":\"4\"}}";
	ok(elector_etcd_parse_watch(line, strlen(line), KEY, &w, err,
	                            sizeof err) == ELECTOR_OK &&
	       w.canceled && w.compact_revision == 4,
	   "watch: compaction");
	line = "{\"result\":{\"watch_id\":\"-1\",\"created\":true,\"canceled\":"
	       "true,\"cancel_reason\":\"rpc error: code = PermissionDenied "
	       "desc = etcdserver: permission denied\"}}";
	ok(elector_etcd_parse_watch(line, strlen(line), KEY, &w, err,
	                            sizeof err) == ELECTOR_OK &&
	       w.canceled && strstr(w.cancel_reason, "permission") != NULL,
	   "watch: cancelled with a reason");
	line = "{\"result\":{\"events\":[{\"kv\":{\"key\":\"" KEY64
	       "\",\"mod_revision\":\"9\"}},{\"kv\":{\"key\":\"" KEY64
	       "\",\"mod_revision\":\"8\"}}]}}";
	ok(elector_etcd_parse_watch(line, strlen(line), KEY, &w, err,
	                            sizeof err) == ELECTOR_CORRUPT,
	   "watch: events out of order refused");
	line = "{\"error\":\"x\",\"message\":\"etcdserver: no leader\","
	       "\"code\":14}";
	ok(elector_etcd_parse_watch(line, strlen(line), KEY, &w, err,
	                            sizeof err) == ELECTOR_OK &&
	       w.error && w.error_code == 14,
	   "watch: an error line");
}

static void test_errors_and_bodies(void)
{
	char msg[256], buf[2048], tok[64];
	const char *e = "{\"error\":\"etcdserver: invalid auth token\","
	                "\"message\":\"etcdserver: invalid auth token\","
	                "\"code\":16}";

	ok(elector_etcd_parse_error(e, strlen(e), msg, sizeof msg) == 16 &&
	       strcmp(msg, "etcdserver: invalid auth token") == 0,
	   "gateway error: code and message");
	e = "CommonName of client sending a request against gateway\nmore";
	ok(elector_etcd_parse_error(e, strlen(e), msg, sizeof msg) == -1 &&
	       strcmp(msg, "CommonName of client sending a request against "
	                   "gateway") == 0,
	   "plain-text answer: its first line");
	e = "{\"token\":\"sKcVACfBcIKieZPk.21\"}";
	ok(elector_etcd_parse_token(e, strlen(e), tok, sizeof tok) ==
	           ELECTOR_OK &&
	       strcmp(tok, "sKcVACfBcIKieZPk.21") == 0,
	   "token");
	e = "{\"token\":\"a\\r\\nX-Evil: 1\"}";
	ok(elector_etcd_parse_token(e, strlen(e), tok, sizeof tok) ==
	       ELECTOR_CORRUPT,
	   "a token that would break the header is refused");
	ok(elector_etcd_json_txn(KEY, 0, "{}", 2, buf, sizeof buf) > 0 &&
	       strstr(buf, "\"target\":\"CREATE\",\"create_revision\":\"0\"") &&
	       strstr(buf, "\"value\":\"e30=\""),
	   "create txn: create_revision == 0");
	ok(elector_etcd_json_txn(KEY, 42, "{}", 2, buf, sizeof buf) > 0 &&
	       strstr(buf, "\"target\":\"MOD\",\"mod_revision\":\"42\""),
	   "update txn: mod_revision == expected");
	ok(elector_etcd_json_watch(KEY, 43, buf, sizeof buf) > 0 &&
	       strstr(buf, "\"start_revision\":\"43\"") &&
	       strstr(buf, "\"progress_notify\":true"),
	   "watch request from revision + 1 with progress notify");
}

static void test_endpoints(void)
{
	struct elector_etcd_endpoint eps[ELECTOR_ETCD_MAX_ENDPOINTS];
	char err[256];
	size_t n;
	int64_t ms;

	ok(elector_etcd_parse_endpoints("http://h1:2379, https://[::1]:2380/;"
	                                "http://etcd-0.etcd",
	                                eps, 16, &n, err,
	                                sizeof err) == ELECTOR_OK &&
	       n == 3 && strcmp(eps[0].url, "http://h1:2379") == 0 &&
	       !eps[0].tls && strcmp(eps[1].url, "https://[::1]:2380") == 0 &&
	       eps[1].tls && strcmp(eps[2].url, "http://etcd-0.etcd:2379") == 0,
	   "endpoints: list, IPv6, default port, trailing slash");
	ok(elector_etcd_parse_endpoints("etcd://h:2379", eps, 16, &n, err,
	                                sizeof err) == ELECTOR_INVALID,
	   "endpoints: other schemes refused (%s)", err);
	ok(elector_etcd_parse_endpoints("http://u:p@h:2379", eps, 16, &n, err,
	                                sizeof err) == ELECTOR_INVALID,
	   "endpoints: user info refused");
	ok(elector_etcd_parse_endpoints("http://h:0", eps, 16, &n, err,
	                                sizeof err) == ELECTOR_INVALID,
	   "endpoints: port 0 refused");
	ok(elector_etcd_parse_endpoints(" , ", eps, 16, &n, err, sizeof err) ==
	       ELECTOR_INVALID,
	   "endpoints: empty list refused");
	ok(elector_etcd_parse_endpoints("http://a,http://b,http://c", eps, 2,
	                                &n, err, sizeof err) == ELECTOR_INVALID,
	   "endpoints: too many refused");
	ok(elector_etcd_parse_duration("1.5s", &ms) == 0 && ms == 1500,
	   "duration 1.5s");
	ok(elector_etcd_parse_duration("500ms", &ms) == 0 && ms == 500,
	   "duration 500ms");
	ok(elector_etcd_parse_duration("5", &ms) != 0,
	   "duration without a unit refused");
	ok(elector_etcd_parse_duration("-1s", &ms) != 0,
	   "negative duration refused");
}

int main(void)
{
	test_b64();
	test_range();
	test_txn();
	test_watch();
	test_errors_and_bodies();
	test_endpoints();
	return done_testing();
}
