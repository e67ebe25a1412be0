/*
 * gist backend: options, the ops table, and get/create/update on top of
 * gist_rest.c (reads) and gist_git.c (compare-and-swap pushes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "gist_int.h"
#include "../common/http.h"

static const struct elector_backend_option gist_options[] = {
	{ "id", "gist id (required; create one with `elector gist-create`)" },
	{ "file", "file inside the gist (default elector-NAMESPACE-ELECTION.json)" },
	{ "token-file", "file holding a GitHub token with the gist scope (else $GITHUB_TOKEN)" },
	{ "api-url", "REST API base URL (default https://api.github.com)" },
	{ "git-url", "git URL of the gist (default https://gist.github.com/ID.git)" },
	{ "state-dir", "directory for the git cache (default $XDG_RUNTIME_DIR/elector-gist or /tmp/elector-UID/gist)" },
	{ "branch", "branch of the gist (default: the remote HEAD)" },
	{ "allow-fast-renew", "true: accept --retry-period below 8s (breaks GitHub's ~500 writes/hour)" },
	{ NULL, NULL }
};

static void gist_destroy(void *state)
{
	struct gist *g = state;

	if (!g)
		return;
	elector_gist_git_close(g);
	elector_http_client_free(g->http);
	if (g->token)
		memset(g->token, 0, strlen(g->token));
	free(g->token);
	free(g->id);
	free(g->file);
	free(g->api_url);
	free(g->git_url);
	free(g->state_dir);
	free(g->identity);
	free(g->token_source);
	free(g->token_file);
	free(g->branch_opt);
	free(g->election);
	free(g);
	git_libgit2_shutdown();
}

__attribute__((format(printf, 1, 2))) static char *dup_printf(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);

	if (n < 0 || (size_t)n >= sizeof buf)
		return NULL;
	return strdup(buf);
}

static int valid_name(const char *s, size_t max, const char *bad)
{
	size_t n = strlen(s);

	return n > 0 && n < max && strpbrk(s, bad) == NULL;
}

static int is_loopback_or_tls(const char *url)
{
	return strncmp(url, "https://", 8) == 0 ||
	       strncmp(url, "http://127.0.0.1", 16) == 0 ||
	       strncmp(url, "http://localhost", 16) == 0 ||
	       strncmp(url, "http://[::1]", 12) == 0;
}

static int parse_options(struct gist *g, const struct elector_backend_params *p,
                         char *err, size_t errlen)
{
	const struct elector_backend_host *h = g->host;
	const char *id = h->option(p, "id"), *v;
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	char uid[32];
	int rc;

	if (!id || !valid_name(id, 100, "/.:@ \t\n?#%")) {
		snprintf(err, errlen, "gist: option id is %s (set --gist-id ID; create "
		         "a gist with `elector gist-create --token-file FILE`)",
		         id ? "not a gist id" : "required");
		return ELECTOR_INVALID;
	}
	g->id = strdup(id);
	v = h->option(p, "file");
	g->file = v ? strdup(v) : dup_printf("elector-%s-%s.json", p->namespace_, p->election);
	if (!g->file || !valid_name(g->file, 256, "/\\\n\r")) {
		snprintf(err, errlen, "gist: option file: not a valid file name");
		return ELECTOR_INVALID;
	}
	v = h->option(p, "api-url");
	g->api_url = strdup(v ? v : "https://api.github.com");
	if (g->api_url) {
		size_t n = strlen(g->api_url);

		while (n > 0 && g->api_url[n - 1] == '/')
			g->api_url[--n] = '\0';
	}
	v = h->option(p, "git-url");
	g->git_url = v ? strdup(v) : dup_printf("https://gist.github.com/%s.git", id);
	snprintf(uid, sizeof uid, "%ld", (long)getuid());
	v = h->option(p, "state-dir");
	if (v)
		g->state_dir = strdup(v);
	else if (runtime && *runtime)
		g->state_dir = dup_printf("%s/elector-gist", runtime);
	else
		g->state_dir = dup_printf("/tmp/elector-%s/gist", uid);
	v = h->option(p, "branch");
	if (v) {
		if (!valid_name(v, sizeof g->branch, " \t\n:~^?*[\\")) {
			snprintf(err, errlen, "gist: option branch: not a branch name");
			return ELECTOR_INVALID;
		}
		g->branch_opt = strdup(v);
		snprintf(g->branch, sizeof g->branch, "%s", v);
	}
	if (!g->api_url || !g->git_url || !g->state_dir || (v && !g->branch_opt)) {
		snprintf(err, errlen, "gist: out of memory or option too long");
		return ELECTOR_INVALID;
	}
	if (strncmp(g->api_url, "http", 4) != 0 || strncmp(g->git_url, "http", 4) != 0) {
		snprintf(err, errlen, "gist: api-url and git-url must be http(s) URLs");
		return ELECTOR_INVALID;
	}
	v = h->option(p, "token-file");
	if (v) {
		struct stat st;

		g->token_file = strdup(v);
		if (!g->token_file)
			return ELECTOR_ERROR;
		/* what elector_gist_token_refresh() compares with */
		if (stat(v, &st) == 0) {
			g->token_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			                    st.st_mtim.tv_nsec;
			g->token_ino = (long long)st.st_ino;
		}
	}
	rc = elector_gist_read_token(v, &g->token, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	g->token_source = v ? dup_printf("token-file %s", v) : strdup("GITHUB_TOKEN");
	if (!g->token_source)
		return ELECTOR_ERROR;
	return ELECTOR_OK;
}

static int check_budget(struct gist *g, const struct elector_backend_params *p,
                        char *err, size_t errlen)
{
	const char *v = g->host->option(p, "allow-fast-renew");
	int fast = 0;

	if (v) {
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			fast = 1;
		else if (strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
			snprintf(err, errlen, "gist: allow-fast-renew must be true or false");
			return ELECTOR_INVALID;
		}
	}
	if (p->retry_period_ms >= GIST_MIN_RETRY_PERIOD_MS)
		return ELECTOR_OK;
	/* A reader (`elector get`) writes nothing: no budget to protect. */
	if (p->struct_size > offsetof(struct elector_backend_params, flags) &&
	    (p->flags & ELECTOR_PARAMS_READ_ONLY))
		return ELECTOR_OK;
	if (fast) {
		g->host->log(ELECTOR_LOG_WARN, GIST_COMPONENT,
		             "retry period %lld ms: the leader pushes %lld commits per "
		             "hour, above GitHub's ~500 content-creating requests per "
		             "hour (allow-fast-renew=true)",
		             (long long)p->retry_period_ms,
		             (long long)(3600000 / (p->retry_period_ms > 0 ? p->retry_period_ms : 1)));
		return ELECTOR_OK;
	}
	snprintf(err, errlen,
	         "gist: retry period %lld ms would make the leader push about %lld "
	         "commits per hour, above GitHub's limit of ~500 content-creating "
	         "requests per hour: use --retry-period 8s or more (e.g. "
	         "--lease-duration 15s --renew-deadline 10s --retry-period 8s), "
	         "or accept the risk with --backend-opt allow-fast-renew=true",
	         (long long)p->retry_period_ms,
	         (long long)(3600000 / (p->retry_period_ms > 0 ? p->retry_period_ms : 1)));
	return ELECTOR_INVALID;
}

/* libgit2 verifies TLS with the CA bundle it was built to use; name the
 * system bundle (or $SSL_CERT_FILE) explicitly so pushes to GitHub do not
 * depend on that build setting. */
static void set_ca_file(const struct elector_backend_host *host)
{
	const char *f = getenv("SSL_CERT_FILE");

	if (!f || access(f, R_OK) != 0)
		f = "/etc/ssl/certs/ca-certificates.crt";
	if (access(f, R_OK) != 0)
		return;
	if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, f, NULL) < 0)
		host->log(ELECTOR_LOG_WARN, GIST_COMPONENT,
		          "cannot load CA bundle %s for git: %s", f,
		          git_error_last() ? git_error_last()->message : "?");
}

static int gist_init(const struct elector_backend_host *host,
                     const struct elector_backend_params *params, void **state,
                     char *err, size_t errlen)
{
	struct gist *g;
	int rc;

	rc = host->options_check(params, "gist", gist_options, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (git_libgit2_init() < 0) {
		snprintf(err, errlen, "gist: libgit2 init failed");
		return ELECTOR_ERROR;
	}
	g = calloc(1, sizeof *g);
	if (!g) {
		git_libgit2_shutdown();
		snprintf(err, errlen, "gist: out of memory");
		return ELECTOR_ERROR;
	}
	g->host = host;
	g->rl_reset_unix = -1;
	g->request_timeout_ms = params->request_timeout_ms > 0 ? params->request_timeout_ms : 5000;
	g->identity = strdup(params->identity ? params->identity : "");
	g->election = strdup(params->election ? params->election : "");
	rc = (g->identity && g->election) ? parse_options(g, params, err, errlen)
	                                  : ELECTOR_ERROR;
	if (rc == ELECTOR_OK)
		rc = check_budget(g, params, err, errlen);
	if (rc == ELECTOR_OK) {
		/* The cache repository must not depend on the user's git config
		 * (proxies, url rewrites, sslVerify ...): no global, XDG or
		 * system config files. */
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, "");
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, "");
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, "");
		set_ca_file(host);
	}
	if (rc == ELECTOR_OK && elector_gist_stream_register() < 0) {
		snprintf(err, errlen, "gist: registering the git stream failed");
		rc = ELECTOR_ERROR;
	}
	if (rc == ELECTOR_OK)
		rc = elector_http_client_new(&g->http, err, errlen);
	if (rc != ELECTOR_OK) {
		gist_destroy(g);
		return rc;
	}
	if (!is_loopback_or_tls(g->api_url) || !is_loopback_or_tls(g->git_url))
		host->log(ELECTOR_LOG_WARN, GIST_COMPONENT,
		          "gist %s: api-url or git-url is not https: the token is sent "
		          "unencrypted", g->id);
	elector_gist_git_sweep(g->state_dir, g->id);
	*state = g;
	return ELECTOR_OK;
}

static int gist_get(void *state, struct elector_record *rec,
                    struct elector_version *ver, char *err, size_t errlen)
{
	struct gist *g = state;

	return elector_gist_rest_get(g, g->request_timeout_ms, rec, ver->v,
	                             sizeof ver->v, err, errlen);
}

static int encode(struct gist *g, const struct elector_record *rec, char *buf,
                  size_t cap, size_t *len, char *msg, size_t msgcap,
                  char *err, size_t errlen)
{
	if (g->host->record_encode(rec, buf, cap - 1, len) != ELECTOR_OK) {
		snprintf(err, errlen, "gist %s: record does not encode", g->id);
		return ELECTOR_INVALID;
	}
	buf[(*len)++] = '\n'; /* a text file, as a person would save it */
	buf[*len] = '\0';
	if (rec->holder_identity[0])
		snprintf(msg, msgcap, "elector %s: %s leads (term %lld)", g->election,
		         rec->holder_identity, (long long)rec->leader_transitions);
	else
		snprintf(msg, msgcap, "elector %s: released (term %lld)", g->election,
		         (long long)rec->leader_transitions);
	return ELECTOR_OK;
}

/* After a push whose outcome is unknown: did our commit land? */
static int verify_push(struct gist *g, const char *new_sha, int64_t deadline,
                       char *err, size_t errlen)
{
	struct elector_record r;
	char head[GIST_SHA_LEN + 1] = "";
	char why[300];
	int64_t left = deadline - elector_gist_now_ms();
	int grc;

	if (left < 200)
		return ELECTOR_TRANSIENT; /* err already says why; the core re-reads */
	grc = elector_gist_rest_get(g, left, &r, head, sizeof head, why, sizeof why);
	if ((grc == ELECTOR_OK || grc == ELECTOR_NOT_FOUND || grc == ELECTOR_CORRUPT) &&
	    strcmp(head, new_sha) == 0) {
		g->host->log(ELECTOR_LOG_INFO, GIST_COMPONENT,
		             "gist %s: push reported an error but commit %.12s landed",
		             g->id, new_sha);
		return ELECTOR_OK;
	}
	snprintf(err + strlen(err), errlen - strlen(err),
	         "; outcome unknown (head now %.12s)", head[0] ? head : "unknown");
	return ELECTOR_TRANSIENT;
}

/* Commit content on top of base and push it (the CAS). */
static int write_on(struct gist *g, const struct elector_record *rec,
                    const char *base, int create, struct elector_version *new_ver,
                    int64_t deadline, char *err, size_t errlen)
{
	char buf[GIST_CONTENT_MAX], msg[ELECTOR_ID_MAX + 128];
	char sha[GIST_SHA_LEN + 1] = "";
	int64_t push_deadline;
	size_t len;
	int pushed = 0;
	int rc;

	if (elector_gist_backing_off(g, err, errlen))
		return ELECTOR_RATELIMITED;
	elector_gist_token_refresh(g);
	rc = encode(g, rec, buf, sizeof buf, &len, msg, sizeof msg, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	/* Keep a quarter of the time to learn the outcome of a push that
	 * did not answer in time. */
	push_deadline = deadline - g->request_timeout_ms / 4;
	rc = elector_gist_git_push(g, base, create, buf, len, msg, sha, push_deadline,
	                           &pushed, err, errlen);
	if ((rc == ELECTOR_TRANSIENT || rc == ELECTOR_TIMEOUT) && pushed)
		rc = verify_push(g, sha, deadline, err, errlen);
	if (rc == ELECTOR_OK)
		snprintf(new_ver->v, sizeof new_ver->v, "%s", sha);
	return rc;
}

static int gist_update(void *state, const struct elector_record *rec,
                       const struct elector_version *expected,
                       struct elector_version *new_ver, char *err, size_t errlen)
{
	struct gist *g = state;
	int64_t deadline = elector_gist_now_ms() + g->request_timeout_ms;

	if (strlen(expected->v) != GIST_SHA_LEN ||
	    strspn(expected->v, "0123456789abcdef") != GIST_SHA_LEN) {
		/* Not a version of ours: NOT_FOUND when nothing is stored, else
		 * CONFLICT (the store holds some other version). */
		struct elector_record cur;
		char head[GIST_SHA_LEN + 1];
		int rc = elector_gist_rest_get(g, g->request_timeout_ms, &cur, head,
		                               sizeof head, err, errlen);

		if (rc == ELECTOR_NOT_FOUND)
			return ELECTOR_NOT_FOUND;
		if (rc == ELECTOR_OK || rc == ELECTOR_CORRUPT) {
			snprintf(err, errlen, "gist %s: version '%.60s' is not the head %s",
			         g->id, expected->v, head);
			return ELECTOR_CONFLICT;
		}
		return rc;
	}
	return write_on(g, rec, expected->v, 0, new_ver, deadline, err, errlen);
}

static int gist_create(void *state, const struct elector_record *rec,
                       struct elector_version *new_ver, char *err, size_t errlen)
{
	struct gist *g = state;
	int64_t deadline = elector_gist_now_ms() + g->request_timeout_ms;
	struct elector_record cur;
	char head[GIST_SHA_LEN + 1];
	int rc;

	/* The base is the head seen by the get that found no file; re-read if
	 * that answer is not at hand. */
	if (g->cache_rc != ELECTOR_NOT_FOUND || !g->cache_ver[0]) {
		rc = elector_gist_rest_get(g, g->request_timeout_ms, &cur, head,
		                           sizeof head, err, errlen);
		if (rc == ELECTOR_OK || rc == ELECTOR_CORRUPT) {
			snprintf(err, errlen, "gist %s/%s: a record exists", g->id, g->file);
			return ELECTOR_EXISTS;
		}
		if (rc != ELECTOR_NOT_FOUND)
			return rc;
	}
	snprintf(head, sizeof head, "%s", g->cache_ver);
	rc = write_on(g, rec, head, 1, new_ver, deadline, err, errlen);
	if (rc == ELECTOR_CONFLICT) {
		/* Someone else changed the gist first (most likely a contender
		 * that created the file): report EXISTS so the core re-reads. */
		g->etag[0] = '\0';
		g->cache_rc = ELECTOR_TRANSIENT;
		return ELECTOR_EXISTS;
	}
	return rc;
}

static int gist_describe(void *state, char *buf, size_t len)
{
	struct gist *g = state;

	snprintf(buf, len, "gist:%s/%s", g->id, g->file);
	return ELECTOR_OK;
}

static const struct elector_backend_ops gist_ops = {
	.abi_version = ELECTOR_BACKEND_ABI_VERSION,
	.struct_size = sizeof(struct elector_backend_ops),
	.name = "gist",
	.capabilities = 0, /* no watch: followers poll with ETag (304s are free) */
	.options = gist_options,
	.init = gist_init,
	.destroy = gist_destroy,
	.get = gist_get,
	.create = gist_create,
	.update = gist_update,
	.watch = NULL,
	.wake = NULL,
	.describe = gist_describe,
	.command = elector_gist_command,
};

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version);

const struct elector_backend_ops *elector_backend_entry(uint32_t host_abi_version)
{
	if (host_abi_version != ELECTOR_BACKEND_ABI_VERSION)
		return NULL;
	return &gist_ops;
}
