/*
 * The file backend's internals, shared by its source files.
 *
 *   file.c        ops table, options, init/destroy/describe
 *   file_path.c   default path and safe directory creation
 *   file_store.c  the data file: read, parse, compare-and-swap write
 *   file_watch.c  inotify on the directory + eventfd for wake()
 *
 * Store layout for a data file PATH (e.g. .../default/demo.json):
 *   PATH        {"version":N,"record":{...client-go record...}}; replaced
 *               only by rename(2) of a fsynced temp file
 *   PATH.lock   empty; never replaced; writers hold an fcntl
 *               open-file-description write lock on it (F_OFD_SETLK) for
 *               the whole read-compare-write-rename
 *   .NAME.tmp.* temp files in the same directory (same file system, so
 *               rename is atomic)
 */
#ifndef ELECTOR_FILE_INT_H
#define ELECTOR_FILE_INT_H

#include <limits.h>
#include <stdint.h>

#include "elector/backend.h"

#define FILE_COMPONENT "file"
/* Largest data file accepted; larger content is CORRUPT, never parsed. */
#define FILE_CONTENT_MAX (64 * 1024)
/* Largest record JSON (the core's codec refuses more; backend.h is the
 * only elector header a plugin includes, so the value is repeated). */
#define FILE_RECORD_JSON_MAX 4096

struct file_state {
	const struct elector_backend_host *host;
	char path[PATH_MAX];      /* data file */
	char lock_path[PATH_MAX]; /* PATH.lock */
	char dir[PATH_MAX];       /* directory holding both */
	char base[NAME_MAX + 1];  /* basename of path */
	int64_t request_timeout_ms;
	int lock_fd;    /* PATH.lock, O_RDWR; -1 until opened */
	int inotify_fd; /* -1 until the first watch */
	int watch_wd;   /* -1 when the directory is not watched */
	int event_fd;   /* wake(); created at init */
	/* How the path was resolved, to create the directories again. */
	int has_opt_path;
	char ns[256], election[256];
};

/* Writes "file PATH: ..." context + message into err; returns status. */
int elector_file_err(const struct file_state *st, int status, char *err,
                     size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Resolve the data file path into st->path/lock_path/dir/base: the `path`
 * option when given, else $XDG_RUNTIME_DIR/elector/NS/ELECTION.json, else
 * /tmp/elector-$UID/NS/ELECTION.json. Missing directories are created 0700.
 * A pre-existing /tmp/elector-$UID must be a directory (not a symlink) owned
 * by the effective uid and not group/world-writable. ELECTOR_OK or
 * ELECTOR_INVALID with the reason in err.
 */
int elector_file_resolve_path(struct file_state *st, const char *opt_path,
                              const char *namespace_, const char *election,
                              char *err, size_t errlen);
/* Same, with explicit XDG_RUNTIME_DIR (NULL: unset) and /tmp base; for the
 * white-box unit test. */
int elector_file_resolve_path_in(struct file_state *st, const char *opt_path,
                                 const char *namespace_, const char *election,
                                 const char *xdg, const char *tmp_base,
                                 char *err, size_t errlen);

/* Create the data file's missing directories again, with the checks made
 * at start (after a cleaner or a user removed them). ELECTOR_OK or
 * ELECTOR_INVALID with the reason in err. */
int elector_file_make_dirs(struct file_state *st, char *err, size_t errlen);

/*
 * Where the data file is in its history: a random epoch drawn when the file
 * is created, and a counter that every write increments. The version string
 * is "EPOCH.COUNTER" ("COUNTER" for a hand-written file without an epoch),
 * so a file deleted and created again never repeats a version that a
 * follower may still hold (no ABA).
 */
#define FILE_EPOCH_MAX 33
struct file_pos {
	char epoch[FILE_EPOCH_MAX]; /* 16 hex digits, or "" */
	long long counter;
};

/*
 * Read and parse the data file. OK with *rec, *ver and *pos; NOT_FOUND when
 * it does not exist; CORRUPT when larger than FILE_CONTENT_MAX or not
 * {"version":N>=1,["epoch":"hex",]"record":{valid record}};
 * TRANSIENT on I/O errors.
 */
int elector_file_read(struct file_state *st, struct elector_record *rec,
                      struct elector_version *ver, struct file_pos *pos,
                      char *err, size_t errlen);

int elector_file_get(void *state, struct elector_record *rec,
                     struct elector_version *ver, char *err, size_t errlen);
int elector_file_create(void *state, const struct elector_record *rec,
                        struct elector_version *new_ver, char *err,
                        size_t errlen);
int elector_file_update(void *state, const struct elector_record *rec,
                        const struct elector_version *expected,
                        struct elector_version *new_ver, char *err,
                        size_t errlen);

int elector_file_watch(void *state, const struct elector_version *known,
                       int64_t timeout_ms, struct elector_record *rec,
                       struct elector_version *ver, int *got, char *err,
                       size_t errlen);
void elector_file_wake(void *state);
/* Closes the inotify descriptor (event_fd is closed by destroy). */
void elector_file_watch_close(struct file_state *st);

#endif
