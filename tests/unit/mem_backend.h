/*
 * An in-memory lock store for engine unit tests, with a simulated clock.
 *
 * One struct mem_store is the shared store; each engine gets its own
 * struct mem_handle (the backend "state"), with its own simulated wall-clock
 * offset. Faults are injected per store: the next N calls of an op fail with
 * a status, take simulated time, or apply the write but report TRANSIENT
 * (a lost answer).
 */
#ifndef ELECTOR_TEST_MEM_BACKEND_H
#define ELECTOR_TEST_MEM_BACKEND_H

#include <stdint.h>

#include "clock.h"
#include "elector/backend.h"

enum mem_op { MEM_GET = 0, MEM_CREATE, MEM_UPDATE, MEM_NOPS };

struct mem_fault {
	int remaining;    /* how many calls it applies to; -1 = forever */
	int status;       /* status to return (ELECTOR_OK: no failure) */
	int64_t delay_ms; /* simulated time the call takes */
	int apply_anyway; /* update/create: write, then return status */
};

struct mem_store {
	int64_t now_ms;       /* the simulated monotonic clock */
	int64_t wall_base_us; /* wall clock at now_ms == 0 */
	int exists;
	struct elector_record rec;
	uint64_t version;
	uint64_t vseq; /* versions are never reused, even after a restore */
	int64_t term_since; /* now_ms when the stored term last changed */
	int64_t put_at, prev_put_at; /* now_ms of the last two writes */
	uint64_t calls[MEM_NOPS];
	struct mem_fault fault[MEM_NOPS];
	int watch_capable;
	uint32_t rng;
};

struct mem_handle {
	struct mem_store *store;
	int64_t wall_offset_us; /* this node's clock error */
	int64_t seen_max;       /* highest leaderTransitions this node read */
	struct elector_clock clock;
};

void mem_store_init(struct mem_store *s, int watch_capable);
/* Fill h (backend state + clock) for one engine. */
void mem_handle_init(struct mem_handle *h, struct mem_store *s,
                     int64_t wall_offset_us);
/* Write a record directly (as another writer would), bumping the version. */
void mem_store_put(struct mem_store *s, const struct elector_record *rec);
void mem_store_version(const struct mem_store *s, struct elector_version *v);
/* The store forgets: the record vanishes (a deleted key or file, a store
 * restarted empty). Versions still never repeat. */
void mem_store_forget(struct mem_store *s);

/* The ops table; its watch() is never called by the simulator (it delivers
 * changes itself), so it only checks its arguments. */
extern const struct elector_backend_ops mem_backend_ops;
extern const struct elector_backend_ops mem_backend_ops_watch;

#endif
