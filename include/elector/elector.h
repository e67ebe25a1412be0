/*
 * libelector — leader election for replicas spread over clusters.
 *
 * One struct elector takes part in one election held in a lock store reached
 * through a backend plugin (see backend.h). The engine runs on its own
 * thread; the application learns about leadership through callbacks and
 * through elector_status().
 *
 *     struct elector_config cfg;
 *     elector_config_init(&cfg);
 *     cfg.election = "demo";
 *     cfg.on_started_leading = start_work;   // must return quickly
 *     cfg.on_stopped_leading = stop_work;    // may block until work stopped
 *     struct elector *el;
 *     char err[256];
 *     if (elector_create(&cfg, &el, err, sizeof err) != ELECTOR_OK) ...
 *     elector_start(el);
 *     ...
 *     elector_stop(el);     // stops leader work, releases, joins
 *     elector_destroy(el);
 *
 * Status codes are enum elector_status from backend.h.
 */
#ifndef ELECTOR_H
#define ELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elector/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ELECTOR_VERSION_STRING "0.1.0"

/* Marks the exported API of libelector.so (built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define ELECTOR_API __attribute__((visibility("default")))
#else
#define ELECTOR_API
#endif

/* Defaults (client-go's): */
#define ELECTOR_DEFAULT_LEASE_DURATION_MS 15000
#define ELECTOR_DEFAULT_RENEW_DEADLINE_MS 10000
#define ELECTOR_DEFAULT_RETRY_PERIOD_MS 2000

/*
 * Callbacks. All are called from the engine thread, one at a time, in the
 * order the events happened: new_leader (every change of leader, including
 * the first one seen and ourselves), started_leading, stopped_leading.
 *
 * started_leading must return quickly (start work on another thread): the
 * engine does not renew while it runs.
 *
 * stopped_leading may block until leader-only work has stopped: the engine
 * releases the lease only after it returned. It is called as soon as the
 * engine thread learns of the loss; elector_status() reports is_leader=false
 * from the exact instant the leadership stopped being valid, even while the
 * engine thread is still inside a store request.
 */
typedef void (*elector_new_leader_cb)(void *userdata, const char *identity);
typedef void (*elector_started_leading_cb)(void *userdata, int64_t term);
typedef void (*elector_stopped_leading_cb)(void *userdata);

struct elector_config {
	const char *election;   /* required: lock name ([a-z0-9.-], <= 63) */
	const char *namespace_; /* default "default" */
	const char *identity;   /* required: unique per process */

	int64_t lease_duration_ms; /* default 15000 */
	int64_t renew_deadline_ms; /* default 10000 */
	int64_t retry_period_ms;   /* default 2000 */
	int64_t request_timeout_ms; /* 0: min(retry_period, renew_deadline/2) */

	const char *backend;    /* plugin name, default "file" */
	const char *const *backend_options; /* "key=value" strings */
	size_t n_backend_options;
	const char *plugin_dir; /* NULL: $ELECTOR_PLUGIN_DIR, else
	                           ../lib/elector beside the executable */
	bool release_on_stop;   /* default true */

	elector_new_leader_cb on_new_leader;           /* may be NULL */
	elector_started_leading_cb on_started_leading; /* may be NULL */
	elector_stopped_leading_cb on_stopped_leading; /* may be NULL */
	void *userdata;
};

/* Fill *cfg with the defaults above (strings NULL except namespace_,
 * backend "file", release_on_stop true). */
ELECTOR_API void elector_config_init(struct elector_config *cfg);

/*
 * Check the timings of cfg: all > 0, lease_duration > renew_deadline >
 * 1.2 x retry_period, request_timeout < renew_deadline. Returns ELECTOR_OK or
 * ELECTOR_INVALID with a message naming the rule broken.
 */
ELECTOR_API int elector_config_validate(const struct elector_config *cfg, char *err,
                            size_t errlen);

struct elector;

/*
 * Validate cfg, load the backend plugin and initialise it. cfg's strings are
 * copied; cfg may be freed afterwards. On success *out is owned by the caller
 * and freed with elector_destroy(). Returns ELECTOR_OK, ELECTOR_INVALID (bad
 * configuration, bad or missing plugin, bad backend option) or another status
 * from the backend's init; the reason is in err.
 */
ELECTOR_API int elector_create(const struct elector_config *cfg, struct elector **out,
                   char *err, size_t errlen);

/* Start the engine thread. Returns ELECTOR_OK or ELECTOR_ERROR. */
ELECTOR_API int elector_start(struct elector *el);

/*
 * Stop taking part: if leading, call stopped_leading, then release the lease
 * (when release_on_stop) retrying conflicts until renew_deadline; then join
 * the engine thread. Safe to call from any thread but a callback, and more
 * than once. Returns ELECTOR_OK, or the release's failure status.
 */
ELECTOR_API int elector_stop(struct elector *el);

/* Stop if needed and free everything. el may be NULL. */
ELECTOR_API void elector_destroy(struct elector *el);

/* A snapshot of the election as this process sees it. */
struct elector_status_info {
	bool is_leader;              /* leading and the leadership still valid */
	bool healthy;                /* engine not wedged (see /healthz) */
	char leader[ELECTOR_ID_MAX]; /* current valid holder, "" if none known */
	char identity[ELECTOR_ID_MAX];
	int64_t term;                /* our term while leading, else the
	                                holder's leaderTransitions */
	int64_t observed_age_ms;     /* since the record last changed, -1 if
	                                never read */
	int64_t lease_duration_ms;
	int64_t transitions;         /* leadership changes seen by this process */
	int last_error;              /* status of the last store op */
	char last_error_msg[256];
	char backend[256];           /* backend description */
	int64_t valid_until_ms;      /* while is_leader: the leadership deadline
	                                on CLOCK_BOOTTIME in ms (comparable
	                                across processes of one boot); else 0 */
	int64_t valid_ms_left;       /* while is_leader: ms until that
	                                deadline; else 0 */
};

/* Fill *out. Thread-safe, cheap, never blocks on the store. */
ELECTOR_API int elector_status(struct elector *el, struct elector_status_info *out);

/*
 * Render this elector's metrics in the Prometheus text exposition format
 * (version 0.0.4) into buf[cap]; *len gets the length. Families:
 * leader_election_master_status{name}, elector_is_leader, elector_term,
 * elector_transitions_total, elector_backend_request_duration_seconds
 * (histogram by op and result), elector_backend_errors_total{op,code}, and
 * the backend's gauges (elector_backend_*). Returns ELECTOR_OK or
 * ELECTOR_ERROR when cap is too small.
 */
ELECTOR_API int elector_metrics_write(struct elector *el, char *buf, size_t cap,
                          size_t *len);

/* A static English description of a status code. Never NULL. */
ELECTOR_API const char *elector_strerror(int status);

#ifdef __cplusplus
}
#endif

#endif /* ELECTOR_H */
