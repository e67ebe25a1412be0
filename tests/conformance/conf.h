/*
 * Internals of the backend conformance program (see conformance.c for its
 * command line and the list of cases).
 *
 *   conformance.c  options, case selection, TAP output
 *   conf_util.c    store helpers, records, commands, timing
 *   conf_basic.c   empty / roundtrip / exists / conflict / release
 *   conf_race.c    contenders (forked processes racing compare-and-swap)
 *   conf_watch.c   watch / wake
 *   conf_fault.c   garbage / down / slow
 */
#ifndef ELECTOR_CONF_H
#define ELECTOR_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "elector/backend.h"
#include "loader.h"

#define CONF_MAX_OPTS 32

struct conf {
	const char *plugin_dir;
	const char *backend;
	const char *namespace_;
	const char *election;
	const char *opts[CONF_MAX_OPTS]; /* "key=value" */
	size_t n_opts;
	int rounds;                   /* contenders: rounds (default 1000) */
	int contenders;               /* contenders: processes (default 8) */
	long long request_timeout_ms; /* default 2000 */
	long long slack_ms;       /* allowed beyond a bound (default 1500) */
	long long watch_bound_ms; /* watch wake-up bound (default 2000) */
	long long recover_ms;     /* wait for recovery after up/fix (30000) */
	long long max_transitions; /* largest leaderTransitions the store
	                              holds (2^63-1; a Lease: int32) */
	const char *corrupt_cmd, *fix_cmd;
	const char *down_cmd, *up_cmd;
	const char *slow_cmd, *unslow_cmd;
	uint32_t caps; /* the backend's capabilities, filled after open */
};

/* TAP, shared by all case files (one counter for the program). */
int conf_ok_(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define CONF_OK(cond, ...)                                                     \
	conf_ok_((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)
void conf_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void conf_skip(const char *why);

/* Open a store handle with the configured backend and options. Prints a
 * failing test with the reason and returns NULL on error. */
struct elector_store *conf_open(const struct conf *c, const char *identity);

/* Thin wrappers over the ops; err is always written (possibly ""). */
int conf_get(struct elector_store *s, struct elector_record *rec,
             struct elector_version *ver, char *err, size_t errlen);
int conf_create(struct elector_store *s, const struct elector_record *rec,
                struct elector_version *ver, char *err, size_t errlen);
int conf_update(struct elector_store *s, const struct elector_record *rec,
                const struct elector_version *expected,
                struct elector_version *ver, char *err, size_t errlen);

/* Get the stored record, creating a base record when none exists. */
int conf_ensure(struct elector_store *s, struct elector_record *rec,
                struct elector_version *ver, char *err, size_t errlen);

/* A valid record with holder, transitions and times derived from n. */
void conf_record(struct elector_record *r, const char *holder, int64_t n);

const char *conf_status(int status);
int64_t conf_now_ms(void);
void conf_sleep_ms(int64_t ms);

/* Run cmd with /bin/sh -c, bounded by 60 s. Returns its exit status, or
 * -1 when it could not run or was killed. */
int conf_run(const char *what, const char *cmd);

/* Retry get until it returns one of OK/NOT_FOUND or recover_ms passes.
 * Returns the last status. */
int conf_wait_recovered(const struct conf *c, struct elector_store *s,
                        int64_t *took_ms);

void conf_case_empty(const struct conf *c);
void conf_case_roundtrip(const struct conf *c);
void conf_case_exists(const struct conf *c);
void conf_case_conflict(const struct conf *c);
void conf_case_release(const struct conf *c);
void conf_case_contenders(const struct conf *c);
void conf_case_watch(const struct conf *c);
void conf_case_wake(const struct conf *c);
void conf_case_garbage(const struct conf *c);
void conf_case_down(const struct conf *c);
void conf_case_slow(const struct conf *c);

#endif
