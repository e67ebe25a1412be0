/*
 * Unit tests of the file backend: default path and directory safety
 * (white-box: file_path.c is compiled in), then the plugin itself through
 * the loader: lock timeout, reads while locked, watch semantics, options.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../backends/file/file_path.c"
#include "loader.h"
#include "record.h"
#include "tap.h"

static char top[PATH_MAX];

static int mode_of(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rm_rf(const char *p)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
	if (system(cmd) != 0)
		diag("cleanup of %s failed", p);
}

static void test_tmp_default(void)
{
	struct file_state st;
	char err[512], root[PATH_MAX + 32], want[PATH_MAX + 64],
	    dir[PATH_MAX + 64];
	memset(&st, 0, sizeof st);
	snprintf(root, sizeof root, "%s/elector-%u", top, (unsigned)geteuid());
	int rc = elector_file_resolve_path_in(&st, NULL, "default", "demo",
	                                      NULL, top, err, sizeof err);
	is_int(rc, ELECTOR_OK, "tmp default resolves (%s)", err);
	snprintf(want, sizeof want, "%s/default/demo.json", root);
	is_str(st.path, want, "path is TMP/elector-UID/NS/ELECTION.json");
	snprintf(want, sizeof want, "%s/default/demo.json.lock", root);
	is_str(st.lock_path, want, "lock file beside it");
	snprintf(dir, sizeof dir, "%s/default", root);
	is_str(st.dir, dir, "directory");
	is_str(st.base, "demo.json", "base name");
	is_int(mode_of(root), 0700, "elector-UID created 0700");
	is_int(mode_of(dir), 0700, "namespace directory created 0700");

	rc = elector_file_resolve_path_in(&st, NULL, "default", "demo", "", top,
	                                  err, sizeof err);
	is_int(rc, ELECTOR_OK, "empty XDG_RUNTIME_DIR falls back to tmp");

	chmod(root, 0777);
	rc = elector_file_resolve_path_in(&st, NULL, "default", "demo", NULL,
	                                  top, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "writable") != NULL,
	   "world-writable elector-UID refused: %s", err);
	chmod(root, 0720);
	rc = elector_file_resolve_path_in(&st, NULL, "default", "demo", NULL,
	                                  top, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "writable") != NULL,
	   "group-writable elector-UID refused");
	chmod(root, 0700);

	if (geteuid() == 0) {
		if (chown(root, 12345, 12345) != 0)
			diag("chown: %s", strerror(errno));
		rc = elector_file_resolve_path_in(&st, NULL, "default", "demo",
		                                  NULL, top, err, sizeof err);
		ok(rc == ELECTOR_INVALID &&
		       strstr(err, "owned by uid 12345") != NULL,
		   "elector-UID owned by another user refused: %s", err);
		if (chown(root, 0, 0) != 0)
			diag("chown back: %s", strerror(errno));
	} else {
		skip(
		    1,
		    "not root: cannot create a directory owned by another uid");
	}

	rm_rf(root);
	char other[PATH_MAX + 16];
	snprintf(other, sizeof other, "%s/elsewhere", top);
	mkdir(other, 0700);
	if (symlink(other, root) != 0)
		diag("symlink: %s", strerror(errno));
	rc = elector_file_resolve_path_in(&st, NULL, "default", "demo", NULL,
	                                  top, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "not a directory") != NULL,
	   "symlink at elector-UID refused: %s", err);
	unlink(root);
}

static void test_xdg_and_names(void)
{
	struct file_state st;
	char err[512], xdg[PATH_MAX + 16], want[PATH_MAX + 64];
	memset(&st, 0, sizeof st);
	snprintf(xdg, sizeof xdg, "%s/xdg", top);
	mkdir(xdg, 0700);
	int rc = elector_file_resolve_path_in(&st, NULL, "team-a", "db.primary",
	                                      xdg, top, err, sizeof err);
	is_int(rc, ELECTOR_OK, "XDG default resolves (%s)", err);
	snprintf(want, sizeof want, "%s/elector/team-a/db.primary.json", xdg);
	is_str(st.path, want,
	       "path is $XDG_RUNTIME_DIR/elector/NS/ELECTION.json");
	snprintf(want, sizeof want, "%s/elector", xdg);
	is_int(mode_of(want), 0700, "XDG elector directory 0700");

	const char *bad[] = {"../x", "a/b", "", ".", "..", "a b", "x\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = elector_file_resolve_path_in(&st, NULL, "default", bad[i],
		                                  xdg, top, err, sizeof err);
		ok(rc == ELECTOR_INVALID && strstr(err, "election") != NULL,
		   "election name \"%s\" refused", bad[i]);
	}
	rc = elector_file_resolve_path_in(&st, NULL, "..", "demo", xdg, top,
	                                  err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "namespace") != NULL,
	   "namespace \"..\" refused");
	rc = elector_file_resolve_path_in(&st, NULL, "default", NULL, xdg, top,
	                                  err, sizeof err);
	is_int(rc, ELECTOR_INVALID, "no election refused");
}

static void test_explicit_path(void)
{
	struct file_state st;
	char err[512], want[PATH_MAX + 64], cwd[PATH_MAX];
	memset(&st, 0, sizeof st);
	if (getcwd(cwd, sizeof cwd) == NULL)
		cwd[0] = '\0';
	if (chdir(top) != 0)
		diag("chdir: %s", strerror(errno));
	int rc = elector_file_resolve_path_in(&st, "rel/deeper/x.json", "d",
	                                      "e", NULL, top, err, sizeof err);
	is_int(rc, ELECTOR_OK, "relative path resolves (%s)", err);
	snprintf(want, sizeof want, "%s/rel/deeper/x.json", top);
	is_str(st.path, want, "relative path made absolute");
	snprintf(want, sizeof want, "%s/rel/deeper", top);
	ok(mode_of(want) >= 0, "missing parent directories created");
	if (cwd[0] != '\0' && chdir(cwd) != 0)
		diag("chdir back: %s", strerror(errno));
	rc = elector_file_resolve_path_in(&st, "/tmp/dir/", "d", "e", NULL, top,
	                                  err, sizeof err);
	is_int(rc, ELECTOR_INVALID, "a path ending in / is refused");
	rc = elector_file_resolve_path_in(&st, "", "d", "e", NULL, top, err,
	                                  sizeof err);
	is_int(rc, ELECTOR_INVALID, "an empty path is refused");
	char f[PATH_MAX + 16], p[PATH_MAX + 32];
	snprintf(f, sizeof f, "%s/plainfile", top);
	FILE *fp = fopen(f, "w");
	if (fp != NULL)
		fclose(fp);
	snprintf(p, sizeof p, "%s/x.json", f);
	rc = elector_file_resolve_path_in(&st, p, "d", "e", NULL, top, err,
	                                  sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "not a directory") != NULL,
	   "a file where a directory should be is refused: %s", err);
}

static struct elector_store *open_store(const char *path_opt, long long rt,
                                        char *err, size_t errlen)
{
	struct elector_store *s = NULL;
	const char *opts[1] = {path_opt};
	int rc = elector_store_open(NULL, "file", "demo", "default", "unit",
	                            opts, path_opt != NULL ? 1 : 0, 15000,
	                            10000, 2000, rt, 0u, &s, err, errlen);
	return rc == ELECTOR_OK ? s : NULL;
}

static void test_plugin(void)
{
	char opt[PATH_MAX + 32], path[PATH_MAX + 16], err[512];
	snprintf(path, sizeof path, "%s/plug/x.json", top);
	snprintf(opt, sizeof opt, "path=%s", path);
	struct elector_store *s = open_store(opt, 300, err, sizeof err);
	if (!ok(s != NULL, "file plugin opens (%s)", err))
		return;
	char desc[PATH_MAX + 32], want[PATH_MAX + 32];
	is_int(s->ops->describe(s->state, desc, sizeof desc), ELECTOR_OK,
	       "describe");
	snprintf(want, sizeof want, "file:%s", path);
	is_str(desc, want, "describe is file:PATH");
	ok(s->ops->capabilities & ELECTOR_CAP_WATCH, "declares WATCH");

	struct elector_record r, got;
	struct elector_version v, nv, gv;
	int g = 0;
	is_int(s->ops->watch(s->state, &(struct elector_version){""}, 100, &got,
	                     &gv, &g, err, sizeof err),
	       ELECTOR_TIMEOUT, "watch(\"\") on an empty store times out");
	memset(&r, 0, sizeof r);
	snprintf(r.holder_identity, sizeof r.holder_identity, "unit");
	r.lease_duration_seconds = 15;
	is_int(s->ops->create(s->state, &r, &v, err, sizeof err), ELECTOR_OK,
	       "create");
	const char *dot = strchr(v.v, '.');
	ok(dot && dot - v.v == 16 && strcmp(dot, ".1") == 0,
	   "first version is EPOCH.1 (%s)", v.v);
	char v1[ELECTOR_VERSION_MAX], v2[ELECTOR_VERSION_MAX];
	snprintf(v1, sizeof v1, "%s", v.v);
	snprintf(v2, sizeof v2, "%.*s.2", 16, v.v);
	int64_t t0 = now_ms();
	g = 0;
	int rc = s->ops->watch(s->state, &(struct elector_version){""}, 5000,
	                       &got, &gv, &g, err, sizeof err);
	ok(rc == ELECTOR_OK && g == 1 && strcmp(gv.v, v1) == 0 &&
	       now_ms() - t0 < 1000,
	   "watch(\"\") with a record stored returns it at once");

	FILE *fp = fopen(path, "r");
	char content[512] = "";
	if (fp != NULL) {
		size_t n = fread(content, 1, sizeof content - 1, fp);
		content[n] = '\0';
		fclose(fp);
	}
	char expect[512];
	snprintf(expect, sizeof expect,
	         "{\"version\":1,\"epoch\":\"%.16s\",\"record\":{\"holderIdentity\":"
	         "\"unit\",\"leaseDurationSeconds\":15,\"leaderTransitions\":0}}\n",
	         v1);
	is_str(content, expect,
	       "data file holds {\"version\":N,\"epoch\":E,\"record\":{...}}");

	/* Another open file description holds the lock: writes time out
	 * within the request timeout, reads still work. */
	char lock[PATH_MAX + 48];
	snprintf(lock, sizeof lock, "%s.lock", path);
	int lfd = open(lock, O_RDWR | O_CLOEXEC);
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	ok(lfd >= 0 && fcntl(lfd, F_OFD_SETLK, &fl) == 0,
	   "test holds the lock");
	t0 = now_ms();
	rc = s->ops->update(s->state, &r, &v, &nv, err, sizeof err);
	int64_t el = now_ms() - t0;
	ok(rc == ELECTOR_TIMEOUT && el >= 250 && el < 2000,
	   "update while locked: TIMEOUT after the 300 ms request timeout "
	   "(%d after %lld ms: %s)",
	   rc, (long long)el, err);
	t0 = now_ms();
	rc = s->ops->create(s->state, &r, &nv, err, sizeof err);
	el = now_ms() - t0;
	ok(rc == ELECTOR_TIMEOUT && el < 2000, "create while locked: TIMEOUT");
	rc = s->ops->get(s->state, &got, &gv, err, sizeof err);
	ok(rc == ELECTOR_OK && strcmp(gv.v, v1) == 0,
	   "get while locked works");
	fl.l_type = F_UNLCK;
	fcntl(lfd, F_OFD_SETLK, &fl);
	close(lfd);
	rc = s->ops->update(s->state, &r, &v, &nv, err, sizeof err);
	ok(rc == ELECTOR_OK && strcmp(nv.v, v2) == 0,
	   "update after unlock: OK, "
	   "version 2 (%s)",
	   err);

	unlink(path);
	g = 0;
	rc = s->ops->watch(s->state, &nv, 5000, &got, &gv, &g, err, sizeof err);
	ok(rc == ELECTOR_OK && g == 0,
	   "watch reports a deleted file (OK, got=0)");
	rc = s->ops->update(s->state, &r, &nv, &v, err, sizeof err);
	is_int(rc, ELECTOR_NOT_FOUND, "update after delete: NOT_FOUND");
	/* No ABA: a file created again starts a new epoch, so a version held
	 * from before the delete can never match. */
	struct elector_version old1 = {{0}}, again = {{0}};
	snprintf(old1.v, sizeof old1.v, "%s", v1);
	rc = s->ops->create(s->state, &r, &again, err, sizeof err);
	ok(rc == ELECTOR_OK && strcmp(again.v, v1) != 0,
	   "re-created file has a new version (%s != %s)", again.v, v1);
	rc = s->ops->update(s->state, &r, &old1, &v, err, sizeof err);
	is_int(rc, ELECTOR_CONFLICT,
	       "a version from before the delete is stale after re-creation");
	unlink(path);

	r.lease_duration_seconds = -1;
	rc = s->ops->create(s->state, &r, &v, err, sizeof err);
	ok(rc == ELECTOR_INVALID && access(path, F_OK) != 0,
	   "an invalid record is refused and nothing written");

	char dirp[PATH_MAX + 16];
	snprintf(dirp, sizeof dirp, "%s/plug", top);
	DIR *d = opendir(dirp);
	int tmps = 0;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			tmps++;
	if (d != NULL)
		closedir(d);
	is_int(tmps, 0, "no temp files left behind");
	elector_store_close(s);

	const char *two[2] = {opt, "colour=blue"};
	s = NULL;
	rc = elector_store_open(NULL, "file", "demo", "default", "unit", two, 2,
	                        15000, 10000, 2000, 0, 0u, &s, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "colour") &&
	       strstr(err, "path"),
	   "unknown option refused, known ones listed: %s", err);
	elector_store_close(s);
}

int main(void)
{
	snprintf(top, sizeof top, "/tmp/elector-unit-file-XXXXXX");
	if (mkdtemp(top) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_tmp_default();
	test_xdg_and_names();
	test_explicit_path();
	test_plugin();
	rm_rf(top);
	return done_testing();
}
