/* --k8s-events: core/v1 Events about the leadership; see k8sevents.h.
 * Requests go through k8sapi.c (libcurl); the module is loaded only with
 * the option, so the daemon maps no TLS stack otherwise. */
#include "k8sevents.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8sapi.h"

#define NAME_MAX_LEN 256
#define UID_MAX_LEN 64
/* At stop, queued events still go out one by one (as the bucket allows)
 * for this long; the rest is coalesced into one last event. */
#define STOP_BUDGET_MS 3000

struct pending {
	enum elector_k8sevent_kind kind;
	long long term;
	time_t when;
};

struct elector_k8sevents {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pending q[ELECTOR_K8SEVENTS_QUEUE];
	size_t head, len;
	unsigned long dropped; /* not recorded: queue overflow or coalesced */
	int stopping;
	struct timespec stop_by; /* after this, coalesce what is left */
	double tokens;
	struct timespec refilled;
	char last_err[512];

	char election[NAME_MAX_LEN];
	char ns[NAME_MAX_LEN];
	char identity[NAME_MAX_LEN];
	char pod[NAME_MAX_LEN];
	char pod_uid[UID_MAX_LEN];
	char lease_uid[UID_MAX_LEN];
	int on_lease;
	void (*log)(int level, const char *msg);
};

/* The string value after `"key":"` in body (best effort, unescaped). */
static void json_string_after(const char *body, const char *key, char *out,
                              size_t cap)
{
	const char *m = strstr(body, key);
	size_t i = 0;

	out[0] = '\0';
	if (m == NULL)
		return;
	m += strlen(key);
	while (*m && *m != '"' && i + 1 < cap) {
		if (*m == '\\' && m[1])
			m++;
		out[i++] = *m++;
	}
	out[i] = '\0';
}

/* Append s to out as the inside of a JSON string. Returns -1 if it does
 * not fit. */
static int json_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[8];
		size_t n;

		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			n = 2;
		} else if (c < 0x20) {
			snprintf(tmp, sizeof tmp, "\\u%04x", c);
			n = 6;
		} else {
			tmp[0] = (char)c;
			n = 1;
		}
		if (o + n >= cap)
			return -1;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static void report(struct elector_k8sevents *ev, int level, const char *msg)
{
	int fresh;

	pthread_mutex_lock(&ev->mu);
	fresh = strcmp(ev->last_err, msg) != 0;
	if (fresh)
		snprintf(ev->last_err, sizeof ev->last_err, "%s", msg);
	pthread_mutex_unlock(&ev->mu);
	if (fresh && msg[0] != '\0' && ev->log != NULL)
		ev->log(level, msg);
}

/* The Lease's uid (kubectl describe finds events by it); "" if unknown. */
static void lookup_lease_uid(struct elector_k8sevents *ev,
                             struct elector_k8sapi_body *s)
{
	char path[768], err[256];
	long code;

	if (!ev->on_lease || ev->lease_uid[0] != '\0')
		return;
	snprintf(path, sizeof path,
	         "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", ev->ns,
	         ev->election);
	code = elector_k8sapi_request(
	    "GET", path, NULL, NULL, "elector/k8sevents",
	    ELECTOR_K8SEVENTS_TIMEOUT_MS, s, err, sizeof err);
	if (code == 200)
		json_string_after(s->buf, "\"uid\":\"", ev->lease_uid,
		                  sizeof ev->lease_uid);
}

static const char *kind_text(enum elector_k8sevent_kind k)
{
	switch (k) {
	case ELECTOR_K8SEVENT_ACQUIRED:
		return "became leader";
	case ELECTOR_K8SEVENT_LOST:
		return "stopped leading";
	case ELECTOR_K8SEVENT_RELEASED:
		return "released the lock";
	case ELECTOR_K8SEVENT_HANDED_OVER:
		return "handed over leadership";
	}
	return "changed leadership";
}

/* POST one Event. Returns 0 when it was created. */
static int post_event(struct elector_k8sevents *ev, const struct pending *p,
                      unsigned long dropped, struct elector_k8sapi_body *s)
{
	char msg[512], esc_msg[1100], esc_id[600], obj[1024], body[4096];
	char path[512], when[32], err[512], line[768], smsg[256];
	struct timespec now;
	struct tm tm;
	long code;
	int n;

	lookup_lease_uid(ev, s);
	if (dropped > 0)
		n = snprintf(msg, sizeof msg,
		             "%s %s (term %lld; %lu earlier "
		             "leadership events not recorded: rate limit)",
		             ev->identity, kind_text(p->kind), p->term,
		             dropped);
	else
		n = snprintf(msg, sizeof msg, "%s %s (term %lld)", ev->identity,
		             kind_text(p->kind), p->term);
	if (n < 0 || json_escape(msg, esc_msg, sizeof esc_msg) != 0 ||
	    json_escape(ev->identity, esc_id, sizeof esc_id) != 0)
		return -1;
	gmtime_r(&p->when, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ev->on_lease)
		n = snprintf(obj, sizeof obj,
		             "{\"apiVersion\":\"coordination.k8s.io/v1\","
		             "\"kind\":\"Lease\",\"name\":\"%s\","
		             "\"namespace\":\"%s\"%s%s%s}",
		             ev->election, ev->ns,
		             ev->lease_uid[0] ? ",\"uid\":\"" : "",
		             ev->lease_uid, ev->lease_uid[0] ? "\"" : "");
	else
		n = snprintf(obj, sizeof obj,
		             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
		             "\"name\":\"%s\",\"namespace\":\"%s\"%s%s%s}",
		             ev->pod, ev->ns,
		             ev->pod_uid[0] ? ",\"uid\":\"" : "", ev->pod_uid,
		             ev->pod_uid[0] ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof obj)
		return -1;
	/* client-go's event names: <object>.<unix nanoseconds in hex> */
	clock_gettime(CLOCK_REALTIME, &now);
	n = snprintf(body, sizeof body,
	             "{\"apiVersion\":\"v1\",\"kind\":\"Event\","
	             "\"metadata\":{\"name\":\"%s.%llx\",\"namespace\":\"%s\"},"
	             "\"involvedObject\":%s,\"reason\":\"LeaderElection\","
	             "\"message\":\"%s\",\"type\":\"%s\","
	             "\"source\":{\"component\":\"elector\"},"
	             "\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\","
	             "\"count\":1,\"reportingComponent\":\"elector\","
	             "\"reportingInstance\":\"%s\"}",
	             ev->on_lease ? ev->election : ev->pod,
	             (unsigned long long)now.tv_sec * 1000000000ULL +
	                 (unsigned long long)now.tv_nsec,
	             ev->ns, obj, esc_msg,
	             p->kind == ELECTOR_K8SEVENT_LOST ? "Warning" : "Normal",
	             when, when, esc_id);
	if (n < 0 || (size_t)n >= sizeof body)
		return -1;
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/events", ev->ns);
	code = elector_k8sapi_request(
	    "POST", path, "application/json", body, "elector/k8sevents",
	    ELECTOR_K8SEVENTS_TIMEOUT_MS, s, err, sizeof err);
	if (code >= 200 && code < 300) {
		report(ev, ELECTOR_K8SEVENTS_INFO, "");
		return 0;
	}
	if (code < 0) {
		snprintf(line, sizeof line,
		         "--k8s-events: event not recorded: %s", err);
	} else {
		elector_k8sapi_status_message(s->buf, smsg, sizeof smsg);
		if (code == 401 || code == 403)
			snprintf(
			    line, sizeof line,
			    "--k8s-events: %ld %s: grant create on events in "
			    "namespace %s to the service account; leadership "
			    "events are not recorded (the election is not "
			    "affected)",
			    code, smsg[0] ? smsg : "denied", ev->ns);
		else
			snprintf(
			    line, sizeof line,
			    "--k8s-events: event not recorded: HTTP %ld%s%s",
			    code, smsg[0] ? ": " : "", smsg);
	}
	report(ev, ELECTOR_K8SEVENTS_WARN, line);
	return -1;
}

static int past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void refill(struct elector_k8sevents *ev)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - ev->refilled.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - ev->refilled.tv_nsec) / 1e6;
	ev->refilled = now;
	ev->tokens += ms / ELECTOR_K8SEVENTS_REFILL_MS;
	if (ev->tokens > ELECTOR_K8SEVENTS_BURST)
		ev->tokens = ELECTOR_K8SEVENTS_BURST;
}

static void wait_ms(struct elector_k8sevents *ev, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
}

static void *worker(void *arg)
{
	struct elector_k8sevents *ev = arg;
	struct elector_k8sapi_body *s = calloc(1, sizeof *s);
	struct pending p;
	unsigned long dropped;

	pthread_mutex_lock(&ev->mu);
	for (;;) {
		while (!ev->stopping && ev->len == 0)
			pthread_cond_wait(&ev->cv, &ev->mu);
		if (ev->len == 0)
			break; /* stopping, nothing left */
		refill(ev);
		if (ev->stopping && ev->len > 1 &&
		    (ev->tokens < 1.0 || past(&ev->stop_by))) {
			/* one last POST: a slow API server or a backlog
			 * delays the exit by STOP_BUDGET_MS and one request at
			 * most */
			ev->dropped += ev->len - 1;
			ev->head =
			    (ev->head + ev->len - 1) % ELECTOR_K8SEVENTS_QUEUE;
			ev->len = 1;
		}
		if (ev->tokens < 1.0 && !ev->stopping) {
			wait_ms(ev, (long)((1.0 - ev->tokens) *
			                   ELECTOR_K8SEVENTS_REFILL_MS) +
			                1);
			continue;
		}
		p = ev->q[ev->head];
		ev->head = (ev->head + 1) % ELECTOR_K8SEVENTS_QUEUE;
		ev->len--;
		if (ev->tokens >= 1.0)
			ev->tokens -= 1.0;
		dropped = ev->dropped;
		ev->dropped = 0;
		pthread_mutex_unlock(&ev->mu);
		if (s != NULL)
			post_event(ev, &p, dropped, s);
		pthread_mutex_lock(&ev->mu);
	}
	pthread_mutex_unlock(&ev->mu);
	free(s);
	return NULL;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	int n = snprintf(dst, cap, "%s", src ? src : "");

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

__attribute__((visibility("default"))) int
elector_k8sevents_start(const struct elector_k8sevents_config *cfg,
                        struct elector_k8sevents **out, char *err,
                        size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct elector_k8sevents *ev;
	int n;

	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0') {
		snprintf(err, errlen,
		         "needs KUBERNETES_SERVICE_HOST and "
		         "KUBERNETES_SERVICE_PORT (run in a pod)");
		return -1;
	}
	ev = calloc(1, sizeof *ev);
	if (ev == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ev->on_lease = cfg->on_lease;
	ev->log = cfg->log;
	if (copy_str(ev->election, sizeof ev->election, cfg->election) ||
	    copy_str(ev->identity, sizeof ev->identity, cfg->identity) ||
	    copy_str(ev->pod, sizeof ev->pod, getenv("POD_NAME")) ||
	    copy_str(ev->pod_uid, sizeof ev->pod_uid, getenv("POD_UID"))) {
		snprintf(err, errlen, "a name is too long");
		goto fail;
	}
	/* events live in the namespace of their object */
	if (copy_str(ev->ns, sizeof ev->ns,
	             ev->on_lease ? cfg->namespace_
	                          : getenv("POD_NAMESPACE")) ||
	    ev->ns[0] == '\0') {
		snprintf(err, errlen, "%s",
		         ev->on_lease ? "the election needs a namespace"
		                      : "events on the pod need POD_NAMESPACE "
		                        "(downward API)");
		goto fail;
	}
	if (!ev->on_lease && ev->pod[0] == '\0') {
		snprintf(err, errlen,
		         "events on the pod need POD_NAME (downward API)");
		goto fail;
	}
	ev->tokens = ELECTOR_K8SEVENTS_BURST;
	clock_gettime(CLOCK_MONOTONIC, &ev->refilled);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	n = pthread_create(&ev->thread, NULL, worker, ev);
	if (n != 0) {
		snprintf(err, errlen, "cannot start the worker thread: %s",
		         strerror(n));
		pthread_cond_destroy(&ev->cv);
		pthread_mutex_destroy(&ev->mu);
		goto fail;
	}
	*out = ev;
	return 0;
fail:
	free(ev);
	return -1;
}

__attribute__((visibility("default"))) void
elector_k8sevents_record(struct elector_k8sevents *ev,
                         enum elector_k8sevent_kind kind, long long term)
{
	struct pending *p;

	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	if (ev->len == ELECTOR_K8SEVENTS_QUEUE) { /* drop the oldest */
		ev->head = (ev->head + 1) % ELECTOR_K8SEVENTS_QUEUE;
		ev->len--;
		ev->dropped++;
	}
	p = &ev->q[(ev->head + ev->len) % ELECTOR_K8SEVENTS_QUEUE];
	p->kind = kind;
	p->term = term;
	p->when = time(NULL);
	ev->len++;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

__attribute__((visibility("default"))) void
elector_k8sevents_stop(struct elector_k8sevents *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stopping = 1;
	clock_gettime(CLOCK_MONOTONIC, &ev->stop_by);
	ev->stop_by.tv_sec += STOP_BUDGET_MS / 1000;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->thread, NULL);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}
