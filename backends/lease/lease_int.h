/*
 * Internal contracts of the Kubernetes Lease backend (lease.so).
 *
 *   kyaml.c     a tiny YAML document tree on libyaml (kubeconfig reading)
 *   kconfig.c   where the API server is and how to authenticate: kubeconfig
 *               (KUBECONFIG lists, contexts) or in-cluster service account
 *   cred.c      bearer credentials: static token, token file re-read, exec
 *               credential plugins with expiry
 *   lease_json.c Lease object <-> elector_record (client-go's LeaseLock)
 *   lease.c     the ops table, requests and status mapping
 *   watch.c     the streamed watch that keeps followers from polling
 *
 * Nothing here is exported from the plugin (-fvisibility=hidden); names are
 * prefixed elector_lease_ / elector_ky_ because they cross files.
 */
#ifndef ELECTOR_LEASE_INT_H
#define ELECTOR_LEASE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "elector/backend.h"
#include "../common/http.h"

/* ---- kyaml.c ---------------------------------------------------------- */

enum elector_ky_type { ELECTOR_KY_SCALAR, ELECTOR_KY_MAP, ELECTOR_KY_SEQ };

/* One node of a parsed YAML document. Maps keep keys in document order. */
struct elector_ky {
	enum elector_ky_type type;
	char *scalar;              /* ELECTOR_KY_SCALAR */
	char **keys;               /* ELECTOR_KY_MAP: n keys */
	struct elector_ky **items; /* MAP values or SEQ items */
	size_t n;
};

/* Parse the first document of a file (at most 1 MiB, nesting at most 32,
 * no aliases). An empty file yields an empty map. *out is owned by the
 * caller (elector_ky_free). ELECTOR_OK, ELECTOR_NOT_FOUND (no such file) or
 * ELECTOR_INVALID with "PATH:LINE: reason". */
int elector_ky_parse_file(const char *path, struct elector_ky **out, char *err,
                          size_t errlen);
/* Same, for a buffer (exec plugin output may be YAML-compatible JSON). */
int elector_ky_parse_buf(const char *buf, size_t len, const char *what,
                         struct elector_ky **out, char *err, size_t errlen);
void elector_ky_free(struct elector_ky *n);
/* Value of key in a map node (NULL when n is not a map or key is absent). */
const struct elector_ky *elector_ky_get(const struct elector_ky *n,
                                        const char *key);
/* Scalar value of key (NULL when absent or not a scalar). */
const char *elector_ky_str(const struct elector_ky *n, const char *key);

/* Decode standard base64 (whitespace ignored). *out is malloc'ed,
 * NUL-terminated, owned by the caller. ELECTOR_OK or ELECTOR_INVALID. */
int elector_lease_b64decode(const char *in, char **out, size_t *outlen);

/* ---- kconfig.c -------------------------------------------------------- */

/* An exec credential plugin (kubeconfig users[].user.exec). */
struct elector_lease_exec {
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;
	char **argv;       /* argv[0] = command, NULL-terminated */
	char **env;        /* "NAME=VALUE", NULL-terminated */
	char *dir;         /* directory of the kubeconfig (relative commands) */
};

/* Everything needed to reach and authenticate to the API server. All
 * strings owned by the struct (elector_lease_conn_free). */
struct elector_lease_conn {
	char *server;        /* "https://host:port", no trailing slash */
	char *source;        /* "in-cluster" or "kubeconfig PATH context C" */
	char *namespace_;    /* from the context or the namespace file; may be
	                        NULL */
	char *ca_file, *ca_data;
	size_t ca_len;
	char *cert_file, *cert_data;
	size_t cert_len;
	char *key_file, *key_data;
	size_t key_len;
	int insecure;
	char *server_name;
	char *token;         /* static bearer token */
	char *token_file;    /* bearer token re-read from this file */
	struct elector_lease_exec *exec; /* may be NULL */
};

/*
 * Resolve the connection: the kubeconfig option (a path or a ':'-list),
 * else in-cluster when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG,
 * else ~/.kube/config. context (may be NULL) overrides current-context.
 * The service-account directory is /var/run/secrets/kubernetes.io/
 * serviceaccount unless $ELECTOR_SERVICEACCOUNT_DIR names another (tests).
 * Returns ELECTOR_OK or ELECTOR_INVALID with a message saying what is
 * missing and where it was looked for.
 */
int elector_lease_conn_load(const char *kubeconfig, const char *context,
                            struct elector_lease_conn *c, char *err,
                            size_t errlen);
/* In-cluster only (also used by the daemon's pod labeller). */
int elector_lease_conn_incluster(struct elector_lease_conn *c, char *err,
                                 size_t errlen);
void elector_lease_conn_free(struct elector_lease_conn *c);
/* The TLS settings of c, pointing into c. */
void elector_lease_conn_tls(const struct elector_lease_conn *c,
                            struct elector_http_tls *t);

/* ---- cred.c ----------------------------------------------------------- */

/* Cached bearer credentials of one connection. */
struct elector_lease_cred {
	char *token;            /* current token (owned), NULL if none */
	int64_t fetched_ms;     /* monotonic time it was read */
	int64_t expires_ms;     /* exec: expiry (monotonic), 0 = none */
	char *exec_cert, *exec_key; /* exec-provided client cert/key (PEM) */
};

/*
 * Fill hdr with "Authorization: Bearer TOKEN", or "" when the connection
 * uses no bearer token. Re-reads a token file older than 60 s, re-runs an
 * exec plugin whose credential expired (or expires within 10 s), and does
 * both at once when force is set (after a 401). timeout_ms bounds an exec
 * plugin run. Returns ELECTOR_OK, ELECTOR_DENIED (token file unreadable,
 * plugin failed; message says which) or ELECTOR_ERROR.
 */
int elector_lease_cred_header(const struct elector_lease_conn *c,
                              struct elector_lease_cred *cr, int force,
                              int64_t timeout_ms, char *hdr, size_t cap,
                              char *err, size_t errlen);
void elector_lease_cred_free(struct elector_lease_cred *cr);
/* Monotonic milliseconds. */
int64_t elector_lease_now_ms(void);

/* ---- lease_json.c ----------------------------------------------------- */

/* Decode a Lease object: spec -> *rec, metadata.resourceVersion -> *ver.
 * ELECTOR_OK or ELECTOR_CORRUPT naming the field. */
int elector_lease_decode(const struct elector_backend_host *host,
                         const json_t *obj, struct elector_record *rec,
                         struct elector_version *ver, char *err,
                         size_t errlen);
/* Build the spec object client-go writes for rec (new reference), or NULL
 * with a reason (ELECTOR_INVALID cases: out of int32 range). */
json_t *elector_lease_spec(const struct elector_backend_host *host,
                           const struct elector_record *rec, char *err,
                           size_t errlen);

/* ---- lease.c / watch.c ------------------------------------------------ */

#define ELECTOR_LEASE_RV_RING 16

struct elector_lease {
	const struct elector_backend_host *host;
	char *ns, *name, *identity;
	struct elector_lease_conn conn;
	struct elector_lease_cred cred;
	struct elector_http_client *http;
	int64_t timeout_ms;
	int64_t exec_timeout_ms; /* exec plugin bound: max(timeout, deadline/2) */
	int64_t not_before_ms;   /* Retry-After: no request before this */
	char *leases_url;        /* .../namespaces/NS/leases */
	char *lease_url;         /* .../leases/NAME */
	json_t *cached;          /* the last Lease object seen (owned) */
	char describe[512];

	/* watch state (engine thread) */
	struct elector_http_stream *stream; /* guarded by mu for wake() */
	pthread_mutex_t mu;
	int wake_pending;                   /* guarded by mu */
	int wake_fd[2];                     /* wakes a backoff sleep */
	char *line;                         /* partial event line */
	size_t line_len, line_cap;
	char resume_rv[ELECTOR_VERSION_MAX]; /* reconnect from here */
	char seen[ELECTOR_LEASE_RV_RING][ELECTOR_VERSION_MAX];
	size_t seen_next;
	json_t *latest;          /* newest object from the stream, or NULL */
	int latest_deleted;      /* the newest event was DELETED */
	char latest_rv[ELECTOR_VERSION_MAX];
	int gone;                /* 410: re-read needed */
	int relisted;            /* latest comes from a re-read: report it */
	int stream_err;          /* an ERROR event other than 410 */
	int64_t retry_at_ms;     /* reconnect not before */
	int64_t backoff_ms;
	int events;              /* events since the stream opened */
	int force_cred;          /* refresh credentials before the next open */
	char last_watch_err[256];
	/* the open stream's request (must outlive the stream) */
	char *watch_url;
	char watch_auth[8192];
	const char *watch_hdrs[4];
	struct elector_http_tls watch_tls;
	struct elector_http_request watch_req;
};

/* One API request with credentials, Retry-After gate, and one retry after a
 * 401 with refreshed credentials. On ELECTOR_OK *resp holds the answer
 * (any status); the caller clears it. */
int elector_lease_request(struct elector_lease *st, const char *method,
                          const char *url, const char *body,
                          struct elector_http_response *resp, char *err,
                          size_t errlen);
/* Map a non-2xx response to a status and message; verb names the op
 * ("get", "create", "update", "watch"). Remembers Retry-After. */
int elector_lease_map_error(struct elector_lease *st, const char *verb,
                            const struct elector_http_response *resp,
                            char *err, size_t errlen);
/* Remember obj (a Lease, borrowed reference copied) as the cached object. */
void elector_lease_cache(struct elector_lease *st, json_t *obj);

int elector_lease_watch(void *state, const struct elector_version *known,
                        int64_t timeout_ms, struct elector_record *rec,
                        struct elector_version *ver, int *got, char *err,
                        size_t errlen);
void elector_lease_wake(void *state);
void elector_lease_watch_close(struct elector_lease *st);

#endif
