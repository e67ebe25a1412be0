/*
 * Conformance cases "watch" and "wake" (backends with ELECTOR_CAP_WATCH).
 * The watcher runs on its own thread with its own store handle, as the
 * engine thread would; wake() is called from the main thread, as the ABI
 * allows.
 *
 * The ABI lets watch() return OK when the record only *may* have changed
 * (e.g. a backend's first watch after subscribing, which cannot know what
 * it missed): the core then re-reads. Such a "spurious" return (OK with
 * got = 0, or with the version already known) is tolerated up to
 * MAX_SPURIOUS times per wait and counted in the test names, but an
 * unchanged store must end up blocking until the timeout: a backend that
 * keeps returning would make the engine spin.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "record.h"

#define MAX_SPURIOUS 2

struct watcher {
	struct elector_store *s;
	struct elector_version known;
	int64_t timeout_ms;
	int64_t event_ms; /* set (atomically) by the main thread just before
	                     it writes or wakes; 0 before */
	/* results */
	int status, got, spurious;
	struct elector_record rec;
	struct elector_version ver;
	char err[512];
	int64_t returned_ms;
	pthread_t thread;
};

static int is_spurious(const struct watcher *w)
{
	return w->status == ELECTOR_OK &&
	       (!w->got || strcmp(w->ver.v, w->known.v) == 0);
}

/* Watch until something other than a spurious return before the main
 * thread's event, within one overall timeout. */
static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	int64_t deadline = conf_now_ms() + w->timeout_ms;
	w->spurious = 0;
	for (;;) {
		int64_t left = deadline - conf_now_ms();
		w->err[0] = '\0';
		w->got = 0;
		memset(&w->ver, 0, sizeof w->ver);
		w->status = w->s->ops->watch(
		    w->s->state, &w->known, left > 0 ? left : 0, &w->rec,
		    &w->ver, &w->got, w->err, sizeof w->err);
		w->returned_ms = conf_now_ms();
		if (!is_spurious(w) ||
		    __atomic_load_n(&w->event_ms, __ATOMIC_SEQ_CST) != 0 ||
		    w->spurious >= MAX_SPURIOUS || w->returned_ms >= deadline)
			break;
		w->spurious++;
	}
	return NULL;
}

static void mark_event(struct watcher *w)
{
	__atomic_store_n(&w->event_ms, conf_now_ms(), __ATOMIC_SEQ_CST);
}

/* Join with a bound: a watch that ignores its timeout leaves no safe way
 * to continue, so the program bails out. */
static void join_bounded(struct watcher *w, int64_t bound_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(bound_ms / 1000) + 1;
	if (pthread_timedjoin_np(w->thread, NULL, &ts) != 0) {
		CONF_OK(0, "watch() returned within %lld ms",
		        (long long)bound_ms);
		printf("Bail out! watch() hangs past its timeout\n");
		fflush(stdout);
		_exit(1);
	}
}

/* Watch on this thread when no event is coming. */
static int64_t watch_sync(struct watcher *w)
{
	int64_t t0 = conf_now_ms();
	w->event_ms = 0;
	watch_thread(w);
	return w->returned_ms - t0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void conf_case_watch(const struct conf *c)
{
	if (!(c->caps & ELECTOR_CAP_WATCH)) {
		conf_skip("watch: backend does not declare ELECTOR_CAP_WATCH");
		return;
	}
	struct elector_store *a = conf_open(c, "conformance-watcher");
	struct elector_store *b = conf_open(c, "conformance-writer");
	struct watcher w;
	memset(&w, 0, sizeof w);
	if (a == NULL || b == NULL)
		goto out;
	struct elector_record cur;
	struct elector_version v;
	char err[512];
	int rc = conf_ensure(b, &cur, &v, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;

	w.s = a;
	w.known = v;
	w.timeout_ms = 300;
	int64_t el = watch_sync(&w);
	CONF_OK(w.status == ELECTOR_TIMEOUT && el >= 250 &&
	            el <= 300 + c->slack_ms,
	        "watch on an unchanged store: TIMEOUT after ~300 ms (%s after "
	        "%lld ms, %d spurious %s)",
	        conf_status(w.status), (long long)el, w.spurious, w.err);

	enum { SAMPLES = 5 };
	int64_t lat[SAMPLES];
	int n_ok = 0, rec_ok = 1, spurious = 0;
	for (int i = 0; i < SAMPLES; i++) {
		w.known = v;
		w.timeout_ms = c->watch_bound_ms + 5000;
		w.event_ms = 0;
		if (pthread_create(&w.thread, NULL, watch_thread, &w) != 0) {
			CONF_OK(0, "start watcher thread");
			goto out;
		}
		conf_sleep_ms(200); /* let it block */
		struct elector_record r;
		struct elector_version nv;
		conf_record(&r, "conformance-writer",
		            cur.leader_transitions + 1 + i);
		mark_event(&w);
		int64_t t0 = conf_now_ms();
		rc = conf_update(b, &r, &v, &nv, err, sizeof err);
		join_bounded(&w, w.timeout_ms + c->slack_ms);
		spurious += w.spurious;
		if (rc != ELECTOR_OK) {
			CONF_OK(0, "writer update (%s %s)", conf_status(rc),
			        err);
			goto out;
		}
		lat[n_ok] = w.returned_ms - t0;
		if (w.status == ELECTOR_OK && lat[n_ok] <= c->watch_bound_ms)
			n_ok++;
		else
			conf_diag(
			    "sample %d: watch returned %s after %lld ms: %s", i,
			    conf_status(w.status), (long long)lat[n_ok], w.err);
		if (w.status == ELECTOR_OK && w.got &&
		    (!elector_record_equal(&w.rec, &r) ||
		     strcmp(w.ver.v, nv.v) != 0)) {
			conf_diag("sample %d: watch handed back a "
			          "record/version that "
			          "is not the one written (%s vs %s)",
			          i, w.ver.v, nv.v);
			rec_ok = 0;
		}
		v = nv;
	}
	CONF_OK(n_ok == SAMPLES,
	        "a blocked watch wakes with OK within %lld ms of "
	        "another handle's update (%d of %d, %d spurious)",
	        (long long)c->watch_bound_ms, n_ok, SAMPLES, spurious);
	CONF_OK(rec_ok, "a record handed back by watch is the one written");
	if (n_ok > 0) {
		qsort(lat, (size_t)n_ok, sizeof lat[0], cmp64);
		conf_diag(
		    "watch latency: min %lld ms, median %lld ms, max %lld ms",
		    (long long)lat[0], (long long)lat[n_ok / 2],
		    (long long)lat[n_ok - 1]);
	}
	/* Events of the writes just seen must not wake the next watch. */
	w.known = v;
	w.timeout_ms = 300;
	el = watch_sync(&w);
	CONF_OK(
	    w.status == ELECTOR_TIMEOUT && el >= 250,
	    "watch on the latest version: TIMEOUT, no stale wake-up (%s after "
	    "%lld ms, %d spurious %s)",
	    conf_status(w.status), (long long)el, w.spurious, w.err);
out:
	elector_store_close(b);
	elector_store_close(a);
}

void conf_case_wake(const struct conf *c)
{
	if (!(c->caps & ELECTOR_CAP_WATCH)) {
		conf_skip("wake: backend does not declare ELECTOR_CAP_WATCH");
		return;
	}
	struct elector_store *a = conf_open(c, "conformance-wake");
	struct watcher w;
	memset(&w, 0, sizeof w);
	if (a == NULL)
		return;
	struct elector_record cur;
	struct elector_version v;
	char err[512];
	int rc = conf_ensure(a, &cur, &v, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	w.s = a;
	w.known = v;
	w.timeout_ms = 10000;
	w.event_ms = 0;
	if (pthread_create(&w.thread, NULL, watch_thread, &w) != 0) {
		CONF_OK(0, "start watcher thread");
		goto out;
	}
	conf_sleep_ms(200);
	mark_event(&w);
	int64_t t0 = conf_now_ms();
	a->ops->wake(a->state);
	join_bounded(&w, w.timeout_ms + c->slack_ms);
	int64_t el = w.returned_ms - t0;
	CONF_OK(
	    w.status == ELECTOR_TIMEOUT && el >= 0 && el < 1000,
	    "wake() from another thread ends a blocked watch: TIMEOUT within "
	    "1 s (%s after %lld ms, %d spurious %s)",
	    conf_status(w.status), (long long)el, w.spurious, w.err);

	/* A wake() before watch(): the watch returns at once (TIMEOUT, or a
	 * spurious OK that the core would follow with a get). */
	a->ops->wake(a->state);
	t0 = conf_now_ms();
	w.err[0] = '\0';
	w.got = 0;
	w.status = a->ops->watch(a->state, &w.known, 5000, &w.rec, &w.ver,
	                         &w.got, w.err, sizeof w.err);
	el = conf_now_ms() - t0;
	CONF_OK(
	    (w.status == ELECTOR_TIMEOUT || is_spurious(&w)) && el < 1000,
	    "wake() before watch() makes it return at once (%s after %lld ms)",
	    conf_status(w.status), (long long)el);

	w.timeout_ms = 300;
	el = watch_sync(&w);
	CONF_OK(
	    w.status == ELECTOR_TIMEOUT && el >= 250,
	    "wakes are not sticky: a later watch waits (%s after %lld ms, %d "
	    "spurious)",
	    conf_status(w.status), (long long)el, w.spurious);
out:
	elector_store_close(a);
}
