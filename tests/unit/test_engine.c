/*
 * Engine rules of DESIGN §3, one test each, on a simulated clock.
 * Default timings: lease 15 s, renew deadline 10 s, retry period 2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sim.h"
#include "tap.h"

#define LD 15000
#define RD 10000
#define RP 2000
#define YEAR_US (365LL * 24 * 3600 * 1000000)

static int safe(struct sim *s, const char *what)
{
	return ok(
	    s->two_leaders == 0 && s->two_cb_leaders == 0 &&
	        s->term_regressions == 0,
	    "%s: never two leaders, terms only grow (violations %d/%d/%d)",
	    what, s->two_leaders, s->two_cb_leaders, s->term_regressions);
}

static int has_event(const struct sim_node *n, const char *ev)
{
	int i;
	for (i = 0; i < n->n_events; i++)
		if (strcmp(n->events[i], ev) == 0)
			return 1;
	return 0;
}

static void test_first_acquire_and_steady_renew(void)
{
	struct sim s;
	uint64_t gets, updates;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	is_int(sim_leader(&s), 0, "a lone node creates the record and leads");
	is_int(s.nodes[0].term, 1, "the first term is 1");
	ok(s.store.rec.lease_duration_seconds == 15 &&
	       strcmp(s.store.rec.holder_identity, "a") == 0 &&
	       (s.store.rec.flags & ELECTOR_REC_HAS_ACQUIRE_TIME),
	   "record names a, 15 s, with acquireTime");
	ok(s.nodes[0].n_events >= 2 &&
	       strcmp(s.nodes[0].events[0], "new_leader:a") == 0 &&
	       strcmp(s.nodes[0].events[1], "started") == 0,
	   "callbacks: new_leader(a) then started");
	gets = s.store.calls[MEM_GET];
	updates = s.store.calls[MEM_UPDATE];
	sim_run_for(&s, 60000);
	is_int((long long)(s.store.calls[MEM_GET] - gets), 0,
	       "steady-state renew reads nothing");
	ok(s.store.calls[MEM_UPDATE] - updates >= 29 &&
	       s.store.calls[MEM_UPDATE] - updates <= 31,
	   "one write per retry period (%llu in 60 s)",
	   (unsigned long long)(s.store.calls[MEM_UPDATE] - updates));
	is_int(sim_leader(&s), 0, "still leading after a minute");
	is_int(s.nodes[0].term, 1, "renewals keep the term");
	safe(&s, "steady renew");
	sim_free(&s);
}

static void test_three_nodes_one_leader(int watch)
{
	struct sim s;
	int i, l, agree = 1;
	sim_init(&s, watch, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_add(&s, "b", 0);
	sim_add(&s, "c", 0);
	sim_run_for(&s, 30000);
	l = sim_leader(&s);
	ok(l >= 0, "%s: exactly one of three leads", watch ? "watch" : "poll");
	for (i = 0; i < 3 && l >= 0; i++) {
		struct elector_status_info st;
		elector_engine_status(s.nodes[i].e, &st);
		if (strcmp(st.leader, s.nodes[l].id) != 0)
			agree = 0;
	}
	ok(agree, "all three report the same leader");
	safe(&s, watch ? "three nodes (watch)" : "three nodes (poll)");
	sim_free(&s);
}

/* Run until the leader changes; returns the time it took, -1 if never. */
static int64_t time_to_new_leader(struct sim *s, int old, int64_t limit)
{
	int64_t t0 = sim_now(s), t;
	for (t = 0; t <= limit; t += 1) {
		int l;
		sim_run_until(s, t0 + t);
		l = sim_leader(s);
		if (l >= 0 && l != old)
			return sim_now(s) - t0;
	}
	return -1;
}

static void test_crash_failover(int watch)
{
	struct sim s;
	int64_t last_write, took;
	int old;
	sim_init(&s, watch, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 100);
	sim_add(&s, "b", 0);
	sim_add(&s, "c", 0);
	sim_run_for(&s, 5000);
	old = sim_leader(&s);
	s.nodes[old].state = NODE_CRASHED;
	/* The last renew happened at most one retry period ago. */
	last_write = sim_now(&s);
	took = time_to_new_leader(&s, old, 40000);
	ok(took > 0, "%s: a new leader after the crash",
	   watch ? "watch" : "poll");
	ok(took >= LD - RP - 1,
	   "nobody takes over before lease_duration since the last change "
	   "(%lld ms)",
	   (long long)took);
	ok(took <= LD + (watch ? 10 : RP * 12 / 10 + 10),
	   "takeover within lease_duration%s (%lld ms)",
	   watch ? " exactly (expiry timer)" : " + one jittered poll",
	   (long long)took);
	(void)last_write;
	safe(&s, "crash failover");
	sim_free(&s);
}

static void test_graceful_release(int watch)
{
	struct sim s;
	int old, l;
	sim_init(&s, watch, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 100);
	sim_add(&s, "b", 0);
	sim_add(&s, "c", 0);
	sim_run_for(&s, 5000);
	old = sim_leader(&s);
	is_int(sim_stop(&s, old), ELECTOR_OK, "leader releases on stop");
	ok(s.nodes[old].n_stopped == 1, "stopped_leading fired before release");
	ok(s.store.rec.holder_identity[0] == '\0' ||
	       strcmp(s.store.rec.holder_identity, s.nodes[old].id) != 0,
	   "released record no longer names the old leader");
	if (watch) {
		sim_run_for(&s, 0);
		l = sim_leader(&s);
		ok(l >= 0 && l != old,
		   "watch: a follower takes over at the same instant");
	} else {
		int64_t took = time_to_new_leader(&s, old, 10000);
		ok(took >= 0 && took <= RP * 12 / 10 + 10,
		   "poll: a follower takes over within one jittered poll (%lld "
		   "ms)",
		   (long long)took);
	}
	safe(&s, "graceful release");
	sim_free(&s);
}

static void test_release_record_shape(void)
{
	struct sim s;
	int64_t term;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 5000);
	term = s.store.rec.leader_transitions;
	sim_stop(&s, 0);
	ok(s.store.rec.holder_identity[0] == '\0' &&
	       s.store.rec.lease_duration_seconds == 1 &&
	       s.store.rec.leader_transitions == term &&
	       s.store.rec.acquire_time_us == s.store.rec.renew_time_us,
	   "release writes holder \"\", 1 s, transitions unchanged, "
	   "acquire = renew time");
	sim_free(&s);
}

static void test_step_down_at_renew_deadline(void)
{
	struct sim s;
	int64_t last_ok, stopped;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_add(&s, "b", 0);
	sim_run_for(&s, 5000);
	/* Align just after a successful renew, then fail every write. */
	{
		uint64_t u = s.store.calls[MEM_UPDATE];
		while (s.store.calls[MEM_UPDATE] == u)
			sim_run_for(&s, 1);
	}
	last_ok = sim_now(&s);
	s.store.fault[MEM_UPDATE] =
	    (struct mem_fault){-1, ELECTOR_TRANSIENT, 0, 0};
	s.store.fault[MEM_GET] =
	    (struct mem_fault){-1, ELECTOR_TRANSIENT, 0, 0};
	sim_run_for(&s, RD + 100);
	ok(s.nodes[0].n_stopped == 1 || s.nodes[1].n_stopped == 1,
	   "the leader stepped down while the store failed");
	stopped = s.nodes[0].n_stopped ? s.nodes[0].stopped_at
	                               : s.nodes[1].stopped_at;
	ok(stopped - last_ok <= RD + 1 && stopped - last_ok >= RD - RP - 1,
	   "at renew_deadline after the last successful renew began (%lld ms)",
	   (long long)(stopped - last_ok));
	is_int(sim_leader(&s), -1, "nobody leads while the store is down");
	s.store.fault[MEM_UPDATE].remaining = 0;
	s.store.fault[MEM_GET].remaining = 0;
	sim_run_for(&s, LD + RP * 2);
	ok(sim_leader(&s) >= 0, "a leader again once the store answers");
	safe(&s, "store outage");
	sim_free(&s);
}

static void test_undecided_conflict_steps_down_on_time(void)
{
	struct sim s;
	int64_t last_ok;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 3000);
	{
		uint64_t u = s.store.calls[MEM_UPDATE];
		while (s.store.calls[MEM_UPDATE] == u)
			sim_run_for(&s, 1);
	}
	last_ok = sim_now(&s);
	/* Renews conflict and the reads that should explain why fail. */
	s.store.fault[MEM_UPDATE] = (struct mem_fault){-1, ELECTOR_CONFLICT, 0, 0};
	s.store.fault[MEM_GET] = (struct mem_fault){-1, ELECTOR_TRANSIENT, 0, 0};
	sim_run_for(&s, RD + 1000);
	ok(s.nodes[0].n_stopped == 1 &&
	       s.nodes[0].stopped_at - last_ok <= RD + 1,
	   "undecided conflicts: stopped_leading exactly at renew_deadline "
	   "(%lld ms after the last good renew began)",
	   (long long)(s.nodes[0].stopped_at - last_ok));
	sim_free(&s);
}

static void test_slow_renew_past_deadline(void)
{
	struct sim s;
	int64_t term1;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 3000);
	term1 = s.nodes[0].term;
	/* Every write takes longer than the renew deadline but succeeds. */
	s.store.fault[MEM_UPDATE] =
	    (struct mem_fault){1, ELECTOR_OK, RD + 500, 0};
	sim_run_for(&s, RP * 2);
	ok(s.nodes[0].n_stopped >= 1,
	   "a renew that completes after renew_deadline ends the term");
	sim_run_for(&s, RP * 2);
	ok(sim_leader(&s) == 0 && s.nodes[0].term > term1,
	   "then a new term on our own version (term %lld > %lld)",
	   (long long)s.nodes[0].term, (long long)term1);
	safe(&s, "slow renew");
	sim_free(&s);
}

static void test_conflict_steps_down_at_once(void)
{
	struct sim s;
	struct elector_record r;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 3000);
	r = s.store.rec;
	snprintf(r.holder_identity, sizeof r.holder_identity, "intruder");
	r.leader_transitions++;
	mem_store_put(&s.store, &r);
	sim_run_for(&s, RP + 10);
	ok(s.nodes[0].n_stopped == 1,
	   "a renew that finds another holder steps down at once");
	ok(s.nodes[0].stopped_at - 3000 - 1000000 <= RP * 2,
	   "within one retry period, not at the deadline");
	safe(&s, "conflict");
	sim_free(&s);
}

static void test_lost_answer_adopted(void)
{
	struct sim s;
	int64_t term;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 3000);
	term = s.nodes[0].term;
	/* The write lands but the answer is lost. */
	s.store.fault[MEM_UPDATE] =
	    (struct mem_fault){1, ELECTOR_TRANSIENT, 0, 1};
	sim_run_for(&s, RP * 3);
	ok(sim_leader(&s) == 0 && s.nodes[0].n_stopped == 0,
	   "a renew whose answer was lost is recognised as ours");
	is_int(s.nodes[0].term, term, "and the term is unchanged");
	sim_free(&s);
}

static void test_own_identity_not_adopted(void)
{
	struct sim s;
	struct elector_record r;
	int64_t took;
	sim_init(&s, 0, LD, RD, RP);
	memset(&r, 0, sizeof r);
	snprintf(r.holder_identity, sizeof r.holder_identity, "a");
	r.lease_duration_seconds = 15;
	r.leader_transitions = 7;
	mem_store_put(&s.store, &r);
	sim_add(&s, "a", 0);
	took = time_to_new_leader(&s, -1, 30000);
	ok(took >= LD,
	   "a valid lease naming us from an earlier run is not "
	   "adopted: we wait for expiry (%lld ms)",
	   (long long)took);
	is_int(s.nodes[0].term, 8, "and then take it with a new term");
	sim_free(&s);
}

static void test_empty_holder_is_free(void)
{
	struct sim s;
	struct elector_record r;
	memset(&r, 0, sizeof r);
	r.lease_duration_seconds = 3600;
	r.leader_transitions = 41;
	sim_init(&s, 0, LD, RD, RP);
	mem_store_put(&s.store, &r);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 1);
	ok(sim_leader(&s) == 0, "an empty holder is taken at once despite a "
	                        "1 h lease duration");
	is_int(s.nodes[0].term, 42, "term = leaderTransitions + 1");
	sim_free(&s);
}

static void test_clock_offsets_ignored(void)
{
	struct sim s;
	int old;
	int64_t took;
	sim_init(&s, 0, LD, RD, RP);
	/* a's clock is a year fast, b's a year slow, c's 20 years slow. */
	sim_add(&s, "a", YEAR_US);
	sim_run_for(&s, 10);
	sim_add(&s, "b", -YEAR_US);
	sim_add(&s, "c", -20 * YEAR_US);
	sim_run_for(&s, 30000);
	old = sim_leader(&s);
	is_int(old, 0, "the first node leads whatever its clock says");
	s.nodes[old].state = NODE_CRASHED;
	took = time_to_new_leader(&s, old, 40000);
	ok(took >= LD - RP - 1 && took <= LD + RP * 12 / 10 + 10,
	   "takeover after lease_duration of observed time, not record "
	   "timestamps (%lld ms)",
	   (long long)took);
	safe(&s, "clock offsets");
	sim_free(&s);
}

static void test_future_timestamps_do_not_block(void)
{
	struct sim s;
	struct elector_record r;
	int64_t took;
	memset(&r, 0, sizeof r);
	snprintf(r.holder_identity, sizeof r.holder_identity, "ghost");
	r.lease_duration_seconds = 15;
	r.flags = ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME;
	r.acquire_time_us = r.renew_time_us = 4102444800000000LL; /* 2100 */
	sim_init(&s, 0, LD, RD, RP);
	mem_store_put(&s.store, &r);
	sim_add(&s, "a", 0);
	took = time_to_new_leader(&s, -1, 60000);
	ok(took >= LD && took <= LD + RP * 12 / 10 + 10,
	   "a dead holder with renewTime in 2100 expires after lease_duration "
	   "(%lld ms)",
	   (long long)took);
	sim_free(&s);
}

static void test_paused_leader(void)
{
	struct sim s;
	int old;
	sim_init(&s, 1, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	sim_add(&s, "b", 0);
	sim_add(&s, "c", 0);
	sim_run_for(&s, 5000);
	old = sim_leader(&s);
	/* SIGSTOP: the process keeps its view; its leadership must lapse. */
	s.nodes[old].state = NODE_PAUSED;
	sim_run_for(&s, LD + RP * 2);
	ok(sim_leader(&s) >= 0 && sim_leader(&s) != old,
	   "a paused leader is replaced");
	s.nodes[old].state = NODE_RUNNING;
	s.nodes[old].wake_at = sim_now(&s);
	sim_run_for(&s, RP * 3);
	ok(s.nodes[old].n_stopped == 1, "the resumed old leader steps down");
	is_int(sim_leader(&s) == old ? 1 : 0, 0, "and does not lead again");
	safe(&s, "pause/resume");
	sim_free(&s);
}

static void test_poll_jitter(void)
{
	struct sim s;
	uint64_t g0, gets;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	sim_add(&s, "b", 0);
	sim_run_for(&s, 100);
	g0 = s.store.calls[MEM_GET];
	sim_run_for(&s, 60000);
	gets = s.store.calls[MEM_GET] - g0;
	ok(gets >= 60000 / (RP * 12 / 10) - 1 && gets <= 60000 / RP + 1,
	   "a polling follower reads every retry_period x [1, 1.2) "
	   "(%llu reads in 60 s)",
	   (unsigned long long)gets);
	sim_free(&s);
}

static void test_watch_follower_reads_nothing(void)
{
	struct sim s;
	uint64_t g0;
	sim_init(&s, 1, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	sim_add(&s, "b", 0);
	sim_run_for(&s, 100);
	g0 = s.store.calls[MEM_GET];
	sim_run_for(&s, 60000);
	is_int((long long)(s.store.calls[MEM_GET] - g0), 0,
	       "a watching follower sends no reads while the leader renews");
	sim_free(&s);
}

static void test_terms_grow_on_reacquire(void)
{
	struct sim s;
	int64_t t1;
	sim_init(&s, 0, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 1000);
	t1 = s.nodes[0].term;
	/* Outage long enough to step down, short enough that nobody else
	 * could take over; a comes back on its own version with a new term. */
	s.store.fault[MEM_UPDATE] =
	    (struct mem_fault){-1, ELECTOR_TRANSIENT, 0, 0};
	sim_run_for(&s, RD + 10);
	s.store.fault[MEM_UPDATE].remaining = 0;
	sim_run_for(&s, RP * 3);
	ok(sim_leader(&s) == 0 && s.nodes[0].term == t1 + 1,
	   "the same identity coming back gets a new term (%lld -> %lld)",
	   (long long)t1, (long long)s.nodes[0].term);
	safe(&s, "re-acquire");
	sim_free(&s);
}

static void test_corrupt_record_no_claim(void)
{
	struct sim s;
	struct elector_status_info st;
	sim_init(&s, 0, LD, RD, RP);
	s.store.fault[MEM_GET] = (struct mem_fault){-1, ELECTOR_CORRUPT, 0, 0};
	sim_add(&s, "a", 0);
	sim_run_for(&s, 30000);
	is_int(sim_leader(&s), -1, "a corrupt record is never a leader claim");
	ok(s.store.calls[MEM_UPDATE] == 0 && s.store.calls[MEM_CREATE] == 0,
	   "and nothing is written over it");
	elector_engine_status(s.nodes[0].e, &st);
	is_int(st.last_error, ELECTOR_CORRUPT, "status reports the corruption");
	s.store.fault[MEM_GET].remaining = 0;
	sim_run_for(&s, RP * 2);
	ok(sim_leader(&s) == 0, "recovers once the record is fixed");
	sim_free(&s);
}

static void test_preferred_holder_handover(void)
{
	struct sim s;
	struct elector_record r;
	sim_init(&s, 1, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	sim_add(&s, "b", 0);
	sim_run_for(&s, 3000);
	r = s.store.rec;
	snprintf(r.preferred_holder, sizeof r.preferred_holder, "b");
	mem_store_put(&s.store, &r);
	sim_run_for(&s, RP * 3);
	ok(sim_leader(&s) == 1, "preferredHolder asks the leader to hand over");
	ok(s.store.rec.preferred_holder[0] == '\0',
	   "the preferred holder clears the request when it takes over");
	safe(&s, "preferred holder");
	sim_free(&s);
}

static void test_new_leader_callbacks(void)
{
	struct sim s;
	sim_init(&s, 1, LD, RD, RP);
	sim_add(&s, "a", 0);
	sim_run_for(&s, 10);
	sim_add(&s, "b", 0);
	sim_run_for(&s, 3000);
	ok(has_event(&s.nodes[1], "new_leader:a") && s.nodes[1].n_started == 0,
	   "a follower learns the first leader it sees");
	sim_stop(&s, 0);
	sim_run_for(&s, 10);
	ok(has_event(&s.nodes[1], "new_leader:b") && s.nodes[1].n_started == 1,
	   "and its own leadership: new_leader(b) then started");
	sim_free(&s);
}

static void test_validate_rules(void)
{
	struct elector_config c;
	char err[256];
	elector_config_init(&c);
	c.election = "demo";
	c.identity = "me";
	is_int(elector_config_validate(&c, err, sizeof err), ELECTOR_OK,
	       "defaults are valid");
	c.lease_duration_ms = 10000;
	ok(elector_config_validate(&c, err, sizeof err) == ELECTOR_INVALID &&
	       strstr(err, "lease duration") && strstr(err, "renew deadline"),
	   "lease <= renew deadline refused: %s", err);
	elector_config_init(&c);
	c.election = "demo";
	c.identity = "me";
	c.retry_period_ms = 9000;
	ok(elector_config_validate(&c, err, sizeof err) == ELECTOR_INVALID &&
	       strstr(err, "1.2"),
	   "renew deadline <= 1.2 x retry period refused: %s", err);
	c.retry_period_ms = 0;
	ok(elector_config_validate(&c, err, sizeof err) == ELECTOR_INVALID &&
	       strstr(err, "greater than zero"),
	   "zero timing refused: %s", err);
	elector_config_init(&c);
	c.election = "Bad_Name";
	c.identity = "me";
	ok(elector_config_validate(&c, err, sizeof err) == ELECTOR_INVALID &&
	       strstr(err, "election name"),
	   "bad election name refused: %s", err);
	elector_config_init(&c);
	c.election = "demo";
	c.identity = "me";
	c.request_timeout_ms = 10000;
	ok(elector_config_validate(&c, err, sizeof err) == ELECTOR_INVALID &&
	       strstr(err, "request timeout"),
	   "request timeout >= renew deadline refused: %s", err);
}

/* Errors are logged once per change of state, not once per retry. */
static void test_error_logged_once(void)
{
	struct sim s;
	char path[] = "/tmp/elector-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), lines = 0;
	char buf[65536];
	ssize_t n;
	FILE *f;

	fflush(stderr);
	dup2(fd, 2);
	sim_init(&s, 0, LD, RD, RP);
	s.store.fault[MEM_GET] =
	    (struct mem_fault){-1, ELECTOR_TRANSIENT, 0, 0};
	sim_add(&s, "a", 0);
	sim_run_for(&s, 60000);
	s.store.fault[MEM_GET].remaining = 0;
	sim_run_for(&s, 5000);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	n = f ? (ssize_t)fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n > 0 ? n : 0] = '\0';
	if (f)
		fclose(f);
	for (char *p = buf; (p = strstr(p, "get failed")) != NULL; p++)
		lines++;
	ok(s.store.calls[MEM_GET] > 20, "the engine retried (%llu reads)",
	   (unsigned long long)s.store.calls[MEM_GET]);
	is_int(lines, 1, "but logged the failure once");
	ok(strstr(buf, "answering again") != NULL, "and logged the recovery");
	ok(strstr(buf, "attempting to acquire leader lease default/demo...") &&
	       strstr(buf, "successfully acquired lease default/demo"),
	   "stable klog messages present");
	unlink(path);
	close(fd);
	sim_free(&s);
}

int main(void)
{
	elector_log_setup(ELECTOR_LOG_INFO, ELECTOR_LOG_TEXT);
	test_first_acquire_and_steady_renew();
	test_three_nodes_one_leader(0);
	test_three_nodes_one_leader(1);
	test_crash_failover(0);
	test_crash_failover(1);
	test_graceful_release(0);
	test_graceful_release(1);
	test_release_record_shape();
	test_step_down_at_renew_deadline();
	test_slow_renew_past_deadline();
	test_undecided_conflict_steps_down_on_time();
	test_conflict_steps_down_at_once();
	test_lost_answer_adopted();
	test_own_identity_not_adopted();
	test_empty_holder_is_free();
	test_clock_offsets_ignored();
	test_future_timestamps_do_not_block();
	test_paused_leader();
	test_poll_jitter();
	test_watch_follower_reads_nothing();
	test_terms_grow_on_reacquire();
	test_corrupt_record_no_claim();
	test_preferred_holder_handover();
	test_new_leader_callbacks();
	test_validate_rules();
	test_error_logged_once();
	return done_testing();
}
