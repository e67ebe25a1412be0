/*
 * A socket stream for libgit2 whose connect, read and write never outlast a
 * per-thread deadline. libgit2 1.5 has no network timeouts: a server that
 * accepts the connection and then stops answering (a stopped process, a
 * half-dead proxy) would block a fetch or push forever, and with it the
 * engine thread past renew_deadline. libgit2's TLS streams are built on the
 * registered GIT_STREAM_STANDARD stream, so this bounds https too.
 *
 * The registry is process-wide; in elector only this plugin uses libgit2.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>

#include "gist_int.h"

/* Without a deadline (should not happen), I/O still ends after this. */
#define FALLBACK_TIMEOUT_MS 30000

static _Thread_local int64_t tl_deadline_ms;
static _Thread_local int tl_timed_out;

struct bstream {
	git_stream parent;
	char *host, *port;
	int fd;
};

void elector_gist_stream_deadline(int64_t deadline_ms)
{
	tl_deadline_ms = deadline_ms;
	tl_timed_out = 0;
}

int elector_gist_stream_timed_out(void)
{
	return tl_timed_out;
}

static int remaining_ms(void)
{
	int64_t d = tl_deadline_ms;
	int64_t left;

	if (d <= 0)
		return FALLBACK_TIMEOUT_MS;
	left = d - elector_gist_now_ms();
	if (left <= 0)
		return 0;
	return left > 600000 ? 600000 : (int)left;
}

/* Wait for fd to become ready for events; 0 ready, -1 error set. */
static int wait_fd(int fd, short events, const char *what)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = remaining_ms();
		int n;

		if (ms == 0) {
			tl_timed_out = 1;
			git_error_set_str(GIT_ERROR_NET, what);
			return -1;
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			git_error_set_str(GIT_ERROR_OS, "poll failed");
			return -1;
		}
	}
}

static int try_connect(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	                ai->ai_protocol);
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	if (wait_fd(fd, POLLOUT, "connect timed out (request deadline)") < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static int bs_connect(git_stream *s)
{
	struct bstream *st = (struct bstream *)s;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int rc;
	char msg[300];

	/* getaddrinfo cannot be bounded; /etc/hosts and a local resolver keep
	 * it short in practice. */
	rc = getaddrinfo(st->host, st->port, &hints, &res);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "resolve %s: %s", st->host, gai_strerror(rc));
		git_error_set_str(GIT_ERROR_NET, msg);
		return -1;
	}
	for (ai = res; ai && st->fd < 0 && !tl_timed_out; ai = ai->ai_next)
		st->fd = try_connect(ai);
	freeaddrinfo(res);
	if (st->fd < 0) {
		if (!tl_timed_out) {
			snprintf(msg, sizeof msg, "connect %s:%s: failed", st->host, st->port);
			git_error_set_str(GIT_ERROR_NET, msg);
		}
		return -1;
	}
	return 0;
}

static ssize_t bs_read(git_stream *s, void *data, size_t len)
{
	struct bstream *st = (struct bstream *)s;

	for (;;) {
		ssize_t n;

		if (wait_fd(st->fd, POLLIN, "read timed out (request deadline)") < 0)
			return -1;
		n = recv(st->fd, data, len, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set_str(GIT_ERROR_NET, "error receiving data from socket");
			return -1;
		}
	}
}

static ssize_t bs_write(git_stream *s, const char *data, size_t len, int flags)
{
	struct bstream *st = (struct bstream *)s;
	size_t off = 0;

	(void)flags;
	while (off < len) {
		ssize_t n;

		if (wait_fd(st->fd, POLLOUT, "write timed out (request deadline)") < 0)
			return -1;
		n = send(st->fd, data + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			git_error_set_str(GIT_ERROR_NET, "error sending data to socket");
			return -1;
		}
		off += (size_t)n;
	}
	return (ssize_t)len;
}

static int bs_close(git_stream *s)
{
	struct bstream *st = (struct bstream *)s;

	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	return 0;
}

static void bs_free(git_stream *s)
{
	struct bstream *st = (struct bstream *)s;

	bs_close(s);
	free(st->host);
	free(st->port);
	free(st);
}

static int bs_new(git_stream **out, const char *host, const char *port)
{
	struct bstream *st = calloc(1, sizeof *st);

	if (!st)
		return -1;
	st->host = strdup(host);
	st->port = strdup(port ? port : "443");
	st->fd = -1;
	if (!st->host || !st->port) {
		bs_free(&st->parent);
		return -1;
	}
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = bs_connect;
	st->parent.read = bs_read;
	st->parent.write = bs_write;
	st->parent.close = bs_close;
	st->parent.free = bs_free;
	*out = &st->parent;
	return 0;
}

int elector_gist_stream_register(void)
{
	git_stream_registration r = { .version = GIT_STREAM_VERSION, .init = bs_new };

	/* Called after every git_libgit2_init(): a full shutdown clears the
	 * registry. Registering again replaces the same entry. */
	return git_stream_register(GIT_STREAM_STANDARD, &r);
}
