/*
 * The REST side of the gist backend: GET /gists/ID with If-None-Match (a
 * 304 costs no rate limit), rate-limit bookkeeping, and `elector
 * gist-create`. Follows docs.github.com/rest/gists and
 * docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "gist_int.h"
#include "../common/http.h"

#define TOKEN_MAX 4096
/* A rate limit without a usable reset time: wait this long. */
#define DEFAULT_BACKOFF_MS 60000
#define MAX_BACKOFF_MS (3600 * 1000)

int64_t elector_gist_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int elector_gist_read_token(const char *file, char **out, char *err,
                            size_t errlen)
{
	char buf[TOKEN_MAX + 2];
	size_t n = 0;
	const char *src;

	*out = NULL;
	if (file) {
		FILE *f = fopen(file, "re");

		if (!f) {
			snprintf(err, errlen, "gist token-file %s: %s", file, strerror(errno));
			return ELECTOR_INVALID;
		}
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		if (n > TOKEN_MAX) {
			snprintf(err, errlen, "gist token-file %s: longer than %d bytes",
			         file, TOKEN_MAX);
			return ELECTOR_INVALID;
		}
		buf[n] = '\0';
		src = buf;
	} else {
		src = getenv("GITHUB_TOKEN");
		if (!src || !*src) {
			snprintf(err, errlen,
			         "gist: no token: set --backend-opt token-file=FILE "
			         "(--gist-token-file) or GITHUB_TOKEN");
			return ELECTOR_INVALID;
		}
		n = strlen(src);
		if (n > TOKEN_MAX) {
			snprintf(err, errlen, "gist: GITHUB_TOKEN longer than %d bytes", TOKEN_MAX);
			return ELECTOR_INVALID;
		}
	}
	while (n > 0 && (src[n - 1] == '\n' || src[n - 1] == '\r' ||
	                 src[n - 1] == ' ' || src[n - 1] == '\t'))
		n--;
	while (n > 0 && (*src == ' ' || *src == '\t')) {
		src++;
		n--;
	}
	if (n == 0 || memchr(src, '\n', n) || memchr(src, '\r', n)) {
		snprintf(err, errlen, "gist token from %s: empty or more than one line",
		         file ? file : "GITHUB_TOKEN");
		return ELECTOR_INVALID;
	}
	*out = strndup(src, n);
	if (!*out) {
		snprintf(err, errlen, "gist: out of memory");
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

void elector_gist_token_refresh(struct gist *g)
{
	struct stat st;
	char *tok = NULL;
	char why[300];
	int64_t mt;

	if (!g->token_file || stat(g->token_file, &st) != 0)
		return;
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (mt == g->token_mtime_ns && (long long)st.st_ino == g->token_ino)
		return;
	g->token_mtime_ns = mt;
	g->token_ino = (long long)st.st_ino;
	if (elector_gist_read_token(g->token_file, &tok, why, sizeof why) != ELECTOR_OK) {
		g->host->log(ELECTOR_LOG_WARN, GIST_COMPONENT,
		             "%s; keeping the previous token", why);
		return;
	}
	if (g->token) {
		if (strcmp(g->token, tok) != 0)
			g->host->log(ELECTOR_LOG_INFO, GIST_COMPONENT,
			             "gist %s: token reloaded from %s", g->id,
			             g->token_file);
		memset(g->token, 0, strlen(g->token));
	}
	free(g->token);
	g->token = tok;
}

int elector_gist_backing_off(struct gist *g, char *err, size_t errlen)
{
	int64_t left = g->backoff_until_ms - elector_gist_now_ms();

	if (left <= 0)
		return 0;
	snprintf(err, errlen, "gist %s: %s; backing off %lld.%01lld s more", g->id,
	         g->backoff_why, (long long)(left / 1000), (long long)(left % 1000 / 100));
	return 1;
}

void elector_gist_backoff(struct gist *g, int64_t delay_ms, const char *why)
{
	int64_t until;

	if (delay_ms < 1000)
		delay_ms = 1000;
	if (delay_ms > MAX_BACKOFF_MS)
		delay_ms = MAX_BACKOFF_MS;
	until = elector_gist_now_ms() + delay_ms;
	if (until > g->backoff_until_ms)
		g->backoff_until_ms = until;
	snprintf(g->backoff_why, sizeof g->backoff_why, "%s", why);
}

/* Common request headers; hdr[] needs 6 slots. Returns the count. */
static size_t headers(const char *token, const char *identity, const char *etag,
                      char auth[], size_t authcap, char ua[], size_t uacap,
                      char inm[], size_t inmcap, const char **hdr)
{
	size_t n = 0;

	snprintf(auth, authcap, "Authorization: Bearer %s", token);
	snprintf(ua, uacap, "User-Agent: elector-gist (%s)", identity);
	for (char *p = ua; *p; p++) /* no header injection through the identity */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	hdr[n++] = auth;
	hdr[n++] = "Accept: application/vnd.github+json";
	hdr[n++] = "X-GitHub-Api-Version: 2022-11-28";
	hdr[n++] = ua;
	if (etag && etag[0]) {
		snprintf(inm, inmcap, "If-None-Match: %s", etag);
		hdr[n++] = inm;
	}
	return n;
}

/* The "message" of a GitHub error body, or "". */
static void error_message(const struct elector_http_response *r, char *buf,
                          size_t cap)
{
	json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;

	snprintf(buf, cap, "%s", m ? m : "");
	json_decref(j);
}

/* Rate limit answers: 429, or 403 with remaining 0 / a rate-limit message
 * (a 403 otherwise is a permission error). Sets the backoff. */
static int is_rate_limited(struct gist *g, const struct elector_http_response *r,
                           const char *msg)
{
	int64_t delay = -1;
	char why[120];

	if (r->status != 429 && r->status != 403)
		return 0;
	if (r->status == 403 && r->ratelimit_remaining != 0 &&
	    !strstr(msg, "rate limit") && r->retry_after_ms < 0)
		return 0;
	if (r->retry_after_ms >= 0)
		delay = r->retry_after_ms;
	else if (r->ratelimit_remaining == 0 && r->ratelimit_reset > 0)
		delay = (r->ratelimit_reset - (int64_t)time(NULL)) * 1000 + 1000;
	if (delay < 0)
		delay = DEFAULT_BACKOFF_MS;
	snprintf(why, sizeof why, "GitHub rate limit (HTTP %ld, %lld of %lld left)",
	         r->status, (long long)r->ratelimit_remaining,
	         (long long)r->ratelimit_limit);
	elector_gist_backoff(g, delay, why);
	return 1;
}

/* Parse a 200 answer into the cache fields of g. */
static int parse_gist(struct gist *g, const struct elector_http_response *r,
                      int64_t deadline_ms, char *err, size_t errlen)
{
	char buf[GIST_CONTENT_MAX], why[300];
	size_t len = 0;
	int truncated = 0;
	int rc = elector_gist_parse_answer(r->body, r->body_len, g->file, g->cache_ver,
	                                   sizeof g->cache_ver, buf, sizeof buf, &len,
	                                   &truncated, why, sizeof why);

	if (rc == ELECTOR_TRANSIENT) {
		snprintf(err, errlen, "GET %s/gists/%s: %s", g->api_url, g->id, why);
		return rc;
	}
	if (rc == ELECTOR_OK && truncated) {
		rc = elector_gist_git_read(g, g->cache_ver, buf, sizeof buf, &len,
		                           deadline_ms, why, sizeof why);
		if (rc != ELECTOR_OK && rc != ELECTOR_NOT_FOUND && rc != ELECTOR_CORRUPT) {
			snprintf(err, errlen, "%s", why);
			return rc;
		}
	}
	g->cache_rc = rc;
	if (rc != ELECTOR_OK) {
		snprintf(g->cache_err, sizeof g->cache_err, "gist %s: %s", g->id, why);
		return ELECTOR_OK;
	}
	if (g->host->record_decode(buf, len, &g->cache_rec, why, sizeof why) !=
	    ELECTOR_OK) {
		g->cache_rc = ELECTOR_CORRUPT;
		snprintf(g->cache_err, sizeof g->cache_err,
		         "gist %s/%s: malformed record: %s", g->id, g->file, why);
	}
	return ELECTOR_OK;
}

static int status_error(struct gist *g, const struct elector_http_response *r,
                        char *err, size_t errlen)
{
	char msg[200];

	error_message(r, msg, sizeof msg);
	if (is_rate_limited(g, r, msg)) {
		snprintf(err, errlen, "GET %s/gists/%s: %ld %s (rate limit; %lld of %lld left)",
		         g->api_url, g->id, r->status, msg,
		         (long long)r->ratelimit_remaining, (long long)r->ratelimit_limit);
		return ELECTOR_RATELIMITED;
	}
	if (r->status == 401) {
		snprintf(err, errlen, "GET %s/gists/%s: 401 %s: the token from %s is "
		         "invalid, expired or revoked", g->api_url, g->id, msg,
		         g->token_source);
		return ELECTOR_DENIED;
	}
	if (r->status == 403) {
		snprintf(err, errlen, "GET %s/gists/%s: 403 %s: the token from %s lacks "
		         "permission (it needs the 'gist' scope)", g->api_url, g->id,
		         msg, g->token_source);
		return ELECTOR_DENIED;
	}
	if (r->status == 404) {
		snprintf(err, errlen, "GET %s/gists/%s: 404: gist not found (deleted, "
		         "wrong id, or secret and not visible to this token)",
		         g->api_url, g->id);
		return ELECTOR_ERROR;
	}
	snprintf(err, errlen, "GET %s/gists/%s: HTTP %ld %s", g->api_url, g->id,
	         r->status, msg);
	return r->status >= 500 || r->status == 408 ? ELECTOR_TRANSIENT : ELECTOR_ERROR;
}

int elector_gist_rest_get(struct gist *g, int64_t timeout_ms,
                          struct elector_record *rec, char *ver, size_t vercap,
                          char *err, size_t errlen)
{
	char url[1024], auth[TOKEN_MAX + 64], ua[ELECTOR_ID_MAX + 64], inm[300];
	const char *hdr[6];
	struct elector_http_request req = { 0 };
	struct elector_http_response r = { 0 };
	int64_t start = elector_gist_now_ms();
	int rc;

	if (elector_gist_backing_off(g, err, errlen))
		return ELECTOR_RATELIMITED;
	elector_gist_token_refresh(g);
	if (snprintf(url, sizeof url, "%s/gists/%s", g->api_url, g->id) >= (int)sizeof url) {
		snprintf(err, errlen, "gist: api-url too long");
		return ELECTOR_INVALID;
	}
	req.method = "GET";
	req.url = url;
	req.headers = hdr;
	req.n_headers = headers(g->token, g->identity, g->etag, auth, sizeof auth,
	                        ua, sizeof ua, inm, sizeof inm, hdr);
	req.timeout_ms = timeout_ms;
	req.max_body = GIST_MAX_BODY;
	rc = elector_http_do(g->http, &req, &r, err, errlen);
	memset(auth, 0, sizeof auth);
	if (rc != ELECTOR_OK)
		goto out;
	if (r.ratelimit_remaining >= 0)
		g->host->gauge_set("github_ratelimit_remaining",
		                   "GitHub REST requests left in the current window",
		                   (double)r.ratelimit_remaining);
	if (r.status == 304 && g->etag[0]) {
		rc = ELECTOR_OK;
	} else if (r.status == 200) {
		g->etag[0] = '\0';
		rc = parse_gist(g, &r, start + timeout_ms, err, errlen);
		if (rc == ELECTOR_OK && r.etag[0])
			snprintf(g->etag, sizeof g->etag, "%s", r.etag);
	} else {
		rc = status_error(g, &r, err, errlen);
		goto out;
	}
	if (rc != ELECTOR_OK)
		goto out;
	snprintf(ver, vercap, "%s", g->cache_ver);
	rc = g->cache_rc;
	if (rc == ELECTOR_OK)
		*rec = g->cache_rec;
	else
		snprintf(err, errlen, "%s", g->cache_err);
out:
	elector_http_response_clear(&r);
	return rc;
}

/* ---- elector gist-create ---- */

static int create_usage(char *err, size_t errlen)
{
	snprintf(err, errlen, "usage: elector gist-create [--token-file FILE] "
	         "[--description TEXT] [--public] [--election NAME] (token "
	         "defaults to GITHUB_TOKEN; prints the new gist id)");
	return ELECTOR_INVALID;
}

static int post_gist(const struct elector_backend_host *host, const char *api,
                     const char *token, const char *body, char *id, size_t idcap,
                     char *err, size_t errlen)
{
	char url[1024], auth[TOKEN_MAX + 64], ua[128], inm[8];
	const char *hdr[7];
	struct elector_http_request req = { 0 };
	struct elector_http_response r = { 0 };
	struct elector_http_client *c = NULL;
	json_t *j = NULL;
	const char *s;
	char msg[200];
	int rc = elector_http_client_new(&c, err, errlen);

	if (rc != ELECTOR_OK)
		return rc;
	snprintf(url, sizeof url, "%s/gists", api);
	req.method = "POST";
	req.url = url;
	req.headers = hdr;
	req.n_headers = headers(token, "gist-create", NULL, auth, sizeof auth, ua,
	                        sizeof ua, inm, sizeof inm, hdr);
	hdr[req.n_headers++] = "Content-Type: application/json";
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = 30000;
	rc = elector_http_do(c, &req, &r, err, errlen);
	memset(auth, 0, sizeof auth);
	if (rc == ELECTOR_OK && r.status != 201) {
		error_message(&r, msg, sizeof msg);
		snprintf(err, errlen, "POST %s: HTTP %ld %s%s", url, r.status, msg,
		         r.status == 401 || r.status == 403 || r.status == 404
		                 ? " (the token needs the 'gist' scope)" : "");
		rc = r.status == 401 || r.status == 403 ? ELECTOR_DENIED : ELECTOR_ERROR;
	}
	if (rc == ELECTOR_OK) {
		j = json_loadb(r.body ? r.body : "", r.body_len, 0, NULL);
		s = j ? json_string_value(json_object_get(j, "id")) : NULL;
		if (!s) {
			snprintf(err, errlen, "POST %s: no id in the answer", url);
			rc = ELECTOR_ERROR;
		} else {
			snprintf(id, idcap, "%s", s);
		}
	}
	(void)host;
	json_decref(j);
	elector_http_response_clear(&r);
	elector_http_client_free(c);
	return rc;
}

int elector_gist_command(const struct elector_backend_host *host,
                         const struct elector_backend_params *params, int argc,
                         char **argv, char *err, size_t errlen)
{
	const char *token_file = host->option(params, "token-file");
	const char *api = host->option(params, "api-url");
	const char *desc = "elector leader election lock";
	const char *file = host->option(params, "file");
	char fname[600], rec_json[512], id[128];
	struct elector_record rec = { .lease_duration_seconds = 1 };
	json_t *body = NULL, *files = NULL;
	char *token = NULL, *text = NULL;
	size_t len;
	int pub = 0, i, rc;

	if (argc < 1 || strcmp(argv[0], "create") != 0) {
		snprintf(err, errlen, "unknown gist command '%s' (known: gist-create)",
		         argc > 0 ? argv[0] : "");
		return ELECTOR_INVALID;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--public") == 0)
			pub = 1;
		else if (strcmp(argv[i], "--token-file") == 0 && i + 1 < argc)
			token_file = argv[++i];
		else if (strcmp(argv[i], "--description") == 0 && i + 1 < argc)
			desc = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return create_usage(err, errlen);
		else
			return create_usage(err, errlen);
	}
	if (!file) {
		snprintf(fname, sizeof fname, "elector-%s-%s.json",
		         params->namespace_ ? params->namespace_ : "default",
		         params->election ? params->election : "election");
		file = fname;
	}
	rc = elector_gist_read_token(token_file, &token, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rc = host->record_encode(&rec, rec_json, sizeof rec_json, &len);
	if (rc != ELECTOR_OK) {
		snprintf(err, errlen, "gist-create: encoding the initial record failed");
		goto out;
	}
	files = json_object();
	json_object_set_new(files, file, json_pack("{s:s%}", "content", rec_json, len));
	body = json_pack("{s:s, s:b, s:o}", "description", desc, "public", pub,
	                 "files", files);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		snprintf(err, errlen, "gist-create: out of memory");
		rc = ELECTOR_ERROR;
		goto out;
	}
	rc = post_gist(host, api ? api : "https://api.github.com", token, text, id,
	               sizeof id, err, errlen);
	if (rc == ELECTOR_OK)
		printf("%s\n", id);
out:
	free(text);
	json_decref(body);
	if (token)
		memset(token, 0, strlen(token));
	free(token);
	return rc;
}
