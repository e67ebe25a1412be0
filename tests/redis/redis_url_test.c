/* Unit tests of the redis backend's URL and duration parsers (TAP). */
#include <stdio.h>
#include <string.h>

#include "redis_int.h"
#include "tap.h"

static void good_tcp(void)
{
	struct elector_redis_target t;
	char err[256] = "";
	int rc = elector_redis_url_parse("redis://127.0.0.1:6380/2", &t, err,
	                                 sizeof err);
	ok(rc == ELECTOR_OK, "tcp url parses (%s)", err);
	is_int(t.kind, ELECTOR_REDIS_TCP, "kind tcp");
	is_str(t.addr.host, "127.0.0.1", "host");
	is_int(t.addr.port, 6380, "port");
	is_int(t.db, 2, "db");
	rc = elector_redis_url_parse("redis://h", &t, err, sizeof err);
	ok(rc == ELECTOR_OK && t.addr.port == 6379 && t.db == 0,
	   "defaults: port 6379, db 0");
	rc = elector_redis_url_parse("redis://bob:p%40ss%3Aw@[::1]:7000/", &t,
	                             err, sizeof err);
	ok(rc == ELECTOR_OK, "userinfo and IPv6 parse (%s)", err);
	is_str(t.user, "bob", "user");
	is_str(t.password, "p@ss:w", "password percent-decoded");
	is_str(t.addr.host, "::1", "v6 host without brackets");
	is_int(t.addr.port, 7000, "v6 port");
	rc = elector_redis_url_parse("redis://u:p@ss@host:1", &t, err,
	                             sizeof err);
	ok(rc == ELECTOR_OK, "unescaped '@' in the password (%s)", err);
	is_str(t.password, "p@ss", "the password keeps its '@'");
	is_str(t.addr.host, "host", "the host is after the last '@'");
}

static void good_unix_sentinel(void)
{
	struct elector_redis_target t;
	char err[256] = "";
	int rc = elector_redis_url_parse("unix:///run/redis/r.sock?db=5", &t,
	                                 err, sizeof err);
	ok(rc == ELECTOR_OK && t.kind == ELECTOR_REDIS_UNIX, "unix url (%s)",
	   err);
	is_str(t.path, "/run/redis/r.sock", "socket path");
	is_int(t.db, 5, "unix db");
	rc = elector_redis_url_parse(
		"redis-sentinel://a:26380,b,[::1]:26381/mymaster?db=1", &t, err,
		sizeof err);
	ok(rc == ELECTOR_OK && t.kind == ELECTOR_REDIS_SENTINEL,
	   "sentinel url (%s)", err);
	is_int(t.n_sentinels, 3, "three sentinels");
	is_str(t.sentinels[0].host, "a", "first sentinel");
	is_int(t.sentinels[0].port, 26380, "first port");
	is_int(t.sentinels[1].port, 26379, "default sentinel port");
	is_str(t.sentinels[2].host, "::1", "v6 sentinel");
	is_str(t.master, "mymaster", "master name");
	is_int(t.db, 1, "sentinel db");
}

static void bad(const char *url, const char *want)
{
	struct elector_redis_target t;
	char err[256] = "";
	int rc = elector_redis_url_parse(url, &t, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, want) != NULL,
	   "'%s' refused: %s", url, err);
	ok(strstr(err, "s3cret") == NULL, "no password in the message");
}

static void dur(const char *s, long long want)
{
	int64_t ms = -1;
	char err[128] = "";
	int rc = elector_redis_duration_parse(s, &ms, err, sizeof err);
	if (want < 0)
		ok(rc == ELECTOR_INVALID && err[0], "duration '%s' refused: %s",
		   s, err);
	else
		ok(rc == ELECTOR_OK && ms == want, "duration '%s' = %lld ms (%lld)",
		   s, want, (long long)ms);
}

int main(void)
{
	good_tcp();
	good_unix_sentinel();
	bad("http://x", "must start with");
	bad("rediss://x:1", "not supported");
	bad("redis://x:0", "bad port");
	bad("redis://x:70000", "bad port");
	bad("redis://:s3cret@:6379", "host");
	bad("redis://u:s3cret%zz@h", "password");
	bad("redis://h:1/x", "database");
	bad("unix://relative.sock", "absolute");
	bad("unix:///r.sock?dbx=1", "query");
	bad("redis-sentinel://a:1", "master name");
	bad("redis-sentinel:///m", "no sentinel");
	bad("redis-sentinel://1,2,3,4,5,6,7,8,9/m", "too many");
	bad("redis://[::1:6379", "']'");
	dur("500ms", 500);
	dur("2s", 2000);
	dur("1m30s", 90000);
	dur("1.5s", 1500);
	dur("0", 0);
	dur("15", -1);
	dur("", -1);
	dur("-1s", -1);
	dur("3x", -1);
	char hex[41];
	elector_redis_sha1_hex("abc", 3, hex);
	is_str(hex, "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1(abc)");
	elector_redis_sha1_hex("", 0, hex);
	is_str(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1('')");
	char big[1000];
	memset(big, 'a', sizeof big);
	elector_redis_sha1_hex(big, sizeof big, hex);
	is_str(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba", "sha1(a x 1000)");
	return done_testing();
}
