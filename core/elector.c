/*
 * libelector's public API: configuration checks, the engine thread and its
 * waits. The thread waits on a CLOCK_BOOTTIME timerfd (so time suspended
 * counts) and an eventfd that elector_stop() signals; followers of a backend
 * with the WATCH capability wait inside the backend's watch() instead, which
 * elector_stop() interrupts through wake().
 */
#include "elector/elector.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"

struct elector {
	struct elector_store *store;
	struct elector_engine *engine;
	struct elector_metrics *metrics;
	char *election;
	int timer_fd;
	int stop_fd;
	pthread_t thread;
	pthread_mutex_t mu; /* start/stop */
	int started, joined;
	atomic_int stopping;
	int shutdown_rc;
};

void elector_config_init(struct elector_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->namespace_ = "default";
	cfg->lease_duration_ms = ELECTOR_DEFAULT_LEASE_DURATION_MS;
	cfg->renew_deadline_ms = ELECTOR_DEFAULT_RENEW_DEADLINE_MS;
	cfg->retry_period_ms = ELECTOR_DEFAULT_RETRY_PERIOD_MS;
	cfg->backend = "file";
	cfg->release_on_stop = true;
}

/* Kubernetes object names: a DNS-1123 subdomain, kept to 63 characters so
 * the same name works as a label value, a Redis key part and a file name. */
static int dns_name_ok(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;
	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !((c == '-' || c == '.') && i > 0 && i + 1 < n))
			return 0;
	}
	return 1;
}

int elector_config_validate(const struct elector_config *cfg, char *err,
                            size_t errlen)
{
	int64_t ld = cfg->lease_duration_ms, rd = cfg->renew_deadline_ms,
	        rp = cfg->retry_period_ms, rq = cfg->request_timeout_ms;

	if (!dns_name_ok(cfg->election)) {
		snprintf(
		    err, errlen,
		    "election name '%s' is invalid: use 1-63 lower-case "
		    "letters, digits, '-' or '.', starting and ending with a "
		    "letter or digit",
		    cfg->election ? cfg->election : "");
		return ELECTOR_INVALID;
	}
	if (!dns_name_ok(cfg->namespace_)) {
		snprintf(
		    err, errlen,
		    "namespace '%s' is invalid: use 1-63 lower-case letters, "
		    "digits, '-' or '.'",
		    cfg->namespace_ ? cfg->namespace_ : "");
		return ELECTOR_INVALID;
	}
	if (!cfg->identity || !cfg->identity[0] ||
	    strlen(cfg->identity) >= ELECTOR_ID_MAX) {
		snprintf(err, errlen, "identity must be 1-%d bytes",
		         ELECTOR_ID_MAX - 1);
		return ELECTOR_INVALID;
	}
	if (ld <= 0 || rd <= 0 || rp <= 0 || rq < 0) {
		snprintf(err, errlen,
		         "lease duration, renew deadline and retry period must "
		         "all be greater than zero");
		return ELECTOR_INVALID;
	}
	if (ld > 86400000) {
		snprintf(err, errlen, "lease duration must be at most 24h");
		return ELECTOR_INVALID;
	}
	if (ld <= rd) {
		snprintf(err, errlen,
		         "lease duration (%lldms) must be greater than renew "
		         "deadline (%lldms)",
		         (long long)ld, (long long)rd);
		return ELECTOR_INVALID;
	}
	if (rd * 5 <= rp * 6) {
		snprintf(
		    err, errlen,
		    "renew deadline (%lldms) must be greater than 1.2 x retry "
		    "period (%lldms)",
		    (long long)rd, (long long)rp);
		return ELECTOR_INVALID;
	}
	if (rq >= rd) {
		snprintf(
		    err, errlen,
		    "request timeout (%lldms) must be below renew deadline "
		    "(%lldms)",
		    (long long)rq, (long long)rd);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int64_t default_request_timeout(const struct elector_config *cfg)
{
	int64_t half = cfg->renew_deadline_ms / 2;
	if (cfg->request_timeout_ms > 0)
		return cfg->request_timeout_ms;
	return cfg->retry_period_ms < half ? cfg->retry_period_ms : half;
}

int elector_create(const struct elector_config *cfg, struct elector **out,
                   char *err, size_t errlen)
{
	struct elector *el;
	struct elector_engine_config ec;
	int64_t rq;
	int rc;

	*out = NULL;
	rc = elector_config_validate(cfg, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rq = default_request_timeout(cfg);
	el = calloc(1, sizeof *el);
	if (!el) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	el->timer_fd = -1;
	el->stop_fd = -1;
	pthread_mutex_init(&el->mu, NULL);
	rc = elector_store_open(
	    cfg->plugin_dir, cfg->backend ? cfg->backend : "file",
	    cfg->election, cfg->namespace_, cfg->identity, cfg->backend_options,
	    cfg->n_backend_options, cfg->lease_duration_ms,
	    cfg->renew_deadline_ms, cfg->retry_period_ms, rq, 0u, &el->store,
	    err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	el->metrics = elector_metrics_new();
	el->election = strdup(cfg->election);
	el->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	el->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!el->metrics || !el->election || el->timer_fd < 0 ||
	    el->stop_fd < 0) {
		snprintf(err, errlen, "cannot allocate engine resources: %s",
		         strerror(errno));
		rc = ELECTOR_ERROR;
		goto fail;
	}
	memset(&ec, 0, sizeof ec);
	ec.election = cfg->election;
	ec.namespace_ = cfg->namespace_;
	ec.identity = cfg->identity;
	ec.lease_duration_ms = cfg->lease_duration_ms;
	ec.renew_deadline_ms = cfg->renew_deadline_ms;
	ec.retry_period_ms = cfg->retry_period_ms;
	ec.request_timeout_ms = rq;
	ec.release_on_stop = cfg->release_on_stop;
	ec.on_new_leader = cfg->on_new_leader;
	ec.on_started_leading = cfg->on_started_leading;
	ec.on_stopped_leading = cfg->on_stopped_leading;
	ec.userdata = cfg->userdata;
	el->engine = elector_engine_new(&ec, el->store->ops, el->store->state,
	                                elector_clock_real(), el->metrics);
	if (!el->engine) {
		snprintf(err, errlen, "out of memory");
		rc = ELECTOR_ERROR;
		goto fail;
	}
	*out = el;
	return ELECTOR_OK;
fail:
	elector_destroy(el);
	return rc;
}

/*
 * Wait until the monotonic instant until_ms or a stop request. The
 * CLOCK_BOOTTIME timerfd makes time spent suspended count; it is armed
 * relative to now (not TFD_TIMER_ABSTIME) because time-shifting shims such as
 * libfaketime rewrite absolute timer deadlines, and poll() carries a
 * backstop timeout so that no timer mishap can park the engine for good.
 */
static void wait_until(struct elector *el, int64_t until_ms)
{
	struct itimerspec its;
	struct pollfd fds[2];
	int64_t left = until_ms - elector_mono_ms();

	if (left <= 0)
		return;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)(left / 1000);
	its.it_value.tv_nsec = (long)(left % 1000) * 1000000L;
	if (timerfd_settime(el->timer_fd, 0, &its, NULL) != 0)
		return;
	fds[0].fd = el->timer_fd;
	fds[0].events = POLLIN;
	fds[1].fd = el->stop_fd;
	fds[1].events = POLLIN;
	while (!atomic_load(&el->stopping)) {
		int n =
		    poll(fds, 2,
		         left > INT32_MAX - 100 ? INT32_MAX : (int)left + 100);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (fds[0].revents & POLLIN) {
		uint64_t ticks;
		if (read(el->timer_fd, &ticks, sizeof ticks) < 0)
			return;
	}
}

static void watch_once(struct elector *el, const struct elector_engine_wait *w,
                       int64_t timeout_ms)
{
	const struct elector_backend_ops *ops = el->store->ops;
	struct elector_record rec;
	struct elector_version ver;
	char err[512];
	int got = 0, rc;

	memset(&rec, 0, sizeof rec);
	memset(&ver, 0, sizeof ver);
	err[0] = '\0';
	rc = ops->watch(el->store->state, &w->known, timeout_ms, &rec, &ver,
	                &got, err, sizeof err);
	elector_metrics_observe(el->metrics, ELECTOR_OP_WATCH, rc, 0);
	if (atomic_load(&el->stopping))
		return;
	if (rc == ELECTOR_OK && got)
		elector_engine_deliver(el->engine, &rec, &ver);
	else if (rc == ELECTOR_OK)
		elector_engine_mark_stale(el->engine);
	else if (rc != ELECTOR_TIMEOUT)
		elector_engine_watch_failed(el->engine, rc, err);
}

static void *engine_thread(void *arg)
{
	struct elector *el = arg;
	struct elector_engine_wait w;

	while (!atomic_load(&el->stopping)) {
		int64_t now;
		elector_engine_step(el->engine, &w);
		if (atomic_load(&el->stopping))
			break;
		now = elector_mono_ms();
		if (w.until_ms <= now)
			continue;
		if (w.watch)
			watch_once(el, &w, w.until_ms - now);
		else
			wait_until(el, w.until_ms);
	}
	el->shutdown_rc = elector_engine_shutdown(el->engine);
	return NULL;
}

int elector_start(struct elector *el)
{
	int rc = ELECTOR_OK;
	if (!el)
		return ELECTOR_INVALID;
	pthread_mutex_lock(&el->mu);
	if (!el->started) {
		if (pthread_create(&el->thread, NULL, engine_thread, el) != 0)
			rc = ELECTOR_ERROR;
		else
			el->started = 1;
	}
	pthread_mutex_unlock(&el->mu);
	return rc;
}

int elector_stop(struct elector *el)
{
	uint64_t one = 1;
	int rc = ELECTOR_OK;
	if (!el)
		return ELECTOR_INVALID;
	atomic_store(&el->stopping, 1);
	if (el->stop_fd >= 0 && write(el->stop_fd, &one, sizeof one) < 0)
		LOG_DEBUG("stop eventfd: %s", strerror(errno));
	if (el->store && (el->store->ops->capabilities & ELECTOR_CAP_WATCH))
		el->store->ops->wake(el->store->state);
	pthread_mutex_lock(&el->mu);
	if (el->started && !el->joined) {
		pthread_join(el->thread, NULL);
		el->joined = 1;
	}
	rc = el->shutdown_rc;
	pthread_mutex_unlock(&el->mu);
	return rc;
}

void elector_destroy(struct elector *el)
{
	if (!el)
		return;
	elector_stop(el);
	elector_engine_free(el->engine);
	elector_store_close(el->store);
	elector_metrics_free(el->metrics);
	if (el->timer_fd >= 0)
		close(el->timer_fd);
	if (el->stop_fd >= 0)
		close(el->stop_fd);
	free(el->election);
	pthread_mutex_destroy(&el->mu);
	free(el);
}

int elector_status(struct elector *el, struct elector_status_info *out)
{
	if (!el || !out)
		return ELECTOR_INVALID;
	elector_engine_status(el->engine, out);
	return ELECTOR_OK;
}

int elector_metrics_write(struct elector *el, char *buf, size_t cap,
                          size_t *len)
{
	struct elector_status_info st;
	if (!el)
		return ELECTOR_INVALID;
	elector_engine_status(el->engine, &st);
	return elector_metrics_render(el->metrics, el->election, &st, buf, cap,
	                              len);
}
