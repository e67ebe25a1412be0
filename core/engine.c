/*
 * The election engine (DESIGN §3).
 *
 * Safety rests on three facts: every write is a compare-and-swap on the
 * version last read or written; a follower measures a lease's age from when
 * *it* saw the record change (monotonic clock), never from the timestamps
 * inside the record; and a leader counts itself valid only until
 * start_of_last_successful_renew + renew_deadline < lease_duration, so it has
 * stopped before anyone else may start.
 *
 * A store can forget (restart empty, a deleted key, file or Lease, a
 * failover to a replica that missed the last writes). So a missing record is
 * a change observed now, not a vacancy: it is created only after it stayed
 * missing for a lease duration, and a record older than the newest term this
 * process has seen is never free at once. A valid leader that finds its
 * record missing or rolled back writes it again. Terms come from a
 * high-water mark of every leaderTransitions seen, so they never repeat while
 * this process lives.
 */
#include "engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "record.h"
#include "status.h"

/* After a watch failure, poll for this many retry periods before watching
 * again. */
#define WATCH_FALLBACK_PERIODS 5

struct elector_engine {
	/* configuration (immutable) */
	char *election, *namespace_, *identity;
	int64_t ld_ms, rd_ms, rp_ms, req_ms;
	int32_t ld_s;
	int release_on_stop;
	elector_new_leader_cb on_new_leader;
	elector_started_leading_cb on_started_leading;
	elector_stopped_leading_cb on_stopped_leading;
	void *userdata;
	const struct elector_backend_ops *ops;
	void *bstate;
	const struct elector_clock *clock;
	struct elector_metrics *metrics;
	char backend_desc[256];

	/* engine-thread state */
	int have_observed;
	struct elector_record obs_rec;
	struct elector_version obs_ver;
	int64_t obs_time;     /* mono ms when obs_ver was first seen */
	int absent;           /* the last read found no record */
	int64_t absent_since; /* mono ms when that absence was first seen */
	int64_t absent_wait;  /* how long it must last before we create */
	int64_t last_read;    /* mono ms of the last get that answered */
	int64_t term_hwm;     /* highest leaderTransitions seen or written */
	int need_read;
	int64_t next_renew;
	struct elector_record my_rec;  /* the record we last wrote */
	struct elector_version my_ver; /* its version ("" = none this run) */
	int64_t watch_broken_until;
	int announced_attempt;
	char reported_leader[ELECTOR_ID_MAX];
	int err_op, err_status; /* last logged error state; 0/OK = none */

	/* shared with elector_engine_status (under mu) */
	pthread_mutex_t mu;
	int leading;
	int64_t valid_until; /* leadership valid while now < valid_until */
	int64_t term;
	int64_t transitions_seen;
	int64_t busy_until; /* engine thread should be back by then */
	int last_error;
	char last_error_msg[256];
};

static int64_t now_ms(struct elector_engine *e)
{
	return e->clock->mono_ms(e->clock->ctx);
}

static int64_t wall_us(struct elector_engine *e)
{
	return e->clock->wall_us(e->clock->ctx);
}

/* retry_period x [1.0, 1.2) */
static int64_t jittered(struct elector_engine *e, int64_t base)
{
	uint32_t r = e->clock->random(e->clock->ctx) % 1000u;
	return base + base * (int64_t)r / 5000;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

struct elector_engine *
elector_engine_new(const struct elector_engine_config *cfg,
                   const struct elector_backend_ops *ops, void *bstate,
                   const struct elector_clock *clock,
                   struct elector_metrics *metrics)
{
	struct elector_engine *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->election = dup_or_empty(cfg->election);
	e->namespace_ = dup_or_empty(cfg->namespace_);
	e->identity = dup_or_empty(cfg->identity);
	if (!e->election || !e->namespace_ || !e->identity) {
		elector_engine_free(e);
		return NULL;
	}
	e->ld_ms = cfg->lease_duration_ms;
	e->rd_ms = cfg->renew_deadline_ms;
	e->rp_ms = cfg->retry_period_ms;
	e->req_ms = cfg->request_timeout_ms;
	/* The record holds whole seconds; round up so that others never wait
	 * less than our lease_duration. */
	e->ld_s = (int32_t)((cfg->lease_duration_ms + 999) / 1000);
	e->release_on_stop = cfg->release_on_stop;
	e->on_new_leader = cfg->on_new_leader;
	e->on_started_leading = cfg->on_started_leading;
	e->on_stopped_leading = cfg->on_stopped_leading;
	e->userdata = cfg->userdata;
	e->ops = ops;
	e->bstate = bstate;
	e->clock = clock;
	e->metrics = metrics;
	e->need_read = 1;
	if (ops->describe(bstate, e->backend_desc, sizeof e->backend_desc) !=
	    ELECTOR_OK)
		snprintf(e->backend_desc, sizeof e->backend_desc, "%s",
		         ops->name);
	pthread_mutex_init(&e->mu, NULL);
	return e;
}

void elector_engine_free(struct elector_engine *e)
{
	if (!e)
		return;
	free(e->election);
	free(e->namespace_);
	free(e->identity);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* ---- error reporting: once per change of state -------------------------- */

static const char *op_name(int op)
{
	static const char *const names[] = {"get", "create", "update", "watch"};
	return op >= 0 && op < ELECTOR_OP_COUNT ? names[op] : "?";
}

static void note_result(struct elector_engine *e, int op, int status,
                        const char *msg)
{
	int is_err = status != ELECTOR_OK && status != ELECTOR_NOT_FOUND &&
	             status != ELECTOR_EXISTS && status != ELECTOR_CONFLICT;

	pthread_mutex_lock(&e->mu);
	e->last_error = is_err ? status : ELECTOR_OK;
	if (is_err)
		snprintf(e->last_error_msg, sizeof e->last_error_msg, "%s",
		         msg && *msg ? msg : elector_strerror(status));
	else
		e->last_error_msg[0] = '\0';
	pthread_mutex_unlock(&e->mu);

	if (is_err) {
		if (e->err_status != status || e->err_op != op) {
			LOG_ERROR("lock store %s %s failed (%s): %s",
			          e->backend_desc, op_name(op),
			          elector_status_name(status),
			          msg && *msg ? msg : elector_strerror(status));
			e->err_status = status;
			e->err_op = op;
		}
	} else if (e->err_status != ELECTOR_OK) {
		LOG_INFO("lock store %s is answering again", e->backend_desc);
		e->err_status = ELECTOR_OK;
		e->err_op = 0;
	}
}

/* Bracket one store op with timing, metrics and health bookkeeping:
 *     struct call c; call_begin(e, &c); rc = ops->...; call_end(e, &c, op, rc,
 * err);
 */
struct call {
	struct timespec t0;
};

static void call_begin(struct elector_engine *e, struct call *c, char *err)
{
	int64_t now = now_ms(e);
	pthread_mutex_lock(&e->mu);
	e->busy_until = now + e->req_ms;
	pthread_mutex_unlock(&e->mu);
	err[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
}

static int call_end(struct elector_engine *e, const struct call *c,
                    enum elector_metrics_op op, int rc, const char *err)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elector_metrics_observe(e->metrics, op, rc,
	                        (double)(t1.tv_sec - c->t0.tv_sec) +
	                            (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9);
	note_result(e, op, rc, err);
	return rc;
}

/* ---- observation ------------------------------------------------------------
 */

static int record_expired(struct elector_engine *e, int64_t now)
{
	return e->obs_time + (int64_t)e->obs_rec.lease_duration_seconds * 1000 <
	       now;
}

/* The first instant the observed record may be taken over: its lease
 * duration after we saw it change, and at least our own for a record older
 * than a term we have seen (a store that forgot: see acquirable()). */
static int64_t expiry_instant(struct elector_engine *e)
{
	int64_t ld = (int64_t)e->obs_rec.lease_duration_seconds * 1000;
	if (e->obs_rec.leader_transitions < e->term_hwm && e->ld_ms > ld)
		ld = e->ld_ms;
	return e->obs_time + ld + 1;
}

static void report_leader(struct elector_engine *e, const char *holder)
{
	if (!holder[0] || strcmp(holder, e->reported_leader) == 0)
		return;
	snprintf(e->reported_leader, sizeof e->reported_leader, "%s", holder);
	LOG_INFO("new leader elected: %s", holder);
	pthread_mutex_lock(&e->mu);
	e->transitions_seen++;
	pthread_mutex_unlock(&e->mu);
	elector_metrics_transition(e->metrics);
	if (e->on_new_leader)
		e->on_new_leader(e->userdata, holder);
}

static void observe(struct elector_engine *e, const struct elector_record *rec,
                    const struct elector_version *ver, int64_t now)
{
	int changed = !e->have_observed || e->absent ||
	              strcmp(ver->v, e->obs_ver.v) != 0 ||
	              !elector_record_equal(rec, &e->obs_rec);
	if (rec->leader_transitions > e->term_hwm)
		e->term_hwm = rec->leader_transitions;
	if (changed) {
		pthread_mutex_lock(&e->mu);
		e->obs_rec = *rec;
		e->obs_ver = *ver;
		e->obs_time = now;
		e->have_observed = 1;
		e->absent = 0;
		if (!e->leading)
			e->term = rec->leader_transitions;
		pthread_mutex_unlock(&e->mu);
	}
	/* Our own identity in a record we did not write in this run is not a
	 * leader we can vouch for; anyone else's is. */
	if (rec->holder_identity[0] &&
	    strcmp(rec->holder_identity, e->identity) != 0)
		report_leader(e, rec->holder_identity);
}

/* The store holds no record. The first time in a row, that is a change
 * observed now: creating is safe only once it has stayed missing for the
 * longer of our lease duration and the vanished record's, so that a leader
 * which may still be valid has stopped (or written its record again) by
 * then. A process that has never seen a record follows the same rule from
 * its first read: a cold start waits one lease duration too. */
static void observe_absent(struct elector_engine *e, int64_t now)
{
	int64_t wait = e->ld_ms;
	/* Absence carries no version: it counts as unbroken only across reads
	 * at the polling pace (a jittered retry period plus one request).
	 * After a longer gap (this process was frozen, or reads failed) a
	 * record may have come and gone unseen, so the wait starts again. */
	if (e->absent && now - e->last_read <= e->rp_ms * 12 / 10 + e->req_ms) {
		e->last_read = now;
		return;
	}
	e->last_read = now;
	if (e->have_observed &&
	    (int64_t)e->obs_rec.lease_duration_seconds * 1000 > wait)
		wait = (int64_t)e->obs_rec.lease_duration_seconds * 1000;
	pthread_mutex_lock(&e->mu);
	e->absent = 1;
	e->absent_since = now;
	e->absent_wait = wait;
	pthread_mutex_unlock(&e->mu);
	if (e->have_observed)
		LOG_WARN("lease record %s/%s is gone from %s (the store forgot "
		         "it); creating it again in %lld ms unless it returns",
		         e->namespace_, e->election, e->backend_desc,
		         (long long)wait);
	else
		LOG_INFO("no lease record %s/%s in %s yet; creating it in "
		         "%lld ms unless one appears (a store that forgot a "
		         "live leader must not elect a second one)",
		         e->namespace_, e->election, e->backend_desc,
		         (long long)wait);
	e->reported_leader[0] = '\0';
}

static int absence_over(struct elector_engine *e, int64_t now)
{
	return e->absent_since + e->absent_wait < now;
}

/* ---- leadership -------------------------------------------------------------
 */

static void become_leader(struct elector_engine *e,
                          const struct elector_record *rec,
                          const struct elector_version *ver, int64_t t0)
{
	int64_t now = now_ms(e);
	e->my_rec = *rec;
	e->my_ver = *ver;
	e->next_renew = t0 + e->rp_ms;
	pthread_mutex_lock(&e->mu);
	e->absent = 0;
	e->leading = 1;
	e->valid_until = t0 + e->rd_ms;
	e->term = rec->leader_transitions;
	pthread_mutex_unlock(&e->mu);
	observe(e, rec, ver, now);
	LOG_INFO("successfully acquired lease %s/%s (term %lld)", e->namespace_,
	         e->election, (long long)rec->leader_transitions);
	report_leader(e, e->identity);
	if (e->on_started_leading)
		e->on_started_leading(e->userdata, rec->leader_transitions);
}

static void step_down(struct elector_engine *e, const char *why)
{
	int was;
	pthread_mutex_lock(&e->mu);
	was = e->leading;
	e->leading = 0;
	e->valid_until = 0;
	pthread_mutex_unlock(&e->mu);
	if (!was)
		return;
	LOG_INFO("stopped leading %s/%s: %s", e->namespace_, e->election, why);
	/* Someone else may lead next; let a later observation report it. */
	e->reported_leader[0] = '\0';
	e->need_read = 1;
	e->announced_attempt = 0;
	if (e->on_stopped_leading)
		e->on_stopped_leading(e->userdata);
}

static void fill_new_term(struct elector_engine *e, struct elector_record *rec,
                          const struct elector_record *prev)
{
	int64_t wall = wall_us(e);
	memset(rec, 0, sizeof *rec);
	snprintf(rec->holder_identity, sizeof rec->holder_identity, "%s",
	         e->identity);
	rec->lease_duration_seconds = e->ld_s;
	rec->flags = ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME;
	rec->acquire_time_us = wall;
	rec->renew_time_us = wall;
	/* Term 0 never names a leader: a new record starts at 1, and every
	 * acquisition (even by the same identity) adds one to the highest term
	 * this process has seen, so a store that forgot cannot make us hand out
	 * a term twice. */
	rec->leader_transitions =
	    (prev && prev->leader_transitions > e->term_hwm
	         ? prev->leader_transitions
	         : e->term_hwm) +
	    1;
	if (prev) {
		memcpy(rec->preferred_holder, prev->preferred_holder,
		       sizeof rec->preferred_holder);
		memcpy(rec->strategy, prev->strategy, sizeof rec->strategy);
		/* A handover request to us is fulfilled by taking over. */
		if (strcmp(rec->preferred_holder, e->identity) == 0)
			rec->preferred_holder[0] = '\0';
	}
}

static void announce_attempt(struct elector_engine *e)
{
	if (e->announced_attempt)
		return;
	e->announced_attempt = 1;
	LOG_INFO("attempting to acquire leader lease %s/%s...", e->namespace_,
	         e->election);
}

static void wait_now(struct elector_engine_wait *w, int64_t until)
{
	memset(w, 0, sizeof *w);
	w->until_ms = until;
}

/* Wait after a failed request: retry_period with jitter. */
static void wait_backoff(struct elector_engine *e,
                         struct elector_engine_wait *w)
{
	e->need_read = 1;
	wait_now(w, now_ms(e) + jittered(e, e->rp_ms));
}

/* Start a new term: create the record (prev NULL) or take over prev at the
 * observed version. Losing the race means someone else wrote first: read
 * again at once. */
static void claim(struct elector_engine *e, struct elector_engine_wait *w,
                  const struct elector_record *prev)
{
	struct elector_record rec;
	struct elector_version ver = {{0}};
	char err[512];
	struct call c;
	int64_t t0 = now_ms(e);
	int rc;

	if ((prev && prev->leader_transitions >= INT64_MAX - 1) ||
	    e->term_hwm >= INT64_MAX - 1) {
		note_result(e, ELECTOR_OP_UPDATE, ELECTOR_CORRUPT,
		            "leaderTransitions is at its maximum");
		wait_backoff(e, w);
		return;
	}
	fill_new_term(e, &rec, prev);
	call_begin(e, &c, err);
	if (prev)
		rc = call_end(e, &c, ELECTOR_OP_UPDATE,
		              e->ops->update(e->bstate, &rec, &e->obs_ver, &ver,
		                             err, sizeof err),
		              err);
	else
		rc = call_end(
		    e, &c, ELECTOR_OP_CREATE,
		    e->ops->create(e->bstate, &rec, &ver, err, sizeof err),
		    err);
	if (rc == ELECTOR_OK) {
		e->need_read = 0;
		become_leader(e, &rec, &ver, t0);
		wait_now(w, e->next_renew);
		return;
	}
	if (rc == ELECTOR_EXISTS || rc == ELECTOR_CONFLICT ||
	    rc == ELECTOR_NOT_FOUND) {
		e->need_read = 1;
		wait_now(w, now_ms(e));
		return;
	}
	wait_backoff(e, w);
}

/* May we take the observed record over right now? */
static int acquirable(struct elector_engine *e, int64_t now)
{
	const struct elector_record *r = &e->obs_rec;
	/* A record older than a term we have seen is a store that forgot
	 * (restarted from an old snapshot, failed over to a lagging replica):
	 * whoever held the newer term may still be valid, so it is free only
	 * after a full lease (ours, and the record's if longer) of our
	 * observation, released or not. */
	if (r->leader_transitions < e->term_hwm)
		return now >= expiry_instant(e);
	/* A released lease is free at once, except that a handover to a
	 * preferred holder gives it the released record's duration (1 s) as a
	 * head start. */
	if (r->holder_identity[0] == '\0')
		return !r->preferred_holder[0] ||
		       strcmp(r->preferred_holder, e->identity) == 0 ||
		       record_expired(e, now);
	if (strcmp(r->holder_identity, e->identity) == 0 && e->my_ver.v[0] &&
	    strcmp(e->my_ver.v, e->obs_ver.v) == 0)
		return 1; /* our own write of this run: a new term is safe */
	return record_expired(e, now);
}

static void follower_step(struct elector_engine *e,
                          struct elector_engine_wait *w)
{
	int64_t now = now_ms(e);
	int64_t expiry, poll;

	announce_attempt(e);
	if (e->need_read || !e->have_observed) {
		struct elector_record rec;
		struct elector_version ver = {{0}};
		char err[512];
		struct call c;
		int rc;
		call_begin(e, &c, err);
		rc = call_end(
		    e, &c, ELECTOR_OP_GET,
		    e->ops->get(e->bstate, &rec, &ver, err, sizeof err), err);
		now = now_ms(e);
		if (rc == ELECTOR_NOT_FOUND) {
			observe_absent(e, now);
			if (absence_over(e, now)) {
				claim(e, w, NULL);
				return;
			}
			expiry = e->absent_since + e->absent_wait + 1;
			poll = now + jittered(e, e->rp_ms);
			e->need_read = 1;
			wait_now(w, poll < expiry ? poll : expiry);
			return;
		}
		if (rc != ELECTOR_OK) {
			wait_backoff(e, w);
			return;
		}
		e->need_read = 0;
		observe(e, &rec, &ver, now);
	}
	if (acquirable(e, now)) {
		claim(e, w, &e->obs_rec);
		return;
	}
	expiry = expiry_instant(e);
	if ((e->ops->capabilities & ELECTOR_CAP_WATCH) &&
	    now >= e->watch_broken_until) {
		wait_now(w, expiry);
		w->watch = 1;
		w->known = e->obs_ver;
		return;
	}
	poll = now + jittered(e, e->rp_ms);
	e->need_read = 1;
	wait_now(w, poll < expiry ? poll : expiry);
}

/* A write of our record that started at t0 succeeded: leadership is valid
 * until t0 + renew_deadline, unless it had already lapsed. */
static void renewed(struct elector_engine *e, struct elector_engine_wait *w,
                    const struct elector_record *rec,
                    const struct elector_version *ver, int64_t t0,
                    int64_t valid_until)
{
	int64_t now = now_ms(e);
	e->my_rec = *rec;
	e->my_ver = *ver;
	observe(e, rec, ver, now);
	if (now >= valid_until) {
		/* The write landed after our leadership had already lapsed: the
		 * term is over; the next step may start a new one on our own
		 * version. */
		step_down(e, "renew completed after renew_deadline");
		wait_now(w, now);
		return;
	}
	pthread_mutex_lock(&e->mu);
	e->valid_until = t0 + e->rd_ms;
	pthread_mutex_unlock(&e->mu);
	e->next_renew = t0 + e->rp_ms;
	wait_now(w, e->next_renew);
}

/* A renew that could not tell (transient error, unknown outcome): retry
 * soon, and be back at the deadline itself to step down on time. */
static void renew_later(struct elector_engine *e, struct elector_engine_wait *w,
                        int64_t t0, int64_t valid_until)
{
	int64_t now = now_ms(e);
	e->next_renew = t0 + e->rp_ms;
	if (e->next_renew < now + e->rp_ms / 4)
		e->next_renew = now + e->rp_ms / 4;
	wait_now(w, e->next_renew < valid_until ? e->next_renew : valid_until);
}

static int64_t leader_deadline(struct elector_engine *e)
{
	int64_t v;
	pthread_mutex_lock(&e->mu);
	v = e->valid_until;
	pthread_mutex_unlock(&e->mu);
	return v;
}

/* While our leadership is still valid, the store lost our record (based_on
 * NULL: nothing is stored) or went back to an older term (based_on: the
 * version it holds). Write our record again, same identity and term, by
 * compare-and-swap on what the store holds, so that followers see a live
 * lease again and nobody waits for a leader that never left. Losing the
 * race means someone else wrote: the next renew finds out whose it is. */
static void restore_own(struct elector_engine *e, struct elector_engine_wait *w,
                        const struct elector_version *based_on)
{
	struct elector_record rec = e->my_rec;
	struct elector_version ver = {{0}};
	char err[512];
	struct call c;
	int64_t t0 = now_ms(e), valid_until = leader_deadline(e);
	int rc;

	if (t0 >= valid_until) {
		step_down(e, "failed to renew within renew_deadline");
		wait_now(w, t0);
		return;
	}
	rec.renew_time_us = wall_us(e);
	rec.flags |= ELECTOR_REC_HAS_RENEW_TIME;
	rec.lease_duration_seconds = e->ld_s;
	call_begin(e, &c, err);
	if (based_on)
		rc = call_end(e, &c, ELECTOR_OP_UPDATE,
		              e->ops->update(e->bstate, &rec, based_on, &ver,
		                             err, sizeof err),
		              err);
	else
		rc = call_end(
		    e, &c, ELECTOR_OP_CREATE,
		    e->ops->create(e->bstate, &rec, &ver, err, sizeof err),
		    err);
	if (rc == ELECTOR_OK) {
		LOG_WARN("lease record %s/%s was %s in %s; wrote it again "
		         "(term %lld)",
		         e->namespace_, e->election,
		         based_on ? "rolled back to an older term" : "missing",
		         e->backend_desc, (long long)rec.leader_transitions);
		renewed(e, w, &rec, &ver, t0, valid_until);
		return;
	}
	if (rc == ELECTOR_EXISTS || rc == ELECTOR_CONFLICT ||
	    rc == ELECTOR_NOT_FOUND) {
		e->next_renew = now_ms(e);
		wait_now(w, e->next_renew);
		return;
	}
	renew_later(e, w, t0, valid_until);
}

/* A record of an older term than ours that is released or names us: the
 * store went back in time (our term is the newest anyone wrote). */
static int rolled_back(struct elector_engine *e,
                       const struct elector_record *rec)
{
	return rec->leader_transitions < e->my_rec.leader_transitions &&
	       (!rec->holder_identity[0] ||
	        strcmp(rec->holder_identity, e->identity) == 0);
}

/* The record changed under us while leading: is it still our term? */
static int still_ours(struct elector_engine *e,
                      const struct elector_record *rec)
{
	return strcmp(rec->holder_identity, e->identity) == 0 &&
	       rec->leader_transitions == e->my_rec.leader_transitions &&
	       rec->acquire_time_us == e->my_rec.acquire_time_us;
}

/* Write the released form of rec (ours) based on ver: holder "", 1 s,
 * transitions unchanged, acquire = renew = now. */
static int release_version(struct elector_engine *e,
                           const struct elector_record *rec,
                           const struct elector_version *ver)
{
	struct elector_record rel = *rec;
	struct elector_version nver = {{0}};
	int64_t wall = wall_us(e);
	char err[512];
	struct call c;
	int rc;

	rel.holder_identity[0] = '\0';
	rel.lease_duration_seconds = 1;
	rel.acquire_time_us = wall;
	rel.renew_time_us = wall;
	rel.flags |= ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME;
	call_begin(e, &c, err);
	rc = call_end(
	    e, &c, ELECTOR_OP_UPDATE,
	    e->ops->update(e->bstate, &rel, ver, &nver, err, sizeof err), err);
	if (rc == ELECTOR_OK) {
		LOG_INFO("released lease %s/%s", e->namespace_, e->election);
		e->my_ver.v[0] = '\0';
	}
	return rc;
}

static void renew_conflict(struct elector_engine *e,
                           struct elector_engine_wait *w)
{
	struct elector_record rec;
	struct elector_version ver = {{0}};
	char err[512];
	struct call c;
	int rc;
	call_begin(e, &c, err);
	rc = call_end(e, &c, ELECTOR_OP_GET,
	              e->ops->get(e->bstate, &rec, &ver, err, sizeof err), err);
	int64_t now = now_ms(e);

	if (rc == ELECTOR_OK && still_ours(e, &rec)) {
		/* Our own earlier write whose answer we missed, or an edit of
		 * other fields: continue from the stored version. */
		e->my_ver = ver;
		e->my_rec = rec;
		observe(e, &rec, &ver, now);
		if (rec.preferred_holder[0] &&
		    strcmp(rec.preferred_holder, e->identity) != 0) {
			step_down(e, "handing over to the preferred holder");
			release_version(e, &rec, &ver);
			e->need_read = 1;
			wait_now(w, now_ms(e));
			return;
		}
		e->next_renew = now;
		wait_now(w, now);
		return;
	}
	if (rc == ELECTOR_OK && rolled_back(e, &rec)) {
		restore_own(e, w, &ver);
		return;
	}
	if (rc == ELECTOR_OK) {
		char why[ELECTOR_ID_MAX + 64];
		observe(e, &rec, &ver, now);
		snprintf(why, sizeof why, "lease taken over by '%s'",
		         rec.holder_identity[0] ? rec.holder_identity
		                                : "(released)");
		step_down(e, why);
		wait_now(w, now);
		return;
	}
	if (rc == ELECTOR_NOT_FOUND) {
		restore_own(e, w, NULL);
		return;
	}
	/* Could not tell: keep trying until the deadline decides, and be back
	 * at the deadline itself to step down on time. */
	e->next_renew = now + jittered(e, e->rp_ms) / 4;
	pthread_mutex_lock(&e->mu);
	wait_now(w, e->next_renew < e->valid_until ? e->next_renew
	                                           : e->valid_until);
	pthread_mutex_unlock(&e->mu);
}

static void leader_step(struct elector_engine *e, struct elector_engine_wait *w)
{
	struct elector_record rec;
	struct elector_version ver = {{0}};
	char err[512];
	struct call c;
	int64_t now = now_ms(e), t0, valid_until = leader_deadline(e);
	int rc;

	if (now >= valid_until) {
		step_down(e, "failed to renew within renew_deadline");
		wait_now(w, now);
		return;
	}
	if (now < e->next_renew) {
		wait_now(w, e->next_renew < valid_until ? e->next_renew
		                                        : valid_until);
		return;
	}
	t0 = now;
	rec = e->my_rec;
	rec.renew_time_us = wall_us(e);
	rec.flags |= ELECTOR_REC_HAS_RENEW_TIME;
	rec.lease_duration_seconds = e->ld_s;
	call_begin(e, &c, err);
	rc = call_end(
	    e, &c, ELECTOR_OP_UPDATE,
	    e->ops->update(e->bstate, &rec, &e->my_ver, &ver, err, sizeof err),
	    err);
	now = now_ms(e);
	if (rc == ELECTOR_OK) {
		renewed(e, w, &rec, &ver, t0, valid_until);
		return;
	}
	if (rc == ELECTOR_CONFLICT) {
		renew_conflict(e, w);
		return;
	}
	if (rc == ELECTOR_NOT_FOUND) {
		restore_own(e, w, NULL);
		return;
	}
	renew_later(e, w, t0, valid_until);
}

void elector_engine_step(struct elector_engine *e,
                         struct elector_engine_wait *w)
{
	int leading;
	pthread_mutex_lock(&e->mu);
	leading = e->leading;
	pthread_mutex_unlock(&e->mu);
	if (leading)
		leader_step(e, w);
	else
		follower_step(e, w);
	pthread_mutex_lock(&e->mu);
	e->busy_until = w->until_ms;
	pthread_mutex_unlock(&e->mu);
}

void elector_engine_deliver(struct elector_engine *e,
                            const struct elector_record *rec,
                            const struct elector_version *ver)
{
	char err[512];
	if (elector_record_validate(rec, err, sizeof err) != ELECTOR_OK) {
		note_result(e, ELECTOR_OP_WATCH, ELECTOR_CORRUPT, err);
		e->need_read = 1;
		return;
	}
	e->need_read = 0;
	observe(e, rec, ver, now_ms(e));
}

void elector_engine_mark_stale(struct elector_engine *e)
{
	e->need_read = 1;
}

void elector_engine_watch_failed(struct elector_engine *e, int status,
                                 const char *msg)
{
	note_result(e, ELECTOR_OP_WATCH, status, msg);
	e->need_read = 1;
	e->watch_broken_until = now_ms(e) + WATCH_FALLBACK_PERIODS * e->rp_ms;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int elector_engine_shutdown(struct elector_engine *e)
{
	int64_t deadline;
	int rc = ELECTOR_OK;

	step_down(e, "leaving the election");
	if (!e->release_on_stop || !e->my_ver.v[0])
		return ELECTOR_OK;
	deadline = now_ms(e) + e->rd_ms;
	while (now_ms(e) < deadline) {
		struct elector_record rec;
		struct elector_version ver = {{0}};
		char err[512];
		struct call c;
		call_begin(e, &c, err);
		rc = call_end(
		    e, &c, ELECTOR_OP_GET,
		    e->ops->get(e->bstate, &rec, &ver, err, sizeof err), err);
		if (rc == ELECTOR_NOT_FOUND)
			return ELECTOR_OK;
		if (rc == ELECTOR_OK && !still_ours(e, &rec))
			return ELECTOR_OK; /* nothing of ours left to release */
		if (rc == ELECTOR_OK) {
			rc = release_version(e, &rec, &ver);
			if (rc == ELECTOR_OK)
				return ELECTOR_OK;
			if (rc == ELECTOR_CONFLICT || rc == ELECTOR_NOT_FOUND)
				continue;
		}
		sleep_ms(e->rp_ms / 4 > 0 ? e->rp_ms / 4 : 1);
	}
	LOG_WARN("could not release lease %s/%s before renew_deadline; others "
	         "will take over when it expires",
	         e->namespace_, e->election);
	return rc == ELECTOR_OK ? ELECTOR_TIMEOUT : rc;
}

void elector_engine_status(struct elector_engine *e,
                           struct elector_status_info *st)
{
	int64_t now = now_ms(e);
	int64_t grace = e->rp_ms * 2 > 5000 ? e->rp_ms * 2 : 5000;

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&e->mu);
	st->is_leader = e->leading && now < e->valid_until;
	if (st->is_leader) {
		snprintf(st->leader, sizeof st->leader, "%s", e->identity);
		st->valid_until_ms = e->valid_until;
		st->valid_ms_left = e->valid_until - now;
	} else if (e->have_observed && !e->absent &&
	           e->obs_rec.holder_identity[0] && !record_expired(e, now)) {
		snprintf(st->leader, sizeof st->leader, "%s",
		         e->obs_rec.holder_identity);
	}
	snprintf(st->identity, sizeof st->identity, "%s", e->identity);
	st->term = e->leading
	               ? e->my_rec.leader_transitions
	               : (e->have_observed ? e->obs_rec.leader_transitions : 0);
	st->observed_age_ms = e->absent          ? now - e->absent_since
	                      : e->have_observed ? now - e->obs_time
	                                         : -1;
	st->lease_duration_ms = e->ld_ms;
	st->transitions = e->transitions_seen;
	st->last_error = e->last_error;
	snprintf(st->last_error_msg, sizeof st->last_error_msg, "%s",
	         e->last_error_msg);
	snprintf(st->backend, sizeof st->backend, "%s", e->backend_desc);
	/* Wedged: a leader past its deadline that has not stepped down, or an
	 * engine thread overdue from a request or wait. */
	st->healthy = !(e->leading && now > e->valid_until + grace) &&
	              !(e->busy_until && now > e->busy_until + grace);
	pthread_mutex_unlock(&e->mu);
}
