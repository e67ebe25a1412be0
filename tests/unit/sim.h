/*
 * A discrete-event simulator for engine tests: several engines on one
 * in-memory store and one simulated clock. sim_run() always steps the engine
 * due first; a write wakes the engines waiting in a watch with the new
 * record, as a watch-capable backend would. After every step it checks the
 * safety invariants: at most one node with status.is_leader at any instant
 * (paused nodes included: their leadership must lapse on its own), at most
 * one node between started_leading and stopped_leading among running nodes,
 * and terms that only grow.
 */
#ifndef ELECTOR_TEST_SIM_H
#define ELECTOR_TEST_SIM_H

#include "engine.h"
#include "mem_backend.h"

#define SIM_MAX_NODES 8
#define SIM_MAX_EVENTS 64

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
	long steps;
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

#endif
