/*
 * watch(): a second connection SUBSCRIBEd to the election's channel, an
 * eventfd for wake(), and with Sentinel a third connection SUBSCRIBEd to a
 * sentinel's +switch-master; poll(2) on all of them.
 *
 * Every write publishes "COUNTER:DIGEST\nJSON". The newest message is kept
 * (pending) and returned when its counter is above the one the core knows;
 * older echoes (in flight while the core read a newer version) are dropped.
 * A fresh subscription returns OK with *got = 0 at once: whatever was
 * published while we were not subscribed is lost, so the core must read.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_int.h"

static unsigned long long counter_of(const char *v, int *ok)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	*ok = end != v && *end == ':';
	return n;
}

/* Nonzero when version a is newer than known (known "" = anything). */
static int newer(const char *a, const char *known)
{
	int oka, okk;
	if (!known[0])
		return 1;
	unsigned long long na = counter_of(a, &oka), nk = counter_of(known, &okk);
	if (!oka || !okk)
		return strcmp(a, known) != 0;
	return na > nk;
}

/* One reply read from the subscription. */
static void sub_message(struct elector_redis *r, redisReply *m)
{
	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(m->element[0]->str, "message") != 0 ||
	    m->element[2]->type != REDIS_REPLY_STRING)
		return; /* subscribe confirmations and the like */
	const char *p = m->element[2]->str;
	size_t n = m->element[2]->len;
	const char *nl = memchr(p, '\n', n);
	if (!nl || (size_t)(nl - p) >= sizeof r->pending.version ||
	    n - (size_t)(nl + 1 - p) > ELECTOR_REDIS_RECORD_MAX)
		return; /* not ours, or too large: the core reads on expiry */
	struct elector_redis_pending *q = &r->pending;
	size_t vl = (size_t)(nl - p);
	memcpy(q->version, p, vl);
	q->version[vl] = '\0';
	q->len = n - vl - 1;
	memcpy(q->json, nl + 1, q->len);
	q->json[q->len] = '\0';
	q->set = 1;
}

/* "+switch-master" payload: "NAME OLDIP OLDPORT NEWIP NEWPORT". */
static void ssub_message(struct elector_redis *r, redisReply *m)
{
	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(m->element[0]->str, "message") != 0 ||
	    m->element[2]->type != REDIS_REPLY_STRING)
		return;
	size_t ml = strlen(r->t.master);
	const char *p = m->element[2]->str;
	if (strncmp(p, r->t.master, ml) == 0 && p[ml] == ' ') {
		r->host->log(ELECTOR_LOG_INFO, "redis", "sentinel: "
		             "+switch-master %s", p);
		r->switched = 1;
	}
}

/* Process every complete reply hiredis has buffered. -1 on a protocol
 * error (the context is then dead). */
static int process(struct elector_redis *r, redisContext *c,
                   void (*fn)(struct elector_redis *, redisReply *))
{
	for (int i = 0; i < 100000; i++) {
		void *rep = NULL;
		if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
			return -1;
		if (!rep)
			return 0;
		fn(r, rep);
		freeReplyObject(rep);
	}
	return 0;
}

/* Read what the socket has (poll said readable) and process it. */
static int read_some(struct elector_redis *r, redisContext *c,
                     void (*fn)(struct elector_redis *, redisReply *))
{
	if (redisBufferRead(c) != REDIS_OK)
		return -1;
	return process(r, c, fn);
}

static int subscribe(struct elector_redis *r, redisContext *c,
                     const char *channel, int64_t deadline, char *err,
                     size_t errlen)
{
	const char *argv[] = {"SUBSCRIBE", channel};
	size_t lens[] = {9, strlen(channel)};
	redisReply *rep;
	int rc = elector_redis_command(r, c, deadline, 2, argv, lens, &rep, err,
	                               errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = elector_redis_reply_error(r, "SUBSCRIBE", rep, err, errlen);
		freeReplyObject(rep);
		return rc;
	}
	freeReplyObject(rep);
	return ELECTOR_OK;
}

static int sub_open(struct elector_redis *r, char *err, size_t errlen)
{
	int64_t deadline = elector_redis_now_us() + r->request_timeout_ms * 1000;
	redisContext *c;
	int rc = elector_redis_open(r, 0, deadline, &c, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rc = subscribe(r, c, r->channel, deadline, err, errlen);
	if (rc != ELECTOR_OK) {
		redisFree(c);
		return rc;
	}
	r->sub = c;
	r->pending.set = 0;
	return ELECTOR_OK;
}

/* Best effort: a sentinel subscription speeds up failover, polling and
 * connection errors cover its absence. */
static void ssub_open(struct elector_redis *r)
{
	char err[256];
	int64_t deadline = elector_redis_now_us() + r->request_timeout_ms * 1000;
	redisContext *c;
	if (elector_redis_sentinel_open(r, deadline, &c, err, sizeof err) !=
	    ELECTOR_OK)
		return;
	if (subscribe(r, c, "+switch-master", deadline, err, sizeof err) !=
	    ELECTOR_OK) {
		redisFree(c);
		return;
	}
	r->ssub = c;
}

static void drop_sub(struct elector_redis *r)
{
	if (r->sub)
		redisFree(r->sub);
	r->sub = NULL;
	r->pending.set = 0;
}

static void drop_ssub(struct elector_redis *r)
{
	if (r->ssub)
		redisFree(r->ssub);
	r->ssub = NULL;
}

void elector_redis_sub_drain(struct elector_redis *r)
{
	for (int i = 0; i < 64 && r->sub; i++) {
		struct pollfd p = {.fd = r->sub->fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			return;
		if (read_some(r, r->sub, sub_message) != 0)
			drop_sub(r);
	}
}

/* The pending message as the result of watch(), if newer than known. */
static int take_pending(struct elector_redis *r,
                        const struct elector_version *known,
                        struct elector_record *rec,
                        struct elector_version *ver, int *got)
{
	struct elector_redis_pending *q = &r->pending;
	if (!q->set)
		return 0;
	q->set = 0;
	if (!newer(q->version, known->v))
		return 0;
	char why[256];
	if (r->host->record_decode(q->json, q->len, rec, why, sizeof why) ==
	    ELECTOR_OK) {
		snprintf(ver->v, sizeof ver->v, "%s", q->version);
		*got = 1;
	}
	return 1; /* changed; undecodable means the core reads itself */
}

/* Messages published before the subscription existed are lost: read the
 * record once now. ELECTOR_TIMEOUT means "unchanged, go on waiting". */
static int check_after_subscribe(struct elector_redis *r,
                                 const struct elector_version *known,
                                 struct elector_record *rec,
                                 struct elector_version *ver, int *got,
                                 char *err, size_t errlen)
{
	int rc = elector_redis_get(r, rec, ver, err, errlen);
	if (rc == ELECTOR_NOT_FOUND)
		return known->v[0] ? ELECTOR_OK : ELECTOR_TIMEOUT;
	if (rc == ELECTOR_CORRUPT)
		return ELECTOR_OK; /* changed; the core reads and reports it */
	if (rc != ELECTOR_OK)
		return rc;
	if (strcmp(ver->v, known->v) == 0)
		return ELECTOR_TIMEOUT;
	*got = 1;
	return ELECTOR_OK;
}

int elector_redis_watch(void *state, const struct elector_version *known,
                        int64_t timeout_ms, struct elector_record *rec,
                        struct elector_version *ver, int *got, char *err,
                        size_t errlen)
{
	struct elector_redis *r = state;
	int64_t deadline = elector_redis_now_us() + timeout_ms * 1000;
	*got = 0;
	if (r->switched) {
		r->switched = 0;
		elector_redis_disconnect(r, 1);
		return ELECTOR_OK;
	}
	if (!r->sub) {
		int rc = sub_open(r, err, errlen);
		if (rc == ELECTOR_OK)
			rc = check_after_subscribe(r, known, rec, ver, got, err,
			                           errlen);
		if (rc != ELECTOR_TIMEOUT)
			return rc;
	}
	if (r->t.kind == ELECTOR_REDIS_SENTINEL && !r->ssub)
		ssub_open(r);
	for (int spins = 0; spins < 1000000; spins++) {
		if (process(r, r->sub, sub_message) != 0)
			goto lost;
		if (take_pending(r, known, rec, ver, got))
			return ELECTOR_OK;
		int64_t left = (deadline - elector_redis_now_us() + 999) / 1000;
		if (left <= 0)
			return ELECTOR_TIMEOUT;
		struct pollfd p[3] = {
			{.fd = r->sub->fd, .events = POLLIN},
			{.fd = r->wake_fd, .events = POLLIN},
			{.fd = r->ssub ? r->ssub->fd : -1, .events = POLLIN},
		};
		int n = poll(p, 3, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "redis: poll: %s", strerror(errno));
			return ELECTOR_ERROR;
		}
		if (n <= 0)
			continue;
		if (p[1].revents) {
			uint64_t v;
			ssize_t rd = read(r->wake_fd, &v, sizeof v);
			(void)rd;
			return ELECTOR_TIMEOUT;
		}
		if (p[2].revents && r->ssub) {
			if (read_some(r, r->ssub, ssub_message) != 0)
				drop_ssub(r);
			if (r->switched) {
				r->switched = 0;
				elector_redis_disconnect(r, 1);
				return ELECTOR_OK;
			}
		}
		if (p[0].revents && read_some(r, r->sub, sub_message) != 0)
			goto lost;
	}
	return ELECTOR_TIMEOUT;
lost: {
	char where[ELECTOR_REDIS_HOST_MAX + 64];
	snprintf(err, errlen, "redis %s: subscription lost: %s",
	         elector_redis_where(r, where, sizeof where),
	         r->sub->errstr[0] ? r->sub->errstr : "connection closed");
	drop_sub(r);
	if (r->t.kind == ELECTOR_REDIS_SENTINEL)
		r->master_known = 0;
	/* One immediate attempt (a restarted server or a promoted replica
	 * may already be there); the core must then read. */
	char again[256];
	if (sub_open(r, again, sizeof again) == ELECTOR_OK)
		return ELECTOR_OK;
	return ELECTOR_TRANSIENT;
}
}

void elector_redis_wake(void *state)
{
	struct elector_redis *r = state;
	uint64_t one = 1;
	ssize_t n = write(r->wake_fd, &one, sizeof one);
	(void)n;
}
