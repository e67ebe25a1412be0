/*
 * gist backend internals: the state shared by gist.c (ops, options),
 * gist_rest.c (REST reads, rate limits, gist-create), gist_git.c (libgit2
 * fetch/commit/push) and gist_stream.c (deadline-bounded sockets for
 * libgit2).
 *
 * Model: the record is one JSON file in a gist; the version is the gist's
 * head commit SHA. Reads go through REST (ETag/If-None-Match); writes are
 * commits whose only parent is the version read, pushed without force and
 * pinned to that old value (see gist_git.c), so the server applies them
 * only if the branch still points at the version read.
 */
#ifndef ELECTOR_GIST_INT_H
#define ELECTOR_GIST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "elector/backend.h"

#define GIST_COMPONENT "gist"
#define GIST_SHA_LEN 40
/* A leader must not renew more often than this unless allow-fast-renew:
 * 3600 s / 8 s = 450 pushes per hour, below GitHub's ~500 per hour for
 * content-creating requests. */
#define GIST_MIN_RETRY_PERIOD_MS 8000
/* Largest GET /gists/ID body accepted (the gist should hold lock files
 * only; GitHub includes up to 1 MB of content per file). */
#define GIST_MAX_BODY (4u * 1024u * 1024u)
/* Largest git fetch (all objects of the gist's history). */
#define GIST_MAX_FETCH (64u * 1024u * 1024u)
/* Largest record file content accepted (records are well below). */
#define GIST_CONTENT_MAX 8192

struct elector_http_client;
struct git_repository;

struct gist {
	const struct elector_backend_host *host;
	char *id, *file, *token, *api_url, *git_url, *state_dir, *identity;
	char *token_source;          /* "file PATH" or "GITHUB_TOKEN" (no secret) */
	char *token_file;            /* NULL: GITHUB_TOKEN */
	int64_t token_mtime_ns;      /* of token_file when last read */
	long long token_ino;
	char *branch_opt;            /* option "branch", NULL: detect */
	char branch[128];            /* detected or configured ("" unknown) */
	char *election;
	int64_t request_timeout_ms;
	struct elector_http_client *http;

	/* REST cache for If-None-Match: the answer that goes with etag. */
	char etag[256];
	int cache_rc;                /* OK, NOT_FOUND or CORRUPT */
	struct elector_record cache_rec;
	char cache_ver[GIST_SHA_LEN + 1]; /* head commit of the cached answer */
	char cache_err[512];

	/* Rate limit: no request before this monotonic instant. */
	int64_t backoff_until_ms;
	char backoff_why[160];
	int64_t rl_reset_unix;       /* last X-RateLimit-Reset seen, -1 */

	/* git side: a private cache repository (one per process). */
	char repo_path[4096];
	struct git_repository *repo;
};

/* Monotonic milliseconds. */
int64_t elector_gist_now_ms(void);

/* --- gist_rest.c --- */

/* GET {api}/gists/{id}: fills *rec and ver (head SHA) from the file, using
 * the ETag cache (a 304 returns the cached answer). Returns OK, NOT_FOUND
 * (the file is not in the gist; ver still gets the head), CORRUPT, DENIED,
 * RATELIMITED, TRANSIENT, TIMEOUT or ERROR (gist not found). timeout_ms
 * bounds the request. */
int elector_gist_rest_get(struct gist *g, int64_t timeout_ms,
                          struct elector_record *rec, char *ver, size_t vercap,
                          char *err, size_t errlen);
/* Nonzero (and the reason in err) while backing off a rate limit. */
int elector_gist_backing_off(struct gist *g, char *err, size_t errlen);
/* Start backing off for delay_ms (at least), with a reason for logs. */
void elector_gist_backoff(struct gist *g, int64_t delay_ms, const char *why);
/* The `elector gist-create` subcommand (ops->command). */
int elector_gist_command(const struct elector_backend_host *host,
                         const struct elector_backend_params *params, int argc,
                         char **argv, char *err, size_t errlen);
/* Re-read token-file when it changed since the last read (a rotated
 * Kubernetes Secret); keeps the old token if the new one is unreadable. */
void elector_gist_token_refresh(struct gist *g);
/* Read the token from token-file (or GITHUB_TOKEN when file is NULL) into
 * *out (owned by the caller, free()). ELECTOR_OK or ELECTOR_INVALID. */
int elector_gist_read_token(const char *file, char **out, char *err,
                            size_t errlen);

/* --- gist_parse.c --- */

/* Parse a GET /gists/ID answer of blen bytes: the head commit SHA
 * (history[0].version, 40 hex digits) into ver[vercap >= 41], and the
 * content of `file` into buf[cap] (NUL-terminated, length in *len).
 * *truncated is set (and nothing copied) when GitHub cut the content.
 * Returns OK, NOT_FOUND (no such file; ver is set), CORRUPT (content does
 * not fit; ver is set) or TRANSIENT (not JSON, no usable history). The
 * reason goes to err. */
int elector_gist_parse_answer(const char *body, size_t blen, const char *file,
                              char *ver, size_t vercap, char *buf, size_t cap,
                              size_t *len, int *truncated, char *err,
                              size_t errlen);

/* --- gist_git.c --- */

/* Read `file` at commit sha from the cache repository, fetching first if
 * the commit is not there. Content goes to buf[cap] (NUL-terminated),
 * length in *len. NOT_FOUND when the file is not in that commit. */
int elector_gist_git_read(struct gist *g, const char *sha, char *buf,
                          size_t cap, size_t *len, int64_t deadline_ms,
                          char *err, size_t errlen);
/* Commit content as `file` on top of parent sha and push it to the branch,
 * pinned to old value parent. Unless create, the file must exist in parent
 * (NOT_FOUND otherwise); with create it must not (EXISTS otherwise).
 * new_sha receives the commit. Returns OK, CONFLICT (rejected / branch
 * moved), NOT_FOUND, EXISTS, DENIED, RATELIMITED, TIMEOUT or
 * TRANSIENT (outcome unknown; *pushed set when the push may have reached
 * the server). */
int elector_gist_git_push(struct gist *g, const char *parent, int create,
                          const char *content, size_t len, const char *message,
                          char *new_sha, int64_t deadline_ms, int *pushed,
                          char *err, size_t errlen);
/* Free the cache repository and remove its directory. */
void elector_gist_git_close(struct gist *g);
/* Remove cache directories of processes that no longer run. */
void elector_gist_git_sweep(const char *state_dir, const char *id);

/* --- gist_stream.c --- */

/* Register the deadline-bounded socket stream with libgit2; call after each
 * git_libgit2_init(). Returns 0 or a libgit2 error code. */
int elector_gist_stream_register(void);
/* Set the deadline (monotonic ms, 0 = none) of libgit2 network I/O on the
 * calling thread; returns nonzero once I/O hit the deadline since the last
 * call. */
void elector_gist_stream_deadline(int64_t deadline_ms);
int elector_gist_stream_timed_out(void);

#endif
