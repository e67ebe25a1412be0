/*
 * The read-only HTTP status API (libmicrohttpd, one internal polling
 * thread, connection timeout and limits set):
 *
 *   GET /         {"is_leader","leader","node","timestamp"} (k8s-elector)
 *                 plus election, namespace, term, backend, store,
 *                 lease_duration_seconds, observed_age_ms
 *   GET /leader   the same body; 200 on the leader, 503 elsewhere
 *   GET /healthz  200 "ok", 503 when elector_status() says !healthy
 *   GET /metrics  Prometheus text format 0.0.4
 *   HEAD where GET is allowed; other paths 404; other methods 405.
 */
#ifndef ELECTOR_CORE_HTTP_H
#define ELECTOR_CORE_HTTP_H

#include <stddef.h>

struct elector;
struct elector_http;

/* What the API reports besides elector_status(). The strings are borrowed
 * and must outlive the server. */
struct elector_http_info {
	const char *election;
	const char *namespace_;
	const char *backend; /* plugin name */
};

/*
 * Listen on addr ("ADDR:PORT", ":PORT" = all addresses, "[v6]:PORT") and
 * serve el. Returns 0 and *out (free with elector_http_stop), or -1 with the
 * reason in err (bind failure, ...).
 */
int elector_http_start(const char *addr, struct elector *el,
                       const struct elector_http_info *info,
                       struct elector_http **out, char *err, size_t errlen);
/* Stop serving and free. h may be NULL. */
void elector_http_stop(struct elector_http *h);

#endif
