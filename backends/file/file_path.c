/*
 * Where the file backend keeps its data: the `path` option, or a per-user
 * default directory. /tmp is shared with every other user, so a
 * pre-existing /tmp/elector-$UID is trusted only when it is a real
 * directory that we own and nobody else can write to (otherwise another
 * user could pre-create it and swap our files).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_int.h"

static int path_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		int n = snprintf(err, errlen, "file: ");
		if (n > 0 && (size_t)n < errlen &&
		    vsnprintf(err + n, errlen - (size_t)n, fmt, ap) < 0)
			err[n] = '\0';
		va_end(ap);
	}
	return ELECTOR_INVALID;
}

/* A namespace or election name usable as one path component. */
static int name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* mkdir 0700 that accepts an existing directory. */
static int make_dir(const char *d, char *err, size_t errlen)
{
	if (mkdir(d, 0700) == 0 || errno == EEXIST) {
		struct stat sb;
		if (stat(d, &sb) != 0)
			return path_err(err, errlen, "stat %s: %s", d,
			                strerror(errno));
		if (!S_ISDIR(sb.st_mode))
			return path_err(err, errlen,
			                "%s exists and is not a "
			                "directory",
			                d);
		return ELECTOR_OK;
	}
	return path_err(err, errlen, "create directory %s: %s", d,
	                strerror(errno));
}

/* mkdir -p of every ancestor directory of path (not path itself). */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof buf)
		return path_err(err, errlen, "path too long");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		struct stat sb;
		int rc = ELECTOR_OK;
		if (stat(buf, &sb) != 0)
			rc = make_dir(buf, err, errlen);
		else if (!S_ISDIR(sb.st_mode))
			rc =
			    path_err(err, errlen, "%s is not a directory", buf);
		buf[i] = '/';
		if (rc != ELECTOR_OK)
			return rc;
	}
	return ELECTOR_OK;
}

/* The private per-user directory under the shared tmp_base. */
static int tmp_root(const char *tmp_base, char *out, size_t cap, char *err,
                    size_t errlen)
{
	uid_t uid = geteuid();
	int n = snprintf(out, cap, "%s/elector-%u", tmp_base, (unsigned)uid);
	if (n < 0 || (size_t)n >= cap)
		return path_err(err, errlen, "path too long");
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return path_err(err, errlen, "create directory %s: %s", out,
		                strerror(errno));
	struct stat sb;
	if (lstat(out, &sb) != 0)
		return path_err(err, errlen, "stat %s: %s", out,
		                strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return path_err(
		    err, errlen,
		    "refusing %s: not a directory (a "
		    "symlink or file there is not ours); remove it or "
		    "set path=",
		    out);
	if (sb.st_uid != uid)
		return path_err(err, errlen,
		                "refusing %s: owned by uid %u, not "
		                "%u; remove it or set path=",
		                out, (unsigned)sb.st_uid, (unsigned)uid);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return path_err(err, errlen,
		                "refusing %s: mode %03o is group- "
		                "or world-writable; chmod 700 it or set path=",
		                out, (unsigned)(sb.st_mode & 0777));
	return ELECTOR_OK;
}

/* Fill path, lock_path, dir and base from an absolute or relative path. */
static int split_path(struct file_state *st, const char *p, char *err,
                      size_t errlen)
{
	size_t n = strlen(p);
	if (n == 0 || p[n - 1] == '/')
		return path_err(err, errlen, "path \"%s\" does not name a file",
		                p);
	int w;
	if (p[0] == '/') {
		w = snprintf(st->path, sizeof st->path, "%s", p);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) == NULL)
			return path_err(err, errlen, "getcwd: %s",
			                strerror(errno));
		w = snprintf(st->path, sizeof st->path, "%s/%s", cwd, p);
	}
	if (w < 0 || (size_t)w >= sizeof st->path)
		return path_err(err, errlen, "path too long");
	w = snprintf(st->lock_path, sizeof st->lock_path, "%s.lock", st->path);
	if (w < 0 || (size_t)w >= sizeof st->lock_path)
		return path_err(err, errlen, "path too long");
	const char *slash = strrchr(st->path, '/');
	size_t dlen = (size_t)(slash - st->path);
	if (dlen == 0)
		dlen = 1; /* a file in "/" */
	memcpy(st->dir, st->path, dlen);
	st->dir[dlen] = '\0';
	const char *b = slash + 1;
	if (strlen(b) > NAME_MAX - 16 || strcmp(b, ".") == 0 ||
	    strcmp(b, "..") == 0)
		return path_err(err, errlen, "bad file name \"%s\"", b);
	memcpy(st->base, b, strlen(b) + 1);
	return ELECTOR_OK;
}

int elector_file_resolve_path_in(struct file_state *st, const char *opt_path,
                                 const char *namespace_, const char *election,
                                 const char *xdg, const char *tmp_base,
                                 char *err, size_t errlen)
{
	if (opt_path != NULL) {
		int rc = split_path(st, opt_path, err, errlen);
		if (rc == ELECTOR_OK)
			rc = make_parents(st->path, err, errlen);
		return rc;
	}
	const char *ns = namespace_ != NULL ? namespace_ : "default";
	if (!name_ok(ns))
		return path_err(err, errlen,
		                "namespace \"%.64s\" is not usable as "
		                "a file name ([A-Za-z0-9._-]); set path=",
		                ns);
	if (!name_ok(election))
		return path_err(err, errlen,
		                "election \"%.64s\" is not usable as "
		                "a file name ([A-Za-z0-9._-]); set path=",
		                election != NULL ? election : "");
	char root[PATH_MAX], dir[PATH_MAX], file[PATH_MAX];
	int rc;
	if (xdg != NULL && xdg[0] == '/') {
		int n = snprintf(root, sizeof root, "%s/elector", xdg);
		if (n < 0 || (size_t)n >= sizeof root)
			return path_err(err, errlen,
			                "XDG_RUNTIME_DIR too long");
		rc = make_dir(root, err, errlen);
	} else {
		rc = tmp_root(tmp_base, root, sizeof root, err, errlen);
	}
	if (rc != ELECTOR_OK)
		return rc;
	int n = snprintf(dir, sizeof dir, "%s/%s", root, ns);
	if (n < 0 || (size_t)n >= sizeof dir)
		return path_err(err, errlen, "path too long");
	rc = make_dir(dir, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	n = snprintf(file, sizeof file, "%s/%s.json", dir, election);
	if (n < 0 || (size_t)n >= sizeof file)
		return path_err(err, errlen, "path too long");
	return split_path(st, file, err, errlen);
}

int elector_file_resolve_path(struct file_state *st, const char *opt_path,
                              const char *namespace_, const char *election,
                              char *err, size_t errlen)
{
	st->has_opt_path = opt_path != NULL;
	snprintf(st->ns, sizeof st->ns, "%s",
	         namespace_ != NULL ? namespace_ : "default");
	snprintf(st->election, sizeof st->election, "%s",
	         election != NULL ? election : "");
	return elector_file_resolve_path_in(st, opt_path, namespace_, election,
	                                    getenv("XDG_RUNTIME_DIR"), "/tmp",
	                                    err, errlen);
}

int elector_file_make_dirs(struct file_state *st, char *err, size_t errlen)
{
	if (st->has_opt_path)
		return make_parents(st->path, err, errlen);
	return elector_file_resolve_path_in(st, NULL, st->ns, st->election,
	                                    getenv("XDG_RUNTIME_DIR"), "/tmp",
	                                    err, errlen);
}
