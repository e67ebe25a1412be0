/*
 * The keeper (DESIGN §6): a small single-threaded process that elector
 * starts when it leads in run mode. The keeper runs the command and kills
 * it (its process group and every descendant) when the leadership deadline
 * T passes without a newer T, at once when its pipe from elector closes
 * (elector died), or on an explicit stop.
 *
 * This header has two parts:
 *
 * 1. The decision logic, a pure function of (state, now, event) with no
 *    system calls, so that unit tests drive it with a made-up clock:
 *    elector_keeper_init() and elector_keeper_step().
 *
 * 2. The wire protocol between elector and the keeper and the keeper's
 *    entry point (keeper_main.c), run as `elector __keeper ...` by
 *    exec'ing /proc/self/exe (run.c).
 *
 * Times are CLOCK_BOOTTIME milliseconds (the engine's clock).
 */
#ifndef ELECTOR_CORE_KEEPER_H
#define ELECTOR_CORE_KEEPER_H

#include <stdint.h>

/* --restart */
enum elector_restart {
	ELECTOR_RESTART_NEVER = 0,      /* the command's exit ends elector */
	ELECTOR_RESTART_ON_FAILURE = 1, /* restart after a non-zero exit */
	ELECTOR_RESTART_ALWAYS = 2      /* restart after any exit */
};

/* Parse "never" / "on-failure" / "always". Returns 0 or -1. */
int elector_restart_parse(const char *s, enum elector_restart *out);
const char *elector_restart_name(enum elector_restart r);
/* Does policy r restart a command that ended with exit code `code`? */
int elector_restart_wanted(enum elector_restart r, int code);

enum elector_keeper_phase {
	ELECTOR_KP_RUNNING = 0,  /* the command runs (or is being started) */
	ELECTOR_KP_BACKOFF = 1,  /* it exited; restart at restart_at */
	ELECTOR_KP_STOPPING = 2, /* SIGTERM sent; SIGKILL at kill_at */
	ELECTOR_KP_DONE = 3      /* nothing left: report and exit */
};

/* Why the keeper is done (also on the wire). */
enum elector_keeper_why {
	ELECTOR_KW_NONE = 0,
	ELECTOR_KW_EXIT = 1,     /* the command exited; no restart wanted */
	ELECTOR_KW_DEADLINE = 2, /* T passed without a newer T */
	ELECTOR_KW_EOF = 3,      /* the pipe from elector closed */
	ELECTOR_KW_STOP = 4      /* elector asked */
};

enum elector_keeper_event_type {
	ELECTOR_KE_TICK = 0,     /* time passed (a timer or any wake-up) */
	ELECTOR_KE_DEADLINE = 1, /* elector: valid until `value` */
	ELECTOR_KE_STOP = 2,     /* elector: stop */
	ELECTOR_KE_EOF = 3,      /* the pipe from elector closed */
	ELECTOR_KE_EXITED = 4,   /* the command's main process exited with
	                            exit code `value` (128+signal if killed) */
	ELECTOR_KE_ALL_GONE = 5, /* no process is left under the keeper */
	ELECTOR_KE_SPAWNED = 6   /* the command was started */
};

/* Actions elector_keeper_step() asks for, in this order. */
#define ELECTOR_KA_KILL                                                        \
	0x01                 /* SIGKILL the group and every descendant,        \
	                        then reap them all (synchronous) */
#define ELECTOR_KA_TERM 0x02 /* SIGTERM the group and every descendant */
#define ELECTOR_KA_SPAWN                                                       \
	0x04                 /* start the command; then feed                   \
	                        ELECTOR_KE_SPAWNED or ELECTOR_KE_EXITED */
#define ELECTOR_KA_DONE 0x08 /* report why/code to elector and exit */

struct elector_keeper {
	/* configuration */
	int64_t grace_ms;
	enum elector_restart restart;
	int64_t backoff_min_ms, backoff_max_ms;
	/* state */
	enum elector_keeper_phase phase;
	int64_t valid_until; /* T */
	int64_t kill_at;     /* STOPPING: when SIGKILL is due */
	int64_t restart_at;  /* BACKOFF: when the next start is due */
	int64_t started_at;  /* RUNNING: when the command last started */
	int64_t backoff_ms;  /* the next backoff */
	int alive;           /* the command's main process has not exited */
	int exit_code;       /* its last exit code, -1 if none yet */
	enum elector_keeper_why why; /* set when STOPPING or DONE */
	int starts; /* how many times the command was started */
};

/* A keeper that will start the command at once if now < valid_until. */
void elector_keeper_init(struct elector_keeper *k, int64_t grace_ms,
                         enum elector_restart restart, int64_t backoff_min_ms,
                         int64_t backoff_max_ms, int64_t valid_until);

/*
 * Apply one event at time now and return the ELECTOR_KA_* actions to take.
 * The deadline is always checked first, before the event is applied: a
 * keeper that wakes up late (a frozen container thawing) kills before it
 * even reads a newer T. *wake_at gets the next instant the keeper must
 * step again with ELECTOR_KE_TICK (INT64_MAX: only an event wakes it).
 * Never blocks and makes no system call.
 */
int elector_keeper_step(struct elector_keeper *k, int64_t now, int type,
                        int64_t value, int64_t *wake_at);

/* ---- wire protocol (fixed 16-byte messages, below PIPE_BUF) ------------ */

enum elector_keeper_msg_type {
	ELECTOR_KM_DEADLINE = 1, /* elector -> keeper: value = T */
	ELECTOR_KM_STOP = 2,     /* elector -> keeper */
	ELECTOR_KM_STARTED = 3,  /* keeper -> elector: arg = command pid */
	ELECTOR_KM_DONE = 4      /* keeper -> elector: arg = exit code (-1:
	                            none), value = enum elector_keeper_why */
};

struct elector_keeper_msg {
	int32_t type;
	int32_t arg;
	int64_t value;
};

/* The file descriptors the keeper gets (elector dup2()s them there). */
#define ELECTOR_KEEPER_CTL_FD 3 /* read end of elector -> keeper */
#define ELECTOR_KEEPER_REP_FD 4 /* write end of keeper -> elector */

/* argv[1] of the hidden keeper mode. */
#define ELECTOR_KEEPER_ARG "__keeper"

/*
 * The keeper's main: argv is
 *   elector __keeper GRACE_MS RESTART BACKOFF_MIN_MS BACKOFF_MAX_MS T
 *                    LOGLEVEL LOGJSON PATH -- ARGV0 ARGS...
 * with the pipes on the fds above and the command's environment as its
 * own. Returns the process exit status.
 */
int elector_keeper_main(int argc, char **argv);

#endif
