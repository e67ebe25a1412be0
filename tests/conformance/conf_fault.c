/*
 * Conformance cases with store faults injected by user commands:
 * garbage (--corrupt-cmd/--fix-cmd), down (--down-cmd/--up-cmd),
 * slow (--slow-cmd/--unslow-cmd).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"

static int cmd_ok(const char *what, const char *cmd)
{
	int st = conf_run(what, cmd);
	return CONF_OK(st == 0, "%s succeeded (exit %d): %s", what, st, cmd);
}

void conf_case_garbage(const struct conf *c)
{
	if (c->corrupt_cmd == NULL) {
		conf_skip("garbage: no --corrupt-cmd given");
		return;
	}
	struct elector_store *s = conf_open(c, "conformance-garbage");
	if (s == NULL)
		return;
	struct elector_record r;
	struct elector_version v, known;
	char err[512];
	int rc = conf_ensure(s, &r, &known, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	if (!cmd_ok("corrupt-cmd", c->corrupt_cmd))
		goto out;
	rc = conf_get(s, &r, &v, err, sizeof err);
	CONF_OK(rc == ELECTOR_CORRUPT && err[0] != '\0',
	        "get on garbage: CORRUPT with a message (got %s: %s)",
	        conf_status(rc), err);
	CONF_OK(rc != ELECTOR_OK,
	        "get on garbage never claims a record "
	        "(holder \"%.64s\")",
	        rc == ELECTOR_OK ? r.holder_identity : "");
	if (c->caps & ELECTOR_CAP_WATCH) {
		int got = 0;
		err[0] = '\0';
		rc = s->ops->watch(s->state, &known, 500, &r, &v, &got, err,
		                   sizeof err);
		CONF_OK(!(rc == ELECTOR_OK && got),
		        "watch on garbage hands back no record (%s got=%d %s)",
		        conf_status(rc), got, err);
	}
	/* Not a requirement (a backend may overwrite garbage on a matching
	 * version), but worth seeing in the log. */
	struct elector_version nv;
	struct elector_record w;
	conf_record(&w, "conformance-garbage", 1);
	rc = conf_update(s, &w, &known, &nv, err, sizeof err);
	conf_diag("update on garbage: %s %s", conf_status(rc), err);
	if (c->fix_cmd == NULL) {
		conf_skip("garbage: no --fix-cmd given, recovery not tested");
		goto out;
	}
	if (!cmd_ok("fix-cmd", c->fix_cmd))
		goto out;
	int64_t took;
	rc = conf_wait_recovered(c, s, &took);
	CONF_OK(rc == ELECTOR_OK || rc == ELECTOR_NOT_FOUND,
	        "get works again after fix-cmd (%s after %lld ms)",
	        conf_status(rc), (long long)took);
out:
	elector_store_close(s);
}

/* One op timed against request timeout + slack; returns its status. */
static int timed_get(const struct conf *c, struct elector_store *s,
                     const char *phase)
{
	struct elector_record r;
	struct elector_version v;
	char err[512];
	int64_t t0 = conf_now_ms();
	int rc = conf_get(s, &r, &v, err, sizeof err);
	int64_t el = conf_now_ms() - t0;
	CONF_OK(el <= c->request_timeout_ms + c->slack_ms,
	        "%s: get returns within %lld ms (%s after %lld ms: %s)", phase,
	        c->request_timeout_ms + c->slack_ms, conf_status(rc),
	        (long long)el, err);
	return rc;
}

static int timed_update(const struct conf *c, struct elector_store *s,
                        const struct elector_version *base, const char *phase)
{
	struct elector_record r;
	struct elector_version nv;
	char err[512];
	conf_record(&r, "conformance-fault", 1);
	int64_t t0 = conf_now_ms();
	int rc = conf_update(s, &r, base, &nv, err, sizeof err);
	int64_t el = conf_now_ms() - t0;
	CONF_OK(el <= c->request_timeout_ms + c->slack_ms,
	        "%s: update returns within %lld ms (%s after %lld ms: %s)",
	        phase, c->request_timeout_ms + c->slack_ms, conf_status(rc),
	        (long long)el, err);
	return rc;
}

static int is_retryable(int rc)
{
	return rc == ELECTOR_TRANSIENT || rc == ELECTOR_TIMEOUT;
}

void conf_case_down(const struct conf *c)
{
	if (c->down_cmd == NULL) {
		conf_skip("down: no --down-cmd/--up-cmd given");
		return;
	}
	struct elector_store *s = conf_open(c, "conformance-down");
	if (s == NULL)
		return;
	struct elector_record r;
	struct elector_version v;
	char err[512];
	int rc = conf_ensure(s, &r, &v, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	if (!cmd_ok("down-cmd", c->down_cmd))
		goto up;
	rc = timed_get(c, s, "store down");
	CONF_OK(is_retryable(rc),
	        "store down: get is TRANSIENT or TIMEOUT (%s)",
	        conf_status(rc));
	rc = timed_update(c, s, &v, "store down");
	CONF_OK(is_retryable(rc),
	        "store down: update is TRANSIENT or TIMEOUT (%s)",
	        conf_status(rc));
	if (c->caps & ELECTOR_CAP_WATCH) {
		int got = 0;
		struct elector_version nv;
		int64_t t0 = conf_now_ms();
		err[0] = '\0';
		rc = s->ops->watch(s->state, &v, 500, &r, &nv, &got, err,
		                   sizeof err);
		int64_t el = conf_now_ms() - t0;
		CONF_OK(el <= 500 + c->request_timeout_ms + c->slack_ms &&
		            !(rc == ELECTOR_OK && got),
		        "store down: watch returns in time, no record (%s "
		        "after %lld "
		        "ms %s)",
		        conf_status(rc), (long long)el, err);
	}
up:
	if (cmd_ok("up-cmd", c->up_cmd)) {
		int64_t took;
		rc = conf_wait_recovered(c, s, &took);
		CONF_OK(rc == ELECTOR_OK,
		        "store up again: get recovers (%s after "
		        "%lld ms)",
		        conf_status(rc), (long long)took);
		conf_diag("recovery after up-cmd: %lld ms", (long long)took);
	}
out:
	elector_store_close(s);
}

void conf_case_slow(const struct conf *c)
{
	if (c->slow_cmd == NULL) {
		conf_skip("slow: no --slow-cmd given");
		return;
	}
	struct elector_store *s = conf_open(c, "conformance-slow");
	if (s == NULL)
		return;
	struct elector_record r;
	struct elector_version v;
	char err[512];
	int rc = conf_ensure(s, &r, &v, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	if (cmd_ok("slow-cmd", c->slow_cmd)) {
		rc = timed_get(c, s, "store slow");
		conf_diag("store slow: get %s", conf_status(rc));
		rc = timed_update(c, s, &v, "store slow");
		/* Either outcome is allowed; only the time bound is required.
		 */
		conf_diag("store slow: update %s", conf_status(rc));
	}
	if (c->unslow_cmd != NULL && cmd_ok("unslow-cmd", c->unslow_cmd)) {
		int64_t took;
		rc = conf_wait_recovered(c, s, &took);
		CONF_OK(rc == ELECTOR_OK,
		        "store fast again: get recovers (%s after "
		        "%lld ms)",
		        conf_status(rc), (long long)took);
	}
out:
	elector_store_close(s);
}
