/*
 * Run mode: supervise one command that may run only while this process
 * leads (`elector run -- CMD ...`).
 *
 * The command is started with posix_spawnp in its own process group, with
 * the parent's environment plus ELECTOR_TERM, ELECTOR_ID, ELECTOR_ELECTION
 * and ELECTOR_LEADER=true, default signal dispositions and an empty signal
 * mask. Stopping sends SIGTERM to the group, SIGKILL after the kill grace,
 * and returns only when the command is dead (stragglers left in its group
 * are killed too).
 *
 * Thread safety: every function may be called from any thread; a mutex
 * serialises them (a stop in progress blocks other calls until the command
 * is dead). Only this module calls waitpid on the command.
 */
#ifndef ELECTOR_CORE_RUN_H
#define ELECTOR_CORE_RUN_H

#include <stdint.h>

struct elector_run;

/* argv (NULL-terminated) and the strings are borrowed and must outlive r.
 * Returns 0 and *out (free with elector_run_free), or -1 (out of memory). */
int elector_run_new(char **argv, int64_t kill_grace_ms, const char *election,
                    const char *identity, struct elector_run **out);
void elector_run_free(struct elector_run *r);

/* Start the command for leadership term `term`, unless one is running or
 * elector_run_shutdown() was called. A spawn failure is logged and reported
 * by elector_run_exited() as status 127. */
void elector_run_start(struct elector_run *r, int64_t term);

/* Stop the command if it runs (SIGTERM, SIGKILL after the grace) and
 * return once it is dead. why is logged. */
void elector_run_stop(struct elector_run *r, const char *why);

/* Nonzero while the command runs. */
int elector_run_active(struct elector_run *r);

/* Reap the command if it exited on its own (not through elector_run_stop).
 * Returns 1 with its exit code (128+signal when killed by a signal) in
 * *code, else 0. */
int elector_run_exited(struct elector_run *r, int *code);

/* Refuse every later elector_run_start (we are shutting down). */
void elector_run_shutdown(struct elector_run *r);

#endif
