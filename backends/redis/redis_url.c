/* URL and duration parsing for the redis backend. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copy s[0..n) percent-decoded into out[cap]. -1 when it does not fit or
 * an escape is malformed. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_int(const char *s, size_t n, long lo, long hi, long *out)
{
	if (n == 0 || n > 10)
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* "host", "host:port", "[v6]", "[v6]:port" of length n. */
static int parse_hostport(const char *s, size_t n, int defport,
                          struct elector_redis_addr *a, char *err,
                          size_t errlen)
{
	const char *host = s, *colon = NULL;
	size_t hlen;
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb) {
			snprintf(err, errlen, "missing ']' in address '%.*s'",
			         (int)n, s);
			return ELECTOR_INVALID;
		}
		host = s + 1;
		hlen = (size_t)(rb - host);
		if ((size_t)(rb + 1 - s) < n) {
			if (rb[1] != ':') {
				snprintf(err, errlen, "bad address '%.*s'",
				         (int)n, s);
				return ELECTOR_INVALID;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
	}
	if (hlen == 0 || hlen >= sizeof a->host) {
		snprintf(err, errlen, "bad or missing host in '%.*s'", (int)n,
		         s);
		return ELECTOR_INVALID;
	}
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	long port = defport;
	if (colon) {
		size_t plen = n - (size_t)(colon + 1 - s);
		if (parse_int(colon + 1, plen, 1, 65535, &port) != 0) {
			snprintf(err, errlen, "bad port in '%.*s' (1-65535)",
			         (int)n, s);
			return ELECTOR_INVALID;
		}
	}
	a->port = (int)port;
	return ELECTOR_OK;
}

/* "user:password@" before the host part [s, at). */
static int parse_userinfo(const char *s, size_t n,
                          struct elector_redis_target *t, char *err,
                          size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	if (pct_decode(s, ulen, t->user, sizeof t->user) != 0) {
		snprintf(err, errlen, "bad user name in url");
		return ELECTOR_INVALID;
	}
	if (colon) {
		size_t plen = n - ulen - 1;
		if (pct_decode(colon + 1, plen, t->password,
		               sizeof t->password) != 0) {
			snprintf(err, errlen, "bad password in url (too long "
			         "or bad %%-escape)");
			return ELECTOR_INVALID;
		}
	}
	return ELECTOR_OK;
}

/* "?db=N" (or empty). */
static int parse_query(const char *q, struct elector_redis_target *t,
                       char *err, size_t errlen)
{
	if (*q == '\0')
		return ELECTOR_OK;
	long db;
	if (strncmp(q, "?db=", 4) != 0 ||
	    parse_int(q + 4, strlen(q + 4), 0, 1000000, &db) != 0) {
		snprintf(err, errlen, "bad query '%s' in url (only ?db=N is "
		         "known)", q);
		return ELECTOR_INVALID;
	}
	t->db = (int)db;
	return ELECTOR_OK;
}

static int parse_tcp(const char *rest, struct elector_redis_target *t,
                     char *err, size_t errlen)
{
	const char *slash = strchr(rest, '/');
	const char *end = slash ? slash : rest + strlen(rest);
	/* The last '@': an unescaped '@' in a password stays in the password
	 * instead of leaking into the host name (and from there into logs). */
	const char *at = memrchr(rest, '@', (size_t)(end - rest));
	const char *hp = rest;
	if (at) {
		int rc = parse_userinfo(rest, (size_t)(at - rest), t, err,
		                        errlen);
		if (rc != ELECTOR_OK)
			return rc;
		hp = at + 1;
	}
	int rc = parse_hostport(hp, (size_t)(end - hp), 6379, &t->addr, err,
	                        errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (slash && slash[1] != '\0') {
		long db;
		if (parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &db)) {
			snprintf(err, errlen, "bad database number '%s' in url",
			         slash + 1);
			return ELECTOR_INVALID;
		}
		t->db = (int)db;
	}
	t->kind = ELECTOR_REDIS_TCP;
	return ELECTOR_OK;
}

static int parse_unix(const char *rest, struct elector_redis_target *t,
                      char *err, size_t errlen)
{
	const char *q = strchr(rest, '?');
	size_t n = q ? (size_t)(q - rest) : strlen(rest);
	if (n == 0 || rest[0] != '/' || n >= sizeof t->path) {
		snprintf(err, errlen, "unix url needs an absolute socket path "
		         "shorter than %zu bytes (unix:///path/to.sock)",
		         sizeof t->path);
		return ELECTOR_INVALID;
	}
	memcpy(t->path, rest, n);
	t->path[n] = '\0';
	t->kind = ELECTOR_REDIS_UNIX;
	return parse_query(q ? q : "", t, err, errlen);
}

static int parse_sentinel(const char *rest, struct elector_redis_target *t,
                          char *err, size_t errlen)
{
	const char *slash = strchr(rest, '/');
	if (!slash) {
		snprintf(err, errlen, "sentinel url needs a master name "
		         "(redis-sentinel://h1:26379,h2:26379/MASTER)");
		return ELECTOR_INVALID;
	}
	const char *at = memrchr(rest, '@', (size_t)(slash - rest));
	const char *p = rest;
	if (at) {
		int rc = parse_userinfo(rest, (size_t)(at - rest), t, err,
		                        errlen);
		if (rc != ELECTOR_OK)
			return rc;
		p = at + 1;
	}
	while (p < slash) {
		const char *comma = memchr(p, ',', (size_t)(slash - p));
		const char *end = comma ? comma : slash;
		if (t->n_sentinels == ELECTOR_REDIS_MAX_SENTINELS) {
			snprintf(err, errlen, "too many sentinels in url "
			         "(at most %d)", ELECTOR_REDIS_MAX_SENTINELS);
			return ELECTOR_INVALID;
		}
		int rc = parse_hostport(p, (size_t)(end - p), 26379,
		                        &t->sentinels[t->n_sentinels], err,
		                        errlen);
		if (rc != ELECTOR_OK)
			return rc;
		t->n_sentinels++;
		p = comma ? comma + 1 : slash;
	}
	if (t->n_sentinels == 0) {
		snprintf(err, errlen, "sentinel url lists no sentinel");
		return ELECTOR_INVALID;
	}
	const char *name = slash + 1;
	const char *q = strchr(name, '?');
	size_t n = q ? (size_t)(q - name) : strlen(name);
	if (n == 0 || n >= sizeof t->master || memchr(name, '/', n)) {
		snprintf(err, errlen, "bad or missing master name in sentinel "
		         "url");
		return ELECTOR_INVALID;
	}
	memcpy(t->master, name, n);
	t->master[n] = '\0';
	t->kind = ELECTOR_REDIS_SENTINEL;
	return parse_query(q ? q : "", t, err, errlen);
}

int elector_redis_url_parse(const char *url, struct elector_redis_target *t,
                            char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (strncmp(url, "redis://", 8) == 0)
		return parse_tcp(url + 8, t, err, errlen);
	if (strncmp(url, "unix://", 7) == 0)
		return parse_unix(url + 7, t, err, errlen);
	if (strncmp(url, "redis-sentinel://", 17) == 0)
		return parse_sentinel(url + 17, t, err, errlen);
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "rediss:// (TLS) is not supported by "
		         "this build; use redis://, unix:// or "
		         "redis-sentinel://");
		return ELECTOR_INVALID;
	}
	snprintf(err, errlen, "url must start with redis://, unix:// or "
	         "redis-sentinel://");
	return ELECTOR_INVALID;
}

struct unit {
	const char *name;
	double ms;
};

static const struct unit units[] = {
	{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1.0},
	{"s", 1e3},   {"m", 6e4},   {"h", 3.6e6},        {NULL, 0},
};

int elector_redis_duration_parse(const char *s, int64_t *ms, char *err,
                                 size_t errlen)
{
	const char *p = s;
	double total = 0;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return ELECTOR_OK;
	}
	if (*p == '\0')
		goto bad;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			goto bad;
		char *end;
		double v = strtod(p, &end);
		if (end == p || v < 0)
			goto bad;
		p = end;
		const struct unit *u = NULL;
		for (const struct unit *x = units; x->name; x++) {
			size_t n = strlen(x->name);
			if (strncmp(p, x->name, n) == 0 &&
			    (!u || n > strlen(u->name)))
				u = x;
		}
		if (!u) {
			snprintf(err, errlen, "missing or unknown unit in "
			         "duration \"%s\" (use ms, s, m, h)", s);
			return ELECTOR_INVALID;
		}
		p += strlen(u->name);
		total += v * u->ms;
	}
	if (total > 1e12)
		goto bad;
	*ms = (int64_t)total;
	return ELECTOR_OK;
bad:
	snprintf(err, errlen, "bad duration \"%s\" (examples: 500ms, 2s, "
	         "1m30s)", s);
	return ELECTOR_INVALID;
}
