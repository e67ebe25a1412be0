/*
 * elector backend plugin ABI.
 *
 * A backend is a shared object (build/lib/elector/NAME.so) that exports one
 * function, ELECTOR_BACKEND_ENTRY_SYMBOL:
 *
 *     const struct elector_backend_ops *
 *     elector_backend_entry(uint32_t host_abi_version);
 *
 * It is called once after dlopen(RTLD_NOW|RTLD_LOCAL). It returns a pointer
 * to a static const ops table, or NULL when it cannot serve a core of that
 * ABI version. The core then checks abi_version, struct_size and the required
 * ops, and refuses the plugin with a clear message otherwise.
 *
 * Compatibility rules (as SQLite's sqlite3_vfs): both tables below start with
 * abi_version and struct_size and only ever grow at the end. A reader uses a
 * field only when struct_size says it is present and, for optional ops, when
 * the pointer is not NULL. Each ABI version boundary is marked in the struct.
 *
 * Memory: nothing allocated on one side of the boundary is freed on the other.
 * Records and versions are fixed-size structs owned by the caller; error
 * messages are written into a caller buffer (err, errlen), always
 * NUL-terminated, truncated if needed, and never contain secrets.
 *
 * Threads: the core calls get/create/update/watch/describe/destroy from one
 * thread at a time (the engine thread). Only wake() may be called from any
 * other thread, concurrently with watch().
 *
 * This is the only header a backend includes from elector.
 */
#ifndef ELECTOR_BACKEND_H
#define ELECTOR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ELECTOR_BACKEND_ABI_VERSION 1u
#define ELECTOR_BACKEND_ENTRY_SYMBOL "elector_backend_entry"

/* Status codes returned by every op (and by libelector, see elector.h). */
enum elector_status {
	ELECTOR_OK = 0,
	ELECTOR_NOT_FOUND = 1,   /* no record stored yet */
	ELECTOR_EXISTS = 2,      /* create: a record is already stored */
	ELECTOR_CONFLICT = 3,    /* update: the store no longer holds that version */
	ELECTOR_TRANSIENT = 4,   /* network/server trouble; retry later */
	ELECTOR_TIMEOUT = 5,     /* watch: nothing changed before the timeout;
	                            other ops: the request timed out */
	ELECTOR_INVALID = 6,     /* bad options or arguments; retrying won't help */
	ELECTOR_CORRUPT = 7,     /* the stored content fails validation */
	ELECTOR_DENIED = 8,      /* authentication or permission refused */
	ELECTOR_UNSUPPORTED = 9, /* op not offered by this backend */
	ELECTOR_RATELIMITED = 10,/* store asked us to slow down */
	ELECTOR_ERROR = 11       /* anything else (out of memory, internal) */
};

/* Sizes of the fixed buffers below, including the terminating NUL. */
#define ELECTOR_ID_MAX 256
#define ELECTOR_STRATEGY_MAX 64
#define ELECTOR_VERSION_MAX 128

/* Flags in elector_record.flags. */
#define ELECTOR_REC_HAS_ACQUIRE_TIME 0x1u /* acquire_time_us is set (not null) */
#define ELECTOR_REC_HAS_RENEW_TIME 0x2u   /* renew_time_us is set (not null) */

/*
 * The election record, client-go's LeaderElectionRecord:
 *   holderIdentity, leaseDurationSeconds, acquireTime, renewTime,
 *   leaderTransitions, preferredHolder, strategy.
 * Times are microseconds since the Unix epoch, UTC (Kubernetes MicroTime
 * precision). An empty holder_identity means released/free.
 */
struct elector_record {
	char holder_identity[ELECTOR_ID_MAX];
	int32_t lease_duration_seconds; /* >= 1 in a valid record */
	uint32_t flags;                 /* ELECTOR_REC_HAS_* */
	int64_t acquire_time_us;
	int64_t renew_time_us;
	int64_t leader_transitions;     /* >= 0; the term of the current holder */
	char preferred_holder[ELECTOR_ID_MAX]; /* optional, passed through */
	char strategy[ELECTOR_STRATEGY_MAX];    /* optional, passed through */
};

/*
 * An opaque store version (Lease resourceVersion, Gist commit SHA, a counter).
 * The core compares versions only for equality (strcmp of v). An empty string
 * means "no version".
 */
struct elector_version {
	char v[ELECTOR_VERSION_MAX];
};

/* Capability bits in elector_backend_ops.capabilities. */
#define ELECTOR_CAP_WATCH 0x1u /* watch() and wake() are implemented */

/* Log levels for host->log. */
enum elector_log_level {
	ELECTOR_LOG_ERROR = 0,
	ELECTOR_LOG_WARN = 1,
	ELECTOR_LOG_INFO = 2,
	ELECTOR_LOG_DEBUG = 3,
	ELECTOR_LOG_TRACE = 4
};

/* One option key a backend understands (its table ends with key == NULL). */
struct elector_backend_option {
	const char *key;  /* e.g. "path" */
	const char *help; /* one line for --help and error messages */
};

/* One KEY=VALUE option as given by the user, already split. */
struct elector_kv {
	const char *key;
	const char *value;
};

/*
 * What the core tells a backend at init. All pointers are owned by the core
 * and stay valid until destroy() returns.
 */
struct elector_backend_params {
	uint32_t struct_size;        /* sizeof(struct elector_backend_params) */
	const char *election;        /* election (lock) name, e.g. "demo" */
	const char *namespace_;      /* namespace, e.g. "default" */
	const char *identity;        /* this process's identity */
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	int64_t request_timeout_ms;  /* every store request must finish within */
	const struct elector_kv *options; /* backend options, in the user's order */
	size_t n_options;
	uint32_t flags;              /* ELECTOR_PARAMS_* */
	/* --- end of ABI version 1 --- */
};

/* Flags in elector_backend_params.flags. */
#define ELECTOR_PARAMS_READ_ONLY 0x1u /* the caller only reads (`elector
                                         get`): skip checks that concern
                                         writers, such as a write budget */

/*
 * Services the core lends to a backend. Valid from init() until destroy()
 * returns. All functions are thread-safe.
 */
struct elector_backend_host {
	uint32_t abi_version;  /* ELECTOR_BACKEND_ABI_VERSION of the core */
	uint32_t struct_size;  /* sizeof(struct elector_backend_host) */

	/* Log a message prefixed with the component (e.g. "redis"). Cheap when
	 * the level is disabled. Never pass secrets. */
	void (*log)(int level, const char *component, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* Nonzero when messages of this level are printed. */
	int (*log_enabled)(int level);

	/* Encode rec as the canonical client-go JSON object (compact, no
	 * newline) into buf[cap]. Returns ELECTOR_OK and the length in *len, or
	 * ELECTOR_ERROR when cap is too small or rec is invalid. */
	int (*record_encode)(const struct elector_record *rec, char *buf,
	                     size_t cap, size_t *len);
	/* Decode and strictly validate a client-go JSON record of len bytes.
	 * Returns ELECTOR_OK, or ELECTOR_CORRUPT with the reason in err. */
	int (*record_decode)(const char *json, size_t len,
	                     struct elector_record *rec, char *err, size_t errlen);
	/* Format unix microseconds as RFC 3339 UTC with exactly 6 fractional
	 * digits ("2026-11-21T10:00:00.123456Z"); buf needs 28 bytes. */
	int (*time_format)(int64_t unix_us, char *buf, size_t cap);
	/* Parse RFC 3339 (0-9 fractional digits, Z or +hh:mm) into unix
	 * microseconds. Returns ELECTOR_OK or ELECTOR_INVALID. */
	int (*time_parse)(const char *s, int64_t *unix_us);

	/* Check that every params->options key is in known (NULL-terminated)
	 * and appears once. On failure returns ELECTOR_INVALID and writes
	 * "unknown option 'x' for backend NAME (known: a, b, c)" into err. */
	int (*options_check)(const struct elector_backend_params *params,
	                     const char *backend_name,
	                     const struct elector_backend_option *known,
	                     char *err, size_t errlen);
	/* The value of option key, or NULL when not given. */
	const char *(*option)(const struct elector_backend_params *params,
	                      const char *key);

	/* Set a backend-specific gauge exported on /metrics as
	 * elector_backend_<name> (name: [a-z0-9_]+), e.g. the remaining
	 * rate-limit budget. */
	void (*gauge_set)(const char *name, const char *help, double value);
	/* --- end of ABI version 1 --- */
};

/*
 * The ops table. Required: init, destroy, get, create, update, describe.
 * Optional: watch and wake (both required when ELECTOR_CAP_WATCH is set).
 * Every op that can fail returns an enum elector_status and writes the reason
 * into err[errlen], with context ("redis 127.0.0.1:6379: connect: refused").
 */
struct elector_backend_ops {
	uint32_t abi_version;  /* ELECTOR_BACKEND_ABI_VERSION it was built for */
	uint32_t struct_size;  /* sizeof(struct elector_backend_ops) */
	const char *name;      /* "file", "redis", ... ; matches the .so name */
	uint32_t capabilities; /* ELECTOR_CAP_* */
	const struct elector_backend_option *options; /* NULL-terminated */

	/* Validate params (use host->options_check), allocate the backend's
	 * state and connect if needed. A store that is down is not an init
	 * error (return OK; later ops return TRANSIENT); bad options are
	 * (ELECTOR_INVALID). On success *state is owned by the core and freed
	 * only through destroy(). */
	int (*init)(const struct elector_backend_host *host,
	            const struct elector_backend_params *params, void **state,
	            char *err, size_t errlen);
	/* Free everything init allocated. state may be NULL. */
	void (*destroy)(void *state);

	/* Read the record and its version. NOT_FOUND when none is stored;
	 * CORRUPT when the stored content fails validation. */
	int (*get)(void *state, struct elector_record *rec,
	           struct elector_version *ver, char *err, size_t errlen);
	/* Store rec only if no record exists (EXISTS otherwise); the new
	 * version goes to *new_ver. */
	int (*create)(void *state, const struct elector_record *rec,
	              struct elector_version *new_ver, char *err, size_t errlen);
	/* Store rec only if the store still holds version *expected
	 * (CONFLICT otherwise, NOT_FOUND if nothing is stored). This must be a
	 * true compare-and-swap in the store. When the outcome is unknown
	 * (timeout after sending), return TRANSIENT: the core re-reads. */
	int (*update)(void *state, const struct elector_record *rec,
	              const struct elector_version *expected,
	              struct elector_version *new_ver, char *err, size_t errlen);

	/* Wait up to timeout_ms for the record to differ from version *known
	 * (known->v may be "" = "anything stored"). Returns:
	 *   OK       it may have changed. If the backend has the new record at
	 *            hand it fills *rec and *ver and sets *got = 1 (the core
	 *            then does not call get); otherwise *got = 0.
	 *   TIMEOUT  nothing changed, or wake() was called.
	 *   other    the watch failed; the core falls back to polling for a while.
	 */
	int (*watch)(void *state, const struct elector_version *known,
	             int64_t timeout_ms, struct elector_record *rec,
	             struct elector_version *ver, int *got, char *err,
	             size_t errlen);
	/* Make a concurrent or the next watch() return promptly. Async-signal
	 * safety is not required, thread safety is. */
	void (*wake)(void *state);

	/* Describe the store for logs and the status API, without secrets
	 * (e.g. "file:/run/user/1000/elector/default/demo.json"). */
	int (*describe)(void *state, char *buf, size_t len);

	/* Optional: a backend subcommand, run by the daemon as
	 * `elector NAME-VERB [ARGS...]` (e.g. `elector gist-create
	 * --token-file F`), without init(). argv[0] is VERB; params carries the
	 * election, namespace and the user's backend options. Prints its result
	 * on stdout. Returns ELECTOR_OK, ELECTOR_INVALID (usage error, message
	 * in err) or another status. */
	int (*command)(const struct elector_backend_host *host,
	               const struct elector_backend_params *params, int argc,
	               char **argv, char *err, size_t errlen);
	/* --- end of ABI version 1 --- */
};

/* The entry point every plugin exports. */
typedef const struct elector_backend_ops *(*elector_backend_entry_fn)(
	uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* ELECTOR_BACKEND_H */
