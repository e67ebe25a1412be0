#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                 1,      2.5,   5,      10};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const op_names[ELECTOR_OP_COUNT] = {"get", "create",
                                                       "update", "watch"};

struct histogram {
	uint64_t counts[N_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

struct elector_metrics {
	pthread_mutex_t mu;
	struct histogram hist[ELECTOR_OP_COUNT][ELECTOR_STATUS_COUNT];
	uint64_t errors[ELECTOR_OP_COUNT][ELECTOR_STATUS_COUNT];
	uint64_t transitions;
};

struct elector_metrics *elector_metrics_new(void)
{
	struct elector_metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void elector_metrics_free(struct elector_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Outcomes that are part of normal operation, not errors. */
static int is_error(int status)
{
	return status != ELECTOR_OK && status != ELECTOR_NOT_FOUND &&
	       status != ELECTOR_EXISTS && status != ELECTOR_CONFLICT &&
	       !(status == ELECTOR_TIMEOUT);
}

void elector_metrics_observe(struct elector_metrics *m,
                             enum elector_metrics_op op, int status,
                             double seconds)
{
	if (!m || op >= ELECTOR_OP_COUNT || status < 0 ||
	    status >= ELECTOR_STATUS_COUNT)
		return;
	pthread_mutex_lock(&m->mu);
	if (op != ELECTOR_OP_WATCH) {
		struct histogram *h = &m->hist[op][status];
		size_t i;
		for (i = 0; i < N_BUCKETS; i++) {
			if (seconds <= buckets[i]) {
				h->counts[i]++;
				break;
			}
		}
		h->count++;
		h->sum += seconds;
	}
	/* A watch timeout is its normal outcome; for other ops it is an error.
	 */
	if (is_error(status) ||
	    (status == ELECTOR_TIMEOUT && op != ELECTOR_OP_WATCH))
		m->errors[op][status]++;
	pthread_mutex_unlock(&m->mu);
}

void elector_metrics_transition(struct elector_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->transitions++;
	pthread_mutex_unlock(&m->mu);
}

/* A growing output buffer that remembers overflow. */
struct out {
	char *buf;
	size_t cap, len;
	int overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
	va_list ap;
	int n;
	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

/* Label values: escape backslash, quote and newline. */
static void escape_label(const char *in, char *outbuf, size_t cap)
{
	size_t j = 0;
	for (; *in && j + 3 < cap; in++) {
		if (*in == '\\' || *in == '"') {
			outbuf[j++] = '\\';
			outbuf[j++] = *in;
		} else if (*in == '\n') {
			outbuf[j++] = '\\';
			outbuf[j++] = 'n';
		} else {
			outbuf[j++] = *in;
		}
	}
	outbuf[j] = '\0';
}

#define MAX_GAUGES 16
static pthread_mutex_t gauges_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[64];
	char help[160];
	double value;
} gauges[MAX_GAUGES];
static size_t n_gauges;

static int valid_gauge_name(const char *name)
{
	size_t i;
	if (!name || !*name || strlen(name) >= 64)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

void elector_metrics_gauge_set(const char *name, const char *help, double value)
{
	size_t i;
	if (!valid_gauge_name(name))
		return;
	pthread_mutex_lock(&gauges_mu);
	for (i = 0; i < n_gauges; i++) {
		if (strcmp(gauges[i].name, name) == 0)
			break;
	}
	if (i == n_gauges) {
		if (n_gauges == MAX_GAUGES) {
			pthread_mutex_unlock(&gauges_mu);
			return;
		}
		n_gauges++;
		snprintf(gauges[i].name, sizeof gauges[i].name, "%s", name);
		escape_label(help ? help : name, gauges[i].help,
		             sizeof gauges[i].help);
	}
	gauges[i].value = value;
	pthread_mutex_unlock(&gauges_mu);
}

static void render_histograms(struct elector_metrics *m, struct out *o)
{
	int op, st;
	size_t i;
	put(o, "# HELP elector_backend_request_duration_seconds Duration of "
	       "lock store requests by operation and result.\n"
	       "# TYPE elector_backend_request_duration_seconds histogram\n");
	for (op = 0; op < ELECTOR_OP_WATCH; op++) {
		for (st = 0; st < ELECTOR_STATUS_COUNT; st++) {
			const struct histogram *h = &m->hist[op][st];
			uint64_t cum = 0;
			/* Always show ok; other results once they happened. */
			if (h->count == 0 && st != ELECTOR_OK)
				continue;
			for (i = 0; i < N_BUCKETS; i++) {
				cum += h->counts[i];
				put(o,
				    "elector_backend_request_duration_seconds_"
				    "bucket"
				    "{op=\"%s\",result=\"%s\",le=\"%g\"} "
				    "%llu\n",
				    op_names[op], elector_status_name(st),
				    buckets[i], (unsigned long long)cum);
			}
			put(o,
			    "elector_backend_request_duration_seconds_bucket"
			    "{op=\"%s\",result=\"%s\",le=\"+Inf\"} %llu\n"
			    "elector_backend_request_duration_seconds_sum"
			    "{op=\"%s\",result=\"%s\"} %.9g\n"
			    "elector_backend_request_duration_seconds_count"
			    "{op=\"%s\",result=\"%s\"} %llu\n",
			    op_names[op], elector_status_name(st),
			    (unsigned long long)h->count, op_names[op],
			    elector_status_name(st), h->sum, op_names[op],
			    elector_status_name(st),
			    (unsigned long long)h->count);
		}
	}
	put(o, "# HELP elector_backend_errors_total Failed lock store requests "
	       "by operation and error.\n"
	       "# TYPE elector_backend_errors_total counter\n");
	for (op = 0; op < ELECTOR_OP_COUNT; op++) {
		for (st = 1; st < ELECTOR_STATUS_COUNT; st++) {
			if (m->errors[op][st] == 0)
				continue;
			put(o,
			    "elector_backend_errors_total{op=\"%s\",code=\"%"
			    "s\"} %llu\n",
			    op_names[op], elector_status_name(st),
			    (unsigned long long)m->errors[op][st]);
		}
	}
}

int elector_metrics_render(struct elector_metrics *m, const char *election,
                           const struct elector_status_info *st, char *buf,
                           size_t cap, size_t *len)
{
	struct out o = {buf, cap, 0, 0};
	char name[512];
	size_t i;

	if (!m || !buf || cap == 0)
		return ELECTOR_ERROR;
	escape_label(election ? election : "", name, sizeof name);
	put(&o,
	    "# HELP leader_election_master_status Gauge of whether this "
	    "process is the leader (1) or not (0), as client-go names it.\n"
	    "# TYPE leader_election_master_status gauge\n"
	    "leader_election_master_status{name=\"%s\"} %d\n",
	    name, st->is_leader ? 1 : 0);
	put(&o,
	    "# HELP elector_is_leader 1 while this process leads.\n"
	    "# TYPE elector_is_leader gauge\n"
	    "elector_is_leader{election=\"%s\"} %d\n",
	    name, st->is_leader ? 1 : 0);
	put(&o,
	    "# HELP elector_leader_present 1 while this process knows a live "
	    "leader (itself or another).\n"
	    "# TYPE elector_leader_present gauge\n"
	    "elector_leader_present{election=\"%s\"} %d\n",
	    name, st->leader[0] != '\0' ? 1 : 0);
	put(&o,
	    "# HELP elector_build_info A metric with a constant 1 labelled by "
	    "the version elector was built from.\n"
	    "# TYPE elector_build_info gauge\n"
	    "elector_build_info{version=\"%s\"} 1\n",
	    ELECTOR_VERSION_STRING);
	put(&o,
	    "# HELP elector_term Fencing token: leaderTransitions of the "
	    "current term as seen by this process.\n"
	    "# TYPE elector_term gauge\n"
	    "elector_term{election=\"%s\"} %lld\n",
	    name, (long long)st->term);
	put(&o,
	    "# HELP elector_observed_age_seconds Time since the record "
	    "last changed, as observed by this process.\n"
	    "# TYPE elector_observed_age_seconds gauge\n"
	    "elector_observed_age_seconds{election=\"%s\"} %.3f\n",
	    name,
	    st->observed_age_ms < 0 ? -1.0 : st->observed_age_ms / 1000.0);

	pthread_mutex_lock(&m->mu);
	put(&o,
	    "# HELP elector_transitions_total Leadership changes seen by "
	    "this process.\n"
	    "# TYPE elector_transitions_total counter\n"
	    "elector_transitions_total{election=\"%s\"} %llu\n",
	    name, (unsigned long long)m->transitions);
	render_histograms(m, &o);
	pthread_mutex_unlock(&m->mu);

	pthread_mutex_lock(&gauges_mu);
	for (i = 0; i < n_gauges; i++) {
		put(&o,
		    "# HELP elector_backend_%s %s\n"
		    "# TYPE elector_backend_%s gauge\n"
		    "elector_backend_%s %.9g\n",
		    gauges[i].name, gauges[i].help, gauges[i].name,
		    gauges[i].name, gauges[i].value);
	}
	pthread_mutex_unlock(&gauges_mu);

	if (o.overflow)
		return ELECTOR_ERROR;
	if (len)
		*len = o.len;
	return ELECTOR_OK;
}
