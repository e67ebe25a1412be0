/*
 * Internal contracts of the etcd backend (etcd.so): etcd v3 through its
 * JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch, /v3/auth/authenticate).
 *
 *   etcd_plugin.c  options, init/destroy/describe, the ops table
 *   etcd_conf.c    endpoint list, durations, the password file
 *   etcd_json.c    base64 and the gateway's JSON (requests and responses);
 *                  pure functions (fuzzed by tests/etcd/fuzz_etcd.c)
 *   etcd_req.c     one request over the endpoint list: failover, the
 *                  whole-attempt deadline, auth token, error mapping
 *   etcd_store.c   get / create / update (txn on create/mod revision)
 *   etcd_watch.c   the streamed /v3/watch and wake()
 *
 * Versions are the key's mod_revision in decimal: cluster-wide and never
 * reused, so they are also ordered (the watch compares them as numbers).
 *
 * Threads: everything but elector_etcd_wake() runs on the engine thread.
 * Nothing here is exported from the plugin (-fvisibility=hidden).
 */
#ifndef ELECTOR_ETCD_INT_H
#define ELECTOR_ETCD_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "elector/backend.h"
#include "../common/http.h"

#define ELECTOR_ETCD_MAX_ENDPOINTS 16
#define ELECTOR_ETCD_URL_MAX 256
#define ELECTOR_ETCD_KEY_MAX 768
#define ELECTOR_ETCD_SECRET_MAX 512
#define ELECTOR_ETCD_TOKEN_MAX 1024
/* Largest record accepted from the store (bytes of JSON, decoded). */
#define ELECTOR_ETCD_RECORD_MAX 4096
/* Cap of a range/txn response body and of one watch response line. */
#define ELECTOR_ETCD_BODY_MAX (256u * 1024u)

/* ---- etcd_json.c ------------------------------------------------------ */

/* Standard base64 of in[n] into out[cap] (NUL-terminated). Returns the
 * length, or -1 when cap is too small. */
long elector_etcd_b64enc(const void *in, size_t n, char *out, size_t cap);
/* Decode standard base64 (padding required when the length is not a
 * multiple of 4; no whitespace). Returns the length written to out[cap],
 * or -1 on bad input or when cap is too small. */
long elector_etcd_b64dec(const char *in, size_t n, char *out, size_t cap);

/* One key-value as the gateway shows it (the first of kvs). */
struct elector_etcd_kv {
	int present; /* kvs held our key */
	int64_t mod_revision;
	int64_t create_revision;
	char value[ELECTOR_ETCD_RECORD_MAX + 4]; /* decoded, NUL-terminated */
	size_t value_len;
	size_t raw_len; /* decoded size even when too big */
	int too_big;    /* the value exceeds ELECTOR_ETCD_RECORD_MAX */
};

/* What a range or txn answer says. */
struct elector_etcd_resp {
	int64_t revision;          /* header.revision (0 if absent) */
	int succeeded;             /* txn: the compare held */
	struct elector_etcd_kv kv; /* range: kvs[0]; txn: kvs[0] of the first
	                              response_range (the failure branch) */
};

/* Parse the body of a 200 answer to /v3/kv/range (txn = 0) or /v3/kv/txn
 * (txn = 1) for key. ELECTOR_OK, or ELECTOR_CORRUPT with the reason (not
 * JSON, a revision that is no int64, a value that is no base64, a kv for
 * another key). */
int elector_etcd_parse_resp(const char *body, size_t len, int txn,
                            const char *key, struct elector_etcd_resp *r,
                            char *err, size_t errlen);

/* One /v3/watch result line. */
struct elector_etcd_wresult {
	int created;
	int canceled;
	int64_t compact_revision; /* > 0: history compacted, re-read */
	int64_t header_revision;
	int n_events;              /* events for key in this line */
	int deleted;               /* the last event is a DELETE */
	struct elector_etcd_kv kv; /* the last event's kv (value if PUT) */
	char cancel_reason[256];
	int error;       /* the line is a gateway error object */
	long error_code; /* gRPC code of an error line */
};

/* Parse one line of the watch stream. ELECTOR_OK or ELECTOR_CORRUPT. */
int elector_etcd_parse_watch(const char *line, size_t len, const char *key,
                             struct elector_etcd_wresult *w, char *err,
                             size_t errlen);

/* A gateway error body {"error":..,"message":..,"code":N}: the gRPC code
 * (-1 when the body is not one) and the message. */
long elector_etcd_parse_error(const char *body, size_t len, char *msg,
                              size_t cap);

/* Parse the token of /v3/auth/authenticate. ELECTOR_OK or ELECTOR_CORRUPT. */
int elector_etcd_parse_token(const char *body, size_t len, char *tok,
                             size_t cap);

/* Request bodies (JSON, NUL-terminated) into buf[cap]; -1 if too small. */
long elector_etcd_json_range(const char *key, char *buf, size_t cap);
/* txn: compare (create_revision == 0 when mod_revision is 0, else
 * mod_revision == mod_revision), put value on success, range on failure. */
long elector_etcd_json_txn(const char *key, int64_t mod_revision,
                           const char *value, size_t value_len, char *buf,
                           size_t cap);
long elector_etcd_json_watch(const char *key, int64_t start_revision, char *buf,
                             size_t cap);

/* Strict decimal int64 >= 0 ("0".."9223372036854775807"). 0 or -1. */
int elector_etcd_parse_rev(const char *s, int64_t *out);

/* ---- etcd_conf.c ------------------------------------------------------ */

struct elector_etcd_endpoint {
	char url[ELECTOR_ETCD_URL_MAX]; /* "http(s)://host:port", no slash */
	int tls;
};

/* Parse "http://h1:2379,https://h2:2379" (also ';' or blank separated).
 * ELECTOR_OK or ELECTOR_INVALID. */
int elector_etcd_parse_endpoints(const char *s,
                                 struct elector_etcd_endpoint *eps, size_t cap,
                                 size_t *n, char *err, size_t errlen);
/* Go-style duration ("500ms", "2s", "1m") to ms > 0. 0 or -1. */
int elector_etcd_parse_duration(const char *s, int64_t *ms);
/* Read a one-line secret file (trailing newline trimmed). Warns (through
 * host) when others may read it. ELECTOR_OK or ELECTOR_INVALID; the
 * secret never appears in err. */
int elector_etcd_read_secret(const struct elector_backend_host *host,
                             const char *path, char *out, size_t cap, char *err,
                             size_t errlen);
int64_t elector_etcd_now_ms(void);

/* ---- the instance ----------------------------------------------------- */

struct elector_etcd {
	const struct elector_backend_host *host;
	struct elector_etcd_endpoint eps[ELECTOR_ETCD_MAX_ENDPOINTS];
	size_t n_eps;
	size_t cur; /* endpoint in use */
	char key[ELECTOR_ETCD_KEY_MAX];
	char key_b64[ELECTOR_ETCD_KEY_MAX * 4 / 3 + 8];
	int64_t timeout_ms;          /* bounds one whole request attempt */
	struct elector_http_tls tls; /* pointers into the strings below */
	char *ca_file, *cert_file, *key_file;
	char user[256];
	char password[ELECTOR_ETCD_SECRET_MAX];     /* secret */
	char token[ELECTOR_ETCD_TOKEN_MAX];         /* secret; "" = none yet */
	char auth_hdr[ELECTOR_ETCD_TOKEN_MAX + 32]; /* secret */
	int auth_disabled_logged;
	struct elector_http_client *http;
	char describe[1024];

	/* watch (engine thread; stream pointer and wake flag under mu) */
	pthread_mutex_t mu;
	struct elector_http_stream *stream;
	size_t stream_ep; /* endpoint the stream is open on */
	int wake_pending;
	int wake_fd[2];
	char *line;
	size_t line_len, line_cap;
	int64_t position; /* newest revision the stream delivered */
	int have_latest;  /* latest_* hold the newest state seen */
	int latest_deleted;
	int64_t latest_rev;
	char latest_value[ELECTOR_ETCD_RECORD_MAX + 1];
	size_t latest_len;
	int latest_too_big;
	int stream_restart; /* cancelled/compacted/bad line: reopen */
	int need_get;       /* compacted: read the key before reopening */
	int events;         /* events since the stream opened */
	int64_t retry_at_ms, backoff_ms;
	size_t fail_streak; /* stream opens failed in a row */
	char stream_err[256];
	char watch_body[ELECTOR_ETCD_KEY_MAX * 2];
	char watch_url[ELECTOR_ETCD_URL_MAX + 16];
	char watch_auth[ELECTOR_ETCD_TOKEN_MAX + 32]; /* secret */
	const char *watch_hdrs[3];
	struct elector_http_request watch_req;
};

/* ---- etcd_req.c ------------------------------------------------------- */

/*
 * POST body to path ("/v3/kv/range") on the current endpoint, moving on to
 * the next one after a transport error or an etcd "unavailable" answer
 * while the whole attempt stays within e->timeout_ms. Authenticates first
 * when a user is set and no token is held, and once more when etcd says the
 * token is invalid. On ELECTOR_OK *resp holds a 200 answer (the caller
 * clears it). Otherwise the status is:
 *   TRANSIENT  no endpoint answered in time, or etcd is unavailable (the
 *              request may have been applied: *maybe_sent is set)
 *   DENIED     authentication or permission refused (message says which)
 *   CORRUPT    an answer that is not the gateway's (or too large)
 *   ERROR      anything else, with etcd's message
 * op names the operation for messages ("get", "create", ...).
 */
int elector_etcd_post(struct elector_etcd *e, const char *op, const char *path,
                      const char *body, struct elector_http_response *resp,
                      int *maybe_sent, char *err, size_t errlen);
/* The Authorization header line for a new watch stream into hdr[cap]
 * ("" without auth); authenticates when needed. */
int elector_etcd_auth_header(struct elector_etcd *e, int force, char *hdr,
                             size_t cap, char *err, size_t errlen);
/* Map a gRPC code from the gateway (stream cancel or error line). */
int elector_etcd_map_code(struct elector_etcd *e, const char *op, long code,
                          const char *msg, char *err, size_t errlen);

/* ---- etcd_store.c ----------------------------------------------------- */

int elector_etcd_get(void *state, struct elector_record *rec,
                     struct elector_version *ver, char *err, size_t errlen);
int elector_etcd_create(void *state, const struct elector_record *rec,
                        struct elector_version *new_ver, char *err,
                        size_t errlen);
int elector_etcd_update(void *state, const struct elector_record *rec,
                        const struct elector_version *expected,
                        struct elector_version *new_ver, char *err,
                        size_t errlen);
/* Range the key: *r filled on ELECTOR_OK (r->kv.present says if stored). */
int elector_etcd_range(struct elector_etcd *e, struct elector_etcd_resp *r,
                       char *err, size_t errlen);
/* Decode a stored value into rec/ver (CORRUPT when invalid or too big). */
int elector_etcd_decode(struct elector_etcd *e, const char *value, size_t len,
                        int too_big, size_t raw_len, int64_t rev,
                        struct elector_record *rec, struct elector_version *ver,
                        char *err, size_t errlen);

/* ---- etcd_watch.c ----------------------------------------------------- */

int elector_etcd_watch(void *state, const struct elector_version *known,
                       int64_t timeout_ms, struct elector_record *rec,
                       struct elector_version *ver, int *got, char *err,
                       size_t errlen);
void elector_etcd_wake(void *state);
void elector_etcd_watch_close(struct elector_etcd *e);

#endif
