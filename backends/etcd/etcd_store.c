/*
 * get / create / update. A write is one txn: compare (create_revision == 0,
 * or mod_revision == expected), put on success, range on failure, so a lost
 * race costs no second request and the answer says whether the key exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_int.h"

#define COMPONENT "etcd"

static void set_ver(struct elector_version *ver, int64_t rev)
{
	snprintf(ver->v, sizeof ver->v, "%lld", (long long)rev);
}

int elector_etcd_decode(struct elector_etcd *e, const char *value, size_t len,
                        int too_big, size_t raw_len, int64_t rev,
                        struct elector_record *rec, struct elector_version *ver,
                        char *err, size_t errlen)
{
	char why[256];

	if (too_big) {
		snprintf(err, errlen,
		         "etcd %s: the stored value (about %zu "
		         "bytes) exceeds %d bytes: not an elector record (left "
		         "untouched)",
		         e->key, raw_len, ELECTOR_ETCD_RECORD_MAX);
		return ELECTOR_CORRUPT;
	}
	if (e->host->record_decode(value, len, rec, why, sizeof why) !=
	    ELECTOR_OK) {
		snprintf(err, errlen,
		         "etcd %s: stored value at revision %lld "
		         "is not an election record: %s",
		         e->key, (long long)rev, why);
		return ELECTOR_CORRUPT;
	}
	set_ver(ver, rev);
	return ELECTOR_OK;
}

static int parse(struct elector_etcd *e, const char *op,
                 const struct elector_http_response *resp, int txn,
                 struct elector_etcd_resp *r, char *err, size_t errlen)
{
	char why[256];

	if (elector_etcd_parse_resp(resp->body, resp->body_len, txn, e->key, r,
	                            why, sizeof why) != ELECTOR_OK) {
		snprintf(err, errlen,
		         "etcd %s: %s: unexpected answer from %s: "
		         "%s",
		         e->key, op, e->eps[e->cur].url, why);
		return ELECTOR_CORRUPT;
	}
	return ELECTOR_OK;
}

int elector_etcd_range(struct elector_etcd *e, struct elector_etcd_resp *r,
                       char *err, size_t errlen)
{
	struct elector_http_response resp = {0};
	char body[ELECTOR_ETCD_KEY_MAX * 2];
	int sent, rc;

	if (elector_etcd_json_range(e->key, body, sizeof body) < 0) {
		snprintf(err, errlen, "etcd %s: key too long", e->key);
		return ELECTOR_INVALID;
	}
	rc = elector_etcd_post(e, "get", "/v3/kv/range", body, &resp, &sent,
	                       err, errlen);
	if (rc == ELECTOR_OK)
		rc = parse(e, "get", &resp, 0, r, err, errlen);
	elector_http_response_clear(&resp);
	return rc;
}

int elector_etcd_get(void *state, struct elector_record *rec,
                     struct elector_version *ver, char *err, size_t errlen)
{
	struct elector_etcd *e = state;
	struct elector_etcd_resp r;
	int rc = elector_etcd_range(e, &r, err, errlen);

	if (rc != ELECTOR_OK)
		return rc;
	if (!r.kv.present) {
		snprintf(err, errlen, "etcd %s: no record", e->key);
		return ELECTOR_NOT_FOUND;
	}
	return elector_etcd_decode(e, r.kv.value, r.kv.value_len, r.kv.too_big,
	                           r.kv.raw_len, r.kv.mod_revision, rec, ver,
	                           err, errlen);
}

/* The txn for rec based on mod_revision (0: create). */
static int write_txn(struct elector_etcd *e, const char *op,
                     const struct elector_record *rec, int64_t mod_revision,
                     struct elector_version *new_ver, char *err, size_t errlen)
{
	char json[ELECTOR_ETCD_RECORD_MAX + 1];
	char body[ELECTOR_ETCD_RECORD_MAX * 2 + ELECTOR_ETCD_KEY_MAX * 5];
	struct elector_http_response resp = {0};
	struct elector_etcd_resp r;
	size_t len;
	int sent, rc;

	if (e->host->record_encode(rec, json, sizeof json, &len) !=
	    ELECTOR_OK) {
		snprintf(err, errlen, "etcd %s: %s: cannot encode the record",
		         e->key, op);
		return ELECTOR_INVALID;
	}
	if (elector_etcd_json_txn(e->key, mod_revision, json, len, body,
	                          sizeof body) < 0) {
		snprintf(err, errlen, "etcd %s: %s: request too large", e->key,
		         op);
		return ELECTOR_INVALID;
	}
	rc = elector_etcd_post(e, op, "/v3/kv/txn", body, &resp, &sent, err,
	                       errlen);
	(void)sent;
	if (rc == ELECTOR_OK)
		rc = parse(e, op, &resp, 1, &r, err, errlen);
	elector_http_response_clear(&resp);
	if (rc != ELECTOR_OK)
		return rc;
	if (r.succeeded) {
		if (r.revision <= 0) {
			snprintf(err, errlen,
			         "etcd %s: %s: txn answer without "
			         "a revision",
			         e->key, op);
			return ELECTOR_CORRUPT;
		}
		set_ver(new_ver, r.revision);
		return ELECTOR_OK;
	}
	/* A try before this one may have been applied (the answer was lost):
	 * the record then holds our exact bytes (renewTime has microseconds,
	 * the identity is unique per process). Checked whatever `sent` says:
	 * libcurl itself re-sends a request once, silently, when a reused
	 * keep-alive connection dies before the answer. */
	if (r.kv.present && !r.kv.too_big && r.kv.value_len == len &&
	    memcmp(r.kv.value, json, len) == 0) {
		e->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
		             "%s: an earlier try was applied at revision %lld",
		             op, (long long)r.kv.mod_revision);
		set_ver(new_ver, r.kv.mod_revision);
		return ELECTOR_OK;
	}
	if (mod_revision == 0 && !r.kv.present) {
		/* the compare and the range run in one txn: impossible */
		snprintf(err, errlen,
		         "etcd %s: create: the compare failed but "
		         "the key is absent: not an etcd answer (%s)",
		         e->key, e->eps[e->cur].url);
		return ELECTOR_CORRUPT;
	}
	if (mod_revision == 0) {
		snprintf(err, errlen,
		         "etcd %s: create: a record exists "
		         "(revision %lld)",
		         e->key, (long long)r.kv.mod_revision);
		return ELECTOR_EXISTS;
	}
	if (!r.kv.present) {
		snprintf(err, errlen, "etcd %s: update: no record", e->key);
		return ELECTOR_NOT_FOUND;
	}
	snprintf(err, errlen,
	         "etcd %s: update: revision %lld expected, the "
	         "store holds %lld",
	         e->key, (long long)mod_revision, (long long)r.kv.mod_revision);
	return ELECTOR_CONFLICT;
}

int elector_etcd_create(void *state, const struct elector_record *rec,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	return write_txn(state, "create", rec, 0, new_ver, err, errlen);
}

int elector_etcd_update(void *state, const struct elector_record *rec,
                        const struct elector_version *expected,
                        struct elector_version *new_ver, char *err,
                        size_t errlen)
{
	struct elector_etcd *e = state;
	int64_t rev;

	if (elector_etcd_parse_rev(expected->v, &rev) != 0 || rev <= 0) {
		snprintf(err, errlen,
		         "etcd %s: update: version '%.40s' is not "
		         "an etcd revision",
		         e->key, expected->v);
		return ELECTOR_INVALID;
	}
	return write_txn(e, "update", rec, rev, new_ver, err, errlen);
}
