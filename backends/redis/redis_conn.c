/*
 * Connections to Redis: connect with a timeout, AUTH, SELECT, and for
 * Sentinel resolve the master and refuse replicas. hiredis contexts are
 * blocking; each command gets SO_RCVTIMEO/SO_SNDTIMEO of
 * min(command-timeout, time left before the op's deadline), so no call can
 * outlive the request timeout by more than one connect. A context that saw
 * an I/O or protocol error is never reused (hiredis does not support it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_int.h"

int64_t elector_redis_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timeval ms_tv(int64_t ms)
{
	struct timeval tv;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* min(limit_ms, time left before deadline) in ms; <= 0 when past it. */
static int64_t budget_ms(int64_t limit_ms, int64_t deadline_us)
{
	int64_t left = (deadline_us - elector_redis_now_us() + 999) / 1000;
	return left < limit_ms ? left : limit_ms;
}

const char *elector_redis_where(const struct elector_redis *r, char *buf,
                                size_t cap)
{
	switch (r->t.kind) {
	case ELECTOR_REDIS_UNIX:
		snprintf(buf, cap, "%s", r->t.path);
		break;
	case ELECTOR_REDIS_SENTINEL:
		if (r->master_known)
			snprintf(buf, cap, "master %s at %s:%d", r->t.master,
			         r->master_addr.host, r->master_addr.port);
		else
			snprintf(buf, cap, "master %s", r->t.master);
		break;
	default:
		snprintf(buf, cap, "%s:%d", r->t.addr.host, r->t.addr.port);
	}
	return buf;
}

void elector_redis_disconnect(struct elector_redis *r, int forget_master)
{
	if (r->cmd)
		redisFree(r->cmd);
	if (r->sub)
		redisFree(r->sub);
	if (r->ssub)
		redisFree(r->ssub);
	if (r->sent)
		redisFree(r->sent);
	r->cmd = r->sub = r->ssub = r->sent = NULL;
	r->pending.set = 0;
	if (forget_master)
		r->master_known = 0;
}

/* Describe a failed context's error ("timed out after 500 ms" for the
 * socket timeout rather than "Resource temporarily unavailable"). */
static const char *ctx_error(const redisContext *c, int64_t timeout_ms,
                             char *buf, size_t cap)
{
	if (c->err == REDIS_ERR_IO &&
	    (strstr(c->errstr, "temporarily unavailable") ||
	     strstr(c->errstr, "timed out")))
		snprintf(buf, cap, "timed out after %lld ms",
		         (long long)timeout_ms);
	else if (c->err == REDIS_ERR_EOF)
		snprintf(buf, cap, "connection closed by server");
	else
		snprintf(buf, cap, "%s", c->errstr[0] ? c->errstr : "I/O error");
	return buf;
}

/* Connect to host:port (or path); NULL with err on failure. */
static redisContext *dial(struct elector_redis *r, const char *host, int port,
                          const char *path, int64_t deadline_us, char *err,
                          size_t errlen)
{
	char where[ELECTOR_REDIS_HOST_MAX + 16];
	if (path)
		snprintf(where, sizeof where, "%s", path);
	else
		snprintf(where, sizeof where, "%s:%d", host, port);
	int64_t ms = budget_ms(r->connect_timeout_ms, deadline_us);
	if (ms <= 0) {
		snprintf(err, errlen, "redis %s: connect: request timeout "
		         "(%lld ms) used up", where,
		         (long long)r->request_timeout_ms);
		return NULL;
	}
	redisContext *c = path ? redisConnectUnixWithTimeout(path, ms_tv(ms))
	                       : redisConnectWithTimeout(host, port, ms_tv(ms));
	if (!c) {
		snprintf(err, errlen, "redis %s: connect: out of memory", where);
		return NULL;
	}
	if (c->err) {
		char why[160];
		snprintf(err, errlen, "redis %s: connect: %s", where,
		         ctx_error(c, ms, why, sizeof why));
		redisFree(c);
		return NULL;
	}
	/* Children started by `elector run` must not inherit the socket. */
	int fl = fcntl(c->fd, F_GETFD);
	if (fl >= 0)
		(void)fcntl(c->fd, F_SETFD, fl | FD_CLOEXEC);
	if (!path)
		(void)redisEnableKeepAlive(c);
	return c;
}

int elector_redis_command(struct elector_redis *r, redisContext *c,
                          int64_t deadline_us, int argc, const char **argv,
                          const size_t *argvlen, redisReply **reply,
                          char *err, size_t errlen)
{
	char where[ELECTOR_REDIS_HOST_MAX + 64];
	int64_t ms = budget_ms(r->command_timeout_ms, deadline_us);
	*reply = NULL;
	if (ms <= 0) {
		snprintf(err, errlen, "redis %s: %s: request timeout (%lld ms) "
		         "used up", elector_redis_where(r, where, sizeof where),
		         argv[0], (long long)r->request_timeout_ms);
		return ELECTOR_TRANSIENT;
	}
	if (redisSetTimeout(c, ms_tv(ms)) != REDIS_OK) {
		snprintf(err, errlen, "redis %s: setting socket timeout: %s",
		         elector_redis_where(r, where, sizeof where), c->errstr);
		return ELECTOR_TRANSIENT;
	}
	*reply = redisCommandArgv(c, argc, argv, argvlen);
	if (!*reply) {
		char why[160];
		snprintf(err, errlen, "redis %s: %s: %s",
		         elector_redis_where(r, where, sizeof where), argv[0],
		         ctx_error(c, ms, why, sizeof why));
		return ELECTOR_TRANSIENT;
	}
	return ELECTOR_OK;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int elector_redis_reply_error(struct elector_redis *r, const char *what,
                              const redisReply *reply, char *err,
                              size_t errlen)
{
	char where[ELECTOR_REDIS_HOST_MAX + 64];
	const char *msg = reply->str ? reply->str : "";
	int rc = ELECTOR_ERROR;
	const char *hint = "";
	/* Errors raised inside scripts arrive wrapped; search, not prefix. */
	if (strstr(msg, "NOAUTH") || strstr(msg, "WRONGPASS")) {
		rc = ELECTOR_DENIED;
		hint = " (check username and password-file)";
	} else if (strstr(msg, "NOPERM")) {
		rc = ELECTOR_DENIED;
		hint = " (the ACL user lacks a command, key or channel; see "
		       "docs/redis.md)";
	} else if (strstr(msg, "without any password configured") ||
	           strstr(msg, "AUTH <password> called")) {
		rc = ELECTOR_DENIED;
		hint = " (the server has no password; drop password-file)";
	} else if (strstr(msg, "WRONGTYPE") || strstr(msg, "not an integer")) {
		rc = ELECTOR_CORRUPT;
		hint = " (the election's keys hold foreign data; inspect them "
		       "with redis-cli)";
	} else if (strstr(msg, "READONLY") || starts(msg, "LOADING") ||
	           starts(msg, "BUSY") || starts(msg, "MASTERDOWN") ||
	           starts(msg, "TRYAGAIN") || starts(msg, "CLUSTERDOWN") ||
	           starts(msg, "OOM") || starts(msg, "NOREPLICAS")) {
		rc = ELECTOR_TRANSIENT;
	} else if (starts(msg, "MOVED") || starts(msg, "ASK")) {
		hint = " (Redis Cluster redirects are not supported; point "
		       "the url at the node serving the slot or use Sentinel)";
	}
	snprintf(err, errlen, "redis %s: %s: %s%s",
	         elector_redis_where(r, where, sizeof where), what, msg, hint);
	return rc;
}

/* Ask sentinel connection c for the master's address. */
static int sentinel_ask(struct elector_redis *r, redisContext *c,
                        const struct elector_redis_addr *s,
                        int64_t deadline_us, struct elector_redis_addr *a,
                        char *err, size_t errlen)
{
	const char *argv[] = {"SENTINEL", "get-master-addr-by-name",
	                      r->t.master};
	size_t lens[] = {8, 23, strlen(r->t.master)};
	redisReply *rep;
	int rc = elector_redis_command(r, c, deadline_us, 3, argv, lens, &rep,
	                               err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    rep->element[1]->type == REDIS_REPLY_STRING &&
	    rep->element[0]->len > 0 &&
	    rep->element[0]->len < sizeof a->host) {
		memset(a, 0, sizeof *a);
		memcpy(a->host, rep->element[0]->str, rep->element[0]->len);
		a->port = atoi(rep->element[1]->str);
		freeReplyObject(rep);
		return a->port > 0 && a->port < 65536 ? ELECTOR_OK
		                                       : ELECTOR_TRANSIENT;
	}
	if (rep->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "sentinel %s:%d: %s", s->host, s->port,
		         rep->str);
	else
		snprintf(err, errlen, "sentinel %s:%d does not know master '%s'",
		         s->host, s->port, r->t.master);
	freeReplyObject(rep);
	return ELECTOR_TRANSIENT;
}

/* Ask the sentinels, in order, for the master's address, keeping the
 * connection to the one that answered (r->sent) and moving it to the front
 * of the list (as the Sentinel client guide recommends). */
static int sentinel_query(struct elector_redis *r, int64_t deadline_us,
                          struct elector_redis_addr *a, char *err,
                          size_t errlen)
{
	char why[1024] = "";
	size_t wl = 0;
	if (r->sent) {
		char one[640];
		if (sentinel_ask(r, r->sent, &r->t.sentinels[0], deadline_us, a,
		                 one, sizeof one) == ELECTOR_OK)
			return ELECTOR_OK;
		redisFree(r->sent);
		r->sent = NULL;
	}
	for (int i = 0; i < r->t.n_sentinels; i++) {
		struct elector_redis_addr *s = &r->t.sentinels[i];
		char one[640];
		redisContext *c = dial(r, s->host, s->port, NULL, deadline_us,
		                       one, sizeof one);
		if (c && sentinel_ask(r, c, s, deadline_us, a, one,
		                      sizeof one) == ELECTOR_OK) {
			r->sent = c;
			if (i > 0) {
				struct elector_redis_addr first = *s;
				memmove(&r->t.sentinels[1], &r->t.sentinels[0],
				        (size_t)i * sizeof first);
				r->t.sentinels[0] = first;
			}
			return ELECTOR_OK;
		}
		if (c)
			redisFree(c);
		int n = snprintf(why + wl, sizeof why - wl, "%s%s",
		                 wl ? "; " : "", one);
		if (n > 0 && (size_t)n < sizeof why - wl)
			wl += (size_t)n;
	}
	snprintf(err, errlen, "redis-sentinel: no sentinel gave the address "
	         "of master '%s': %s", r->t.master, why);
	return ELECTOR_TRANSIENT;
}

int elector_redis_sentinel_locate(struct elector_redis *r,
                                  int64_t deadline_us, char *err,
                                  size_t errlen)
{
	struct elector_redis_addr a;
	int rc = sentinel_query(r, deadline_us, &a, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	int same = strcmp(a.host, r->master_addr.host) == 0 &&
	           a.port == r->master_addr.port;
	if (!same && r->master_logged)
		r->host->log(ELECTOR_LOG_INFO, "redis", "sentinel: master %s "
		             "moved from %s:%d to %s:%d", r->t.master,
		             r->master_addr.host, r->master_addr.port, a.host,
		             a.port);
	else if (!same)
		r->host->log(ELECTOR_LOG_INFO, "redis", "sentinel %s:%d: master "
		             "%s is at %s:%d", r->t.sentinels[0].host,
		             r->t.sentinels[0].port, r->t.master, a.host, a.port);
	if (!same) {
		/* Everything still talking to the old node must go. */
		if (r->cmd)
			redisFree(r->cmd);
		if (r->sub)
			redisFree(r->sub);
		r->cmd = r->sub = NULL;
		r->pending.set = 0;
	}
	r->master_logged = 1;
	r->master_addr = a;
	r->master_known = 1;
	return ELECTOR_OK;
}

/* AUTH, SELECT and (Sentinel) ROLE on a fresh context. */
static int handshake(struct elector_redis *r, redisContext *c, int select_db,
                     int64_t deadline_us, char *err, size_t errlen)
{
	redisReply *rep;
	int rc;
	if (r->password[0]) {
		const char *argv[3];
		size_t lens[3];
		int n = 0;
		argv[n] = "AUTH";
		lens[n++] = 4;
		if (r->username[0]) {
			argv[n] = r->username;
			lens[n++] = strlen(r->username);
		}
		argv[n] = r->password;
		lens[n++] = strlen(r->password);
		rc = elector_redis_command(r, c, deadline_us, n, argv, lens, &rep,
		                           err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		if (rep->type == REDIS_REPLY_ERROR) {
			char what[ELECTOR_REDIS_HOST_MAX + 32];
			snprintf(what, sizeof what, "AUTH as user '%s'",
			         r->username[0] ? r->username : "default");
			rc = elector_redis_reply_error(r, what, rep, err, errlen);
			freeReplyObject(rep);
			return rc == ELECTOR_ERROR ? ELECTOR_DENIED : rc;
		}
		freeReplyObject(rep);
	}
	if (select_db && r->t.db != 0) {
		char db[16];
		snprintf(db, sizeof db, "%d", r->t.db);
		const char *argv[] = {"SELECT", db};
		size_t lens[] = {6, strlen(db)};
		rc = elector_redis_command(r, c, deadline_us, 2, argv, lens, &rep,
		                           err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		if (rep->type == REDIS_REPLY_ERROR) {
			rc = elector_redis_reply_error(r, "SELECT", rep, err,
			                               errlen);
			freeReplyObject(rep);
			return rc == ELECTOR_ERROR ? ELECTOR_INVALID : rc;
		}
		freeReplyObject(rep);
	}
	if (r->t.kind == ELECTOR_REDIS_SENTINEL) {
		const char *argv[] = {"ROLE"};
		size_t lens[] = {4};
		rc = elector_redis_command(r, c, deadline_us, 1, argv, lens, &rep,
		                           err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		if (rep->type == REDIS_REPLY_ERROR) {
			rc = elector_redis_reply_error(r, "ROLE", rep, err, errlen);
			freeReplyObject(rep);
			return rc;
		}
		int master = rep->type == REDIS_REPLY_ARRAY &&
		             rep->elements > 0 &&
		             rep->element[0]->type == REDIS_REPLY_STRING &&
		             strcmp(rep->element[0]->str, "master") == 0;
		if (!master) {
			char where[ELECTOR_REDIS_HOST_MAX + 64];
			snprintf(err, errlen, "redis %s: refusing the node: ROLE "
			         "says it is '%s', not a master (failover in "
			         "progress?); will ask the sentinels again",
			         elector_redis_where(r, where, sizeof where),
			         rep->type == REDIS_REPLY_ARRAY &&
			                         rep->elements > 0 &&
			                         rep->element[0]->str
			                 ? rep->element[0]->str
			                 : "?");
			freeReplyObject(rep);
			r->master_known = 0;
			return ELECTOR_TRANSIENT;
		}
		freeReplyObject(rep);
	}
	return ELECTOR_OK;
}

int elector_redis_open(struct elector_redis *r, int select_db,
                       int64_t deadline_us, redisContext **out, char *err,
                       size_t errlen)
{
	redisContext *c;
	*out = NULL;
	if (r->t.kind == ELECTOR_REDIS_SENTINEL) {
		if (!r->master_known) {
			int rc = elector_redis_sentinel_locate(r, deadline_us,
			                                       err, errlen);
			if (rc != ELECTOR_OK)
				return rc;
		}
		c = dial(r, r->master_addr.host, r->master_addr.port, NULL,
		         deadline_us, err, errlen);
		if (!c) {
			r->master_known = 0; /* ask again next time */
			return ELECTOR_TRANSIENT;
		}
	} else if (r->t.kind == ELECTOR_REDIS_UNIX) {
		c = dial(r, NULL, 0, r->t.path, deadline_us, err, errlen);
	} else {
		c = dial(r, r->t.addr.host, r->t.addr.port, NULL, deadline_us,
		         err, errlen);
	}
	if (!c)
		return ELECTOR_TRANSIENT;
	int rc = handshake(r, c, select_db, deadline_us, err, errlen);
	if (rc != ELECTOR_OK) {
		redisFree(c);
		if (rc == ELECTOR_TRANSIENT)
			r->master_known = 0;
		return rc;
	}
	*out = c;
	return ELECTOR_OK;
}

int elector_redis_sentinel_open(struct elector_redis *r, int64_t deadline_us,
                                redisContext **out, char *err, size_t errlen)
{
	*out = NULL;
	for (int i = 0; i < r->t.n_sentinels; i++) {
		redisContext *c = dial(r, r->t.sentinels[i].host,
		                       r->t.sentinels[i].port, NULL, deadline_us,
		                       err, errlen);
		if (c) {
			*out = c;
			return ELECTOR_OK;
		}
	}
	return ELECTOR_TRANSIENT;
}
