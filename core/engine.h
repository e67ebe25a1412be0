/*
 * The election engine: DESIGN §3 as a step function.
 *
 * elector_engine_step() does whatever is due at the clock's current time
 * (at most one read and one write, or one renew) and says what to wait for
 * next: a time, and whether a backend watch may end the wait early. The
 * thread in elector.c drives it with real time; unit tests drive it with a
 * simulated clock and an in-memory store, several engines interleaved.
 *
 * All functions but elector_engine_status() must be called from one thread.
 */
#ifndef ELECTOR_CORE_ENGINE_H
#define ELECTOR_CORE_ENGINE_H

#include <stdint.h>

#include "clock.h"
#include "elector/elector.h"
#include "metrics.h"

struct elector_engine_config {
	const char *election;
	const char *namespace_;
	const char *identity;
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	int64_t request_timeout_ms;
	int release_on_stop;
	elector_new_leader_cb on_new_leader;
	elector_started_leading_cb on_started_leading;
	elector_stopped_leading_cb on_stopped_leading;
	void *userdata;
};

struct elector_engine_wait {
	int64_t until_ms;            /* monotonic time to step again */
	int watch;                   /* a watch on `known` may end it early */
	struct elector_version known;
};

struct elector_engine;

/* Strings are copied. ops/bstate/clock/metrics are borrowed and must outlive
 * the engine. Returns NULL on out of memory. */
struct elector_engine *
elector_engine_new(const struct elector_engine_config *cfg,
                   const struct elector_backend_ops *ops, void *bstate,
                   const struct elector_clock *clock,
                   struct elector_metrics *metrics);
void elector_engine_free(struct elector_engine *e);

/* Do what is due now; fill *w with the next wait. */
void elector_engine_step(struct elector_engine *e,
                         struct elector_engine_wait *w);

/* Results of a watch (see backend.h): a record delivered with it, a change
 * without a record (the next step reads), or a failed watch (poll for a
 * while). */
void elector_engine_deliver(struct elector_engine *e,
                            const struct elector_record *rec,
                            const struct elector_version *ver);
void elector_engine_mark_stale(struct elector_engine *e);
void elector_engine_watch_failed(struct elector_engine *e, int status,
                                 const char *msg);

/* Leave the election: stopped_leading if leading, then release (if
 * configured and the record still names our term), retrying conflicts until
 * renew_deadline. Returns ELECTOR_OK or the release's failure. */
int elector_engine_shutdown(struct elector_engine *e);

/* Thread-safe snapshot. */
void elector_engine_status(struct elector_engine *e,
                           struct elector_status_info *st);

#endif
