/*
 * The data file: reading, validation and the compare-and-swap write.
 *
 * Readers never lock: a writer only ever replaces the data file with
 * rename(2) of a complete, fsynced temp file, so an open(2) sees either the
 * old or the new content, never a mix. Writers serialise on an
 * open-file-description lock on PATH.lock (not on PATH: a lock on the data
 * file would stay on the old inode after the rename, and the next writer
 * would lock the new inode while we still write — two writers at once).
 * OFD locks belong to the open file description, so two handles in one
 * process exclude each other too (POSIX record locks would not).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_int.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void lock_release(struct file_state *st);

/* Does PATH.lock still name the inode we hold open? */
static int lock_is_current(const struct file_state *st)
{
	struct stat a, b;
	return fstat(st->lock_fd, &a) == 0 && stat(st->lock_path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The lock file only excludes writers that lock the same inode. When
 * PATH.lock (or its directory) was removed — a tmp cleaner, a logout that
 * clears XDG_RUNTIME_DIR, a user's rm -rf — create the directories (with
 * the checks made at start) and the lock file again, and use that. */
static int lock_reopen(struct file_state *st, char *err, size_t errlen)
{
	char why[512];
	if (elector_file_make_dirs(st, why, sizeof why) != ELECTOR_OK)
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "%s", why);
	int fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	              0600);
	if (fd < 0)
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "open lock file %s: %s", st->lock_path,
		                        strerror(errno));
	close(st->lock_fd);
	st->lock_fd = fd;
	st->host->log(ELECTOR_LOG_WARN, FILE_COMPONENT,
	              "lock file %s was removed; created it again",
	              st->lock_path);
	return ELECTOR_OK;
}

/* Take the write lock, retrying until the request timeout: fcntl's
 * blocking F_OFD_SETLKW cannot be bounded without signals. */
static int lock_take(struct file_state *st, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + st->request_timeout_ms;
	long backoff = 50;
	for (;;) {
		struct flock fl;
		if (!lock_is_current(st)) {
			int rc = lock_reopen(st, err, errlen);
			if (rc != ELECTOR_OK)
				return rc;
		}
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) == 0) {
			if (lock_is_current(st))
				return ELECTOR_OK;
			/* Removed between our check and our lock: a lock on
			 * an unlinked inode excludes nobody. */
			lock_release(st);
			if (mono_ms() >= deadline)
				return elector_file_err(
				    st, ELECTOR_TRANSIENT, err, errlen,
				    "lock file %s keeps being removed",
				    st->lock_path);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EACCES)
			return elector_file_err(st, ELECTOR_TRANSIENT, err,
			                        errlen, "lock %s: %s",
			                        st->lock_path, strerror(errno));
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return elector_file_err(
			    st, ELECTOR_TIMEOUT, err, errlen,
			    "lock %s held by another writer for "
			    "more than %lld ms",
			    st->lock_path, (long long)st->request_timeout_ms);
		long nap = backoff;
		if ((int64_t)nap > left * 1000)
			nap = (long)(left * 1000);
		sleep_us(nap);
		if (backoff < 2000)
			backoff *= 2;
	}
}

static void lock_release(struct file_state *st)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) != 0)
		st->host->log(ELECTOR_LOG_WARN, FILE_COMPONENT, "unlock %s: %s",
		              st->lock_path, strerror(errno));
}

/* Read the whole data file into a malloc'ed buffer (NUL-terminated). */
static int read_content(struct file_state *st, char **out, size_t *len,
                        char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	int fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return elector_file_err(st, ELECTOR_NOT_FOUND, err,
			                        errlen, "no record stored");
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "open: %s", strerror(errno));
	}
	struct stat sb;
	int rc = ELECTOR_OK;
	char *buf = NULL;
	size_t n = 0;
	if (fstat(fd, &sb) != 0) {
		rc = elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                      "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                      "not a regular file");
		goto out;
	}
	buf = malloc(FILE_CONTENT_MAX + 2);
	if (buf == NULL) {
		rc = elector_file_err(st, ELECTOR_ERROR, err, errlen,
		                      "out of memory");
		goto out;
	}
	/* Read one byte past the cap to tell "exactly the cap" from "more". */
	while (n <= FILE_CONTENT_MAX) {
		ssize_t r = read(fd, buf + n, FILE_CONTENT_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc =
			    elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
			                     "read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > FILE_CONTENT_MAX) {
		rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                      "content larger than %d bytes; not an "
		                      "elector record",
		                      FILE_CONTENT_MAX);
		goto out;
	}
	buf[n] = '\0';
out:
	close(fd);
	if (rc != ELECTOR_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return ELECTOR_OK;
}

static int epoch_ok(const char *s)
{
	size_t n = strlen(s), i;
	if (n == 0 || n >= FILE_EPOCH_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void format_version(const struct file_pos *pos,
                           struct elector_version *v)
{
	if (pos->epoch[0])
		snprintf(v->v, sizeof v->v, "%s.%lld", pos->epoch,
		         pos->counter);
	else
		snprintf(v->v, sizeof v->v, "%lld", pos->counter);
}

static int parse_content(struct file_state *st, const char *buf, size_t len,
                         struct elector_record *rec, struct file_pos *pos,
                         char *err, size_t errlen)
{
	if (len == 0)
		return elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                        "empty file; not an elector record");
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                        "not JSON (%s at line %d column %d)",
		                        je.text, je.line, je.column);
	int rc = ELECTOR_OK;
	json_t *v = json_object_get(root, "version");
	json_t *r = json_object_get(root, "record");
	json_t *ep = json_object_get(root, "epoch");
	if (!json_is_object(root)) {
		rc = elector_file_err(
		    st, ELECTOR_CORRUPT, err, errlen,
		    "expected {\"version\":N,\"record\":{...}}");
	} else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	           json_integer_value(v) == LLONG_MAX) {
		rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                      "\"version\" must be an integer >= 1");
	} else if (ep &&
	           (!json_is_string(ep) || !epoch_ok(json_string_value(ep)))) {
		rc = elector_file_err(
		    st, ELECTOR_CORRUPT, err, errlen,
		    "\"epoch\" must be 1-32 lower-case hex digits");
	} else if (!json_is_object(r)) {
		rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
		                      "\"record\" must be a JSON object");
	} else {
		char rj[FILE_RECORD_JSON_MAX + 1];
		size_t rn = json_dumpb(r, rj, sizeof rj, JSON_COMPACT);
		char why[256];
		if (rn == 0 || rn > FILE_RECORD_JSON_MAX)
			rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
			                      "record larger than %d bytes",
			                      FILE_RECORD_JSON_MAX);
		else if (st->host->record_decode(rj, rn, rec, why,
		                                 sizeof why) != ELECTOR_OK)
			rc = elector_file_err(st, ELECTOR_CORRUPT, err, errlen,
			                      "invalid record: %s", why);
		else {
			pos->counter = json_integer_value(v);
			snprintf(pos->epoch, sizeof pos->epoch, "%s",
			         ep ? json_string_value(ep) : "");
		}
	}
	json_decref(root);
	return rc;
}

int elector_file_read(struct file_state *st, struct elector_record *rec,
                      struct elector_version *ver, struct file_pos *pos,
                      char *err, size_t errlen)
{
	char *buf;
	size_t len;
	memset(rec, 0, sizeof *rec);
	ver->v[0] = '\0';
	int rc = read_content(st, &buf, &len, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rc = parse_content(st, buf, len, rec, pos, err, errlen);
	free(buf);
	if (rc != ELECTOR_OK) {
		memset(rec, 0, sizeof *rec);
		return rc;
	}
	format_version(pos, ver);
	return ELECTOR_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Replace the data file with {"version":N,"epoch":E,"record":json}: temp
 * file in the same directory, fsync, rename, fsync the directory. */
static int replace_content(struct file_state *st, const struct file_pos *pos,
                           const char *json, char *err, size_t errlen)
{
	char content[FILE_RECORD_JSON_MAX + 64];
	int n;
	if (pos->epoch[0])
		n = snprintf(content, sizeof content,
		             "{\"version\":%lld,\"epoch\":\"%s\",\"record\":%s}\n",
		             pos->counter, pos->epoch, json);
	else
		n = snprintf(content, sizeof content,
		             "{\"version\":%lld,\"record\":%s}\n", pos->counter,
		             json);
	if (n < 0 || (size_t)n >= sizeof content)
		return elector_file_err(st, ELECTOR_ERROR, err, errlen,
		                        "record too large");
	char tmp[PATH_MAX];
	int t =
	    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.XXXXXX", st->dir, st->base);
	if (t < 0 || (size_t)t >= sizeof tmp)
		return elector_file_err(st, ELECTOR_ERROR, err, errlen,
		                        "temp path too long");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "create temp file in %s: %s", st->dir,
		                        strerror(errno));
	const char *what = NULL;
	if (fchmod(fd, 0644) != 0)
		what = "fchmod";
	else if (write_all(fd, content, (size_t)n) != 0)
		what = "write";
	else if (fsync(fd) != 0)
		what = "fsync";
	int saved = errno;
	if (close(fd) != 0 && what == NULL) {
		what = "close";
		saved = errno;
	}
	if (what == NULL && rename(tmp, st->path) != 0) {
		what = "rename";
		saved = errno;
	}
	if (what != NULL) {
		unlink(tmp);
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "%s %s: %s", what, tmp,
		                        strerror(saved));
	}
	/* The new content is visible now; a failed directory fsync leaves
	 * only its durability unknown, which the core treats as "re-read". */
	int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		saved = errno;
		if (dfd >= 0)
			close(dfd);
		return elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                        "fsync directory %s: %s", st->dir,
		                        strerror(saved));
	}
	close(dfd);
	return ELECTOR_OK;
}

static int encode(struct file_state *st, const struct elector_record *rec,
                  char *json, size_t cap, char *err, size_t errlen)
{
	size_t len;
	if (st->host->record_encode(rec, json, cap, &len) != ELECTOR_OK)
		return elector_file_err(st, ELECTOR_INVALID, err, errlen,
		                        "refusing to store an invalid record");
	return ELECTOR_OK;
}

int elector_file_get(void *state, struct elector_record *rec,
                     struct elector_version *ver, char *err, size_t errlen)
{
	struct file_pos pos;
	return elector_file_read(state, rec, ver, &pos, err, errlen);
}

int elector_file_create(void *state, const struct elector_record *rec,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	struct file_state *st = state;
	char json[FILE_RECORD_JSON_MAX + 1];
	new_ver->v[0] = '\0';
	int rc = encode(st, rec, json, sizeof json, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rc = lock_take(st, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	struct stat sb;
	if (lstat(st->path, &sb) == 0) {
		rc = elector_file_err(st, ELECTOR_EXISTS, err, errlen,
		                      "a record is already stored");
	} else if (errno != ENOENT) {
		rc = elector_file_err(st, ELECTOR_TRANSIENT, err, errlen,
		                      "stat: %s", strerror(errno));
	} else {
		struct file_pos pos = {.counter = 1};
		uint64_t r = 0;
		if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
			r = (uint64_t)mono_ms() * 0x9E3779B97F4A7C15ull ^
			    (uint64_t)getpid();
		snprintf(pos.epoch, sizeof pos.epoch, "%016llx",
		         (unsigned long long)r);
		rc = replace_content(st, &pos, json, err, errlen);
		if (rc == ELECTOR_OK)
			format_version(&pos, new_ver);
	}
	lock_release(st);
	return rc;
}

int elector_file_update(void *state, const struct elector_record *rec,
                        const struct elector_version *expected,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	struct file_state *st = state;
	char json[FILE_RECORD_JSON_MAX + 1];
	new_ver->v[0] = '\0';
	if (strnlen(expected->v, sizeof expected->v) >= sizeof expected->v)
		return elector_file_err(st, ELECTOR_INVALID, err, errlen,
		                        "expected version not terminated");
	int rc = encode(st, rec, json, sizeof json, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rc = lock_take(st, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	struct elector_record cur;
	struct elector_version cur_ver;
	struct file_pos pos = {.counter = 0};
	rc = elector_file_read(st, &cur, &cur_ver, &pos, err, errlen);
	if (rc == ELECTOR_OK && strcmp(cur_ver.v, expected->v) != 0)
		rc = elector_file_err(st, ELECTOR_CONFLICT, err, errlen,
		                      "version %.40s is stale (store holds %s)",
		                      expected->v, cur_ver.v);
	else if (rc == ELECTOR_OK) {
		pos.counter++;
		rc = replace_content(st, &pos, json, err, errlen);
	}
	if (rc == ELECTOR_OK)
		format_version(&pos, new_ver);
	lock_release(st);
	return rc;
}
