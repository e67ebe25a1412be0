/*
 * The etcd v3 gateway's JSON: int64 fields come as decimal strings and
 * zero values are omitted (protobuf's JSON mapping); keys and values are
 * base64. Everything here is pure (no I/O), so it is fuzzed directly.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_int.h"

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long elector_etcd_b64enc(const void *in, size_t n, char *out, size_t cap)
{
	const unsigned char *p = in;
	size_t need = (n + 2) / 3 * 4 + 1, i, o = 0;

	if (cap < need)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v =
		    (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = B64[v >> 18 & 63];
		out[o++] = B64[v >> 12 & 63];
		out[o++] = B64[v >> 6 & 63];
		out[o++] = B64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		out[o++] = B64[v >> 18 & 63];
		out[o++] = B64[v >> 12 & 63];
		out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long elector_etcd_b64dec(const char *in, size_t n, char *out, size_t cap)
{
	size_t i, o = 0, pad = 0;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	for (i = 0; i < n; i += 4) {
		int a = b64val(in[i]), b = b64val(in[i + 1]);
		int c = in[i + 2] == '=' ? 0 : b64val(in[i + 2]);
		int d = in[i + 3] == '=' ? 0 : b64val(in[i + 3]);
		int last = i + 4 == n;
		unsigned v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		if (!last && (in[i + 2] == '=' || in[i + 3] == '='))
			return -1;
		if (in[i + 2] == '=' && in[i + 3] != '=')
			return -1;
		v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 |
		    (unsigned)d;
		if (o + 3 > cap)
			return -1;
		out[o++] = (char)(v >> 16 & 255);
		out[o++] = (char)(v >> 8 & 255);
		out[o++] = (char)(v & 255);
	}
	return (long)(o - pad);
}

int elector_etcd_parse_rev(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 19)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* An int64 field: absent = 0, a decimal string, or a JSON integer. */
static int get_i64(const json_t *o, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(o, name);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return elector_etcd_parse_rev(json_string_value(v), out);
	return -1;
}

static int get_bool(const json_t *o, const char *name)
{
	return json_is_true(json_object_get(o, name));
}

/* Decode a kv object for key into *kv. 0 or -1 (reason in err). */
static int parse_kv(const json_t *o, const char *key, int value_required,
                    struct elector_etcd_kv *kv, char *err, size_t errlen)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const json_t *jv = json_object_get(o, "value");
	char kbuf[ELECTOR_ETCD_KEY_MAX + 4];
	size_t l;
	long n;

	memset(kv, 0, sizeof *kv);
	if (!json_is_object(o) || k == NULL) {
		snprintf(err, errlen, "a kv without a key");
		return -1;
	}
	n = elector_etcd_b64dec(k, strlen(k), kbuf, sizeof kbuf - 1);
	if (n < 0 || (size_t)n != strlen(key) ||
	    memcmp(kbuf, key, (size_t)n) != 0) {
		snprintf(err, errlen, "a kv for another key");
		return -1;
	}
	if (get_i64(o, "mod_revision", &kv->mod_revision) != 0 ||
	    get_i64(o, "create_revision", &kv->create_revision) != 0 ||
	    kv->mod_revision <= 0) {
		snprintf(err, errlen, "a kv without a valid mod_revision");
		return -1;
	}
	kv->present = 1;
	if (jv == NULL || json_is_null(jv)) {
		if (value_required)
			kv->value_len =
			    0; /* an empty value: the codec rejects */
		return 0;
	}
	if (!json_is_string(jv)) {
		snprintf(err, errlen, "a value that is not a string");
		return -1;
	}
	l = json_string_length(jv);
	kv->raw_len = l / 4 * 3;
	if (l > (ELECTOR_ETCD_RECORD_MAX + 2) / 3 * 4) {
		kv->too_big = 1;
		return 0;
	}
	n = elector_etcd_b64dec(json_string_value(jv), l, kv->value,
	                        sizeof kv->value - 1);
	if (n < 0) {
		snprintf(err, errlen, "a value that is not base64");
		return -1;
	}
	kv->raw_len = (size_t)n;
	if ((size_t)n > ELECTOR_ETCD_RECORD_MAX) {
		kv->too_big = 1;
		n = 0;
	}
	kv->value_len = (size_t)n;
	kv->value[n] = '\0';
	return 0;
}

static int first_kv(const json_t *o, const char *key,
                    struct elector_etcd_kv *kv, char *err, size_t errlen)
{
	const json_t *kvs = json_object_get(o, "kvs");

	memset(kv, 0, sizeof *kv);
	if (kvs == NULL || json_is_null(kvs))
		return 0;
	if (!json_is_array(kvs)) {
		snprintf(err, errlen, "kvs is not an array");
		return -1;
	}
	if (json_array_size(kvs) == 0)
		return 0;
	if (json_array_size(kvs) > 1) {
		snprintf(err, errlen, "more than one kv for one key");
		return -1;
	}
	return parse_kv(json_array_get(kvs, 0), key, 1, kv, err, errlen);
}

int elector_etcd_parse_resp(const char *body, size_t len, int txn,
                            const char *key, struct elector_etcd_resp *r,
                            char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = body ? json_loadb(body, len, 0, &je) : NULL;
	char why[128] = "";
	int rc = ELECTOR_CORRUPT;

	memset(r, 0, sizeof *r);
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (get_i64(json_object_get(doc, "header"), "revision", &r->revision) !=
	    0) {
		snprintf(err, errlen, "a header revision that is no int64");
		goto out;
	}
	if (!txn) {
		if (first_kv(doc, key, &r->kv, why, sizeof why) != 0) {
			snprintf(err, errlen, "range: %s", why);
			goto out;
		}
	} else {
		const json_t *rs = json_object_get(doc, "responses");
		size_t i;

		r->succeeded = get_bool(doc, "succeeded");
		if (rs != NULL && !json_is_array(rs)) {
			snprintf(err, errlen, "txn: responses is not an array");
			goto out;
		}
		for (i = 0; rs != NULL && i < json_array_size(rs); i++) {
			const json_t *rr = json_object_get(
			    json_array_get(rs, i), "response_range");
			if (rr == NULL)
				continue;
			if (first_kv(rr, key, &r->kv, why, sizeof why) != 0) {
				snprintf(err, errlen, "txn: %s", why);
				goto out;
			}
			break;
		}
	}
	rc = ELECTOR_OK;
out:
	json_decref(doc);
	return rc;
}

int elector_etcd_parse_watch(const char *line, size_t len, const char *key,
                             struct elector_etcd_wresult *w, char *err,
                             size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(line, len, 0, &je);
	const json_t *res = json_object_get(doc, "result");
	const json_t *evs;
	const char *cr;
	char why[128];
	size_t i;
	int rc = ELECTOR_CORRUPT;

	memset(w, 0, sizeof *w);
	if (!json_is_object(doc)) {
		snprintf(err, errlen,
		         "watch: a line that is not a JSON object");
		goto out;
	}
	if (res == NULL && json_object_get(doc, "error") != NULL) {
		json_t *c = json_object_get(doc, "code");
		const char *m =
		    json_string_value(json_object_get(doc, "message"));
		w->error = 1;
		w->error_code =
		    json_is_integer(c) ? (long)json_integer_value(c) : -1;
		snprintf(w->cancel_reason, sizeof w->cancel_reason, "%s",
		         m ? m : "(no message)");
		rc = ELECTOR_OK;
		goto out;
	}
	if (!json_is_object(res)) {
		snprintf(err, errlen, "watch: a line without a result");
		goto out;
	}
	w->created = get_bool(res, "created");
	w->canceled = get_bool(res, "canceled");
	cr = json_string_value(json_object_get(res, "cancel_reason"));
	snprintf(w->cancel_reason, sizeof w->cancel_reason, "%s", cr ? cr : "");
	if (get_i64(res, "compact_revision", &w->compact_revision) != 0 ||
	    get_i64(json_object_get(res, "header"), "revision",
	            &w->header_revision) != 0) {
		snprintf(err, errlen, "watch: a revision that is no int64");
		goto out;
	}
	evs = json_object_get(res, "events");
	if (evs != NULL && !json_is_array(evs)) {
		snprintf(err, errlen, "watch: events is not an array");
		goto out;
	}
	for (i = 0; evs != NULL && i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *type =
		    json_string_value(json_object_get(ev, "type"));
		int del = type != NULL && strcmp(type, "DELETE") == 0;
		int64_t prev = w->n_events ? w->kv.mod_revision : 0;

		if (type != NULL && !del && strcmp(type, "PUT") != 0) {
			snprintf(err, errlen, "watch: unknown event type");
			goto out;
		}
		if (parse_kv(json_object_get(ev, "kv"), key, !del, &w->kv, why,
		             sizeof why) != 0) {
			snprintf(err, errlen, "watch: %s", why);
			goto out;
		}
		if (w->kv.mod_revision <= prev) {
			snprintf(err, errlen, "watch: events out of order");
			goto out;
		}
		w->deleted = del;
		if (del)
			w->kv.present = 0;
		w->n_events++;
	}
	rc = ELECTOR_OK;
out:
	json_decref(doc);
	return rc;
}

long elector_etcd_parse_error(const char *body, size_t len, char *msg,
                              size_t cap)
{
	json_error_t je;
	json_t *doc = body ? json_loadb(body, len, 0, &je) : NULL;
	const json_t *c = json_object_get(doc, "code");
	const char *m = json_string_value(json_object_get(doc, "message"));
	long code = -1;

	if (m == NULL)
		m = json_string_value(json_object_get(doc, "error"));
	if (json_is_integer(c))
		code = (long)json_integer_value(c);
	snprintf(msg, cap, "%s", m ? m : "");
	if (doc == NULL && body != NULL && cap > 0) {
		/* a plain-text answer (etcd's own HTTP checks): its first
		 * line, printable bytes only */
		size_t i, n = 0;
		for (i = 0; i < len && n + 1 < cap && n < 200; i++) {
			unsigned char ch = (unsigned char)body[i];
			if (ch == '\n' || ch == '\r')
				break;
			msg[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		msg[n] = '\0';
	}
	json_decref(doc);
	return code;
}

int elector_etcd_parse_token(const char *body, size_t len, char *tok,
                             size_t cap)
{
	json_error_t je;
	json_t *doc = body ? json_loadb(body, len, 0, &je) : NULL;
	const char *t = json_string_value(json_object_get(doc, "token"));
	int rc = ELECTOR_CORRUPT;
	size_t i, n = t ? strlen(t) : 0;

	if (n > 0 && n < cap) {
		rc = ELECTOR_OK;
		for (i = 0; i < n; i++)
			if ((unsigned char)t[i] < 0x21 || t[i] == 0x7f)
				rc = ELECTOR_CORRUPT; /* would break the header
				                       */
		if (rc == ELECTOR_OK)
			memcpy(tok, t, n + 1);
	}
	json_decref(doc);
	return rc;
}

static long fit(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? -1 : (long)n;
}

long elector_etcd_json_range(const char *key, char *buf, size_t cap)
{
	char k[ELECTOR_ETCD_KEY_MAX * 4 / 3 + 8];

	if (elector_etcd_b64enc(key, strlen(key), k, sizeof k) < 0)
		return -1;
	return fit(snprintf(buf, cap, "{\"key\":\"%s\"}", k), cap);
}

long elector_etcd_json_txn(const char *key, int64_t mod_revision,
                           const char *value, size_t value_len, char *buf,
                           size_t cap)
{
	char k[ELECTOR_ETCD_KEY_MAX * 4 / 3 + 8];
	char v[(ELECTOR_ETCD_RECORD_MAX + 2) / 3 * 4 + 8];
	char cmp[128];

	if (elector_etcd_b64enc(key, strlen(key), k, sizeof k) < 0 ||
	    elector_etcd_b64enc(value, value_len, v, sizeof v) < 0)
		return -1;
	if (mod_revision == 0)
		snprintf(cmp, sizeof cmp,
		         "\"target\":\"CREATE\",\"create_revision\":\"0\"");
	else
		snprintf(cmp, sizeof cmp,
		         "\"target\":\"MOD\",\"mod_revision\":\"%lld\"",
		         (long long)mod_revision);
	return fit(
	    snprintf(buf, cap,
	             "{\"compare\":[{\"result\":\"EQUAL\",%s,"
	             "\"key\":\"%s\"}],"
	             "\"success\":[{\"request_put\":{\"key\":\"%s\","
	             "\"value\":\"%s\"}}],"
	             "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}",
	             cmp, k, k, v, k),
	    cap);
}

long elector_etcd_json_watch(const char *key, int64_t start_revision, char *buf,
                             size_t cap)
{
	char k[ELECTOR_ETCD_KEY_MAX * 4 / 3 + 8];

	if (elector_etcd_b64enc(key, strlen(key), k, sizeof k) < 0)
		return -1;
	return fit(snprintf(buf, cap,
	                    "{\"create_request\":{\"key\":\"%s\","
	                    "\"start_revision\":\"%lld\","
	                    "\"progress_notify\":true}}",
	                    k, (long long)start_revision),
	           cap);
}
