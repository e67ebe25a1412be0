/*
 * Change notification for the file backend.
 *
 * The DIRECTORY is watched, not the file: writers replace the file by
 * rename, so a watch on the file's inode would report nothing once the
 * first write replaced it. The events that matter carry the file's name:
 * IN_MOVED_TO (a writer's rename), IN_CLOSE_WRITE (someone edited it in
 * place), IN_DELETE / IN_MOVED_FROM (removed). Every wake-up re-reads the
 * file and compares versions, so our own writes and other files' events
 * cost one read and no false report.
 *
 * wake() writes to an eventfd that watch() polls beside the inotify fd; it
 * stays readable until a watch consumes it, so a wake() that comes before
 * the watch also makes that watch return at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "file_int.h"

#define WATCH_MASK                                                             \
	(IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM |            \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch_ensure(struct file_state *st, char *err, size_t errlen)
{
	if (st->inotify_fd < 0) {
		st->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (st->inotify_fd < 0)
			return elector_file_err(st, ELECTOR_TRANSIENT, err,
			                        errlen, "inotify_init1: %s",
			                        strerror(errno));
	}
	if (st->watch_wd < 0) {
		st->watch_wd =
		    inotify_add_watch(st->inotify_fd, st->dir, WATCH_MASK);
		if (st->watch_wd < 0)
			return elector_file_err(st, ELECTOR_TRANSIENT, err,
			                        errlen,
			                        "inotify watch on %s: %s",
			                        st->dir, strerror(errno));
	}
	return ELECTOR_OK;
}

/* Consume queued events; returns nonzero if any may concern our file. */
static int drain(struct file_state *st)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;
	for (;;) {
		ssize_t n = read(st->inotify_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return relevant;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)p;
			if ((ev->mask & IN_IGNORED) && ev->wd == st->watch_wd) {
				/* directory gone or unmounted: re-add later */
				st->watch_wd = -1;
				relevant = 1;
			}
			if ((ev->mask & IN_MOVE_SELF) &&
			    ev->wd == st->watch_wd) {
				/* the watch would follow the moved directory;
				 * watch whatever is at the path now */
				inotify_rm_watch(st->inotify_fd, st->watch_wd);
				st->watch_wd = -1;
			}
			if (ev->mask &
			    (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF))
				relevant = 1;
			if (ev->len > 0 &&
			    strncmp(ev->name, st->base, ev->len) == 0 &&
			    strlen(st->base) < ev->len)
				relevant = 1;
			p += sizeof *ev + ev->len;
		}
	}
}

/* Nonzero (and the counter reset) when wake() was called. */
static int woken(struct file_state *st)
{
	uint64_t v;
	ssize_t n;
	do
		n = read(st->event_fd, &v, sizeof v);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof v;
}

/* Compare the stored version with known: 1 changed (record filled when
 * *got), 0 unchanged, <0 error status negated. */
static int changed(struct file_state *st, const struct elector_version *known,
                   struct elector_record *rec, struct elector_version *ver,
                   int *got, char *err, size_t errlen)
{
	struct file_pos pos;
	int rc = elector_file_read(st, rec, ver, &pos, err, errlen);
	if (rc == ELECTOR_OK) {
		if (known->v[0] != '\0' && strcmp(ver->v, known->v) == 0)
			return 0;
		*got = 1;
		return 1;
	}
	if (rc == ELECTOR_NOT_FOUND) {
		if (err != NULL && errlen > 0)
			err[0] = '\0';
		/* removed since the core looked: let it re-read */
		return known->v[0] != '\0' ? 1 : 0;
	}
	return -rc;
}

int elector_file_watch(void *state, const struct elector_version *known,
                       int64_t timeout_ms, struct elector_record *rec,
                       struct elector_version *ver, int *got, char *err,
                       size_t errlen)
{
	struct file_state *st = state;
	*got = 0;
	if (woken(st))
		return ELECTOR_TIMEOUT;
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc = watch_ensure(st, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	/* Events queued before this call are covered by the read below. */
	drain(st);
	int recheck = 1;
	for (;;) {
		if (recheck) {
			int c = changed(st, known, rec, ver, got, err, errlen);
			if (c > 0)
				return ELECTOR_OK;
			if (c < 0)
				return -c;
		}
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return ELECTOR_TIMEOUT;
		struct pollfd pf[2] = {
		    {.fd = st->inotify_fd, .events = POLLIN},
		    {.fd = st->event_fd, .events = POLLIN},
		};
		int pr = poll(pf, 2, left > 60000 ? 60000 : (int)left);
		if (pr < 0 && errno != EINTR)
			return elector_file_err(st, ELECTOR_TRANSIENT, err,
			                        errlen, "poll: %s",
			                        strerror(errno));
		if (pr <= 0) {
			recheck = 0;
			continue;
		}
		if ((pf[1].revents & POLLIN) && woken(st))
			return ELECTOR_TIMEOUT;
		recheck = (pf[0].revents & POLLIN) ? drain(st) : 0;
		if (st->watch_wd < 0) {
			rc = watch_ensure(st, err, errlen);
			if (rc != ELECTOR_OK)
				return rc;
		}
	}
}

void elector_file_wake(void *state)
{
	struct file_state *st = state;
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(st->event_fd, &one, sizeof one);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is already huge, i.e. a wake is pending. */
}

void elector_file_watch_close(struct file_state *st)
{
	if (st->inotify_fd >= 0)
		close(st->inotify_fd);
	st->inotify_fd = -1;
	st->watch_wd = -1;
}
