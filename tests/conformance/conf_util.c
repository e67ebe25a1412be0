/* Helpers shared by the conformance cases. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

struct elector_store *conf_open(const struct conf *c, const char *identity)
{
	struct elector_store *s = NULL;
	char err[512] = "";
	int rc = elector_store_open(c->plugin_dir, c->backend, c->election,
	                            c->namespace_, identity, c->opts, c->n_opts,
	                            15000, 10000, 2000, c->request_timeout_ms, 0u,
	                            &s, err, sizeof err);
	if (rc != ELECTOR_OK) {
		CONF_OK(0, "open backend %s as %s: %s: %s", c->backend,
		        identity, conf_status(rc), err);
		return NULL;
	}
	return s;
}

int conf_get(struct elector_store *s, struct elector_record *rec,
             struct elector_version *ver, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(ver, 0, sizeof *ver);
	return s->ops->get(s->state, rec, ver, err, errlen);
}

int conf_create(struct elector_store *s, const struct elector_record *rec,
                struct elector_version *ver, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(ver, 0, sizeof *ver);
	return s->ops->create(s->state, rec, ver, err, errlen);
}

int conf_update(struct elector_store *s, const struct elector_record *rec,
                const struct elector_version *expected,
                struct elector_version *ver, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(ver, 0, sizeof *ver);
	return s->ops->update(s->state, rec, expected, ver, err, errlen);
}

int conf_ensure(struct elector_store *s, struct elector_record *rec,
                struct elector_version *ver, char *err, size_t errlen)
{
	int rc = conf_get(s, rec, ver, err, errlen);
	if (rc != ELECTOR_NOT_FOUND)
		return rc;
	conf_record(rec, "conformance-base", 0);
	rc = conf_create(s, rec, ver, err, errlen);
	if (rc == ELECTOR_EXISTS)
		rc = conf_get(s, rec, ver, err, errlen);
	return rc;
}

void conf_record(struct elector_record *r, const char *holder, int64_t n)
{
	memset(r, 0, sizeof *r);
	snprintf(r->holder_identity, sizeof r->holder_identity, "%s", holder);
	r->lease_duration_seconds = 15;
	r->flags = ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME;
	/* 2026-11-21T10:00:00Z plus n seconds and n microseconds */
	r->acquire_time_us = 1795255200000000LL + n * 1000001LL;
	r->renew_time_us = r->acquire_time_us + 123456;
	r->leader_transitions = n;
}

const char *conf_status(int status)
{
	static const char *const names[] = {
	    "OK",        "NOT_FOUND",   "EXISTS",      "CONFLICT",
	    "TRANSIENT", "TIMEOUT",     "INVALID",     "CORRUPT",
	    "DENIED",    "UNSUPPORTED", "RATELIMITED", "ERROR",
	};
	if (status >= 0 && (size_t)status < sizeof names / sizeof names[0])
		return names[status];
	return "?";
}

int64_t conf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void conf_sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int conf_run(const char *what, const char *cmd)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		conf_diag("%s: fork: %s", what, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* stdout carries TAP: the command's output goes to stderr. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int64_t deadline = conf_now_ms() + 60000;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			conf_diag("%s: killed by signal %d", what,
			          WTERMSIG(st));
			return -1;
		}
		if (r < 0 && errno != EINTR) {
			conf_diag("%s: waitpid: %s", what, strerror(errno));
			return -1;
		}
		if (conf_now_ms() > deadline) {
			conf_diag("%s: still running after 60 s; killed", what);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		conf_sleep_ms(10);
	}
}

int conf_wait_recovered(const struct conf *c, struct elector_store *s,
                        int64_t *took_ms)
{
	int64_t t0 = conf_now_ms();
	int rc;
	int n = 0;
	for (;;) {
		struct elector_record r;
		struct elector_version v;
		char err[512];
		rc = conf_get(s, &r, &v, err, sizeof err);
		n++;
		if (rc == ELECTOR_OK || rc == ELECTOR_NOT_FOUND)
			break;
		if (conf_now_ms() - t0 > c->recover_ms || n > 100000) {
			conf_diag("not recovered: %s: %s", conf_status(rc),
			          err);
			break;
		}
		conf_sleep_ms(100);
	}
	*took_ms = conf_now_ms() - t0;
	return rc;
}
