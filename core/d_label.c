/* --label-pod worker thread (see d_label.h). */
#include "d_label.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlfcn.h>

#include "elector/elector.h"
#include "loader.h"
#include "log.h"
#include "podlabel.h"

/* The daemon does not link libcurl (it would cost every idle follower
 * several MiB of mapped TLS libraries); the PATCH lives in a module loaded
 * only when --label-pod is given. */
#define PODLABEL_MODULE "ext/podlabel.so"
typedef int (*podlabel_set_fn)(const char *role, char *err, size_t errlen);

/* Delay before retrying a failed patch. */
#define RETRY_MS 5000

struct elector_label {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *want;    /* static string: "leader" / "follower" */
	const char *applied; /* NULL until a patch succeeded */
	int stopping;
	char last_err[256];
	void *module;
	podlabel_set_fn set;
};

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* One patch attempt, without the lock. Returns 1 on success. */
static int apply(struct elector_label *l, const char *role)
{
	char err[256] = "";
	int rc = l->set(role, err, sizeof err);
	pthread_mutex_lock(&l->mu);
	if (rc == ELECTOR_OK) {
		l->applied = role;
		l->last_err[0] = '\0';
	} else if (strcmp(err, l->last_err) != 0) {
		snprintf(l->last_err, sizeof l->last_err, "%s", err);
		pthread_mutex_unlock(&l->mu);
		LOG_WARN("--label-pod: %s; retrying every %ds", err,
		         RETRY_MS / 1000);
		return 0;
	}
	pthread_mutex_unlock(&l->mu);
	if (rc == ELECTOR_OK)
		LOG_INFO("labelled this pod %s=%s", ELECTOR_PODLABEL_KEY, role);
	return rc == ELECTOR_OK;
}

static void *worker(void *arg)
{
	struct elector_label *l = arg;
	int failed = 0;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stopping && l->want == l->applied) {
			pthread_cond_wait(&l->cv, &l->mu);
			failed = 0;
		}
		if (failed && !l->stopping) {
			/* back off, but wake up at once for a new role or a
			 * stop */
			const char *was = l->want;
			struct timespec ts;
			deadline_in(&ts, RETRY_MS);
			while (!l->stopping && l->want == was &&
			       pthread_cond_timedwait(&l->cv, &l->mu, &ts) !=
			           ETIMEDOUT)
				;
		}
		if (l->stopping)
			break;
		const char *role = l->want;
		pthread_mutex_unlock(&l->mu);
		failed = !apply(l, role);
		pthread_mutex_lock(&l->mu);
	}
	const char *role = l->want != l->applied ? l->want : NULL;
	pthread_mutex_unlock(&l->mu);
	if (role != NULL)
		apply(l, role); /* the last word before exit, bounded by the
		                   timeout */
	return NULL;
}

int elector_label_start(const char *plugin_dir, struct elector_label **out)
{
	char err[512];
	struct elector_label *l = calloc(1, sizeof *l);
	if (l == NULL) {
		LOG_ERROR("--label-pod: out of memory");
		return -1;
	}
	if (elector_module_open(plugin_dir, PODLABEL_MODULE, &l->module, err,
	                        sizeof err) != ELECTOR_OK) {
		LOG_ERROR("--label-pod: %s", err);
		free(l);
		return -1;
	}
	*(void **)(&l->set) = dlsym(l->module, "elector_podlabel_set");
	if (l->set == NULL) {
		LOG_ERROR("--label-pod: %s has no elector_podlabel_set",
		          PODLABEL_MODULE);
		dlclose(l->module);
		free(l);
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->want = "follower";
	int rc = pthread_create(&l->thread, NULL, worker, l);
	if (rc != 0) {
		LOG_ERROR("--label-pod: cannot start the worker thread: %s",
		          strerror(rc));
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		dlclose(l->module);
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void elector_label_set(struct elector_label *l, const char *role)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->want = strcmp(role, "leader") == 0 ? "leader" : "follower";
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void elector_label_stop(struct elector_label *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	dlclose(l->module);
	free(l);
}
