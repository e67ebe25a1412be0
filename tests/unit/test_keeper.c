/*
 * The keeper's decisions (core/keeper.c) with a made-up clock: no process
 * is started; each step's actions and next wake-up are checked.
 *
 * keeper.c is compiled into this program (it is a daemon source, not part
 * of libelector, and has no dependencies).
 */
#include "keeper.c"

#include <stdint.h>

#include "tap.h"

#define GRACE 200
#define T0 10000 /* the first deadline */

static int64_t wake;

static int step(struct elector_keeper *k, int64_t now, int type, int64_t v)
{
	return elector_keeper_step(k, now, type, v, &wake);
}

/* A keeper whose command started at 1000. */
static void running(struct elector_keeper *k, enum elector_restart r)
{
	elector_keeper_init(k, GRACE, r, 100, 800, T0);
	step(k, 1000, ELECTOR_KE_TICK, 0);
	step(k, 1000, ELECTOR_KE_SPAWNED, 0);
}

static void test_start(void)
{
	struct elector_keeper k;
	elector_keeper_init(&k, GRACE, ELECTOR_RESTART_NEVER, 100, 800, T0);
	is_int(step(&k, 1000, ELECTOR_KE_TICK, 0), ELECTOR_KA_SPAWN,
	       "first step starts the command");
	is_int(wake, T0, "and wakes at the deadline");
	is_int(step(&k, 1001, ELECTOR_KE_SPAWNED, 0), 0,
	       "spawned: nothing to do");
	is_int(k.phase, ELECTOR_KP_RUNNING, "running");

	elector_keeper_init(&k, GRACE, ELECTOR_RESTART_NEVER, 100, 800, T0);
	is_int(step(&k, T0, ELECTOR_KE_TICK, 0), ELECTOR_KA_DONE,
	       "a deadline already past: never starts, done at once");
	is_int(k.why, ELECTOR_KW_DEADLINE, "why: deadline");
}

static void test_deadline(void)
{
	struct elector_keeper k;
	running(&k, ELECTOR_RESTART_NEVER);
	is_int(step(&k, T0 - 1, ELECTOR_KE_TICK, 0), 0,
	       "1 ms before T: nothing");
	is_int(step(&k, T0 - 1, ELECTOR_KE_DEADLINE, T0 + 300), 0,
	       "a newer T is taken");
	is_int(wake, T0 + 300, "wake moves to the newer T");
	is_int(step(&k, T0 + 100, ELECTOR_KE_DEADLINE, T0 - 500), 0,
	       "an older T never moves the deadline back");
	is_int(wake, T0 + 300, "wake unchanged");
	is_int(step(&k, T0 + 300, ELECTOR_KE_TICK, 0), ELECTOR_KA_TERM,
	       "at T: SIGTERM");
	is_int(k.phase, ELECTOR_KP_STOPPING, "stopping");
	is_int(wake, T0 + 300 + GRACE, "SIGKILL due at T + grace");
	is_int(step(&k, T0 + 310, ELECTOR_KE_DEADLINE, T0 + 5000), 0,
	       "a newer T while stopping does not cancel the stop");
	is_int(wake, T0 + 300 + GRACE, "still due at T + grace");
	is_int(step(&k, T0 + 300 + GRACE, ELECTOR_KE_TICK, 0),
	       ELECTOR_KA_KILL | ELECTOR_KA_DONE,
	       "at T + grace: SIGKILL, done");
	is_int(k.why, ELECTOR_KW_DEADLINE, "why: deadline");
}

static void test_thaw_kills_first(void)
{
	/* Frozen past T with a newer T waiting in the pipe: the deadline is
	 * checked before the message is applied. */
	struct elector_keeper k;
	running(&k, ELECTOR_RESTART_ALWAYS);
	int a = step(&k, T0 + 4000, ELECTOR_KE_DEADLINE, T0 + 6000);
	is_int(a, ELECTOR_KA_TERM | ELECTOR_KA_KILL | ELECTOR_KA_DONE,
	       "thawed past T + grace: SIGKILL at once, before the new T");
	is_int(k.why, ELECTOR_KW_DEADLINE, "why: deadline");

	/* Woken late, but within the grace: the rest of the grace only. */
	running(&k, ELECTOR_RESTART_ALWAYS);
	is_int(step(&k, T0 + 50, ELECTOR_KE_TICK, 0), ELECTOR_KA_TERM,
	       "woken 50 ms after T: SIGTERM");
	is_int(wake, T0 + GRACE, "SIGKILL still due at T + grace");
}

static void test_eof_and_stop(void)
{
	struct elector_keeper k;
	running(&k, ELECTOR_RESTART_ALWAYS);
	is_int(step(&k, 2000, ELECTOR_KE_EOF, 0), ELECTOR_KA_TERM,
	       "pipe closed: SIGTERM at once");
	is_int(k.why, ELECTOR_KW_EOF, "why: eof");
	is_int(wake, 2000 + GRACE, "SIGKILL after the grace, not at T");
	is_int(step(&k, 2050, ELECTOR_KE_EXITED, 143), 0,
	       "main process gone: wait for the rest");
	is_int(step(&k, 2051, ELECTOR_KE_ALL_GONE, 0), ELECTOR_KA_DONE,
	       "all gone before the grace: done without SIGKILL");
	is_int(k.exit_code, 143, "exit code kept");

	running(&k, ELECTOR_RESTART_ALWAYS);
	is_int(step(&k, 2000, ELECTOR_KE_STOP, 0), ELECTOR_KA_TERM,
	       "stop: SIGTERM");
	is_int(step(&k, 2001, ELECTOR_KE_STOP, 0), 0, "a second stop: nothing");
	is_int(step(&k, 2001, ELECTOR_KE_EOF, 0), 0,
	       "eof while stopping: nothing");
	is_int(k.why, ELECTOR_KW_STOP, "why stays: stop");
	is_int(step(&k, 2000 + GRACE, ELECTOR_KE_TICK, 0),
	       ELECTOR_KA_KILL | ELECTOR_KA_DONE, "grace over: SIGKILL, done");
}

static void test_zero_grace(void)
{
	struct elector_keeper k;
	elector_keeper_init(&k, 0, ELECTOR_RESTART_NEVER, 100, 800, T0);
	step(&k, 1000, ELECTOR_KE_TICK, 0);
	step(&k, 1000, ELECTOR_KE_SPAWNED, 0);
	is_int(step(&k, 1500, ELECTOR_KE_STOP, 0),
	       ELECTOR_KA_TERM | ELECTOR_KA_KILL | ELECTOR_KA_DONE,
	       "no grace: SIGTERM, SIGKILL and done in one step");
}

static void test_exit_policies(void)
{
	struct elector_keeper k;
	running(&k, ELECTOR_RESTART_NEVER);
	is_int(step(&k, 1500, ELECTOR_KE_EXITED, 0),
	       ELECTOR_KA_KILL | ELECTOR_KA_DONE,
	       "never: exit 0 ends it (leftovers killed)");
	is_int(k.why, ELECTOR_KW_EXIT, "why: exit");
	is_int(k.exit_code, 0, "code 0");

	running(&k, ELECTOR_RESTART_ON_FAILURE);
	is_int(step(&k, 1500, ELECTOR_KE_EXITED, 0),
	       ELECTOR_KA_KILL | ELECTOR_KA_DONE, "on-failure: exit 0 ends it");
	running(&k, ELECTOR_RESTART_ON_FAILURE);
	is_int(step(&k, 1500, ELECTOR_KE_EXITED, 3), ELECTOR_KA_KILL,
	       "on-failure: exit 3 is restarted");
	is_int(k.phase, ELECTOR_KP_BACKOFF, "after a backoff");
	is_int(wake, 1600, "of 100 ms");

	running(&k, ELECTOR_RESTART_ALWAYS);
	is_int(step(&k, 1500, ELECTOR_KE_EXITED, 0), ELECTOR_KA_KILL,
	       "always: exit 0 is restarted");
	is_int(step(&k, 1599, ELECTOR_KE_TICK, 0), 0, "not before the backoff");
	is_int(step(&k, 1600, ELECTOR_KE_TICK, 0), ELECTOR_KA_SPAWN,
	       "started again after 100 ms");
	step(&k, 1600, ELECTOR_KE_SPAWNED, 0);
	step(&k, 1610, ELECTOR_KE_EXITED, 1);
	is_int(wake, 1610 + 200, "second backoff doubles: 200 ms");
	step(&k, 1810, ELECTOR_KE_TICK, 0);
	step(&k, 1810, ELECTOR_KE_SPAWNED, 0);
	step(&k, 1811, ELECTOR_KE_EXITED, 1);
	is_int(wake, 1811 + 400, "400 ms");
	step(&k, 2211, ELECTOR_KE_TICK, 0);
	step(&k, 2211, ELECTOR_KE_SPAWNED, 0);
	step(&k, 2212, ELECTOR_KE_EXITED, 1);
	is_int(wake, 2212 + 800, "800 ms (the cap)");
	step(&k, 3012, ELECTOR_KE_TICK, 0);
	step(&k, 3012, ELECTOR_KE_SPAWNED, 0);
	step(&k, 3013, ELECTOR_KE_EXITED, 1);
	is_int(wake, 3013 + 800, "stays at the cap");
	step(&k, 3813, ELECTOR_KE_TICK, 0);
	step(&k, 3813, ELECTOR_KE_SPAWNED, 0);
	step(&k, 3813 + 900, ELECTOR_KE_EXITED, 1);
	is_int(wake, 3813 + 900 + 100, "a run longer than the cap resets it");
	is_int(k.starts, 6, "six starts");
}

static void test_backoff_meets_deadline(void)
{
	struct elector_keeper k;
	running(&k, ELECTOR_RESTART_ALWAYS);
	step(&k, T0 - 50, ELECTOR_KE_EXITED, 1);
	is_int(wake, T0, "backoff past T: wake at T");
	is_int(step(&k, T0, ELECTOR_KE_TICK, 0), ELECTOR_KA_DONE,
	       "T passes during the backoff: done, not restarted");
	is_int(k.why, ELECTOR_KW_DEADLINE, "why: deadline");

	running(&k, ELECTOR_RESTART_ALWAYS);
	step(&k, 2000, ELECTOR_KE_EXITED, 1);
	is_int(step(&k, 2010, ELECTOR_KE_STOP, 0), ELECTOR_KA_DONE,
	       "stop during the backoff: done at once");
	is_int(k.why, ELECTOR_KW_STOP, "why: stop");
}

static void test_spawn_failure(void)
{
	struct elector_keeper k;
	elector_keeper_init(&k, GRACE, ELECTOR_RESTART_NEVER, 100, 800, T0);
	step(&k, 1000, ELECTOR_KE_TICK, 0);
	is_int(step(&k, 1000, ELECTOR_KE_EXITED, 127),
	       ELECTOR_KA_KILL | ELECTOR_KA_DONE,
	       "fork failed (127), never: done");
	is_int(k.exit_code, 127, "code 127");
}

static void test_policy_names(void)
{
	enum elector_restart r;
	ok(elector_restart_parse("on-failure", &r) == 0 &&
	       r == ELECTOR_RESTART_ON_FAILURE,
	   "parse on-failure");
	ok(elector_restart_parse("Always", &r) != 0, "names are lower case");
	ok(elector_restart_parse("", &r) != 0, "empty refused");
	is_str(elector_restart_name(ELECTOR_RESTART_ALWAYS), "always", "name");
	ok(!elector_restart_wanted(ELECTOR_RESTART_NEVER, 1), "never: no");
	ok(elector_restart_wanted(ELECTOR_RESTART_ON_FAILURE, 137),
	   "on-failure: killed by a signal is a failure");
}

int main(void)
{
	test_start();
	test_deadline();
	test_thaw_kills_first();
	test_eof_and_stop();
	test_zero_grace();
	test_exit_policies();
	test_backoff_meets_deadline();
	test_spawn_failure();
	test_policy_names();
	return done_testing();
}
