/* --k8s-events: the daemon's side of ext/k8sevents.so (see d_events.h). */
#include "d_events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

#include "elector/elector.h"
#include "loader.h"
#include "log.h"

/* Like --label-pod: libcurl (and its TLS stack) is mapped only when the
 * option is on. */
#define EVENTS_MODULE "ext/k8sevents.so"

typedef int (*start_fn)(const struct elector_k8sevents_config *,
                        struct elector_k8sevents **, char *, size_t);
typedef void (*record_fn)(struct elector_k8sevents *,
                          enum elector_k8sevent_kind, long long);
typedef void (*stop_fn)(struct elector_k8sevents *);

struct elector_events {
	void *module;
	struct elector_k8sevents *ev;
	record_fn record;
	stop_fn stop;
	pthread_mutex_t mu; /* the engine thread and the main thread */
	long long term;
	int leading;
	int shutting_down;
	int led_at_shutdown;
};

static void module_log(int level, const char *msg)
{
	if (level == ELECTOR_K8SEVENTS_WARN)
		LOG_WARN("%s", msg);
	else
		LOG_INFO("%s", msg);
}

int elector_events_start(const char *plugin_dir, const char *election,
                         const char *namespace_, const char *identity,
                         int on_lease, struct elector_events **out)
{
	char err[512];
	start_fn start;
	struct elector_events *e = calloc(1, sizeof *e);
	struct elector_k8sevents_config cfg = {election, namespace_, identity,
	                                       on_lease, module_log};

	if (e == NULL) {
		LOG_ERROR("--k8s-events: out of memory");
		return -1;
	}
	if (elector_module_open(plugin_dir, EVENTS_MODULE, &e->module, err,
	                        sizeof err) != ELECTOR_OK) {
		LOG_WARN("--k8s-events: %s; no events will be recorded", err);
		free(e);
		return -1;
	}
	*(void **)(&start) = dlsym(e->module, "elector_k8sevents_start");
	*(void **)(&e->record) = dlsym(e->module, "elector_k8sevents_record");
	*(void **)(&e->stop) = dlsym(e->module, "elector_k8sevents_stop");
	if (start == NULL || e->record == NULL || e->stop == NULL) {
		LOG_WARN("--k8s-events: %s lacks the elector_k8sevents_* "
		         "functions; no events will be recorded",
		         EVENTS_MODULE);
		goto fail;
	}
	if (start(&cfg, &e->ev, err, sizeof err) != 0) {
		LOG_WARN("--k8s-events: %s; no events will be recorded", err);
		goto fail;
	}
	pthread_mutex_init(&e->mu, NULL);
	if (on_lease)
		LOG_INFO("--k8s-events: recording leadership events on lease "
		         "%s/%s",
		         namespace_, election);
	else
		LOG_INFO(
		    "--k8s-events: recording leadership events on this pod");
	*out = e;
	return 0;
fail:
	dlclose(e->module);
	free(e);
	return -1;
}

void elector_events_started(struct elector_events *e, long long term)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->term = term;
	e->leading = 1;
	pthread_mutex_unlock(&e->mu);
	e->record(e->ev, ELECTOR_K8SEVENT_ACQUIRED, term);
}

void elector_events_stopped(struct elector_events *e)
{
	int lost;

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	lost = e->leading && !e->shutting_down;
	e->leading = 0;
	pthread_mutex_unlock(&e->mu);
	if (lost)
		e->record(e->ev, ELECTOR_K8SEVENT_LOST, e->term);
}

void elector_events_shutdown(struct elector_events *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->shutting_down = 1;
	e->led_at_shutdown = e->leading;
	pthread_mutex_unlock(&e->mu);
}

void elector_events_stop(struct elector_events *e, int released)
{
	if (e == NULL)
		return;
	if (e->led_at_shutdown)
		e->record(e->ev,
		          released ? ELECTOR_K8SEVENT_RELEASED
		                   : ELECTOR_K8SEVENT_LOST,
		          e->term);
	e->stop(e->ev);
	pthread_mutex_destroy(&e->mu);
	dlclose(e->module);
	free(e);
}
