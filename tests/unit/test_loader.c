/*
 * The plugin loader refuses every broken plugin with a clear message and no
 * crash (DESIGN §4). The plugins are built by tests/abi/module.mk into
 * ../tests/abi/ beside this program.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "loader.h"
#include "tap.h"

static char abi_dir[PATH_MAX + 8];

static void refused(const char *name, const char *expect)
{
	struct elector_plugin *p = NULL;
	char err[512] = "";
	int rc = elector_plugin_load(abi_dir, name, &p, err, sizeof err);
	ok(rc == ELECTOR_INVALID && p == NULL && strstr(err, expect) != NULL,
	   "%s refused: %s", name, err);
	elector_plugin_unload(p);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	int rc = 0;
	if (!in || !out)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return rc;
}

static void test_permissions(void)
{
	char dir[] = "/tmp/elector-abi-XXXXXX";
	char so[PATH_MAX], src[PATH_MAX + 16], err[512] = "";
	struct elector_plugin *p = NULL;
	int rc;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	chmod(dir, 0755);
	snprintf(src, sizeof src, "%s/good.so", abi_dir);
	snprintf(so, sizeof so, "%s/good.so", dir);
	if (!ok(copy_file(src, so) == 0, "copied the good plugin")) {
		rmdir(dir);
		return;
	}
	chmod(so, 0755);
	rc = elector_plugin_load(dir, "good", &p, err, sizeof err);
	ok(rc == ELECTOR_OK, "a good plugin in a private directory loads (%s)",
	   err);
	elector_plugin_unload(p);
	p = NULL;
	chmod(so, 0757);
	rc = elector_plugin_load(dir, "good", &p, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "world-writable plugin"),
	   "world-writable plugin file refused: %s", err);
	chmod(so, 0755);
	chmod(dir, 0777);
	rc = elector_plugin_load(dir, "good", &p, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "world-writable directory"),
	   "world-writable plugin directory refused: %s", err);
	chmod(dir, 0755);
	unlink(so);
	rmdir(dir);
}

static void test_store_open(void)
{
	struct elector_store *s = NULL;
	const char *opts[] = {"color=blue"};
	const char *bad[] = {"shape=round"};
	const char *noeq[] = {"color"};
	char err[512] = "";
	int rc;

	rc = elector_store_open(abi_dir, "good", "demo", "default", "me", opts,
	                        1, 15000, 10000, 2000, 0, 0u, &s, err, sizeof err);
	ok(rc == ELECTOR_OK && s, "store opens with a known option (%s)", err);
	if (s) {
		is_int((long long)s->params.request_timeout_ms, 2000,
		       "default request timeout = min(retry, deadline/2)");
		is_str(elector_host()->option(&s->params, "color"), "blue",
		       "host->option finds the value");
	}
	elector_store_close(s);
	s = NULL;
	rc = elector_store_open(abi_dir, "good", "demo", "default", "me", opts,
	                        1, 15000, 3000, 2000, 0, 0u, &s, err, sizeof err);
	if (s)
		is_int((long long)s->params.request_timeout_ms, 1500,
		       "request timeout halves a short renew deadline");
	elector_store_close(s);
	s = NULL;
	rc = elector_store_open(abi_dir, "good", "demo", "default", "me", bad,
	                        1, 15000, 10000, 2000, 0, 0u, &s, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "unknown option 'shape'") &&
	       strstr(err, "known: color"),
	   "unknown backend option lists the known ones: %s", err);
	rc = elector_store_open(abi_dir, "good", "demo", "default", "me", noeq,
	                        1, 15000, 10000, 2000, 0, 0u, &s, err, sizeof err);
	ok(rc == ELECTOR_INVALID && strstr(err, "KEY=VALUE"),
	   "option without '=' refused: %s", err);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;
	char avail[512];

	if (n <= 0) {
		ok(0, "readlink /proc/self/exe");
		return done_testing();
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(abi_dir, sizeof abi_dir, "%s/abi", self);
	/* Build trees are private; make sure the test directory is too. */
	chmod(abi_dir, 0755);

	{
		struct elector_plugin *p = NULL;
		char err[512] = "";
		int rc =
		    elector_plugin_load(abi_dir, "good", &p, err, sizeof err);
		ok(rc == ELECTOR_OK && p &&
		       strcmp(elector_plugin_ops(p)->name, "good") == 0,
		   "the good plugin loads (%s)", err);
		elector_plugin_unload(p);
	}
	refused("nosym", "entry symbol elector_backend_entry not found");
	refused("nullentry", "refused to load into ABI version 1");
	refused("badabi", "ABI version 99");
	refused("small", "smaller than");
	refused("nullop", "required op 'get' is NULL");
	refused("watchnowake", "required op 'wake");
	refused("missing", "unknown backend 'missing'");
	refused("missing", "available: badabi, good");
	refused("../etc/passwd", "invalid backend name");
	{
		struct elector_plugin *p = NULL;
		char err[512] = "";
		int rc = elector_plugin_load("/nonexistent/plugins", "file", &p,
		                             err, sizeof err);
		ok(rc == ELECTOR_INVALID && strstr(err, "/nonexistent/plugins"),
		   "missing plugin directory: %s", err);
	}
	elector_plugin_list(abi_dir, avail, sizeof avail);
	ok(strstr(avail, "good") && strstr(avail, "nosym"), "list: %s", avail);
	test_permissions();
	test_store_open();
	return done_testing();
}
