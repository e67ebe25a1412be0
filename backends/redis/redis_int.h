/*
 * The redis backend's internal contracts (not part of the plugin ABI).
 *
 * Files:
 *   redis_plugin.c  options, init/destroy/describe, the ops table
 *   redis_url.c     URL and duration parsing
 *   redis_conn.c    connections: connect/AUTH/SELECT/ROLE, Sentinel, commands
 *   redis_store.c   the Lua compare-and-swap scripts: get/create/update
 *   redis_watch.c   the subscriber connection: watch/wake
 *   redis_sha1.c    SHA-1 (script digests for EVALSHA)
 *
 * Threads: everything but elector_redis_wake() runs on the engine thread.
 */
#ifndef ELECTOR_REDIS_INT_H
#define ELECTOR_REDIS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "elector/backend.h"

#define ELECTOR_REDIS_HOST_MAX 256
#define ELECTOR_REDIS_PATH_MAX 108 /* sun_path */
#define ELECTOR_REDIS_MAX_SENTINELS 8
#define ELECTOR_REDIS_SECRET_MAX 512
#define ELECTOR_REDIS_KEY_MAX 384
/* Largest record accepted from the store (bytes of JSON). */
#define ELECTOR_REDIS_RECORD_MAX 4096

enum elector_redis_kind {
	ELECTOR_REDIS_TCP = 0,
	ELECTOR_REDIS_UNIX = 1,
	ELECTOR_REDIS_SENTINEL = 2
};

struct elector_redis_addr {
	char host[ELECTOR_REDIS_HOST_MAX];
	int port;
};

/* A parsed url option. user/password come only from the URL's userinfo. */
struct elector_redis_target {
	enum elector_redis_kind kind;
	struct elector_redis_addr addr;          /* TCP */
	char path[ELECTOR_REDIS_PATH_MAX];       /* UNIX */
	struct elector_redis_addr sentinels[ELECTOR_REDIS_MAX_SENTINELS];
	int n_sentinels;                         /* SENTINEL */
	char master[ELECTOR_REDIS_HOST_MAX];     /* SENTINEL master name */
	int db;
	char user[ELECTOR_REDIS_HOST_MAX];
	char password[ELECTOR_REDIS_SECRET_MAX]; /* secret */
};

/*
 * Parse url into *t (zeroed first). Accepts
 *   redis://[user[:password]@]host[:port][/db]   (host may be [v6])
 *   unix:///path/to.sock[?db=N]
 *   redis-sentinel://[user[:password]@]h1[:26379],h2[:26379]/MASTER[?db=N]
 * Returns ELECTOR_OK or ELECTOR_INVALID with the reason (never the
 * password) in err.
 */
int elector_redis_url_parse(const char *url, struct elector_redis_target *t,
                            char *err, size_t errlen);

/* Go duration ("500ms", "2s", "1m30s") to milliseconds. ELECTOR_OK or
 * ELECTOR_INVALID with the reason in err. */
int elector_redis_duration_parse(const char *s, int64_t *ms, char *err,
                                 size_t errlen);

/* SHA-1 of data as 40 lowercase hex digits + NUL into hex[41]. */
void elector_redis_sha1_hex(const char *data, size_t len, char hex[41]);

/* Monotonic clock in microseconds. */
int64_t elector_redis_now_us(void);

/* The newest message seen on the subscription and not returned yet. */
struct elector_redis_pending {
	int set;
	char version[ELECTOR_VERSION_MAX];
	char json[ELECTOR_REDIS_RECORD_MAX + 1];
	size_t len;
};

/* One backend instance (the plugin's state). */
struct elector_redis {
	const struct elector_backend_host *host;
	struct elector_redis_target t;
	char username[ELECTOR_REDIS_HOST_MAX];   /* "" = default user */
	char password[ELECTOR_REDIS_SECRET_MAX]; /* secret; "" = no AUTH */
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int64_t request_timeout_ms;

	char key_record[ELECTOR_REDIS_KEY_MAX];
	char key_version[ELECTOR_REDIS_KEY_MAX];
	char channel[ELECTOR_REDIS_KEY_MAX];

	/* Sentinel: the master address last resolved (valid when known). */
	struct elector_redis_addr master_addr;
	int master_known;
	int master_logged; /* master_addr was logged at INFO */

	redisContext *cmd;   /* commands; NULL when not connected */
	redisContext *sub;   /* SUBSCRIBEd to channel; NULL when not */
	redisContext *ssub;  /* SUBSCRIBEd to a sentinel's +switch-master */
	redisContext *sent;  /* commands to the sentinel that last answered */
	int switched;        /* +switch-master seen for our master */
	int wake_fd;         /* eventfd for wake() */
	int connected_logged;
	struct elector_redis_pending pending;
};

/*
 * Connections (redis_conn.c). Every function bounds its network waits by
 * deadline_us (elector_redis_now_us() based) and by the configured connect /
 * command timeouts, and writes the reason for a failure into err once.
 */

/* Open a connection to the store (resolving the master through Sentinel
 * when configured), AUTH, SELECT the db (when select_db) and, with
 * Sentinel, check with ROLE that the node is a master. On success *out is
 * owned by the caller (redisFree). Returns ELECTOR_OK, ELECTOR_TRANSIENT,
 * ELECTOR_DENIED or ELECTOR_ERROR. */
int elector_redis_open(struct elector_redis *r, int select_db,
                       int64_t deadline_us, redisContext **out, char *err,
                       size_t errlen);

/* Sentinel: ask the sentinels where the master is now (over a kept
 * connection to the one that answered last). When it moved, log it and
 * drop the command and subscriber connections to the old node. Returns
 * ELECTOR_OK or ELECTOR_TRANSIENT (no sentinel answered). */
int elector_redis_sentinel_locate(struct elector_redis *r,
                                  int64_t deadline_us, char *err,
                                  size_t errlen);

/* Open a connection to the first listed sentinel that answers. */
int elector_redis_sentinel_open(struct elector_redis *r, int64_t deadline_us,
                                redisContext **out, char *err, size_t errlen);

/* Send one command on c and read its reply, waiting at most
 * min(command timeout, deadline). On success *reply (owned by the caller,
 * freeReplyObject) may be an error reply. On failure (reply NULL) the
 * context is unusable; err says why and the caller must redisFree it.
 * Returns ELECTOR_OK or ELECTOR_TRANSIENT. */
int elector_redis_command(struct elector_redis *r, redisContext *c,
                          int64_t deadline_us, int argc, const char **argv,
                          const size_t *argvlen, redisReply **reply,
                          char *err, size_t errlen);

/* Map an error reply from the server to a status, and write
 * "redis WHERE: WHAT: <server message>" into err. */
int elector_redis_reply_error(struct elector_redis *r, const char *what,
                              const redisReply *reply, char *err,
                              size_t errlen);

/* "127.0.0.1:6379", "/run/redis.sock" or "master NAME at host:port" —
 * where the current connection goes, for messages. */
const char *elector_redis_where(const struct elector_redis *r, char *buf,
                                size_t cap);

/* Drop every connection (after an error, or at destroy). forget_master
 * also forgets the Sentinel-resolved address. */
void elector_redis_disconnect(struct elector_redis *r, int forget_master);

/* Compute the scripts' SHA-1 digests once per process (thread-safe);
 * called by init before any store op. */
void elector_redis_scripts_init(void);

/* Store ops (redis_store.c). Same contracts as the ops in backend.h. */
int elector_redis_get(void *state, struct elector_record *rec,
                      struct elector_version *ver, char *err, size_t errlen);
int elector_redis_create(void *state, const struct elector_record *rec,
                         struct elector_version *new_ver, char *err,
                         size_t errlen);
int elector_redis_update(void *state, const struct elector_record *rec,
                         const struct elector_version *expected,
                         struct elector_version *new_ver, char *err,
                         size_t errlen);

/* Watch ops (redis_watch.c). */
int elector_redis_watch(void *state, const struct elector_version *known,
                        int64_t timeout_ms, struct elector_record *rec,
                        struct elector_version *ver, int *got, char *err,
                        size_t errlen);
void elector_redis_wake(void *state);
/* Read what the subscription has buffered without blocking, so a leader
 * that never watches does not let its own messages pile up. */
void elector_redis_sub_drain(struct elector_redis *r);

#endif
