#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_event(struct sim_node *n, const char *what, const char *arg)
{
	if (n->n_events < SIM_MAX_EVENTS)
		snprintf(n->events[n->n_events++], sizeof n->events[0], "%s%s",
		         what, arg);
}

static void cb_new_leader(void *ud, const char *id)
{
	add_event(ud, "new_leader:", id);
}

static void cb_started(void *ud, int64_t term)
{
	struct sim_node *n = ud;
	struct sim *s = n->sim;
	int i;
	add_event(n, "started", "");
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "SIM %lld: %s started term %lld\n",
		        (long long)s->store.now_ms, n->id, (long long)term);
	n->leading_cb = 1;
	n->n_started++;
	n->term = term;
	n->started_at = s->store.now_ms;
	/* A node must never start a term at or below one it has seen. When
	 * it has seen every term (the store never lost one it had not yet
	 * read), that also means terms grow globally and belong to one
	 * identity; a term that the store lost before this node could read it
	 * may be handed out again (counted in forgotten_terms). */
	if (term <= n->h.seen_max)
		s->term_regressions++;
	else if (term <= s->max_term)
		s->forgotten_terms++;
	if (term > s->max_term)
		s->max_term = term;
	for (i = 0; i < s->n_terms; i++)
		if (s->term_of[i] == term &&
		    s->owner_of[i] != (int)(n - s->nodes) &&
		    term <= n->h.seen_max)
			s->shared_terms++;
	n->h.seen_max = term;
	if (s->n_terms < SIM_MAX_TERMS) {
		s->term_of[s->n_terms] = term;
		s->owner_of[s->n_terms++] = (int)(n - s->nodes);
	}
	for (i = 0; i < s->n; i++) {
		if (&s->nodes[i] != n && s->nodes[i].leading_cb &&
		    s->nodes[i].state == NODE_RUNNING) {
			s->two_cb_leaders++;
			if (getenv("SIM_DEBUG"))
				fprintf(
				    stderr,
				    "SIM: two callback leaders: %s and %s\n",
				    n->id, s->nodes[i].id);
		}
	}
}

static void cb_stopped(void *ud)
{
	struct sim_node *n = ud;
	add_event(n, "stopped", "");
	n->leading_cb = 0;
	n->n_stopped++;
	n->stopped_at = n->sim->store.now_ms;
}

void sim_init(struct sim *s, int watch, int64_t ld, int64_t rd, int64_t rp)
{
	memset(s, 0, sizeof *s);
	mem_store_init(&s->store, watch);
	s->ld = ld;
	s->rd = rd;
	s->rp = rp;
}

int64_t sim_now(const struct sim *s)
{
	return s->store.now_ms;
}

int sim_add(struct sim *s, const char *id, int64_t wall_offset_us)
{
	struct sim_node *n = &s->nodes[s->n];
	struct elector_engine_config cfg;

	memset(n, 0, sizeof *n);
	n->sim = s;
	snprintf(n->id, sizeof n->id, "%s", id);
	mem_handle_init(&n->h, &s->store, wall_offset_us);
	memset(&cfg, 0, sizeof cfg);
	cfg.election = "demo";
	cfg.namespace_ = "default";
	cfg.identity = n->id;
	cfg.lease_duration_ms = s->ld;
	cfg.renew_deadline_ms = s->rd;
	cfg.retry_period_ms = s->rp;
	cfg.request_timeout_ms = s->rp < s->rd / 2 ? s->rp : s->rd / 2;
	cfg.release_on_stop = 1;
	cfg.on_new_leader = cb_new_leader;
	cfg.on_started_leading = cb_started;
	cfg.on_stopped_leading = cb_stopped;
	cfg.userdata = n;
	n->e = elector_engine_new(
	    &cfg,
	    s->store.watch_capable ? &mem_backend_ops_watch : &mem_backend_ops,
	    &n->h, &n->h.clock, NULL);
	n->wake_at = s->store.now_ms;
	return s->n++;
}

static void check_invariants(struct sim *s)
{
	int i, leaders = 0;
	for (i = 0; i < s->n; i++) {
		struct elector_status_info st;
		if (s->nodes[i].state == NODE_CRASHED)
			continue;
		elector_engine_status(s->nodes[i].e, &st);
		if (st.is_leader)
			leaders++;
	}
	if (leaders > 1) {
		s->two_leaders++;
		if (getenv("SIM_DEBUG")) {
			fprintf(stderr,
			        "SIM: two leaders at %lld, store %s term %lld "
			        "exists %d:",
			        (long long)s->store.now_ms,
			        s->store.rec.holder_identity,
			        (long long)s->store.rec.leader_transitions,
			        s->store.exists);
			for (i = 0; i < s->n; i++) {
				struct elector_status_info st;
				elector_engine_status(s->nodes[i].e, &st);
				fprintf(stderr,
				        " [%s state %d leader %d term %lld]",
				        s->nodes[i].id, s->nodes[i].state,
				        st.is_leader, (long long)st.term);
			}
			fprintf(stderr, "\n");
		}
	}
}

/* Deliver a new store version to every node waiting in a watch; a vanished
 * record is a change without a record (the engine reads again). */
static void notify_watchers(struct sim *s, int except)
{
	struct elector_version v;
	int i;
	mem_store_version(&s->store, &v);
	for (i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		if (i == except || n->state != NODE_RUNNING || !n->w.watch)
			continue;
		if (s->store.exists && strcmp(n->w.known.v, v.v) == 0)
			continue;
		if (!s->store.exists && !n->w.known.v[0])
			continue;
		if (s->store.exists) {
			elector_engine_deliver(n->e, &s->store.rec, &v);
			if (s->store.rec.leader_transitions > n->h.seen_max)
				n->h.seen_max = s->store.rec.leader_transitions;
		} else {
			elector_engine_mark_stale(n->e);
		}
		n->w.watch = 0;
		n->wake_at = s->store.now_ms;
	}
}

static void step_node(struct sim *s, int best)
{
	uint64_t before;
	check_invariants(s);
	before = s->store.version;
	elector_engine_step(s->nodes[best].e, &s->nodes[best].w);
	s->steps++;
	if (getenv("SIM_TRACE")) {
		struct elector_status_info st;
		elector_engine_status(s->nodes[best].e, &st);
		fprintf(
		    stderr,
		    "SIM %lld: step %s -> wait %lld watch %d; leader '%s' term "
		    "%lld; store %s/%lld exists %d v%llu\n",
		    (long long)s->store.now_ms, s->nodes[best].id,
		    (long long)(s->nodes[best].w.until_ms - s->store.now_ms),
		    s->nodes[best].w.watch, st.leader, (long long)st.term,
		    s->store.rec.holder_identity,
		    (long long)s->store.rec.leader_transitions, s->store.exists,
		    (unsigned long long)s->store.version);
	}
	s->nodes[best].wake_at = s->nodes[best].w.until_ms;
	if (s->nodes[best].wake_at < s->store.now_ms)
		s->nodes[best].wake_at = s->store.now_ms;
	/* An engine that asks to run again at once, over and over, without
	 * the clock moving is spinning. */
	if (s->nodes[best].wake_at == s->store.now_ms) {
		if (++s->nodes[best].same_instant == 1000)
			s->spins++;
	} else {
		s->nodes[best].same_instant = 0;
	}
	check_invariants(s);
	if (s->store.watch_capable && s->store.version != before)
		notify_watchers(s, best);
}

void sim_run_until(struct sim *s, int64_t t)
{
	long guard = 0;
	for (;;) {
		int i, best = -1;
		for (i = 0; i < s->n; i++) {
			if (s->nodes[i].state != NODE_RUNNING)
				continue;
			if (best < 0 ||
			    s->nodes[i].wake_at < s->nodes[best].wake_at)
				best = i;
		}
		if (best < 0 || s->nodes[best].wake_at > t ||
		    ++guard > 200000) {
			if (s->store.now_ms < t)
				s->store.now_ms = t;
			check_invariants(s);
			return;
		}
		if (s->store.now_ms < s->nodes[best].wake_at)
			s->store.now_ms = s->nodes[best].wake_at;
		step_node(s, best);
	}
}

void sim_run_for(struct sim *s, int64_t ms)
{
	sim_run_until(s, s->store.now_ms + ms);
}

int sim_leader(struct sim *s)
{
	int i, found = -1;
	for (i = 0; i < s->n; i++) {
		struct elector_status_info st;
		if (s->nodes[i].state == NODE_CRASHED)
			continue;
		elector_engine_status(s->nodes[i].e, &st);
		if (st.is_leader) {
			if (found >= 0)
				return -2;
			found = i;
		}
	}
	return found;
}

int sim_stop(struct sim *s, int i)
{
	uint64_t before = s->store.version;
	int rc = elector_engine_shutdown(s->nodes[i].e);
	s->nodes[i].state = NODE_CRASHED;
	if (s->store.watch_capable && s->store.version != before)
		notify_watchers(s, i);
	return rc;
}

void sim_seed(struct sim *s)
{
	struct elector_record r;
	memset(&r, 0, sizeof r);
	r.lease_duration_seconds = 1;
	mem_store_put(&s->store, &r);
}

void sim_forget(struct sim *s)
{
	mem_store_forget(&s->store);
	if (s->store.watch_capable)
		notify_watchers(s, -1);
	check_invariants(s);
}

void sim_snapshot(const struct sim *s, struct sim_snap *snap)
{
	snap->exists = s->store.exists;
	snap->rec = s->store.rec;
	snap->version = s->store.version;
}

void sim_restore(struct sim *s, const struct sim_snap *snap)
{
	s->store.exists = snap->exists;
	s->store.rec = snap->rec;
	s->store.version = snap->version;
	if (s->store.watch_capable)
		notify_watchers(s, -1);
	check_invariants(s);
}

void sim_resume(struct sim *s, int i)
{
	s->nodes[i].state = NODE_RUNNING;
	s->nodes[i].wake_at = s->store.now_ms;
	/* A thawed process acts on its overdue timer first. */
	step_node(s, i);
}

int sim_safe(const struct sim *s)
{
	return s->two_leaders == 0 && s->two_cb_leaders == 0 &&
	       s->term_regressions == 0 && s->shared_terms == 0 &&
	       s->spins == 0;
}

void sim_free(struct sim *s)
{
	int i;
	for (i = 0; i < s->n; i++)
		elector_engine_free(s->nodes[i].e);
}
