/* Bearer credentials: a static token, a token file re-read at least every
 * minute (projected service-account tokens rotate), or an exec credential
 * plugin (client.authentication.k8s.io/v1, v1beta1) cached until its
 * expirationTimestamp. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lease_int.h"

extern char **environ;

#define TOKEN_FILE_MAX_AGE_MS 60000
#define EXEC_OUTPUT_MAX (64 * 1024)
#define EXEC_EXPIRY_MARGIN_MS 10000

int64_t elector_lease_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void elector_lease_cred_free(struct elector_lease_cred *cr)
{
	free(cr->token);
	free(cr->exec_cert);
	free(cr->exec_key);
	memset(cr, 0, sizeof *cr);
}

static int read_token_file(const char *path, char **out, char *err,
                           size_t errlen)
{
	char buf[16384];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return ELECTOR_DENIED;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n == sizeof buf) {
		snprintf(err, errlen, "token file %s: larger than %zu bytes", path,
		         sizeof buf - 1);
		return ELECTOR_DENIED;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	                 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "token file %s is empty", path);
		return ELECTOR_DENIED;
	}
	*out = strdup(buf);
	return *out ? ELECTOR_OK : ELECTOR_ERROR;
}

/* environ plus the plugin's env and KUBERNETES_EXEC_INFO; the strings are
 * borrowed, only the array is allocated. */
static char **exec_envp(const struct elector_lease_exec *e, const char *info)
{
	size_t n = 0, m = 0, i, j;
	char **v;

	while (environ[n] != NULL)
		n++;
	while (e->env != NULL && e->env[m] != NULL)
		m++;
	v = calloc(n + m + 2, sizeof *v);
	if (v == NULL)
		return NULL;
	for (i = 0, j = 0; i < n; i++) {
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0)
			continue;
		v[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		v[j++] = e->env[i];
	v[j] = (char *)(uintptr_t)info;
	return v;
}

/* Run the plugin and collect at most EXEC_OUTPUT_MAX bytes of stdout. */
static int exec_run(const struct elector_lease_exec *e, int64_t timeout_ms,
                    char **out, size_t *outlen, char *err, size_t errlen)
{
	char info[256];
	char *path = NULL;
	char **envp = NULL;
	char *buf = NULL;
	size_t len = 0;
	int pfd[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int status = 0, rc = ELECTOR_DENIED;
	int64_t deadline = elector_lease_now_ms() + timeout_ms;

	snprintf(info, sizeof info,
	         "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":"
	         "\"ExecCredential\",\"spec\":{\"interactive\":false}}",
	         e->api_version);
	if (strchr(e->command, '/') != NULL && e->command[0] != '/' &&
	    e->dir != NULL) {
		size_t n = strlen(e->dir) + strlen(e->command) + 2;
		path = malloc(n);
		if (path != NULL)
			snprintf(path, n, "%s/%s", e->dir, e->command);
	} else {
		path = strdup(e->command);
	}
	envp = exec_envp(e, info);
	buf = malloc(EXEC_OUTPUT_MAX + 1);
	if (path == NULL || envp == NULL || buf == NULL || pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "exec plugin %s: %s", e->command,
		         strerror(errno ? errno : ENOMEM));
		rc = ELECTOR_ERROR;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	errno = posix_spawnp(&pid, path, &fa, NULL, e->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	pfd[1] = -1;
	if (errno != 0) {
		snprintf(err, errlen, "exec plugin %s: %s", e->command,
		         strerror(errno));
		pid = -1;
		goto out;
	}
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int64_t left = deadline - elector_lease_now_ms();
		ssize_t r;
		if (left <= 0) {
			snprintf(err, errlen, "exec plugin %s: no answer within "
			         "%lld ms", e->command, (long long)timeout_ms);
			kill(pid, SIGKILL);
			goto out;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(pfd[0], buf + len, EXEC_OUTPUT_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == EXEC_OUTPUT_MAX) {
			snprintf(err, errlen, "exec plugin %s: output larger than "
			         "%d bytes", e->command, EXEC_OUTPUT_MAX);
			kill(pid, SIGKILL);
			goto out;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "exec plugin %s failed (status %d)",
		         e->command, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = ELECTOR_OK;
out:
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(buf);
	free(envp);
	free(path);
	return rc;
}

static char *json_dup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return (s != NULL && s[0] != '\0') ? strdup(s) : NULL;
}

static int exec_credential(const struct elector_lease_exec *e,
                           struct elector_lease_cred *cr, int64_t timeout_ms,
                           char *err, size_t errlen)
{
	char *out = NULL;
	size_t len = 0;
	json_t *doc, *status;
	json_error_t je;
	const char *exp;
	int rc = exec_run(e, timeout_ms, &out, &len, err, errlen);

	if (rc != ELECTOR_OK)
		return rc;
	doc = json_loadb(out, len, 0, &je);
	free(out);
	status = json_object_get(doc, "status");
	if (doc == NULL || !json_is_object(status)) {
		snprintf(err, errlen, "exec plugin %s: output is not an "
		         "ExecCredential with a status", e->command);
		json_decref(doc);
		return ELECTOR_DENIED;
	}
	free(cr->token);
	free(cr->exec_cert);
	free(cr->exec_key);
	cr->token = json_dup(status, "token");
	cr->exec_cert = json_dup(status, "clientCertificateData");
	cr->exec_key = json_dup(status, "clientKeyData");
	cr->fetched_ms = elector_lease_now_ms();
	cr->expires_ms = 0;
	exp = json_string_value(json_object_get(status, "expirationTimestamp"));
	if (exp != NULL) {
		struct timespec ts;
		int64_t when_s;
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		/* RFC 3339 "2026-11-21T10:00:00Z" (fractions ignored). */
		if (strptime(exp, "%Y-%m-%dT%H:%M:%S", &tm) != NULL) {
			when_s = (int64_t)timegm(&tm);
			clock_gettime(CLOCK_REALTIME, &ts);
			cr->expires_ms = cr->fetched_ms +
			                 (when_s - (int64_t)ts.tv_sec) * 1000;
			if (cr->expires_ms <= cr->fetched_ms)
				cr->expires_ms = cr->fetched_ms + 1;
		}
	}
	json_decref(doc);
	if (cr->token == NULL && cr->exec_cert == NULL) {
		snprintf(err, errlen, "exec plugin %s returned neither a token "
		         "nor a client certificate", e->command);
		return ELECTOR_DENIED;
	}
	return ELECTOR_OK;
}

int elector_lease_cred_header(const struct elector_lease_conn *c,
                              struct elector_lease_cred *cr, int force,
                              int64_t timeout_ms, char *hdr, size_t cap,
                              char *err, size_t errlen)
{
	int64_t now = elector_lease_now_ms();
	const char *tok = NULL;
	int rc, n;

	hdr[0] = '\0';
	if (c->exec != NULL) {
		if (force || cr->fetched_ms == 0 ||
		    (cr->expires_ms != 0 &&
		     now + EXEC_EXPIRY_MARGIN_MS >= cr->expires_ms)) {
			rc = exec_credential(c->exec, cr, timeout_ms, err, errlen);
			if (rc != ELECTOR_OK)
				return rc;
		}
		tok = cr->token;
	} else if (c->token_file != NULL) {
		if (force || cr->token == NULL ||
		    now - cr->fetched_ms >= TOKEN_FILE_MAX_AGE_MS) {
			char *t = NULL;
			rc = read_token_file(c->token_file, &t, err, errlen);
			if (rc != ELECTOR_OK) {
				/* keep using the old token if we have one */
				if (cr->token == NULL)
					return rc;
			} else {
				free(cr->token);
				cr->token = t;
				cr->fetched_ms = now;
			}
		}
		tok = cr->token;
	} else {
		tok = c->token;
	}
	if (tok == NULL)
		return ELECTOR_OK;
	n = snprintf(hdr, cap, "Authorization: Bearer %s", tok);
	if (n < 0 || (size_t)n >= cap) {
		hdr[0] = '\0';
		snprintf(err, errlen, "bearer token longer than %zu bytes", cap);
		return ELECTOR_DENIED;
	}
	return ELECTOR_OK;
}
