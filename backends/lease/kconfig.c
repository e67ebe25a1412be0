/* Where the API server is and how to authenticate: kubeconfig (as
 * clientcmd reads it) or the in-cluster service account. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lease_int.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_KUBECONFIGS 16

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_strv(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void exec_free(struct elector_lease_exec *e)
{
	if (e == NULL)
		return;
	free(e->api_version);
	free(e->command);
	free_strv(e->argv);
	free_strv(e->env);
	free(e->dir);
	free(e);
}

void elector_lease_conn_free(struct elector_lease_conn *c)
{
	free(c->server);
	free(c->source);
	free(c->namespace_);
	free(c->ca_file);
	free(c->ca_data);
	free(c->cert_file);
	free(c->cert_data);
	free(c->key_file);
	free(c->key_data);
	free(c->server_name);
	free(c->token);
	free(c->token_file);
	exec_free(c->exec);
	memset(c, 0, sizeof *c);
}

void elector_lease_conn_tls(const struct elector_lease_conn *c,
                            struct elector_http_tls *t)
{
	memset(t, 0, sizeof *t);
	t->ca_file = c->ca_file;
	t->ca_data = c->ca_data;
	t->ca_data_len = c->ca_len;
	t->cert_file = c->cert_file;
	t->cert_data = c->cert_data;
	t->cert_data_len = c->cert_len;
	t->key_file = c->key_file;
	t->key_data = c->key_data;
	t->key_data_len = c->key_len;
	t->insecure = c->insecure;
	t->server_name = c->server_name;
}

static char *path_join(const char *dir, const char *file)
{
	size_t n;
	char *p;

	if (file[0] == '/' || dir == NULL)
		return strdup(file);
	n = strlen(dir) + strlen(file) + 2;
	p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, file);
	return p;
}

/* Read a small text file, trailing whitespace trimmed. */
static int read_small(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char buf[16384];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ELECTOR_INVALID;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	                 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	*out = strdup(buf);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

static const char *sa_dir(void)
{
	const char *d = getenv("ELECTOR_SERVICEACCOUNT_DIR");

	return (d != NULL && d[0] != '\0') ? d : SA_DIR_DEFAULT;
}

int elector_lease_conn_incluster(struct elector_lease_conn *c, char *err,
                                 size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = sa_dir();
	char tmp[512];
	int n;

	memset(c, 0, sizeof *c);
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
		snprintf(err, errlen,
		         "in-cluster config: KUBERNETES_SERVICE_HOST and "
		         "KUBERNETES_SERVICE_PORT must be set");
		return ELECTOR_INVALID;
	}
	if (strchr(host, ':') != NULL)
		n = snprintf(tmp, sizeof tmp, "https://[%s]:%s", host, port);
	else
		n = snprintf(tmp, sizeof tmp, "https://%s:%s", host, port);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		snprintf(err, errlen, "in-cluster config: host name too long");
		return ELECTOR_INVALID;
	}
	c->server = strdup(tmp);
	c->source = strdup("in-cluster");
	c->token_file = path_join(dir, "token");
	c->ca_file = path_join(dir, "ca.crt");
	if (c->server == NULL || c->source == NULL || c->token_file == NULL ||
	    c->ca_file == NULL) {
		elector_lease_conn_free(c);
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	if (access(c->token_file, R_OK) != 0) {
		snprintf(err, errlen,
		         "in-cluster config: service account token %s: %s "
		         "(is automountServiceAccountToken off?)",
		         c->token_file, strerror(errno));
		elector_lease_conn_free(c);
		return ELECTOR_INVALID;
	}
	n = snprintf(tmp, sizeof tmp, "%s/namespace", dir);
	if (n > 0 && (size_t)n < sizeof tmp && access(tmp, R_OK) == 0) {
		char e2[64];
		if (read_small(tmp, &c->namespace_, e2, sizeof e2) != ELECTOR_OK)
			c->namespace_ = NULL;
	}
	return ELECTOR_OK;
}

/* The kubeconfig files in precedence order, merged as clientcmd does: the
 * first file that defines a named cluster/user/context or current-context
 * wins. */
struct kc_set {
	struct elector_ky *doc[MAX_KUBECONFIGS];
	char *path[MAX_KUBECONFIGS];
	size_t n;
};

static void kc_set_free(struct kc_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		elector_ky_free(s->doc[i]);
		free(s->path[i]);
	}
	s->n = 0;
}

static int kc_set_load(struct kc_set *s, const char *list, int explicit_,
                       char *err, size_t errlen)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = ELECTOR_OK;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	for (tok = strtok_r(copy, ":", &save); tok != NULL;
	     tok = strtok_r(NULL, ":", &save)) {
		struct elector_ky *doc = NULL;
		if (s->n == MAX_KUBECONFIGS) {
			snprintf(err, errlen, "kubeconfig: more than %d files",
			         MAX_KUBECONFIGS);
			rc = ELECTOR_INVALID;
			break;
		}
		rc = elector_ky_parse_file(tok, &doc, err, errlen);
		if (rc == ELECTOR_NOT_FOUND && !explicit_) {
			rc = ELECTOR_OK; /* missing KUBECONFIG entries are skipped */
			continue;
		}
		if (rc != ELECTOR_OK) {
			if (rc == ELECTOR_NOT_FOUND)
				rc = ELECTOR_INVALID;
			break;
		}
		s->doc[s->n] = doc;
		s->path[s->n] = strdup(tok);
		if (s->path[s->n] == NULL) {
			elector_ky_free(doc);
			snprintf(err, errlen, "out of memory");
			rc = ELECTOR_ERROR;
			break;
		}
		s->n++;
	}
	free(copy);
	return rc;
}

/* The first item named `name` in list `section` of any file; *file gets
 * the index of the file it came from. */
static const struct elector_ky *kc_find(const struct kc_set *s,
                                        const char *section, const char *name,
                                        const char *inner, size_t *file)
{
	size_t i, j;

	for (i = 0; i < s->n; i++) {
		const struct elector_ky *l = elector_ky_get(s->doc[i], section);
		if (l == NULL || l->type != ELECTOR_KY_SEQ)
			continue;
		for (j = 0; j < l->n; j++) {
			const char *nm = elector_ky_str(l->items[j], "name");
			if (nm != NULL && strcmp(nm, name) == 0) {
				*file = i;
				return elector_ky_get(l->items[j], inner);
			}
		}
	}
	return NULL;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *d;

	if (copy == NULL)
		return NULL;
	d = strdup(dirname(copy));
	free(copy);
	return d;
}

/* A file reference (relative to the kubeconfig's directory) or inline
 * base64 data. */
static int kc_pem(const struct elector_ky *n, const char *fkey,
                  const char *dkey, const char *dir, char **file, char **data,
                  size_t *len, char *err, size_t errlen)
{
	const char *f = elector_ky_str(n, fkey);
	const char *d = elector_ky_str(n, dkey);

	if (d != NULL && d[0] != '\0') {
		if (elector_lease_b64decode(d, data, len) != ELECTOR_OK) {
			snprintf(err, errlen, "kubeconfig: %s is not valid base64",
			         dkey);
			return ELECTOR_INVALID;
		}
		return ELECTOR_OK;
	}
	if (f != NULL && f[0] != '\0') {
		*file = path_join(dir, f);
		if (*file == NULL) {
			snprintf(err, errlen, "out of memory");
			return ELECTOR_ERROR;
		}
	}
	return ELECTOR_OK;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof *nv);

	if (nv == NULL)
		return -1;
	*v = nv;
	nv[*n] = strdup(s);
	if (nv[*n] == NULL)
		return -1;
	(*n)++;
	nv[*n] = NULL;
	return 0;
}

static int kc_exec(const struct elector_ky *ex, const char *dir,
                   struct elector_lease_conn *c, char *err, size_t errlen)
{
	struct elector_lease_exec *e = calloc(1, sizeof *e);
	const struct elector_ky *args = elector_ky_get(ex, "args");
	const struct elector_ky *env = elector_ky_get(ex, "env");
	const char *cmd = elector_ky_str(ex, "command");
	const char *api = elector_ky_str(ex, "apiVersion");
	size_t na = 0, ne = 0, i;

	if (e == NULL)
		goto oom;
	c->exec = e;
	if (cmd == NULL || cmd[0] == '\0') {
		snprintf(err, errlen, "kubeconfig: user.exec.command is required");
		return ELECTOR_INVALID;
	}
	if (api == NULL || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
	                    strcmp(api, "client.authentication.k8s.io/v1beta1") !=
	                            0)) {
		snprintf(err, errlen,
		         "kubeconfig: user.exec.apiVersion '%s' not supported "
		         "(client.authentication.k8s.io/v1 or v1beta1)",
		         api ? api : "");
		return ELECTOR_INVALID;
	}
	e->api_version = strdup(api);
	e->command = strdup(cmd);
	e->dir = xstrdup(dir);
	if (e->api_version == NULL || e->command == NULL ||
	    strv_push(&e->argv, &na, cmd) != 0)
		goto oom;
	for (i = 0; args != NULL && args->type == ELECTOR_KY_SEQ && i < args->n;
	     i++) {
		if (args->items[i]->type != ELECTOR_KY_SCALAR ||
		    strv_push(&e->argv, &na, args->items[i]->scalar) != 0)
			goto oom;
	}
	for (i = 0; env != NULL && env->type == ELECTOR_KY_SEQ && i < env->n;
	     i++) {
		const char *nm = elector_ky_str(env->items[i], "name");
		const char *val = elector_ky_str(env->items[i], "value");
		char kv[4096];
		int k;
		if (nm == NULL)
			continue;
		k = snprintf(kv, sizeof kv, "%s=%s", nm, val ? val : "");
		if (k < 0 || (size_t)k >= sizeof kv) {
			snprintf(err, errlen, "kubeconfig: exec env %s too long", nm);
			return ELECTOR_INVALID;
		}
		if (strv_push(&e->env, &ne, kv) != 0)
			goto oom;
	}
	return ELECTOR_OK;
oom:
	snprintf(err, errlen, "out of memory");
	return ELECTOR_ERROR;
}

static int kc_resolve(const struct kc_set *s, const char *context,
                      struct elector_lease_conn *c, char *err, size_t errlen)
{
	const char *ctxname = context;
	const struct elector_ky *ctx, *cl, *us;
	const char *clname, *usname, *v;
	size_t i, fi = 0;
	char *dir = NULL;
	char src[1024];
	int rc;

	for (i = 0; ctxname == NULL && i < s->n; i++) {
		v = elector_ky_str(s->doc[i], "current-context");
		if (v != NULL && v[0] != '\0')
			ctxname = v;
	}
	if (ctxname == NULL) {
		snprintf(err, errlen,
		         "kubeconfig %s: no current-context; set one or pass "
		         "--backend-opt context=NAME",
		         s->path[0]);
		return ELECTOR_INVALID;
	}
	ctx = kc_find(s, "contexts", ctxname, "context", &fi);
	if (ctx == NULL) {
		snprintf(err, errlen, "kubeconfig %s: context '%s' not found",
		         s->path[0], ctxname);
		return ELECTOR_INVALID;
	}
	clname = elector_ky_str(ctx, "cluster");
	usname = elector_ky_str(ctx, "user");
	v = elector_ky_str(ctx, "namespace");
	if (v != NULL && v[0] != '\0')
		c->namespace_ = strdup(v);
	snprintf(src, sizeof src, "kubeconfig %s context %s", s->path[0],
	         ctxname);
	c->source = strdup(src);
	cl = clname ? kc_find(s, "clusters", clname, "cluster", &fi) : NULL;
	if (cl == NULL) {
		snprintf(err, errlen, "kubeconfig %s: cluster '%s' of context "
		         "'%s' not found", s->path[0], clname ? clname : "",
		         ctxname);
		return ELECTOR_INVALID;
	}
	dir = dir_of(s->path[fi]);
	v = elector_ky_str(cl, "server");
	if (v == NULL || v[0] == '\0') {
		snprintf(err, errlen, "kubeconfig %s: cluster '%s' has no server",
		         s->path[fi], clname);
		rc = ELECTOR_INVALID;
		goto out;
	}
	c->server = strdup(v);
	if (c->server != NULL) {
		size_t n = strlen(c->server);
		while (n > 0 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
	}
	v = elector_ky_str(cl, "insecure-skip-tls-verify");
	c->insecure = v != NULL && strcmp(v, "true") == 0;
	v = elector_ky_str(cl, "tls-server-name");
	if (v != NULL && v[0] != '\0')
		c->server_name = strdup(v);
	rc = kc_pem(cl, "certificate-authority", "certificate-authority-data",
	            dir, &c->ca_file, &c->ca_data, &c->ca_len, err, errlen);
	if (rc != ELECTOR_OK)
		goto out;
	free(dir);
	dir = NULL;
	us = usname ? kc_find(s, "users", usname, "user", &fi) : NULL;
	if (us == NULL) {
		rc = ELECTOR_OK; /* anonymous */
		goto out;
	}
	dir = dir_of(s->path[fi]);
	rc = kc_pem(us, "client-certificate", "client-certificate-data", dir,
	            &c->cert_file, &c->cert_data, &c->cert_len, err, errlen);
	if (rc == ELECTOR_OK)
		rc = kc_pem(us, "client-key", "client-key-data", dir, &c->key_file,
		            &c->key_data, &c->key_len, err, errlen);
	if (rc != ELECTOR_OK)
		goto out;
	v = elector_ky_str(us, "token");
	if (v != NULL && v[0] != '\0')
		c->token = strdup(v);
	v = elector_ky_str(us, "tokenFile");
	if (v != NULL && v[0] != '\0')
		c->token_file = path_join(dir, v);
	if (elector_ky_get(us, "exec") != NULL)
		rc = kc_exec(elector_ky_get(us, "exec"), dir, c, err, errlen);
	if (rc == ELECTOR_OK && elector_ky_get(us, "auth-provider") != NULL) {
		snprintf(err, errlen, "kubeconfig: user '%s' uses an "
		         "auth-provider, which is not supported; use an exec "
		         "credential plugin", usname);
		rc = ELECTOR_INVALID;
	}
out:
	free(dir);
	if (rc == ELECTOR_OK && (c->server == NULL || c->source == NULL)) {
		snprintf(err, errlen, "out of memory");
		rc = ELECTOR_ERROR;
	}
	return rc;
}

int elector_lease_conn_load(const char *kubeconfig, const char *context,
                            struct elector_lease_conn *c, char *err,
                            size_t errlen)
{
	struct kc_set set;
	const char *list = kubeconfig;
	int explicit_ = 1;
	char home[1024];
	int rc;

	memset(c, 0, sizeof *c);
	memset(&set, 0, sizeof set);
	if (list == NULL || list[0] == '\0') {
		const char *h = getenv("KUBERNETES_SERVICE_HOST");
		if (h != NULL && h[0] != '\0' && context == NULL)
			return elector_lease_conn_incluster(c, err, errlen);
		explicit_ = 0;
		list = getenv("KUBECONFIG");
		if (list == NULL || list[0] == '\0') {
			const char *hd = getenv("HOME");
			int n = snprintf(home, sizeof home, "%s/.kube/config",
			                 hd ? hd : "");
			if (n < 0 || (size_t)n >= sizeof home) {
				snprintf(err, errlen, "HOME too long");
				return ELECTOR_INVALID;
			}
			list = home;
		}
	}
	rc = kc_set_load(&set, list, explicit_, err, errlen);
	if (rc == ELECTOR_OK && set.n == 0) {
		snprintf(err, errlen,
		         "no Kubernetes configuration: not in a cluster "
		         "(KUBERNETES_SERVICE_HOST unset) and no kubeconfig at "
		         "%s; pass --kubeconfig FILE",
		         list);
		rc = ELECTOR_INVALID;
	}
	if (rc == ELECTOR_OK)
		rc = kc_resolve(&set, context, c, err, errlen);
	kc_set_free(&set);
	if (rc != ELECTOR_OK)
		elector_lease_conn_free(c);
	return rc;
}
