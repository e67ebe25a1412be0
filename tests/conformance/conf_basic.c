/* Conformance cases: empty, roundtrip, exists, conflict, release. */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "record.h"

/* ok() that the stored record and version equal the expected ones; prints
 * both records as JSON on a mismatch. */
static void expect_stored(struct elector_store *s,
                          const struct elector_record *want,
                          const struct elector_version *want_ver,
                          const char *what)
{
	struct elector_record got;
	struct elector_version ver;
	char err[512];
	int rc = conf_get(s, &got, &ver, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "%s: get returns OK (%s %s)", what,
	             conf_status(rc), err))
		return;
	int same = elector_record_equal(&got, want);
	if (!CONF_OK(same, "%s: every field survives", what)) {
		char a[ELECTOR_RECORD_JSON_MAX + 1],
		    b[ELECTOR_RECORD_JSON_MAX + 1];
		size_t n;
		if (elector_record_encode(&got, a, sizeof a, &n) != ELECTOR_OK)
			snprintf(a, sizeof a, "(invalid record)");
		if (elector_record_encode(want, b, sizeof b, &n) != ELECTOR_OK)
			snprintf(b, sizeof b, "(invalid record)");
		conf_diag("  got:      %s", a);
		conf_diag("  expected: %s", b);
	}
	if (want_ver != NULL)
		CONF_OK(
		    strcmp(ver.v, want_ver->v) == 0,
		    "%s: get returns the version the write returned (%s, %s)",
		    what, ver.v, want_ver->v);
}

void conf_case_empty(const struct conf *c)
{
	struct elector_store *s = conf_open(c, "conformance-empty");
	if (s == NULL)
		return;
	struct elector_record r;
	struct elector_version v, nv;
	char err[512];
	int rc = conf_get(s, &r, &v, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_NOT_FOUND,
	             "get on an empty store: NOT_FOUND "
	             "(got %s %s)",
	             conf_status(rc), err))
		conf_diag(
		    "the store must be empty: give a fresh --election or path");
	conf_record(&r, "conformance-empty", 1);
	snprintf(v.v, sizeof v.v, "1");
	rc = conf_update(s, &r, &v, &nv, err, sizeof err);
	CONF_OK(rc == ELECTOR_NOT_FOUND,
	        "update on an empty store: NOT_FOUND "
	        "(got %s %s)",
	        conf_status(rc), err);
	rc = conf_get(s, &r, &v, err, sizeof err);
	CONF_OK(rc == ELECTOR_NOT_FOUND,
	        "the failed update stored nothing (%s)", conf_status(rc));
	elector_store_close(s);
}

/* Write rec: create when the store is empty, else update on the current
 * version. Returns the status; *ver is the new version. */
static int write_rec(struct elector_store *s, const struct elector_record *rec,
                     struct elector_version *ver, const char *what)
{
	struct elector_record cur;
	struct elector_version cv;
	char err[512];
	int rc = conf_get(s, &cur, &cv, err, sizeof err);
	if (rc == ELECTOR_NOT_FOUND) {
		rc = conf_create(s, rec, ver, err, sizeof err);
		CONF_OK(rc == ELECTOR_OK && ver->v[0] != '\0',
		        "%s: create OK with a version (%s %s)", what,
		        conf_status(rc), err);
		return rc;
	}
	if (rc != ELECTOR_OK) {
		CONF_OK(0, "%s: get before write (%s %s)", what,
		        conf_status(rc), err);
		return rc;
	}
	rc = conf_update(s, rec, &cv, ver, err, sizeof err);
	CONF_OK(rc == ELECTOR_OK && ver->v[0] != '\0' &&
	            strcmp(ver->v, cv.v) != 0,
	        "%s: update OK with a new version (%s %s; %s -> %s)", what,
	        conf_status(rc), err, cv.v, ver->v);
	return rc;
}

void conf_case_roundtrip(const struct conf *c)
{
	struct elector_store *s = conf_open(c, "conformance-roundtrip");
	if (s == NULL)
		return;
	struct elector_record r;
	struct elector_version v;

	conf_record(&r, "node-\xc3\xa4\"\\/<&>\t_1f2e", 7);
	snprintf(r.preferred_holder, sizeof r.preferred_holder, "node-b_99");
	snprintf(r.strategy, sizeof r.strategy, "OldestEmulationVersion");
	if (write_rec(s, &r, &v, "full record") == ELECTOR_OK)
		expect_stored(s, &r, &v, "full record");

	conf_record(&r, "n2", 8);
	r.flags = 0; /* both times null */
	if (write_rec(s, &r, &v, "null times") == ELECTOR_OK)
		expect_stored(s, &r, &v, "null times");

	conf_record(&r, "", 9);
	memset(r.holder_identity, 'h', sizeof r.holder_identity - 1);
	r.holder_identity[sizeof r.holder_identity - 1] = '\0';
	memset(r.preferred_holder, 'p', sizeof r.preferred_holder - 1);
	r.preferred_holder[sizeof r.preferred_holder - 1] = '\0';
	/* Kubernetes accepts preferredHolder only together with a strategy. */
	snprintf(r.strategy, sizeof r.strategy, "OldestEmulationVersion");
	r.lease_duration_seconds = 86400;
	/* 2^53+1 is not exact as a double; a store may hold less. */
	r.leader_transitions = 9007199254740993LL < c->max_transitions
	                           ? 9007199254740993LL
	                           : c->max_transitions;
	r.flags = ELECTOR_REC_HAS_RENEW_TIME;
	r.renew_time_us =
	    253402300799999999LL; /* 9999-12-31T23:59:59.999999Z */
	if (write_rec(s, &r, &v, "limits") == ELECTOR_OK)
		expect_stored(s, &r, &v, "limits");

	conf_record(&r, "n4", 10);
	r.acquire_time_us = -1; /* 1969-12-31T23:59:59.999999Z */
	r.renew_time_us = 1;
	if (write_rec(s, &r, &v, "times around the epoch") == ELECTOR_OK)
		expect_stored(s, &r, &v, "times around the epoch");
	elector_store_close(s);
}

void conf_case_exists(const struct conf *c)
{
	struct elector_store *s = conf_open(c, "conformance-exists");
	if (s == NULL)
		return;
	struct elector_record cur, r;
	struct elector_version v, nv;
	char err[512];
	int rc = conf_ensure(s, &cur, &v, err, sizeof err);
	if (CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	            conf_status(rc), err)) {
		conf_record(&r, "conformance-exists", 42);
		rc = conf_create(s, &r, &nv, err, sizeof err);
		CONF_OK(rc == ELECTOR_EXISTS,
		        "create on an existing record: EXISTS "
		        "(got %s %s)",
		        conf_status(rc), err);
		expect_stored(s, &cur, &v, "store unchanged after EXISTS");
	}
	elector_store_close(s);
}

void conf_case_conflict(const struct conf *c)
{
	struct elector_store *a = conf_open(c, "conformance-conflict-a");
	struct elector_store *b = conf_open(c, "conformance-conflict-b");
	if (a == NULL || b == NULL)
		goto out;
	struct elector_record cur, ra, rb;
	struct elector_version v1, v2, v3;
	char err[512];
	int rc = conf_ensure(a, &cur, &v1, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	conf_record(&ra, "conformance-conflict-a", cur.leader_transitions + 1);
	rc = conf_update(a, &ra, &v1, &v2, err, sizeof err);
	if (!CONF_OK(rc == ELECTOR_OK,
	             "update on the current version: OK (%s %s)",
	             conf_status(rc), err))
		goto out;
	conf_record(&rb, "conformance-conflict-b", cur.leader_transitions + 1);
	rc = conf_update(b, &rb, &v1, &v3, err, sizeof err);
	CONF_OK(rc == ELECTOR_CONFLICT,
	        "update on a stale version from another "
	        "handle: CONFLICT (got %s %s)",
	        conf_status(rc), err);
	rc = conf_update(a, &rb, &v1, &v3, err, sizeof err);
	CONF_OK(rc == ELECTOR_CONFLICT,
	        "update on its own stale version: CONFLICT "
	        "(got %s %s)",
	        conf_status(rc), err);
	expect_stored(b, &ra, &v2, "store unchanged after CONFLICT");
out:
	elector_store_close(b);
	elector_store_close(a);
}

void conf_case_release(const struct conf *c)
{
	struct elector_store *s = conf_open(c, "conformance-release");
	if (s == NULL)
		return;
	struct elector_record cur, r;
	struct elector_version v, nv;
	char err[512];
	int rc = conf_ensure(s, &cur, &v, err, sizeof err);
	if (CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	            conf_status(rc), err)) {
		/* What the engine writes on release: holder "", 1 second,
		 * transitions unchanged. */
		r = cur;
		r.holder_identity[0] = '\0';
		r.lease_duration_seconds = 1;
		rc = conf_update(s, &r, &v, &nv, err, sizeof err);
		if (CONF_OK(rc == ELECTOR_OK, "release update: OK (%s %s)",
		            conf_status(rc), err))
			expect_stored(s, &r, &nv, "released record");
	}
	elector_store_close(s);
}
