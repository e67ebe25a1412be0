/*
 * Plugin loading. A plugin is refused before any of its code runs when its
 * file or directory is world-writable; after dlopen, its entry point and ops
 * table are checked as SQLite checks a VFS: version, size, required slots.
 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "log.h"

struct elector_plugin {
	void *handle;
	const struct elector_backend_ops *ops;
};

/* The ops table of ABI version 1 up to its last required slot. */
#define OPS_V1_MIN_SIZE offsetof(struct elector_backend_ops, command)

const char *elector_plugin_default_dir(char *buf, size_t cap)
{
	const char *env = getenv("ELECTOR_PLUGIN_DIR");
	Dl_info info;
	char path[PATH_MAX];
	char *slash;

	if (env && *env) {
		snprintf(buf, cap, "%s", env);
		return buf;
	}
	/* Relative to the object holding this code: the daemon binary
	 * (PREFIX/bin/elector) or libelector.so (PREFIX/lib). */
	if (dladdr((void *)elector_plugin_default_dir, &info) &&
	    info.dli_fname && realpath(info.dli_fname, path)) {
		slash = strrchr(path, '/');
		if (slash) {
			*slash = '\0';
			slash = strrchr(path, '/');
			if (slash && strcmp(slash, "/lib") == 0)
				snprintf(buf, cap, "%s/elector", path);
			else
				snprintf(buf, cap, "%s/../lib/elector", path);
			return buf;
		}
	}
	snprintf(buf, cap, "/usr/local/lib/elector");
	return buf;
}

static int name_ok(const char *name)
{
	size_t i;
	if (!name || !*name || strlen(name) > 64)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void elector_plugin_list(const char *dir, char *buf, size_t cap)
{
	DIR *d;
	struct dirent *e;
	char *names[64];
	size_t n = 0, i, len = 0;

	buf[0] = '\0';
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL && n < 64) {
		size_t l = strlen(e->d_name);
		if (l > 3 && strcmp(e->d_name + l - 3, ".so") == 0) {
			names[n] = strndup(e->d_name, l - 3);
			if (names[n])
				n++;
		}
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);
	for (i = 0; i < n; i++) {
		int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
		                 names[i]);
		if (w > 0 && (size_t)w < cap - len)
			len += (size_t)w;
		free(names[i]);
	}
}

static int check_perms(const char *dir, const char *file, char *err,
                       size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "plugin directory %s: %s", dir,
		         strerror(errno));
		return ELECTOR_INVALID;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "plugin directory %s: not a directory",
		         dir);
		return ELECTOR_INVALID;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
		         "refusing plugins from world-writable directory %s "
		         "(chmod o-w it)",
		         dir);
		return ELECTOR_INVALID;
	}
	if (stat(file, &st) != 0)
		return ELECTOR_NOT_FOUND;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "plugin %s: not a regular file", file);
		return ELECTOR_INVALID;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
		         "refusing world-writable plugin %s (chmod o-w it)",
		         file);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int check_ops(const char *file, const struct elector_backend_ops *ops,
                     char *err, size_t errlen)
{
	const char *missing = NULL;

	if (ops->abi_version != ELECTOR_BACKEND_ABI_VERSION) {
		snprintf(err, errlen,
		         "plugin %s: ABI version %u, this elector speaks %u",
		         file, ops->abi_version, ELECTOR_BACKEND_ABI_VERSION);
		return ELECTOR_INVALID;
	}
	if (ops->struct_size < OPS_V1_MIN_SIZE) {
		snprintf(err, errlen,
		         "plugin %s: ops table of %u bytes is smaller than the "
		         "%zu of ABI version 1",
		         file, ops->struct_size, (size_t)OPS_V1_MIN_SIZE);
		return ELECTOR_INVALID;
	}
	if (!ops->name)
		missing = "name";
	else if (!ops->init)
		missing = "init";
	else if (!ops->destroy)
		missing = "destroy";
	else if (!ops->get)
		missing = "get";
	else if (!ops->create)
		missing = "create";
	else if (!ops->update)
		missing = "update";
	else if (!ops->describe)
		missing = "describe";
	else if ((ops->capabilities & ELECTOR_CAP_WATCH) && !ops->watch)
		missing = "watch (declared by the WATCH capability)";
	else if ((ops->capabilities & ELECTOR_CAP_WATCH) && !ops->wake)
		missing = "wake (declared by the WATCH capability)";
	if (missing) {
		snprintf(err, errlen, "plugin %s: required op '%s' is NULL",
		         file, missing);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

int elector_plugin_load(const char *dir, const char *name,
                        struct elector_plugin **out, char *err, size_t errlen)
{
	char dirbuf[PATH_MAX], file[PATH_MAX + 80], avail[512];
	struct elector_plugin *p;
	elector_backend_entry_fn entry;
	const struct elector_backend_ops *ops;
	void *handle;
	int rc;

	*out = NULL;
	if (!dir)
		dir = elector_plugin_default_dir(dirbuf, sizeof dirbuf);
	if (!name_ok(name)) {
		snprintf(err, errlen,
		         "invalid backend name '%s' (letters, digits, - and _)",
		         name ? name : "");
		return ELECTOR_INVALID;
	}
	snprintf(file, sizeof file, "%s/%s.so", dir, name);
	rc = check_perms(dir, file, err, errlen);
	if (rc == ELECTOR_NOT_FOUND) {
		elector_plugin_list(dir, avail, sizeof avail);
		snprintf(err, errlen,
		         "unknown backend '%s': no %s (available: %s)", name,
		         file, avail[0] ? avail : "none");
		return ELECTOR_INVALID;
	}
	if (rc != ELECTOR_OK)
		return rc;

	handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(err, errlen, "plugin %s: %s", file, dlerror());
		return ELECTOR_INVALID;
	}
	*(void **)(&entry) = dlsym(handle, ELECTOR_BACKEND_ENTRY_SYMBOL);
	if (!entry) {
		snprintf(err, errlen, "plugin %s: entry symbol %s not found",
		         file, ELECTOR_BACKEND_ENTRY_SYMBOL);
		dlclose(handle);
		return ELECTOR_INVALID;
	}
	ops = entry(ELECTOR_BACKEND_ABI_VERSION);
	if (!ops) {
		snprintf(err, errlen,
		         "plugin %s: refused to load into ABI version %u", file,
		         ELECTOR_BACKEND_ABI_VERSION);
		dlclose(handle);
		return ELECTOR_INVALID;
	}
	rc = check_ops(file, ops, err, errlen);
	if (rc != ELECTOR_OK) {
		dlclose(handle);
		return rc;
	}
	if (strcmp(ops->name, name) != 0)
		LOG_WARN("plugin %s calls itself '%s'", file, ops->name);
	p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		dlclose(handle);
		return ELECTOR_ERROR;
	}
	p->handle = handle;
	p->ops = ops;
	*out = p;
	return ELECTOR_OK;
}

int elector_module_open(const char *dir, const char *relpath, void **handle,
                        char *err, size_t errlen)
{
	char dirbuf[PATH_MAX], file[PATH_MAX + 80];
	int rc;

	*handle = NULL;
	if (!dir)
		dir = elector_plugin_default_dir(dirbuf, sizeof dirbuf);
	snprintf(file, sizeof file, "%s/%s", dir, relpath);
	rc = check_perms(dir, file, err, errlen);
	if (rc == ELECTOR_NOT_FOUND) {
		snprintf(err, errlen, "module %s is missing", file);
		return ELECTOR_INVALID;
	}
	if (rc != ELECTOR_OK)
		return rc;
	*handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		snprintf(err, errlen, "module %s: %s", file, dlerror());
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

const struct elector_backend_ops *
elector_plugin_ops(const struct elector_plugin *p)
{
	return p ? p->ops : NULL;
}

void elector_plugin_unload(struct elector_plugin *p)
{
	if (!p)
		return;
	dlclose(p->handle);
	free(p);
}

/* Split "k=v" strings into kv pairs backed by one owned copy. */
static int split_options(struct elector_store *s, const char *const *opts,
                         size_t n, char *err, size_t errlen)
{
	size_t i, total = 0, off = 0;
	for (i = 0; i < n; i++)
		total += strlen(opts[i]) + 1;
	s->kv = calloc(n ? n : 1, sizeof *s->kv);
	s->kv_storage = malloc(total ? total : 1);
	if (!s->kv || !s->kv_storage) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(opts[i]);
		char *copy = s->kv_storage + off;
		char *eq;
		memcpy(copy, opts[i], l + 1);
		off += l + 1;
		eq = strchr(copy, '=');
		if (!eq || eq == copy) {
			snprintf(err, errlen,
			         "backend option '%s' is not KEY=VALUE",
			         opts[i]);
			return ELECTOR_INVALID;
		}
		*eq = '\0';
		s->kv[i].key = copy;
		s->kv[i].value = eq + 1;
	}
	return ELECTOR_OK;
}

int elector_store_open(const char *dir, const char *name, const char *election,
                       const char *namespace_, const char *identity,
                       const char *const *opts, size_t n_opts,
                       long long lease_duration_ms, long long renew_deadline_ms,
                       long long retry_period_ms, long long request_timeout_ms,
                       unsigned flags, struct elector_store **out, char *err,
                       size_t errlen)
{
	struct elector_store *s;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	rc = split_options(s, opts, n_opts, err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	s->election = strdup(election ? election : "");
	s->namespace_ = strdup(namespace_ ? namespace_ : "default");
	s->identity = strdup(identity ? identity : "");
	if (!s->election || !s->namespace_ || !s->identity) {
		snprintf(err, errlen, "out of memory");
		rc = ELECTOR_ERROR;
		goto fail;
	}
	if (request_timeout_ms <= 0) {
		request_timeout_ms = renew_deadline_ms / 2;
		if (retry_period_ms < request_timeout_ms)
			request_timeout_ms = retry_period_ms;
	}
	s->params.struct_size = sizeof s->params;
	s->params.election = s->election;
	s->params.namespace_ = s->namespace_;
	s->params.identity = s->identity;
	s->params.lease_duration_ms = lease_duration_ms;
	s->params.renew_deadline_ms = renew_deadline_ms;
	s->params.retry_period_ms = retry_period_ms;
	s->params.request_timeout_ms = request_timeout_ms;
	s->params.options = s->kv;
	s->params.n_options = n_opts;
	s->params.flags = flags;

	rc = elector_plugin_load(dir, name, &s->plugin, err, errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	s->ops = elector_plugin_ops(s->plugin);
	err[0] = '\0';
	rc = s->ops->init(elector_host(), &s->params, &s->state, err, errlen);
	if (rc != ELECTOR_OK) {
		if (!err[0])
			snprintf(err, errlen, "backend %s: init failed", name);
		s->state = NULL;
		goto fail;
	}
	*out = s;
	return ELECTOR_OK;
fail:
	elector_store_close(s);
	return rc;
}

void elector_store_close(struct elector_store *s)
{
	if (!s)
		return;
	if (s->ops && s->state)
		s->ops->destroy(s->state);
	elector_plugin_unload(s->plugin);
	free(s->kv);
	free(s->kv_storage);
	free(s->election);
	free(s->namespace_);
	free(s->identity);
	free(s);
}
