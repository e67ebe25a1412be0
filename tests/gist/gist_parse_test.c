/* Unit test (TAP) of elector_gist_parse_answer: GitHub's GET /gists/ID. */
#include <stdio.h>
#include <string.h>

#include "gist_int.h"
#include "tap.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define REC "{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15,\"leaderTransitions\":1}"

struct res {
	int rc, truncated;
	size_t len;
	char ver[64], buf[128], err[256];
};

static struct res parse(const char *body, const char *file)
{
	struct res r;

	memset(&r, 0, sizeof r);
	r.rc = elector_gist_parse_answer(body, strlen(body), file, r.ver, sizeof r.ver,
	                                 r.buf, sizeof r.buf, &r.len, &r.truncated,
	                                 r.err, sizeof r.err);
	return r;
}

int main(void)
{
	struct res r;

	r = parse("{\"files\":{\"f.json\":{\"content\":\"" "{\\\"holderIdentity\\\":\\\"a\\\"}"
	          "\",\"truncated\":false}},\"history\":[{\"version\":\"" SHA "\"},"
	          "{\"version\":\"ffffffffffffffffffffffffffffffffffffffff\"}]}", "f.json");
	is_int(r.rc, ELECTOR_OK, "a file: OK");
	is_str(r.ver, SHA, "version = history[0].version (newest first)");
	is_str(r.buf, "{\"holderIdentity\":\"a\"}", "content copied");
	ok(r.len == strlen(r.buf) && !r.truncated, "length %zu, not truncated", r.len);

	r = parse("{\"files\":{\"other.json\":{\"content\":\"x\"}},\"history\":[{\"version\":\"" SHA "\"}]}",
	          "f.json");
	is_int(r.rc, ELECTOR_NOT_FOUND, "no such file: NOT_FOUND");
	is_str(r.ver, SHA, "the head is still reported (create builds on it)");

	r = parse("{\"files\":{\"f.json\":{\"content\":\"{\\\"hol\",\"truncated\":true}},"
	          "\"history\":[{\"version\":\"" SHA "\"}]}", "f.json");
	ok(r.rc == ELECTOR_OK && r.truncated && r.len == 0, "truncated content: read through git");

	r = parse("{\"files\":{\"f.json\":{\"content\":\"" REC REC REC "\"}},"
	          "\"history\":[{\"version\":\"" SHA "\"}]}", "f.json");
	ok(r.rc == ELECTOR_TRANSIENT, "unescaped quotes: bad JSON is TRANSIENT (%s)", r.err);

	r = parse("{\"files\":{\"f.json\":{\"content\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}},"
	          "\"history\":[{\"version\":\"" SHA "\"}]}", "f.json");
	ok(r.rc == ELECTOR_CORRUPT && strstr(r.err, "bytes"), "content over the cap: CORRUPT (%s)", r.err);

	r = parse("{\"files\":{}, \"history\":[]}", "f.json");
	ok(r.rc == ELECTOR_TRANSIENT && strstr(r.err, "history"), "empty history: TRANSIENT (%s)", r.err);
	r = parse("{\"files\":{}, \"history\":[{\"version\":\"0123\"}]}", "f.json");
	is_int(r.rc, ELECTOR_TRANSIENT, "short version: TRANSIENT");
	r = parse("{\"files\":{}, \"history\":[{\"version\":\"0123456789ABCDEF0123456789abcdef0123456g\"}]}", "f.json");
	is_int(r.rc, ELECTOR_TRANSIENT, "non-hex version: TRANSIENT");
	r = parse("<html>rate limited</html>", "f.json");
	is_int(r.rc, ELECTOR_TRANSIENT, "not JSON: TRANSIENT");
	r = parse("{\"files\":{\"f.json\":null},\"history\":[{\"version\":\"" SHA "\"}]}", "f.json");
	is_int(r.rc, ELECTOR_NOT_FOUND, "file null: NOT_FOUND");
	r = parse("{\"files\":{\"f.json\":{\"content\":null}},\"history\":[{\"version\":\"" SHA "\"}]}", "f.json");
	ok(r.rc == ELECTOR_OK && r.truncated, "content missing: read through git");
	r = parse("[1,2]", "f.json");
	is_int(r.rc, ELECTOR_TRANSIENT, "not an object: TRANSIENT");
	return done_testing();
}
