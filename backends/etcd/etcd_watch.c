/*
 * The watch: one streamed POST /v3/watch on the key, kept open across
 * watch() calls, so an idle follower sends nothing. Revisions are
 * cluster-wide and ordered, so the stream resumes from the newest revision
 * it delivered (no event is lost across a reconnect or a member change) and
 * a change is reported only when it is newer than what the core knows.
 * The event carries the new value: the core needs no get.
 *
 * Compaction (the resume revision is gone), a cancelled stream or a line
 * we cannot use: read the key, then watch again from the read's revision.
 * "Grpc-Metadata-hasleader: true" makes a member that loses its leader
 * cancel the stream instead of going silent, so the next endpoint is tried.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_int.h"

#define COMPONENT "etcd"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000

static void set_latest(struct elector_etcd *e, const struct elector_etcd_kv *kv,
                       int deleted, int64_t rev)
{
	e->have_latest = 1;
	e->latest_deleted = deleted;
	e->latest_rev = rev;
	e->latest_too_big = !deleted && kv->too_big;
	e->latest_len = deleted || kv->too_big ? 0 : kv->value_len;
	if (e->latest_len > 0)
		memcpy(e->latest_value, kv->value, e->latest_len);
	e->latest_value[e->latest_len] = '\0';
	if (rev > e->position)
		e->position = rev;
}

static void restart(struct elector_etcd *e, int need_get, const char *why)
{
	e->stream_restart = 1;
	if (need_get)
		e->need_get = 1;
	snprintf(e->stream_err, sizeof e->stream_err, "%s", why);
}

static void process_line(struct elector_etcd *e, const char *line, size_t len)
{
	struct elector_etcd_wresult w;
	char why[200];

	if (elector_etcd_parse_watch(line, len, e->key, &w, why, sizeof why) !=
	    ELECTOR_OK) {
		restart(e, 1, why);
		return;
	}
	if (w.error || (w.canceled && w.compact_revision <= 0)) {
		if (strstr(w.cancel_reason, "auth token") != NULL)
			e->token[0] = '\0';
		snprintf(why, sizeof why, "watch cancelled: %.150s",
		         w.cancel_reason[0] ? w.cancel_reason : "no reason");
		restart(e, 0, why);
		return;
	}
	if (w.compact_revision > 0) {
		snprintf(why, sizeof why,
		         "watch: history compacted at "
		         "revision %lld",
		         (long long)w.compact_revision);
		restart(e, 1, why);
		return;
	}
	if (w.n_events > 0) {
		set_latest(e, &w.kv, w.deleted, w.kv.mod_revision);
		e->events++;
	}
}

static int on_chunk(void *ud, const char *data, size_t len)
{
	struct elector_etcd *e = ud;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			int before = e->events;
			if (e->line_len > 0)
				process_line(e, e->line, e->line_len);
			e->line_len = 0;
			if (e->stream_restart)
				return -1; /* ends the stream at once */
			if (e->events != before && e->stream != NULL)
				elector_http_stream_wake(e->stream);
			continue;
		}
		if (e->line_len + 1 >= e->line_cap) {
			size_t ncap = e->line_cap ? e->line_cap * 2 : 8192;
			char *nl;
			if (ncap > ELECTOR_ETCD_BODY_MAX) {
				restart(e, 1,
				        "watch: event larger than the cap");
				return -1;
			}
			nl = realloc(e->line, ncap);
			if (nl == NULL) {
				restart(e, 0, "watch: out of memory");
				return -1;
			}
			e->line = nl;
			e->line_cap = ncap;
		}
		e->line[e->line_len++] = data[i];
	}
	return 0;
}

void elector_etcd_watch_close(struct elector_etcd *e)
{
	struct elector_http_stream *s;

	pthread_mutex_lock(&e->mu);
	s = e->stream;
	e->stream = NULL;
	pthread_mutex_unlock(&e->mu);
	elector_http_stream_close(s);
	e->line_len = 0;
	memset(e->watch_auth, 0, sizeof e->watch_auth);
}

void elector_etcd_wake(void *state)
{
	struct elector_etcd *e = state;
	ssize_t r;

	pthread_mutex_lock(&e->mu);
	e->wake_pending = 1;
	if (e->stream != NULL)
		elector_http_stream_wake(e->stream);
	r = write(e->wake_fd[1], "w", 1);
	(void)r; /* a full pipe already wakes */
	pthread_mutex_unlock(&e->mu);
}

static int take_wake(struct elector_etcd *e)
{
	char buf[64];
	int w;

	pthread_mutex_lock(&e->mu);
	w = e->wake_pending;
	e->wake_pending = 0;
	pthread_mutex_unlock(&e->mu);
	while (read(e->wake_fd[0], buf, sizeof buf) > 0)
		;
	return w;
}

static void backoff(struct elector_etcd *e)
{
	/* the other members first: wait only after trying each of them */
	if (++e->fail_streak < e->n_eps) {
		e->retry_at_ms = 0;
		return;
	}
	e->fail_streak = 0;
	e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (e->backoff_ms > BACKOFF_MAX_MS)
		e->backoff_ms = BACKOFF_MAX_MS;
	e->retry_at_ms = elector_etcd_now_ms() + e->backoff_ms;
}

static void sleep_until(struct elector_etcd *e, int64_t until)
{
	int64_t left = until - elector_etcd_now_ms();
	struct pollfd p = {.fd = e->wake_fd[0], .events = POLLIN};

	if (left > 0)
		(void)poll(&p, 1, (int)(left > 60000 ? 60000 : left));
}

static int open_stream(struct elector_etcd *e, int64_t from, char *err,
                       size_t errlen)
{
	struct elector_http_stream *s = NULL;
	size_t nh = 0;
	int rc;

	if (elector_etcd_json_watch(e->key, from, e->watch_body,
	                            sizeof e->watch_body) < 0) {
		snprintf(err, errlen, "etcd %s: key too long", e->key);
		return ELECTOR_INVALID;
	}
	rc = elector_etcd_auth_header(e, 0, e->watch_auth, sizeof e->watch_auth,
	                              err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	snprintf(e->watch_url, sizeof e->watch_url, "%s/v3/watch",
	         e->eps[e->cur].url);
	e->watch_hdrs[nh++] = "Content-Type: application/json";
	e->watch_hdrs[nh++] = "Grpc-Metadata-hasleader: true";
	if (e->watch_auth[0] != '\0')
		e->watch_hdrs[nh++] = e->watch_auth;
	memset(&e->watch_req, 0, sizeof e->watch_req);
	e->watch_req.method = "POST";
	e->watch_req.url = e->watch_url;
	e->watch_req.headers = e->watch_hdrs;
	e->watch_req.n_headers = nh;
	e->watch_req.body = e->watch_body;
	e->watch_req.body_len = strlen(e->watch_body);
	e->watch_req.timeout_ms = e->timeout_ms;
	e->watch_req.max_body = 64 * 1024; /* error bodies only */
	e->watch_req.tls = &e->tls;
	rc = elector_http_stream_open(&e->watch_req, on_chunk, e, &s, err,
	                              errlen);
	if (rc != ELECTOR_OK)
		return rc;
	e->line_len = 0;
	e->events = 0;
	e->stream_restart = 0;
	e->stream_ep = e->cur;
	pthread_mutex_lock(&e->mu);
	e->stream = s;
	pthread_mutex_unlock(&e->mu);
	e->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
	             "watch %s on %s from revision %lld", e->key,
	             e->eps[e->cur].url, (long long)from);
	return ELECTOR_OK;
}

/* Read the key; its state becomes the latest, its revision the base. */
static int reread(struct elector_etcd *e, char *err, size_t errlen)
{
	struct elector_etcd_resp r;
	int rc;

	elector_etcd_watch_close(e);
	rc = elector_etcd_range(e, &r, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (r.revision <= 0) { /* a base is needed to watch from */
		snprintf(err, errlen,
		         "etcd %s: get: answer without a header "
		         "revision",
		         e->key);
		return ELECTOR_CORRUPT;
	}
	e->need_get = 0;
	if (r.kv.present)
		set_latest(e, &r.kv, 0, r.kv.mod_revision);
	else
		set_latest(e, &r.kv, 1, r.revision);
	if (r.revision > e->position)
		e->position = r.revision;
	return ELECTOR_OK;
}

/* A change relative to known: 1 with *rc set, else 0. */
static int have_change(struct elector_etcd *e, int known_empty,
                       int64_t known_rev, struct elector_record *rec,
                       struct elector_version *ver, int *got, char *err,
                       size_t errlen, int *rc)
{
	if (!e->have_latest)
		return 0;
	if (e->latest_deleted) {
		if (known_empty || e->latest_rev <= known_rev)
			return 0;
		*got = 0;
		*rc = ELECTOR_OK;
		return 1;
	}
	if (!known_empty && e->latest_rev <= known_rev)
		return 0;
	*rc = elector_etcd_decode(e, e->latest_value, e->latest_len,
	                          e->latest_too_big, e->latest_len,
	                          e->latest_rev, rec, ver, err, errlen);
	*got = *rc == ELECTOR_OK;
	return 1;
}

/* The stream ended (prc from poll): map an error answer, plan a reconnect
 * to the next endpoint. */
static int stream_finished(struct elector_etcd *e, int prc, char *err,
                           size_t errlen)
{
	const struct elector_http_response *r =
	    elector_http_stream_response(e->stream);
	long status = r->status;
	int rc = ELECTOR_OK;

	if (prc == ELECTOR_OK && status != 200) {
		char msg[256];
		long code = elector_etcd_parse_error(r->body, r->body_len, msg,
		                                     sizeof msg);
		if (code == 16)
			e->token[0] = '\0';
		if (code >= 0)
			rc = elector_etcd_map_code(e, "watch", code, msg, err,
			                           errlen);
		else
			snprintf(err, errlen,
			         "etcd %s: watch: HTTP %ld from %s", e->key,
			         status, e->eps[e->cur].url);
		if (rc == ELECTOR_OK)
			rc = ELECTOR_TRANSIENT;
		backoff(e);
	} else if (e->stream_restart) {
		e->host->log(ELECTOR_LOG_DEBUG, COMPONENT, "%s", e->stream_err);
		if (!e->need_get)
			backoff(e);
	} else {
		/* dropped or closed: the next member, at once if it was up */
		if (e->events == 0)
			backoff(e);
		e->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
		             "watch %s on %s ended: %s", e->key,
		             e->eps[e->cur].url,
		             prc == ELECTOR_OK ? "closed by the server" : err);
	}
	if (!e->stream_restart || !e->need_get)
		e->cur = (e->cur + 1) % e->n_eps;
	elector_etcd_watch_close(e);
	e->stream_restart = 0;
	return rc;
}

int elector_etcd_watch(void *state, const struct elector_version *known,
                       int64_t timeout_ms, struct elector_record *rec,
                       struct elector_version *ver, int *got, char *err,
                       size_t errlen)
{
	struct elector_etcd *e = state;
	int64_t deadline =
	    elector_etcd_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int known_empty = known->v[0] == '\0';
	int64_t known_rev = 0;
	int rc;

	*got = 0;
	if (!known_empty && elector_etcd_parse_rev(known->v, &known_rev) != 0)
		known_empty = 1; /* not ours: anything stored is news */
	for (;;) {
		int64_t now;

		if (take_wake(e))
			return ELECTOR_TIMEOUT;
		if (e->need_get && elector_etcd_now_ms() < e->retry_at_ms) {
			if (elector_etcd_now_ms() >= deadline)
				return ELECTOR_TIMEOUT;
			sleep_until(e, e->retry_at_ms < deadline
			                   ? e->retry_at_ms
			                   : deadline);
			continue;
		}
		if (e->need_get) {
			rc = reread(e, err, errlen);
			if (rc != ELECTOR_OK) {
				backoff(e);
				return rc;
			}
		}
		if (have_change(e, known_empty, known_rev, rec, ver, got, err,
		                errlen, &rc))
			return rc;
		/* A request moved to another member (this one failed or has
		 * no leader): a frozen member's stream would stay silent. */
		if (e->stream != NULL && e->stream_ep != e->cur)
			elector_etcd_watch_close(e);
		now = elector_etcd_now_ms();
		if (now >= deadline)
			return ELECTOR_TIMEOUT;
		if (e->stream == NULL) {
			if (now < e->retry_at_ms) {
				sleep_until(e, e->retry_at_ms < deadline
				                   ? e->retry_at_ms
				                   : deadline);
				continue;
			}
			if (e->position == 0 && known_empty) {
				e->need_get = 1; /* learn a base revision */
				continue;
			}
			if (known_rev > e->position)
				e->position = known_rev;
			rc = open_stream(e, e->position + 1, err, errlen);
			if (rc != ELECTOR_OK) {
				backoff(e);
				return rc;
			}
		}
		rc = elector_http_stream_poll(e->stream, deadline - now, err,
		                              errlen);
		if (rc == ELECTOR_TIMEOUT) {
			const struct elector_http_response *r =
			    elector_http_stream_response(e->stream);
			if (r->status == 200 && e->stream_restart == 0) {
				e->backoff_ms = 0;
				e->fail_streak = 0;
			}
			if (e->stream_restart)
				(void)stream_finished(e, rc, err, errlen);
			continue;
		}
		rc = stream_finished(e, rc, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
	}
}
