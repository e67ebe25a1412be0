/*
 * Prometheus metrics of one elector: backend request histograms and error
 * counters (recorded by the engine thread), leadership gauges (rendered from
 * a status snapshot), and process-wide backend gauges set by plugins through
 * host->gauge_set. All functions are thread-safe.
 */
#ifndef ELECTOR_CORE_METRICS_H
#define ELECTOR_CORE_METRICS_H

#include <stddef.h>

#include "elector/elector.h"

enum elector_metrics_op {
	ELECTOR_OP_GET = 0,
	ELECTOR_OP_CREATE,
	ELECTOR_OP_UPDATE,
	ELECTOR_OP_WATCH,
	ELECTOR_OP_COUNT
};

struct elector_metrics;

/* NULL on out of memory. Freed with elector_metrics_free. */
struct elector_metrics *elector_metrics_new(void);
void elector_metrics_free(struct elector_metrics *m);

/* Record one backend request: its op, status and duration. Watch calls are
 * counted for errors only (they block by design). */
void elector_metrics_observe(struct elector_metrics *m,
                             enum elector_metrics_op op, int status,
                             double seconds);
/* Count one leadership transition seen by this process. */
void elector_metrics_transition(struct elector_metrics *m);

/* Render the text format for this elector (see elector_metrics_write). */
int elector_metrics_render(struct elector_metrics *m, const char *election,
                           const struct elector_status_info *st, char *buf,
                           size_t cap, size_t *len);

/* Process-wide gauge elector_backend_<name>; name must match [a-z0-9_]+
 * (others are ignored). At most 16 gauges. */
void elector_metrics_gauge_set(const char *name, const char *help,
                               double value);

#endif
