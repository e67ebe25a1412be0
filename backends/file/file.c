/*
 * The file backend: the election record as JSON in a local (or shared
 * volume) file. See file_int.h for the layout and docs/file-backend.md for
 * the user's view.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "file_int.h"

static const struct elector_backend_option file_options[] = {
    {"path", "data file (default $XDG_RUNTIME_DIR/elector/NAMESPACE/"
             "ELECTION.json, else /tmp/elector-$UID/...)"},
    {NULL, NULL},
};

int elector_file_err(const struct file_state *st, int status, char *err,
                     size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return status;
	int n = snprintf(err, errlen, "file %s: ", st->path);
	if (n < 0 || (size_t)n >= errlen)
		return status; /* truncated context is still NUL-terminated */
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(err + n, errlen - (size_t)n, fmt, ap) < 0)
		err[n] = '\0';
	va_end(ap);
	return status;
}

static void file_destroy(void *state)
{
	struct file_state *st = state;
	if (st == NULL)
		return;
	elector_file_watch_close(st);
	if (st->event_fd >= 0)
		close(st->event_fd);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st);
}

static int64_t default_request_timeout(const struct elector_backend_params *p)
{
	if (p->request_timeout_ms > 0)
		return p->request_timeout_ms;
	int64_t t = p->renew_deadline_ms / 2;
	if (p->retry_period_ms > 0 && (t <= 0 || p->retry_period_ms < t))
		t = p->retry_period_ms;
	return t > 0 ? t : 1000;
}

static int file_init(const struct elector_backend_host *host,
                     const struct elector_backend_params *params, void **state,
                     char *err, size_t errlen)
{
	*state = NULL;
	if (params->struct_size < sizeof(struct elector_backend_params)) {
		snprintf(err, errlen, "file: host params too old (size %u)",
		         (unsigned)params->struct_size);
		return ELECTOR_INVALID;
	}
	int rc = host->options_check(params, "file", file_options, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	struct file_state *st = calloc(1, sizeof *st);
	if (st == NULL) {
		snprintf(err, errlen, "file: out of memory");
		return ELECTOR_ERROR;
	}
	st->host = host;
	st->lock_fd = st->inotify_fd = st->watch_wd = st->event_fd = -1;
	st->request_timeout_ms = default_request_timeout(params);
	rc = elector_file_resolve_path(st, host->option(params, "path"),
	                               params->namespace_, params->election,
	                               err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	/* The lock file is created once and never replaced, so every writer
	 * locks the same inode whatever happens to the data file. */
	st->lock_fd = open(st->lock_path,
	                   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock_fd < 0) {
		rc = elector_file_err(st, ELECTOR_INVALID, err, errlen,
		                      "open lock file %s: %s", st->lock_path,
		                      strerror(errno));
		goto fail;
	}
	st->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->event_fd < 0) {
		rc = elector_file_err(st, ELECTOR_ERROR, err, errlen,
		                      "eventfd: %s", strerror(errno));
		goto fail;
	}
	host->log(ELECTOR_LOG_DEBUG, FILE_COMPONENT,
	          "store %s, request timeout %lld ms", st->path,
	          (long long)st->request_timeout_ms);
	*state = st;
	return ELECTOR_OK;
fail:
	file_destroy(st);
	return rc;
}

static int file_describe(void *state, char *buf, size_t len)
{
	const struct file_state *st = state;
	int n = snprintf(buf, len, "file:%s", st->path);
	if (n < 0 || (size_t)n >= len)
		return ELECTOR_ERROR;
	return ELECTOR_OK;
}

static const struct elector_backend_ops file_ops = {
    .abi_version = ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct elector_backend_ops),
    .name = "file",
    .capabilities = ELECTOR_CAP_WATCH,
    .options = file_options,
    .init = file_init,
    .destroy = file_destroy,
    .get = elector_file_get,
    .create = elector_file_create,
    .update = elector_file_update,
    .watch = elector_file_watch,
    .wake = elector_file_wake,
    .describe = file_describe,
    .command = NULL,
};

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version);

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version)
{
	if (host_abi_version < ELECTOR_BACKEND_ABI_VERSION)
		return NULL;
	return &file_ops;
}
