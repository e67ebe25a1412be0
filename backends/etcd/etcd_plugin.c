/* The etcd backend plugin: options, init/destroy/describe, ops table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_int.h"

#define COMPONENT "etcd"
#define DEFAULT_ENDPOINTS "http://127.0.0.1:2379"
#define DEFAULT_PREFIX "/elector"

static const struct elector_backend_option options[] = {
    {"endpoints", "comma-separated http(s)://host:port of etcd members "
                  "(';' in ELECTOR_BACKEND_OPT; default " DEFAULT_ENDPOINTS
                  "); the next is tried on "
                  "any transport error"},
    {"prefix", "key prefix; the record is PREFIX/NAMESPACE/ELECTION "
               "(default " DEFAULT_PREFIX ")"},
    {"ca-file", "CA bundle that verifies the members' certificates "
                "(https endpoints)"},
    {"cert-file", "client certificate (PEM) for etcd's client-cert auth"},
    {"key-file", "private key (PEM) of cert-file"},
    {"user", "etcd user (needs readwrite on the key; with "
             "password-file)"},
    {"password-file", "file holding the etcd user's password (one line)"},
    {"request-timeout", "bound of one request over all endpoints, e.g. "
                        "500ms (default: min(retry_period, "
                        "renew_deadline/2))"},
    {NULL, NULL},
};

static void etcd_destroy(void *state)
{
	struct elector_etcd *e = state;

	if (e == NULL)
		return;
	elector_etcd_watch_close(e);
	elector_http_client_free(e->http);
	free(e->line);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	if (e->wake_fd[0] >= 0)
		close(e->wake_fd[0]);
	if (e->wake_fd[1] >= 0)
		close(e->wake_fd[1]);
	pthread_mutex_destroy(&e->mu);
	/* Do not leave secrets in freed memory. */
	memset(e->password, 0, sizeof e->password);
	memset(e->token, 0, sizeof e->token);
	memset(e->auth_hdr, 0, sizeof e->auth_hdr);
	free(e);
}

/* A readable file option copied into *out (NULL when not given). */
static int file_opt(struct elector_etcd *e,
                    const struct elector_backend_params *p, const char *key,
                    char **out, char *err, size_t errlen)
{
	const char *v = e->host->option(p, key);

	*out = NULL;
	if (v == NULL)
		return ELECTOR_OK;
	if (v[0] == '\0' || access(v, R_OK) != 0) {
		snprintf(err, errlen, "etcd: %s '%s': %s", key, v,
		         v[0] ? strerror(errno) : "empty");
		return ELECTOR_INVALID;
	}
	*out = strdup(v);
	if (*out == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

static int tls_opts(struct elector_etcd *e,
                    const struct elector_backend_params *p, char *err,
                    size_t errlen)
{
	int rc = file_opt(e, p, "ca-file", &e->ca_file, err, errlen);
	size_t i;
	int any_tls = 0;

	if (rc == ELECTOR_OK)
		rc = file_opt(e, p, "cert-file", &e->cert_file, err, errlen);
	if (rc == ELECTOR_OK)
		rc = file_opt(e, p, "key-file", &e->key_file, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if ((e->cert_file == NULL) != (e->key_file == NULL)) {
		snprintf(err, errlen,
		         "etcd: cert-file and key-file go "
		         "together");
		return ELECTOR_INVALID;
	}
	for (i = 0; i < e->n_eps; i++)
		any_tls |= e->eps[i].tls;
	if (!any_tls && (e->ca_file || e->cert_file))
		e->host->log(ELECTOR_LOG_WARN, COMPONENT,
		             "ca-file/cert-file are set but no endpoint is "
		             "https://: they are not used");
	e->tls.ca_file = e->ca_file;
	e->tls.cert_file = e->cert_file;
	e->tls.key_file = e->key_file;
	return ELECTOR_OK;
}

static int key_opt(struct elector_etcd *e,
                   const struct elector_backend_params *p, char *err,
                   size_t errlen)
{
	const char *prefix = e->host->option(p, "prefix");
	const char *ns =
	    p->namespace_ && p->namespace_[0] ? p->namespace_ : "default";
	size_t pl;
	int n;

	if (prefix == NULL)
		prefix = DEFAULT_PREFIX;
	pl = strlen(prefix);
	while (pl > 0 && prefix[pl - 1] == '/')
		pl--;
	if (pl == 0 || memchr(prefix, '\n', pl) != NULL) {
		snprintf(err, errlen,
		         "etcd: prefix '%s' must be a non-empty "
		         "key prefix such as /elector",
		         prefix);
		return ELECTOR_INVALID;
	}
	n = snprintf(e->key, sizeof e->key, "%.*s/%s/%s", (int)pl, prefix, ns,
	             p->election ? p->election : "");
	if (n < 0 || (size_t)n >= ELECTOR_ETCD_KEY_MAX - 1) {
		snprintf(err, errlen,
		         "etcd: key prefix, namespace and "
		         "election name too long");
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int auth_opts(struct elector_etcd *e,
                     const struct elector_backend_params *p, char *err,
                     size_t errlen)
{
	const char *user = e->host->option(p, "user");
	const char *pw = e->host->option(p, "password-file");

	if (user == NULL && pw == NULL)
		return ELECTOR_OK;
	if (user == NULL || user[0] == '\0' || pw == NULL) {
		snprintf(err, errlen,
		         "etcd: user and password-file go "
		         "together");
		return ELECTOR_INVALID;
	}
	if ((size_t)snprintf(e->user, sizeof e->user, "%s", user) >=
	    sizeof e->user) {
		snprintf(err, errlen, "etcd: user name too long");
		return ELECTOR_INVALID;
	}
	return elector_etcd_read_secret(e->host, pw, e->password,
	                                sizeof e->password, err, errlen);
}

static int configure(struct elector_etcd *e,
                     const struct elector_backend_params *p, char *err,
                     size_t errlen)
{
	const char *eps = e->host->option(p, "endpoints");
	const char *to = e->host->option(p, "request-timeout");
	char why[300];
	int rc;

	rc = elector_etcd_parse_endpoints(eps ? eps : DEFAULT_ENDPOINTS, e->eps,
	                                  ELECTOR_ETCD_MAX_ENDPOINTS, &e->n_eps,
	                                  why, sizeof why);
	if (rc != ELECTOR_OK) {
		snprintf(err, errlen, "etcd: endpoints: %s", why);
		return rc;
	}
	e->timeout_ms =
	    p->request_timeout_ms > 0 ? p->request_timeout_ms : 2000;
	if (to != NULL &&
	    (elector_etcd_parse_duration(to, &e->timeout_ms) != 0 ||
	     (p->renew_deadline_ms > 0 &&
	      e->timeout_ms >= p->renew_deadline_ms))) {
		snprintf(err, errlen,
		         "etcd: request-timeout '%s' must be a "
		         "duration like 500ms or 2s, below renew_deadline "
		         "(%lld ms)",
		         to, (long long)p->renew_deadline_ms);
		return ELECTOR_INVALID;
	}
	rc = key_opt(e, p, err, errlen);
	if (rc == ELECTOR_OK)
		rc = tls_opts(e, p, err, errlen);
	if (rc == ELECTOR_OK)
		rc = auth_opts(e, p, err, errlen);
	return rc;
}

static int etcd_init(const struct elector_backend_host *host,
                     const struct elector_backend_params *params, void **state,
                     char *err, size_t errlen)
{
	struct elector_etcd *e;
	size_t i, off;
	int rc;

	*state = NULL;
	rc = host->options_check(params, COMPONENT, options, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	e = calloc(1, sizeof *e);
	if (e == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		return ELECTOR_ERROR;
	}
	e->host = host;
	e->wake_fd[0] = e->wake_fd[1] = -1;
	pthread_mutex_init(&e->mu, NULL);
	rc = configure(e, params, err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	if (pipe2(e->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "etcd: pipe: %s", strerror(errno));
		rc = ELECTOR_ERROR;
		goto fail;
	}
	rc = elector_http_client_new(&e->http, err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	off = (size_t)snprintf(e->describe, sizeof e->describe, "etcd:%s@",
	                       e->key);
	for (i = 0; i < e->n_eps && off < sizeof e->describe; i++)
		off += (size_t)snprintf(e->describe + off,
		                        sizeof e->describe - off, "%s%s",
		                        i ? "," : "", e->eps[i].url);
	if (e->user[0] != '\0' && off < sizeof e->describe)
		snprintf(e->describe + off, sizeof e->describe - off,
		         " (user %s)", e->user);
	*state = e;
	return ELECTOR_OK;
fail:
	etcd_destroy(e);
	return rc;
}

static int etcd_describe(void *state, char *buf, size_t len)
{
	const struct elector_etcd *e = state;
	int n = snprintf(buf, len, "%s", e->describe);

	return n < 0 || (size_t)n >= len ? ELECTOR_ERROR : ELECTOR_OK;
}

static const struct elector_backend_ops ops = {
    .abi_version = ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct elector_backend_ops),
    .name = "etcd",
    .capabilities = ELECTOR_CAP_WATCH,
    .options = options,
    .init = etcd_init,
    .destroy = etcd_destroy,
    .get = elector_etcd_get,
    .create = elector_etcd_create,
    .update = elector_etcd_update,
    .watch = elector_etcd_watch,
    .wake = elector_etcd_wake,
    .describe = etcd_describe,
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
