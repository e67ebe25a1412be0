/* The Kubernetes Lease backend: ops table, requests, status mapping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lease_int.h"

#define COMPONENT "lease"
#define LEASE_BODY_MAX (1024u * 1024u)
#define RETRY_AFTER_MAX_MS 300000
#define API_PATH "/apis/coordination.k8s.io/v1/namespaces/"

static const struct elector_backend_option lease_options[] = {
	{"kubeconfig", "kubeconfig file or ':'-separated list (default: "
	               "in-cluster, else $KUBECONFIG, else ~/.kube/config)"},
	{"context", "kubeconfig context to use instead of current-context"},
	{"request-timeout", "timeout of one API request, e.g. 2s "
	                    "(default: min(retry_period, renew_deadline/2))"},
	{NULL, NULL},
};

/* "1.5s", "500ms", "2m" -> ms. */
static int parse_timeout(const char *s, int64_t *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		*ms = (int64_t)v;
	else if (strcmp(end, "s") == 0)
		*ms = (int64_t)(v * 1000.0);
	else if (strcmp(end, "m") == 0)
		*ms = (int64_t)(v * 60000.0);
	else
		return -1;
	return *ms > 0 ? 0 : -1;
}

/* DNS-1123 subdomain (lease names) or label (namespaces). */
static int dns_name_ok(const char *s, size_t max, int dots)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-' && !(dots && ch == '.'))
			return 0;
		if (!alnum && (i == 0 || i == n - 1))
			return 0;
	}
	return 1;
}

static char *fmt_alloc(const char *a, const char *b, const char *c,
                       const char *d)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s%s%s", a, b, c, d);
	return p;
}

static void lease_destroy(void *state)
{
	struct elector_lease *st = state;

	if (st == NULL)
		return;
	elector_lease_watch_close(st);
	elector_http_client_free(st->http);
	elector_lease_conn_free(&st->conn);
	elector_lease_cred_free(&st->cred);
	json_decref(st->cached);
	json_decref(st->latest);
	free(st->line);
	free(st->ns);
	free(st->name);
	free(st->identity);
	free(st->leases_url);
	free(st->lease_url);
	free(st->watch_url);
	if (st->wake_fd[0] >= 0)
		close(st->wake_fd[0]);
	if (st->wake_fd[1] >= 0)
		close(st->wake_fd[1]);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* Namespace: params (the daemon's --namespace), else POD_NAMESPACE, else
 * the service-account namespace file / kubeconfig context, else default. */
static const char *pick_namespace(const struct elector_backend_params *p,
                                  const struct elector_lease_conn *c)
{
	const char *env = getenv("POD_NAMESPACE");

	if (p->namespace_ != NULL && p->namespace_[0] != '\0')
		return p->namespace_;
	if (env != NULL && env[0] != '\0')
		return env;
	if (c->namespace_ != NULL)
		return c->namespace_;
	return "default";
}

static int lease_init(const struct elector_backend_host *host,
                      const struct elector_backend_params *params,
                      void **state, char *err, size_t errlen)
{
	struct elector_lease *st;
	const char *to;
	int rc;

	rc = host->options_check(params, COMPONENT, lease_options, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	st = calloc(1, sizeof *st);
	if (st == NULL) {
		snprintf(err, errlen, "lease: out of memory");
		return ELECTOR_ERROR;
	}
	st->host = host;
	st->wake_fd[0] = st->wake_fd[1] = -1;
	pthread_mutex_init(&st->mu, NULL);
	st->timeout_ms = params->request_timeout_ms > 0
	                         ? params->request_timeout_ms
	                         : 2000;
	to = host->option(params, "request-timeout");
	if (to != NULL) {
		if (parse_timeout(to, &st->timeout_ms) != 0 ||
		    st->timeout_ms >= params->renew_deadline_ms) {
			snprintf(err, errlen,
			         "lease: request-timeout '%s' must be a duration "
			         "like 2s or 500ms, below renew_deadline (%lld ms)",
			         to, (long long)params->renew_deadline_ms);
			rc = ELECTOR_INVALID;
			goto fail;
		}
	}
	/* Exec plugins (cloud CLIs) often need a second or two; they run only
	 * when the credential expires, bounded below renew_deadline. */
	st->exec_timeout_ms = params->renew_deadline_ms / 2;
	if (st->exec_timeout_ms < st->timeout_ms)
		st->exec_timeout_ms = st->timeout_ms;
	rc = elector_lease_conn_load(host->option(params, "kubeconfig"),
	                             host->option(params, "context"), &st->conn,
	                             err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	st->ns = strdup(pick_namespace(params, &st->conn));
	st->name = strdup(params->election ? params->election : "");
	st->identity = strdup(params->identity ? params->identity : "");
	if (st->ns == NULL || st->name == NULL || st->identity == NULL)
		goto oom;
	if (!dns_name_ok(st->name, 253, 1) || !dns_name_ok(st->ns, 63, 0)) {
		snprintf(err, errlen,
		         "lease: election '%s' must be a DNS subdomain and "
		         "namespace '%s' a DNS label ([a-z0-9-], <= 63)",
		         st->name, st->ns);
		rc = ELECTOR_INVALID;
		goto fail;
	}
	if (strncmp(st->conn.server, "https://", 8) != 0 &&
	    strncmp(st->conn.server, "http://", 7) != 0) {
		snprintf(err, errlen, "lease: server '%s' (%s) is not an http(s) "
		         "URL", st->conn.server, st->conn.source);
		rc = ELECTOR_INVALID;
		goto fail;
	}
	if (st->conn.insecure)
		host->log(ELECTOR_LOG_WARN, COMPONENT,
		          "insecure-skip-tls-verify is set for %s: the API "
		          "server's certificate is NOT verified",
		          st->conn.server);
	st->leases_url = fmt_alloc(st->conn.server, API_PATH, st->ns, "/leases");
	if (st->leases_url == NULL)
		goto oom;
	st->lease_url = fmt_alloc(st->leases_url, "/", st->name, "");
	if (st->lease_url == NULL)
		goto oom;
	if (pipe2(st->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "lease: pipe: %s", strerror(errno));
		rc = ELECTOR_ERROR;
		goto fail;
	}
	rc = elector_http_client_new(&st->http, err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	snprintf(st->describe, sizeof st->describe, "lease:%s/%s@%s (%s)",
	         st->ns, st->name, st->conn.server, st->conn.source);
	*state = st;
	return ELECTOR_OK;
oom:
	snprintf(err, errlen, "lease: out of memory");
	rc = ELECTOR_ERROR;
fail:
	lease_destroy(st);
	return rc;
}

int elector_lease_request(struct elector_lease *st, const char *method,
                          const char *url, const char *body,
                          struct elector_http_response *resp, char *err,
                          size_t errlen)
{
	char auth[8192];
	const char *hdrs[5];
	struct elector_http_request req;
	struct elector_http_tls tls;
	int64_t now = elector_lease_now_ms();
	size_t nh = 0;
	int attempt, rc = ELECTOR_ERROR;

	elector_http_response_clear(resp);
	if (now < st->not_before_ms) {
		snprintf(err, errlen,
		         "lease %s/%s: API server asked to retry after %lld ms "
		         "more (Retry-After)", st->ns, st->name,
		         (long long)(st->not_before_ms - now));
		return ELECTOR_TRANSIENT;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		rc = elector_lease_cred_header(&st->conn, &st->cred, attempt > 0,
		                               st->exec_timeout_ms, auth,
		                               sizeof auth, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		nh = 0;
		hdrs[nh++] = "Accept: application/json";
		hdrs[nh++] = "User-Agent: elector/0.1.0 (lease)";
		if (body != NULL)
			hdrs[nh++] = "Content-Type: application/json";
		if (auth[0] != '\0')
			hdrs[nh++] = auth;
		elector_lease_conn_tls(&st->conn, &tls);
		if (st->cred.exec_cert != NULL && st->cred.exec_key != NULL) {
			tls.cert_file = tls.key_file = NULL;
			tls.cert_data = st->cred.exec_cert;
			tls.cert_data_len = strlen(st->cred.exec_cert);
			tls.key_data = st->cred.exec_key;
			tls.key_data_len = strlen(st->cred.exec_key);
		}
		memset(&req, 0, sizeof req);
		req.method = method;
		req.url = url;
		req.headers = hdrs;
		req.n_headers = nh;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		req.timeout_ms = st->timeout_ms;
		req.max_body = LEASE_BODY_MAX;
		req.tls = &tls;
		rc = elector_http_do(st->http, &req, resp, err, errlen);
		memset(auth, 0, sizeof auth); /* no token left on the stack */
		if (rc == ELECTOR_TIMEOUT)
			rc = ELECTOR_TRANSIENT; /* outcome unknown: core re-reads */
		if (rc != ELECTOR_OK)
			return rc;
		if (resp->status != 401 ||
		    (st->conn.token_file == NULL && st->conn.exec == NULL))
			break;
		/* 401: the token may have rotated; re-read it once. */
		st->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
		              "401 from %s; refreshing credentials", url);
	}
	return rc;
}

/* message and reason of a Kubernetes Status body. */
static void status_text(const struct elector_http_response *resp, char *msg,
                        size_t cap, char *reason, size_t rcap)
{
	json_t *doc = NULL;
	json_error_t je;
	const char *m = NULL, *r = NULL;

	msg[0] = reason[0] = '\0';
	if (resp->body != NULL)
		doc = json_loadb(resp->body, resp->body_len, 0, &je);
	if (doc != NULL) {
		m = json_string_value(json_object_get(doc, "message"));
		r = json_string_value(json_object_get(doc, "reason"));
	}
	snprintf(msg, cap, "%s", m ? m : "");
	snprintf(reason, rcap, "%s", r ? r : "");
	json_decref(doc);
}

int elector_lease_map_error(struct elector_lease *st, const char *verb,
                            const struct elector_http_response *resp,
                            char *err, size_t errlen)
{
	char msg[512], reason[64];
	long code = resp->status;

	status_text(resp, msg, sizeof msg, reason, sizeof reason);
	if (resp->retry_after_ms >= 0 && (code == 429 || code >= 500)) {
		int64_t ra = resp->retry_after_ms;
		if (ra > RETRY_AFTER_MAX_MS)
			ra = RETRY_AFTER_MAX_MS;
		st->not_before_ms = elector_lease_now_ms() + ra;
	}
	switch (code) {
	case 401:
		snprintf(err, errlen,
		         "lease %s/%s: %s: 401 Unauthorized (%s): the API server "
		         "rejected the credentials of %s",
		         st->ns, st->name, verb, msg[0] ? msg : "no message",
		         st->conn.source);
		return ELECTOR_DENIED;
	case 403:
		snprintf(err, errlen,
		         "lease %s/%s: %s: 403 Forbidden: %s; grant get, create, "
		         "update%s on leases.coordination.k8s.io in namespace %s",
		         st->ns, st->name, verb, msg[0] ? msg : "no message",
		         strcmp(verb, "watch") == 0 ? ", watch" : "", st->ns);
		return ELECTOR_DENIED;
	case 404:
		snprintf(err, errlen, "lease %s/%s: %s: not found%s%s", st->ns,
		         st->name, verb, msg[0] ? ": " : "", msg);
		return ELECTOR_NOT_FOUND;
	case 409:
		snprintf(err, errlen, "lease %s/%s: %s: 409 %s: %s", st->ns,
		         st->name, verb, reason, msg);
		return strcmp(reason, "AlreadyExists") == 0 ? ELECTOR_EXISTS
		                                             : ELECTOR_CONFLICT;
	case 400:
	case 422:
		snprintf(err, errlen, "lease %s/%s: %s: %ld %s: %s (a bug: please "
		         "report it)", st->ns, st->name, verb, code, reason, msg);
		return ELECTOR_INVALID;
	case 429:
		snprintf(err, errlen, "lease %s/%s: %s: 429 Too Many Requests%s",
		         st->ns, st->name, verb,
		         resp->retry_after_ms >= 0 ? " (honouring Retry-After)"
		                                   : "");
		return ELECTOR_TRANSIENT;
	default:
		snprintf(err, errlen, "lease %s/%s: %s: HTTP %ld%s%s", st->ns,
		         st->name, verb, code, msg[0] ? ": " : "", msg);
		return code >= 500 ? ELECTOR_TRANSIENT : ELECTOR_ERROR;
	}
}

void elector_lease_cache(struct elector_lease *st, json_t *obj)
{
	json_t *old = st->cached;

	st->cached = json_incref(obj);
	json_decref(old);
}

/* Parse a 2xx body into a Lease, decode and cache it. */
static int take_lease(struct elector_lease *st, const char *verb,
                      const struct elector_http_response *resp,
                      struct elector_record *rec, struct elector_version *ver,
                      char *err, size_t errlen)
{
	struct elector_record tmp;
	json_error_t je;
	json_t *obj;
	int rc;

	obj = resp->body ? json_loadb(resp->body, resp->body_len, 0, &je)
	                 : NULL;
	if (obj == NULL) {
		snprintf(err, errlen, "lease %s/%s: %s: HTTP %ld with a body that "
		         "is not JSON", st->ns, st->name, verb, resp->status);
		return ELECTOR_CORRUPT;
	}
	rc = elector_lease_decode(st->host, obj, rec ? rec : &tmp, ver, err,
	                          errlen);
	if (rc == ELECTOR_OK)
		elector_lease_cache(st, obj);
	json_decref(obj);
	return rc;
}

/* We hold the Lease now: the engine renews and does not watch, so do not
 * keep an unread stream open on the API server. */
static void wrote(struct elector_lease *st, const struct elector_record *rec)
{
	if (st->stream != NULL && rec->holder_identity[0] != '\0' &&
	    strcmp(rec->holder_identity, st->identity) == 0)
		elector_lease_watch_close(st);
}

static int lease_get(void *state, struct elector_record *rec,
                     struct elector_version *ver, char *err, size_t errlen)
{
	struct elector_lease *st = state;
	struct elector_http_response resp = {0};
	int rc = elector_lease_request(st, "GET", st->lease_url, NULL, &resp, err,
	                               errlen);

	if (rc == ELECTOR_OK) {
		if (resp.status == 200)
			rc = take_lease(st, "get", &resp, rec, ver, err, errlen);
		else
			rc = elector_lease_map_error(st, "get", &resp, err, errlen);
	}
	elector_http_response_clear(&resp);
	return rc;
}

/* Serialise obj with spec built from rec (and resourceVersion when rv). */
static char *build_body(struct elector_lease *st, json_t *obj,
                        const struct elector_record *rec, const char *rv,
                        char *err, size_t errlen)
{
	json_t *spec = elector_lease_spec(st->host, rec, err, errlen);
	json_t *meta = json_object_get(obj, "metadata");
	char *s;

	if (spec == NULL)
		return NULL;
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	json_object_set_new(meta, "name", json_string(st->name));
	json_object_set_new(meta, "namespace", json_string(st->ns));
	if (rv != NULL)
		json_object_set_new(meta, "resourceVersion", json_string(rv));
	json_object_set_new(obj, "spec", spec);
	s = json_dumps(obj, JSON_COMPACT);
	if (s == NULL)
		snprintf(err, errlen, "lease: out of memory");
	return s;
}

static json_t *fresh_object(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "apiVersion", json_string("coordination.k8s.io/v1"));
	json_object_set_new(o, "kind", json_string("Lease"));
	json_object_set_new(o, "metadata", json_object());
	return o;
}

static int lease_create(void *state, const struct elector_record *rec,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	struct elector_lease *st = state;
	struct elector_http_response resp = {0};
	json_t *obj = fresh_object();
	char *body = obj ? build_body(st, obj, rec, NULL, err, errlen) : NULL;
	int rc;

	json_decref(obj);
	if (body == NULL)
		return ELECTOR_INVALID;
	rc = elector_lease_request(st, "POST", st->leases_url, body, &resp, err,
	                           errlen);
	free(body);
	if (rc == ELECTOR_OK) {
		if (resp.status == 201 || resp.status == 200)
			rc = take_lease(st, "create", &resp, NULL, new_ver, err,
			                errlen);
		if (rc == ELECTOR_OK && resp.status / 100 == 2)
			wrote(st, rec);
		else
			rc = elector_lease_map_error(st, "create", &resp, err,
			                             errlen);
	}
	elector_http_response_clear(&resp);
	return rc;
}

static int cached_is_ours(const struct elector_lease *st)
{
	json_t *meta = json_object_get(st->cached, "metadata");
	const char *nm = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));

	return nm != NULL && ns != NULL && uid != NULL && uid[0] != '\0' &&
	       strcmp(nm, st->name) == 0 && strcmp(ns, st->ns) == 0;
}

/* The cached object (client-go PUTs what it read, metadata and all). Its
 * metadata.uid matters: the API server turns it into a UID precondition,
 * so a PUT on a Lease that was deleted (or deleted and re-created) is a
 * 409 Conflict instead of a create-on-update. */
static json_t *object_for_update(struct elector_lease *st)
{
	json_t *o;

	if (!cached_is_ours(st))
		return NULL;
	o = json_deep_copy(st->cached);
	if (o != NULL) {
		json_object_set_new(o, "apiVersion",
		                    json_string("coordination.k8s.io/v1"));
		json_object_set_new(o, "kind", json_string("Lease"));
	}
	return o;
}

static int lease_update(void *state, const struct elector_record *rec,
                        const struct elector_version *expected,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	struct elector_lease *st = state;
	struct elector_http_response resp = {0};
	json_t *obj;
	char *body;
	int rc;

	if (expected == NULL || expected->v[0] == '\0') {
		snprintf(err, errlen, "lease %s/%s: update needs the expected "
		         "resourceVersion", st->ns, st->name);
		return ELECTOR_INVALID;
	}
	if (!cached_is_ours(st)) {
		/* No object read yet by this handle (a fresh process): read it
		 * once for its uid; NOT_FOUND when there is none. */
		struct elector_record cur;
		struct elector_version cv;
		rc = lease_get(st, &cur, &cv, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
	}
	obj = object_for_update(st);
	body = obj ? build_body(st, obj, rec, expected->v, err, errlen) : NULL;
	json_decref(obj);
	if (body == NULL)
		return ELECTOR_INVALID;
	rc = elector_lease_request(st, "PUT", st->lease_url, body, &resp, err,
	                           errlen);
	free(body);
	if (rc == ELECTOR_OK) {
		/* 201 cannot happen with a uid precondition; should a server
		 * create anyway, it was an atomic create (nobody held it). */
		if (resp.status == 200 || resp.status == 201)
			rc = take_lease(st, "update", &resp, NULL, new_ver, err,
			                errlen);
		if (rc == ELECTOR_OK && resp.status / 100 == 2)
			wrote(st, rec);
		else
			rc = elector_lease_map_error(st, "update", &resp, err,
			                             errlen);
	}
	elector_http_response_clear(&resp);
	return rc;
}

static int lease_describe(void *state, char *buf, size_t len)
{
	struct elector_lease *st = state;

	snprintf(buf, len, "%s", st->describe);
	return ELECTOR_OK;
}

static const struct elector_backend_ops lease_ops = {
	.abi_version = ELECTOR_BACKEND_ABI_VERSION,
	.struct_size = sizeof(struct elector_backend_ops),
	.name = "lease",
	.capabilities = ELECTOR_CAP_WATCH,
	.options = lease_options,
	.init = lease_init,
	.destroy = lease_destroy,
	.get = lease_get,
	.create = lease_create,
	.update = lease_update,
	.watch = elector_lease_watch,
	.wake = elector_lease_wake,
	.describe = lease_describe,
	.command = NULL,
};

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version);

__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version)
{
	/* The tables only grow: any core of our version or newer works. */
	if (host_abi_version < ELECTOR_BACKEND_ABI_VERSION)
		return NULL;
	return &lease_ops;
}
