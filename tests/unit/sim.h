/*
 * A discrete-event simulator for engine tests: several engines on one
 * in-memory store and one simulated clock. sim_run() always steps the engine
 * due first; a write wakes the engines waiting in a watch with the new
 * record, as a watch-capable backend would. After every step it checks the
 * safety invariants: at most one node with status.is_leader at any instant
 * (paused nodes included: their leadership must lapse on its own), at most
 * one node between started_leading and stopped_leading among running nodes,
 * terms that only grow, and no term held by two identities.
 *
 * The store can forget (sim_forget: the record vanishes, as a deleted key or
 * a store restarted empty would) or go back to an older record
 * (sim_snapshot/sim_restore: a failover to a replica that missed the last
 * writes).
 */
#ifndef ELECTOR_TEST_SIM_H
#define ELECTOR_TEST_SIM_H

#include "engine.h"
#include "mem_backend.h"

#define SIM_MAX_NODES 8
#define SIM_MAX_EVENTS 64
#define SIM_MAX_TERMS 4096

enum node_state { NODE_RUNNING = 0, NODE_PAUSED, NODE_CRASHED };

struct sim_node {
	char id[64];
	struct mem_handle h;
	struct elector_engine *e;
	struct elector_engine_wait w;
	enum node_state state;
	int64_t wake_at;
	int leading_cb;
	int64_t term;
	int64_t started_at, stopped_at;
	int n_started, n_stopped;
	int same_instant; /* steps in a row without the clock moving */
	char events[SIM_MAX_EVENTS][96];
	int n_events;
	struct sim *sim;
};

struct sim {
	struct mem_store store;
	struct sim_node nodes[SIM_MAX_NODES];
	int n;
	int64_t ld, rd, rp;
	int64_t max_term;
	int two_leaders; /* invariant violations */
	int two_cb_leaders;
	int term_regressions;
	int shared_terms;    /* a term started by two identities, the second
	                        of which had seen it */
	int spins;           /* an engine stepping at one instant forever */
	int forgotten_terms; /* a term started again by a node that never
	                        saw it (the store lost it first) */
	int64_t term_of[SIM_MAX_TERMS]; /* terms started, and by whom: */
	int owner_of[SIM_MAX_TERMS];
	int n_terms;
	long steps;
};

struct sim_snap {
	int exists;
	struct elector_record rec;
	uint64_t version;
};

void sim_init(struct sim *s, int watch, int64_t ld, int64_t rd, int64_t rp);
/* Add a node; wall_offset_us is its clock error. Returns its index. */
int sim_add(struct sim *s, const char *id, int64_t wall_offset_us);
/* Run until simulated time t (absolute ms) or until max_steps. */
void sim_run_until(struct sim *s, int64_t t);
void sim_run_for(struct sim *s, int64_t ms);
/* Index of the node whose status says is_leader, -1 if none, -2 if many. */
int sim_leader(struct sim *s);
/* Graceful stop of node i (stopped_leading + release), then crashed. */
int sim_stop(struct sim *s, int i);
void sim_free(struct sim *s);
int64_t sim_now(const struct sim *s);
/* Store a released record (term 0), as a previous run would have left: a
 * lone node then takes it at once instead of waiting out the cold-start
 * rule for a missing record. */
void sim_seed(struct sim *s);
/* The record vanishes; watchers are told the record changed. */
void sim_forget(struct sim *s);
void sim_snapshot(const struct sim *s, struct sim_snap *snap);
/* The store goes back to *snap (its record and version). */
void sim_restore(struct sim *s, const struct sim_snap *snap);
/* A paused node runs again, starting with its overdue step. */
void sim_resume(struct sim *s, int i);
/* Safety counters all zero. */
int sim_safe(const struct sim *s);

#endif
