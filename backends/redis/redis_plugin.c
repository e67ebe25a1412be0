/* The redis backend plugin: options, init/destroy/describe, ops table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redis_int.h"

static const struct elector_backend_option options[] = {
	{"url", "redis://[user:password@]host:port[/db], unix:///path.sock"
	        "[?db=N] or redis-sentinel://h1:26379,h2:26379/MASTER[?db=N]"
	        " (default redis://127.0.0.1:6379)"},
	{"username", "ACL user name (default: from the url, else the "
	             "default user)"},
	{"password-file", "file holding the password (one line); keeps it "
	                  "out of argv"},
	{"connect-timeout", "TCP/unix connect timeout, a Go duration "
	                    "(default: half the request timeout)"},
	{"command-timeout", "timeout of one command, a Go duration (default: "
	                    "3/4 of the request timeout)"},
	{NULL, NULL},
};

static int read_secret(const struct elector_backend_host *host,
                       const char *path, char *out, size_t cap, char *err,
                       size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "redis: password-file %s: %s", path,
		         strerror(errno));
		return ELECTOR_INVALID;
	}
	size_t n = 0;
	int rc = ELECTOR_OK;
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		host->log(ELECTOR_LOG_WARN, "redis", "password-file %s is "
		          "readable by every user (chmod 600 it)", path);
	for (;;) {
		if (n + 1 >= cap) {
			snprintf(err, errlen, "redis: password-file %s: longer "
			         "than %zu bytes", path, cap - 2);
			rc = ELECTOR_INVALID;
			break;
		}
		ssize_t k = read(fd, out + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err, errlen, "redis: password-file %s: %s",
			         path, strerror(errno));
			rc = ELECTOR_INVALID;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (rc != ELECTOR_OK) {
		memset(out, 0, cap);
		return rc;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	if (n == 0 || memchr(out, '\n', n) || strlen(out) != n) {
		snprintf(err, errlen, "redis: password-file %s: must hold one "
		         "non-empty line", path);
		memset(out, 0, cap);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int timeout_opt(const struct elector_backend_host *host,
                       const struct elector_backend_params *params,
                       const char *key, int64_t def, int64_t *out, char *err,
                       size_t errlen)
{
	const char *v = host->option(params, key);
	*out = def;
	if (!v)
		return ELECTOR_OK;
	char why[160];
	if (elector_redis_duration_parse(v, out, why, sizeof why) !=
	    ELECTOR_OK) {
		snprintf(err, errlen, "redis: %s: %s", key, why);
		return ELECTOR_INVALID;
	}
	if (*out <= 0 || *out >= params->request_timeout_ms) {
		snprintf(err, errlen, "redis: %s %s must be above 0 and below "
		         "the request timeout (%lld ms; by default "
		         "min(retry-period, renew-deadline/2))", key, v,
		         (long long)params->request_timeout_ms);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int keys(struct elector_redis *r,
                const struct elector_backend_params *params, char *err,
                size_t errlen)
{
	const char *ns = params->namespace_ ? params->namespace_ : "default";
	int a = snprintf(r->key_record, sizeof r->key_record,
	                 "{elector:%s:%s}:record", ns, params->election);
	int b = snprintf(r->key_version, sizeof r->key_version,
	                 "{elector:%s:%s}:version", ns, params->election);
	/* Pub/sub ignores SELECT: channels are shared by all databases, so
	 * the same election in another db gets its own channel. */
	char db[24] = "";
	if (r->t.db != 0)
		snprintf(db, sizeof db, "@%d", r->t.db);
	int c = snprintf(r->channel, sizeof r->channel,
	                 "{elector:%s:%s}:events%s", ns, params->election, db);
	if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof r->key_record ||
	    (size_t)b >= sizeof r->key_version ||
	    (size_t)c >= sizeof r->channel) {
		snprintf(err, errlen, "redis: election or namespace name too "
		         "long");
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static void redis_destroy(void *state)
{
	struct elector_redis *r = state;
	if (!r)
		return;
	elector_redis_disconnect(r, 1);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	/* Do not leave the secret in freed memory. */
	memset(r->password, 0, sizeof r->password);
	memset(r->t.password, 0, sizeof r->t.password);
	free(r);
}

static int configure(struct elector_redis *r,
                     const struct elector_backend_params *params, char *err,
                     size_t errlen)
{
	const struct elector_backend_host *host = r->host;
	int rc = host->options_check(params, "redis", options, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	const char *url = host->option(params, "url");
	char why[200];
	rc = elector_redis_url_parse(url ? url : "redis://127.0.0.1:6379",
	                             &r->t, why, sizeof why);
	if (rc != ELECTOR_OK) {
		snprintf(err, errlen, "redis: url: %s", why);
		return rc;
	}
	r->request_timeout_ms = params->request_timeout_ms > 0
	                                ? params->request_timeout_ms
	                                : 1000;
	int64_t rt = r->request_timeout_ms;
	rc = timeout_opt(host, params, "connect-timeout", rt / 2 > 0 ? rt / 2 : 1,
	                 &r->connect_timeout_ms, err, errlen);
	if (rc == ELECTOR_OK)
		rc = timeout_opt(host, params, "command-timeout",
		                 rt * 3 / 4 > 0 ? rt * 3 / 4 : 1,
		                 &r->command_timeout_ms, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	const char *user = host->option(params, "username");
	snprintf(r->username, sizeof r->username, "%s",
	         user ? user : r->t.user);
	const char *pwfile = host->option(params, "password-file");
	if (pwfile) {
		if (r->t.password[0]) {
			snprintf(err, errlen, "redis: give the password either "
			         "in the url or in password-file, not both");
			return ELECTOR_INVALID;
		}
		rc = read_secret(host, pwfile, r->password, sizeof r->password, err,
		                 errlen);
		if (rc != ELECTOR_OK)
			return rc;
	} else if (r->t.password[0]) {
		memcpy(r->password, r->t.password, sizeof r->password);
		host->log(ELECTOR_LOG_WARN, "redis", "the url carries a "
		          "password, visible in process listings; prefer "
		          "password-file");
	}
	if (r->username[0] && !r->password[0]) {
		snprintf(err, errlen, "redis: username '%s' needs a password "
		         "(password-file)", r->username);
		return ELECTOR_INVALID;
	}
	return keys(r, params, err, errlen);
}

static int redis_init(const struct elector_backend_host *host,
                      const struct elector_backend_params *params,
                      void **state, char *err, size_t errlen)
{
	struct elector_redis *r = calloc(1, sizeof *r);
	*state = NULL;
	if (!r) {
		snprintf(err, errlen, "redis: out of memory");
		return ELECTOR_ERROR;
	}
	r->host = host;
	elector_redis_scripts_init();
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0) {
		snprintf(err, errlen, "redis: eventfd: %s", strerror(errno));
		redis_destroy(r);
		return ELECTOR_ERROR;
	}
	int rc = configure(r, params, err, errlen);
	if (rc != ELECTOR_OK) {
		redis_destroy(r);
		return rc;
	}
	*state = r;
	return ELECTOR_OK;
}

static int redis_describe(void *state, char *buf, size_t len)
{
	const struct elector_redis *r = state;
	char where[ELECTOR_REDIS_HOST_MAX + 64];
	int n;
	if (r->t.kind == ELECTOR_REDIS_SENTINEL)
		n = snprintf(buf, len, "redis-sentinel:%s db %d key %s",
		             elector_redis_where(r, where, sizeof where), r->t.db,
		             r->key_record);
	else
		n = snprintf(buf, len, "redis:%s db %d key %s",
		             elector_redis_where(r, where, sizeof where), r->t.db,
		             r->key_record);
	return n < 0 || (size_t)n >= len ? ELECTOR_ERROR : ELECTOR_OK;
}

static const struct elector_backend_ops ops = {
	.abi_version = ELECTOR_BACKEND_ABI_VERSION,
	.struct_size = sizeof(struct elector_backend_ops),
	.name = "redis",
	.capabilities = ELECTOR_CAP_WATCH,
	.options = options,
	.init = redis_init,
	.destroy = redis_destroy,
	.get = elector_redis_get,
	.create = elector_redis_create,
	.update = elector_redis_update,
	.watch = elector_redis_watch,
	.wake = elector_redis_wake,
	.describe = redis_describe,
	.command = NULL,
};

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version);

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version)
{
	if (host_abi_version != ELECTOR_BACKEND_ABI_VERSION)
		return NULL;
	return &ops;
}
