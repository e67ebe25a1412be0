/*
 * libFuzzer target for the etcd backend's parsers (the gateway's answers
 * are untrusted input). The first byte picks the parser, the rest is its
 * input:
 *   '0'  a range answer   -> elector_etcd_parse_resp(txn = 0)
 *   '1'  a txn answer     -> elector_etcd_parse_resp(txn = 1)
 *   '2'  a watch line     -> elector_etcd_parse_watch
 *   '3'  an error body    -> elector_etcd_parse_error, parse_token
 *   '4'  base64           -> decode, and encode/decode round trip
 *   '5'  an endpoint list -> elector_etcd_parse_endpoints, durations
 * Invariants: values never exceed the record cap, revisions are >= 0, and
 * base64 round-trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "/elector/default/demo"

static void check_kv(const struct elector_etcd_kv *kv)
{
	if (kv->value_len > ELECTOR_ETCD_RECORD_MAX || kv->mod_revision < 0 ||
	    kv->create_revision < 0)
		abort();
	if (kv->too_big && kv->value_len != 0)
		abort();
}

static void fuzz_b64(const char *buf, size_t len)
{
	char out[8192], enc[12000], back[8192];
	long n = elector_etcd_b64dec(buf, len, out, sizeof out);
	long e, m;

	if (n < 0)
		return;
	e = elector_etcd_b64enc(out, (size_t)n, enc, sizeof enc);
	if (e < 0)
		abort();
	m = elector_etcd_b64dec(enc, (size_t)e, back, sizeof back);
	if (m != n || memcmp(out, back, (size_t)n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], msg[256], tok[ELECTOR_ETCD_TOKEN_MAX];
	struct elector_etcd_resp r;
	struct elector_etcd_wresult w;
	struct elector_etcd_endpoint eps[ELECTOR_ETCD_MAX_ENDPOINTS];
	const char *buf = (const char *)data + 1;
	size_t len = size ? size - 1 : 0, n;
	char *s;
	int64_t ms;

	if (size == 0)
		return 0;
	switch (data[0]) {
	case '0':
	case '1':
		if (elector_etcd_parse_resp(buf, len, data[0] == '1', KEY, &r,
		                            err, sizeof err) == ELECTOR_OK) {
			check_kv(&r.kv);
			if (r.revision < 0)
				abort();
		}
		break;
	case '2':
		if (elector_etcd_parse_watch(buf, len, KEY, &w, err,
		                             sizeof err) == ELECTOR_OK) {
			check_kv(&w.kv);
			if (w.compact_revision < 0 || w.n_events < 0)
				abort();
		}
		break;
	case '3':
		(void)elector_etcd_parse_error(buf, len, msg, sizeof msg);
		if (strlen(msg) >= sizeof msg)
			abort();
		(void)elector_etcd_parse_token(buf, len, tok, sizeof tok);
		break;
	case '4':
		fuzz_b64(buf, len);
		break;
	case '5':
		s = malloc(len + 1);
		if (s == NULL)
			return 0;
		memcpy(s, buf, len);
		s[len] = '\0';
		if (elector_etcd_parse_endpoints(s, eps,
		                                 ELECTOR_ETCD_MAX_ENDPOINTS, &n,
		                                 err, sizeof err) == ELECTOR_OK &&
		    (n == 0 || n > ELECTOR_ETCD_MAX_ENDPOINTS))
			abort();
		(void)elector_etcd_parse_duration(s, &ms);
		free(s);
		break;
	default:
		break;
	}
	return 0;
}
