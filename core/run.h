/*
 * Run mode: the command may run only while this process leads
 * (`elector run -- CMD ...`, DESIGN §6 "The keeper").
 *
 * The command is not our child: when we start leading, elector_run_start()
 * spawns a keeper (`elector __keeper`, keeper.h), which starts the command
 * in its own process group with the parent's environment plus
 * ELECTOR_TERM, ELECTOR_ID, ELECTOR_ELECTION and ELECTOR_LEADER=true. We
 * feed the keeper the leadership deadline after every renew
 * (elector_run_feed); it kills the command on its own when that deadline
 * passes, at once when we die (its pipe closes), and when we ask
 * (elector_run_stop). Only this process holds the pipe's write end.
 *
 * Thread safety: every function may be called from any thread; a mutex
 * serialises them (a stop in progress blocks other calls until the command
 * is dead). Only this module waits for the keeper.
 */
#ifndef ELECTOR_CORE_RUN_H
#define ELECTOR_CORE_RUN_H

#include <stdint.h>

#include "keeper.h"

struct elector_run_opts {
	char **argv;      /* NULL-terminated, borrowed */
	const char *path; /* argv[0] resolved (cli.c), borrowed */
	int64_t kill_grace_ms;
	int64_t stop_slack_ms; /* a stop waits kill_grace + this for the
	                          keeper before SIGKILLing it (its command
	                          dies with it) */
	enum elector_restart restart;
	int64_t backoff_min_ms, backoff_max_ms;
	const char *election; /* borrowed */
	const char *identity; /* borrowed */
	int log_level, log_json;
};

struct elector_run;

/* Returns 0 and *out (free with elector_run_free), or -1 (out of memory).
 * The borrowed strings must outlive r. */
int elector_run_new(const struct elector_run_opts *o, struct elector_run **out);
void elector_run_free(struct elector_run *r);

/* Start a keeper (and so the command) for `term`, valid until
 * valid_until (CLOCK_BOOTTIME ms), unless one runs (then this only feeds
 * the deadline) or elector_run_shutdown() was called. A spawn failure is
 * logged and reported by elector_run_poll() as an exit with status 127. */
void elector_run_start(struct elector_run *r, int64_t term,
                       int64_t valid_until);

/* Tell the keeper the leadership is valid until valid_until (a no-op when
 * it is not later than what was sent, or no keeper runs). */
void elector_run_feed(struct elector_run *r, int64_t valid_until);

/* Stop the command if it runs (SIGTERM, SIGKILL after the grace, every
 * descendant) and return once it is dead. why is logged. */
void elector_run_stop(struct elector_run *r, const char *why);

/* Nonzero while a keeper runs. */
int elector_run_active(struct elector_run *r);

/* The descriptor to poll for the keeper's reports, -1 if none. */
int elector_run_fd(struct elector_run *r);

enum elector_run_event {
	ELECTOR_RUN_NOTHING = 0,
	ELECTOR_RUN_EXITED = 1, /* the command ended for good: *code set,
	                           release and exit with it */
	ELECTOR_RUN_RESTART = 2 /* the keeper is gone while the command
	                           should run: start again if still leading */
};

/* Read the keeper's reports and reap it if it ended. Call when
 * elector_run_fd() is readable or on SIGCHLD. */
enum elector_run_event elector_run_poll(struct elector_run *r, int *code);

/* Refuse every later elector_run_start (we are shutting down). */
void elector_run_shutdown(struct elector_run *r);

#endif
