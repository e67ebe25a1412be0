/*
 * The Lease watch: one long-lived streamed GET
 *   ?watch=1&fieldSelector=metadata.name%3DNAME&allowWatchBookmarks=true
 *    &resourceVersion=RV
 * kept open across watch() calls, so an idle follower sends no polling GETs.
 *
 * Ordering: events arrive in resourceVersion order, but resourceVersions
 * are opaque (never compared for order). A change is reported only when the
 * core's known version was itself seen on this stream (a ring of the last
 * RVs) or the stream was opened from it; otherwise the stream is reopened
 * from the known version, so an event older than what the core knows (its
 * own write still in flight on the stream) is never reported as new.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lease_int.h"

#define COMPONENT "lease"
#define LINE_MAX_BYTES (1024u * 1024u)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCH_SERVER_TIMEOUT_S "300"

static void ring_reset(struct elector_lease *st)
{
	memset(st->seen, 0, sizeof st->seen);
	st->seen_next = 0;
}

static void ring_push(struct elector_lease *st, const char *rv)
{
	size_t n = strlen(rv);

	if (n == 0 || n >= ELECTOR_VERSION_MAX)
		return;
	memcpy(st->seen[st->seen_next], rv, n + 1);
	st->seen_next = (st->seen_next + 1) % ELECTOR_LEASE_RV_RING;
}

static int ring_has(const struct elector_lease *st, const char *rv)
{
	size_t i;

	for (i = 0; i < ELECTOR_LEASE_RV_RING; i++)
		if (st->seen[i][0] != '\0' && strcmp(st->seen[i], rv) == 0)
			return 1;
	return 0;
}

static void set_rv(char *dst, const char *rv)
{
	size_t n = rv ? strlen(rv) : 0;

	if (n >= ELECTOR_VERSION_MAX)
		n = 0;
	if (n > 0)
		memcpy(dst, rv, n);
	dst[n] = '\0';
}

static void set_latest(struct elector_lease *st, json_t *obj, int deleted,
                       const char *rv)
{
	json_decref(st->latest);
	st->latest = obj ? json_incref(obj) : NULL;
	st->latest_deleted = deleted;
	set_rv(st->latest_rv, rv);
	set_rv(st->resume_rv, rv);
	ring_push(st, rv);
}

static int process_event(struct elector_lease *st, const char *line,
                         size_t len)
{
	json_error_t je;
	json_t *ev = json_loadb(line, len, 0, &je);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	const char *rv = json_string_value(json_object_get(
		json_object_get(obj, "metadata"), "resourceVersion"));

	if (ev == NULL || type == NULL || !json_is_object(obj)) {
		json_decref(ev);
		snprintf(st->last_watch_err, sizeof st->last_watch_err,
		         "watch: undecodable event");
		st->stream_err = 1;
		return -1;
	}
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *m = json_string_value(json_object_get(obj, "message"));
		if (code == 410) {
			st->gone = 1;
		} else {
			st->stream_err = 1;
			snprintf(st->last_watch_err, sizeof st->last_watch_err,
			         "watch: ERROR event %d: %s", (int)code,
			         m ? m : "");
		}
	} else if (strcmp(type, "BOOKMARK") == 0) {
		if (rv != NULL)
			set_rv(st->resume_rv, rv);
	} else if (strcmp(type, "ADDED") == 0 ||
	           strcmp(type, "MODIFIED") == 0) {
		set_latest(st, obj, 0, rv);
		st->events++;
	} else if (strcmp(type, "DELETED") == 0) {
		set_latest(st, NULL, 1, rv);
		st->events++;
	}
	json_decref(ev);
	return 0;
}

static int on_chunk(void *ud, const char *data, size_t len)
{
	struct elector_lease *st = ud;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			int before = st->events;
			if (st->line_len > 0 &&
			    process_event(st, st->line, st->line_len) != 0)
				return -1;
			st->line_len = 0;
			if (st->gone || st->stream_err)
				return -1; /* ends the stream at once */
			if (st->events != before && st->stream != NULL)
				/* make the running poll return to report it */
				elector_http_stream_wake(st->stream);
			continue;
		}
		if (st->line_len + 1 >= st->line_cap) {
			size_t ncap = st->line_cap ? st->line_cap * 2 : 4096;
			char *nl;
			if (ncap > LINE_MAX_BYTES) {
				snprintf(st->last_watch_err,
				         sizeof st->last_watch_err,
				         "watch: event larger than %u bytes",
				         LINE_MAX_BYTES);
				st->stream_err = 1;
				return -1;
			}
			nl = realloc(st->line, ncap);
			if (nl == NULL)
				return -1;
			st->line = nl;
			st->line_cap = ncap;
		}
		st->line[st->line_len++] = data[i];
	}
	return 0;
}

void elector_lease_watch_close(struct elector_lease *st)
{
	struct elector_http_stream *s;

	pthread_mutex_lock(&st->mu);
	s = st->stream;
	st->stream = NULL;
	pthread_mutex_unlock(&st->mu);
	elector_http_stream_close(s);
	st->line_len = 0;
	memset(st->watch_auth, 0, sizeof st->watch_auth);
}

void elector_lease_wake(void *state)
{
	struct elector_lease *st = state;
	ssize_t r;

	pthread_mutex_lock(&st->mu);
	st->wake_pending = 1;
	if (st->stream != NULL)
		elector_http_stream_wake(st->stream);
	r = write(st->wake_fd[1], "w", 1);
	(void)r; /* a full pipe already wakes */
	pthread_mutex_unlock(&st->mu);
}

static int take_wake(struct elector_lease *st)
{
	char buf[64];
	int w;

	pthread_mutex_lock(&st->mu);
	w = st->wake_pending;
	st->wake_pending = 0;
	pthread_mutex_unlock(&st->mu);
	while (read(st->wake_fd[0], buf, sizeof buf) > 0)
		;
	return w;
}

static void backoff(struct elector_lease *st)
{
	st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (st->backoff_ms > BACKOFF_MAX_MS)
		st->backoff_ms = BACKOFF_MAX_MS;
	st->retry_at_ms = elector_lease_now_ms() + st->backoff_ms;
}

static int open_stream(struct elector_lease *st, const char *rv, char *err,
                       size_t errlen)
{
	struct elector_http_stream *s = NULL;
	size_t n, nh = 0;
	int rc, k;

	free(st->watch_url);
	n = strlen(st->leases_url) + strlen(st->name) + strlen(rv) + 160;
	st->watch_url = malloc(n);
	if (st->watch_url == NULL) {
		snprintf(err, errlen, "lease: out of memory");
		return ELECTOR_ERROR;
	}
	k = snprintf(st->watch_url, n,
	             "%s?watch=1&fieldSelector=metadata.name%%3D%s"
	             "&allowWatchBookmarks=true&timeoutSeconds=%s%s%s",
	             st->leases_url, st->name, WATCH_SERVER_TIMEOUT_S,
	             rv[0] ? "&resourceVersion=" : "", rv);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "lease: watch URL too long");
		return ELECTOR_ERROR;
	}
	if (elector_lease_now_ms() < st->not_before_ms) {
		snprintf(err, errlen, "lease %s/%s: watch: API server asked to "
		         "retry later (Retry-After)", st->ns, st->name);
		return ELECTOR_TRANSIENT;
	}
	rc = elector_lease_cred_header(&st->conn, &st->cred, st->force_cred,
	                               st->exec_timeout_ms, st->watch_auth,
	                               sizeof st->watch_auth, err, errlen);
	st->force_cred = 0;
	if (rc != ELECTOR_OK)
		return rc;
	st->watch_hdrs[nh++] = "Accept: application/json";
	st->watch_hdrs[nh++] = "User-Agent: elector/0.1.0 (lease)";
	if (st->watch_auth[0] != '\0')
		st->watch_hdrs[nh++] = st->watch_auth;
	elector_lease_conn_tls(&st->conn, &st->watch_tls);
	if (st->cred.exec_cert != NULL && st->cred.exec_key != NULL) {
		st->watch_tls.cert_file = st->watch_tls.key_file = NULL;
		st->watch_tls.cert_data = st->cred.exec_cert;
		st->watch_tls.cert_data_len = strlen(st->cred.exec_cert);
		st->watch_tls.key_data = st->cred.exec_key;
		st->watch_tls.key_data_len = strlen(st->cred.exec_key);
	}
	memset(&st->watch_req, 0, sizeof st->watch_req);
	st->watch_req.method = "GET";
	st->watch_req.url = st->watch_url;
	st->watch_req.headers = st->watch_hdrs;
	st->watch_req.n_headers = nh;
	st->watch_req.timeout_ms = st->timeout_ms;
	st->watch_req.max_body = 64 * 1024; /* error bodies only */
	st->watch_req.tls = &st->watch_tls;
	rc = elector_http_stream_open(&st->watch_req, on_chunk, st, &s, err,
	                              errlen);
	if (rc != ELECTOR_OK)
		return rc;
	st->line_len = 0;
	st->events = 0;
	st->gone = st->stream_err = 0;
	pthread_mutex_lock(&st->mu);
	st->stream = s;
	pthread_mutex_unlock(&st->mu);
	st->host->log(ELECTOR_LOG_DEBUG, COMPONENT, "watch %s/%s from rv '%s'",
	              st->ns, st->name, rv);
	return ELECTOR_OK;
}

/* A change relative to known that can be reported: 1 (filled), 0 none. */
static int have_change(struct elector_lease *st,
                       const struct elector_version *known,
                       struct elector_record *rec, struct elector_version *ver,
                       int *got, char *err, size_t errlen, int *rc)
{
	if (st->latest_rv[0] == '\0' || strcmp(st->latest_rv, known->v) == 0) {
		st->relisted = 0;
		return 0;
	}
	/* after a re-read the object is the current state, whatever known */
	if (!st->relisted && known->v[0] != '\0' && !ring_has(st, known->v))
		return 0;
	st->relisted = 0;
	if (st->latest_deleted) {
		if (known->v[0] == '\0')
			return 0; /* the core already believes nothing is stored */
		*got = 0;
		*rc = ELECTOR_OK;
		return 1;
	}
	*rc = elector_lease_decode(st->host, st->latest, rec, ver, err, errlen);
	if (*rc == ELECTOR_OK) {
		*got = 1;
		elector_lease_cache(st, st->latest);
	}
	return 1;
}

/* 410 Gone (or an ERROR event): GET the Lease again; it is reported to the
 * core as the current state whatever the core knew, and the next stream
 * opens without a resourceVersion ("most recent": the server picks one and
 * sends the current object as ADDED). Resuming from the GET's own
 * resourceVersion could be too old again (an idle, released Lease), and a
 * LIST would need the list verb. */
static int relist(struct elector_lease *st, char *err, size_t errlen)
{
	struct elector_http_response resp = {0};
	json_error_t je;
	json_t *obj = NULL;
	const char *orv;
	int rc;

	elector_lease_watch_close(st);
	st->gone = 0;
	rc = elector_lease_request(st, "GET", st->lease_url, NULL, &resp, err,
	                           errlen);
	if (rc == ELECTOR_OK && resp.status == 200) {
		obj = resp.body ? json_loadb(resp.body, resp.body_len, 0, &je)
		                : NULL;
		orv = json_string_value(json_object_get(
			json_object_get(obj, "metadata"), "resourceVersion"));
		if (orv == NULL || orv[0] == '\0') {
			snprintf(err, errlen, "lease %s/%s: get after 410: not a "
			         "Lease", st->ns, st->name);
			rc = ELECTOR_CORRUPT;
		}
	} else if (rc == ELECTOR_OK && resp.status != 404) {
		rc = elector_lease_map_error(st, "get", &resp, err, errlen);
	}
	elector_http_response_clear(&resp);
	if (rc != ELECTOR_OK) {
		json_decref(obj);
		return rc;
	}
	ring_reset(st);
	if (obj != NULL)
		set_latest(st, obj, 0, orv);
	else
		set_latest(st, NULL, 1, "(deleted)");
	json_decref(obj);
	st->resume_rv[0] = '\0';
	st->relisted = 1;
	st->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
	              "watch %s/%s: 410 Gone, read the Lease again (%s)", st->ns,
	              st->name, st->latest_rv);
	return ELECTOR_OK;
}

/* Sleep until ms (monotonic) or a wake; 1 when woken. */
static int sleep_until(struct elector_lease *st, int64_t until)
{
	int64_t left = until - elector_lease_now_ms();
	struct pollfd p = {.fd = st->wake_fd[0], .events = POLLIN};

	if (left <= 0)
		return 0;
	if (poll(&p, 1, (int)(left > 60000 ? 60000 : left)) > 0)
		return 1;
	return 0;
}

/* The stream finished (rc from poll): decide how to go on. */
static int stream_finished(struct elector_lease *st, int prc, char *err,
                           size_t errlen)
{
	struct elector_http_stream *s = st->stream;
	const struct elector_http_response *r = elector_http_stream_response(s);
	long status = r->status;
	int rc = ELECTOR_OK;

	if (prc == ELECTOR_OK && status == 410) {
		st->gone = 1;
	} else if (prc == ELECTOR_OK && (status < 200 || status >= 300)) {
		rc = elector_lease_map_error(st, "watch", r, err, errlen);
		if (status == 401)
			st->force_cred = 1;
		backoff(st);
	} else if (prc != ELECTOR_OK && !(prc == ELECTOR_ERROR && st->gone)) {
		/* dropped: reconnect at once if it had been healthy */
		if (st->events == 0 && status == 0)
			backoff(st);
		st->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
		              "watch %s/%s dropped: %s", st->ns, st->name, err);
		if (st->stream_err)
			st->host->log(ELECTOR_LOG_DEBUG, COMPONENT, "%s",
			              st->last_watch_err);
	}
	elector_lease_watch_close(st);
	if (st->stream_err) {
		/* an ERROR event: start over from a fresh list */
		st->gone = 1;
		st->stream_err = 0;
	}
	return rc;
}

int elector_lease_watch(void *state, const struct elector_version *known,
                        int64_t timeout_ms, struct elector_record *rec,
                        struct elector_version *ver, int *got, char *err,
                        size_t errlen)
{
	struct elector_lease *st = state;
	int64_t deadline = elector_lease_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	*got = 0;
	for (;;) {
		int64_t now;

		if (take_wake(st))
			return ELECTOR_TIMEOUT;
		if (st->gone) {
			rc = relist(st, err, errlen);
			if (rc != ELECTOR_OK) {
				st->gone = 1;
				backoff(st);
				return rc;
			}
		}
		if (have_change(st, known, rec, ver, got, err, errlen, &rc))
			return rc;
		if (st->stream != NULL && known->v[0] != '\0' &&
		    !ring_has(st, known->v))
			elector_lease_watch_close(st);
		now = elector_lease_now_ms();
		if (now >= deadline)
			return ELECTOR_TIMEOUT;
		if (st->stream == NULL) {
			const char *from;
			if (now < st->retry_at_ms) {
				sleep_until(st, st->retry_at_ms < deadline
				                        ? st->retry_at_ms
				                        : deadline);
				continue;
			}
			if (known->v[0] == '\0' || !ring_has(st, known->v)) {
				ring_reset(st);
				json_decref(st->latest);
				st->latest = NULL;
				st->latest_deleted = 0;
				set_rv(st->latest_rv, known->v);
				set_rv(st->resume_rv, known->v);
				ring_push(st, known->v);
			}
			from = st->resume_rv;
			rc = open_stream(st, from, err, errlen);
			if (rc != ELECTOR_OK) {
				backoff(st);
				return rc;
			}
		}
		rc = elector_http_stream_poll(st->stream, deadline - now, err,
		                              errlen);
		if (rc == ELECTOR_TIMEOUT) {
			const struct elector_http_response *r =
				elector_http_stream_response(st->stream);
			if (r->status >= 200 && r->status < 300)
				st->backoff_ms = 0;
			if (st->gone || st->stream_err)
				elector_lease_watch_close(st);
			continue;
		}
		rc = stream_finished(st, rc, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
	}
}
