/* The keeper's decisions (see keeper.h): no system calls in this file, so
 * tests/unit/test_keeper.c can drive it with a made-up clock. */
#include "keeper.h"

#include <string.h>

int elector_restart_parse(const char *s, enum elector_restart *out)
{
	if (strcmp(s, "never") == 0)
		*out = ELECTOR_RESTART_NEVER;
	else if (strcmp(s, "on-failure") == 0)
		*out = ELECTOR_RESTART_ON_FAILURE;
	else if (strcmp(s, "always") == 0)
		*out = ELECTOR_RESTART_ALWAYS;
	else
		return -1;
	return 0;
}

const char *elector_restart_name(enum elector_restart r)
{
	switch (r) {
	case ELECTOR_RESTART_ON_FAILURE:
		return "on-failure";
	case ELECTOR_RESTART_ALWAYS:
		return "always";
	case ELECTOR_RESTART_NEVER:
	default:
		return "never";
	}
}

int elector_restart_wanted(enum elector_restart r, int code)
{
	return r == ELECTOR_RESTART_ALWAYS ||
	       (r == ELECTOR_RESTART_ON_FAILURE && code != 0);
}

void elector_keeper_init(struct elector_keeper *k, int64_t grace_ms,
                         enum elector_restart restart, int64_t backoff_min_ms,
                         int64_t backoff_max_ms, int64_t valid_until)
{
	memset(k, 0, sizeof *k);
	k->grace_ms = grace_ms < 0 ? 0 : grace_ms;
	k->restart = restart;
	k->backoff_min_ms = backoff_min_ms;
	k->backoff_max_ms =
	    backoff_max_ms < backoff_min_ms ? backoff_min_ms : backoff_max_ms;
	k->backoff_ms = k->backoff_min_ms;
	k->valid_until = valid_until;
	k->exit_code = -1;
	/* "A restart due at the beginning of time": the first step starts
	 * the command, unless the deadline has already passed. */
	k->phase = ELECTOR_KP_BACKOFF;
	k->restart_at = INT64_MIN;
}

/* Leave RUNNING/BACKOFF: SIGTERM what runs, or be done if nothing does. */
static int begin_stop(struct elector_keeper *k, int64_t now,
                      enum elector_keeper_why why)
{
	if (k->phase != ELECTOR_KP_RUNNING && k->phase != ELECTOR_KP_BACKOFF)
		return 0;
	k->why = why;
	if (k->phase == ELECTOR_KP_RUNNING && k->alive) {
		/* The grace runs from the deadline at the latest: the
		 * command must be dead by T + grace, so a keeper that wakes
		 * late (a thawed container, a starved CPU) has less of it,
		 * or none. */
		k->phase = ELECTOR_KP_STOPPING;
		k->kill_at =
		    (now < k->valid_until ? now : k->valid_until) + k->grace_ms;
		return ELECTOR_KA_TERM;
	}
	k->phase = ELECTOR_KP_DONE;
	return 0;
}

/* The command's main process exited while it was meant to run. */
static int on_exit_running(struct elector_keeper *k, int64_t now, int code)
{
	/* What is left of it (its group, double-forked grandchildren) goes
	 * with it, as before the keeper existed. */
	int acts = ELECTOR_KA_KILL;
	if (!elector_restart_wanted(k->restart, code)) {
		k->phase = ELECTOR_KP_DONE;
		k->why = ELECTOR_KW_EXIT;
		return acts;
	}
	/* A command that ran for a while earns a fresh backoff. */
	if (now - k->started_at >= k->backoff_max_ms)
		k->backoff_ms = k->backoff_min_ms;
	k->phase = ELECTOR_KP_BACKOFF;
	k->restart_at = now + k->backoff_ms;
	k->backoff_ms = k->backoff_ms > k->backoff_max_ms / 2
	                    ? k->backoff_max_ms
	                    : k->backoff_ms * 2;
	return acts;
}

static int apply_event(struct elector_keeper *k, int64_t now, int type,
                       int64_t value)
{
	switch (type) {
	case ELECTOR_KE_DEADLINE:
		if (value > k->valid_until)
			k->valid_until = value;
		return 0;
	case ELECTOR_KE_STOP:
		return begin_stop(k, now, ELECTOR_KW_STOP);
	case ELECTOR_KE_EOF:
		return begin_stop(k, now, ELECTOR_KW_EOF);
	case ELECTOR_KE_SPAWNED:
		k->alive = 1;
		k->started_at = now;
		k->starts++;
		return 0;
	case ELECTOR_KE_EXITED:
		k->alive = 0;
		k->exit_code = (int)value;
		if (k->phase == ELECTOR_KP_RUNNING)
			return on_exit_running(k, now, (int)value);
		return 0;
	case ELECTOR_KE_ALL_GONE:
		if (k->phase == ELECTOR_KP_STOPPING && !k->alive)
			k->phase = ELECTOR_KP_DONE;
		return 0;
	case ELECTOR_KE_TICK:
	default:
		return 0;
	}
}

int elector_keeper_step(struct elector_keeper *k, int64_t now, int type,
                        int64_t value, int64_t *wake_at)
{
	int acts = 0;
	/* 1. The deadline first, whatever woke us. */
	if ((k->phase == ELECTOR_KP_RUNNING ||
	     k->phase == ELECTOR_KP_BACKOFF) &&
	    now >= k->valid_until)
		acts |= begin_stop(k, now, ELECTOR_KW_DEADLINE);
	/* 2. The event. */
	acts |= apply_event(k, now, type, value);
	/* 3. Timers that are due. */
	if (k->phase == ELECTOR_KP_STOPPING && now >= k->kill_at) {
		acts |= ELECTOR_KA_KILL;
		k->phase = ELECTOR_KP_DONE;
	}
	if (k->phase == ELECTOR_KP_BACKOFF && now >= k->restart_at) {
		acts |= ELECTOR_KA_SPAWN;
		k->phase = ELECTOR_KP_RUNNING;
	}
	switch (k->phase) {
	case ELECTOR_KP_RUNNING:
		*wake_at = k->valid_until;
		break;
	case ELECTOR_KP_BACKOFF:
		*wake_at = k->restart_at < k->valid_until ? k->restart_at
		                                          : k->valid_until;
		break;
	case ELECTOR_KP_STOPPING:
		*wake_at = k->kill_at;
		break;
	case ELECTOR_KP_DONE:
	default:
		*wake_at = INT64_MAX;
		acts |= ELECTOR_KA_DONE;
		break;
	}
	return acts;
}
