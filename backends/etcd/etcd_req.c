/*
 * One gateway request over the endpoint list. A transport error or an
 * "unavailable" answer (a member without a leader, a proposal that timed
 * out) moves on to the next endpoint; the request timeout bounds the whole
 * attempt, not each try, so the engine's renew deadline holds however many
 * members are down. Retrying a txn elsewhere is safe: it is a
 * compare-and-swap on a revision, and etcd_store.c recognises its own
 * earlier write when the retry's compare fails.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_int.h"

#define COMPONENT "etcd"
#define MIN_TRY_MS 20

/* gRPC status codes the gateway reports in "code". */
enum {
	GRPC_CANCELED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16
};

static void next_endpoint(struct elector_etcd *e)
{
	e->cur = (e->cur + 1) % e->n_eps;
}

/* The answer says "try another member". */
static int retry_elsewhere(long status, long code)
{
	if (code == GRPC_UNAVAILABLE || code == GRPC_DEADLINE_EXCEEDED ||
	    code == GRPC_CANCELED || code == GRPC_ABORTED)
		return 1;
	return code < 0 && status >= 500;
}

int elector_etcd_map_code(struct elector_etcd *e, const char *op, long code,
                          const char *msg, char *err, size_t errlen)
{
	switch (code) {
	case GRPC_PERMISSION_DENIED:
		snprintf(err, errlen,
		         "etcd %s: %s: permission denied (%s): user '%s' needs "
		         "a role with readwrite on the key",
		         e->key, op, msg, e->user[0] ? e->user : "(none)");
		return ELECTOR_DENIED;
	case GRPC_UNAUTHENTICATED:
		snprintf(err, errlen,
		         "etcd %s: %s: authentication refused (%s)", e->key, op,
		         msg);
		return ELECTOR_DENIED;
	case GRPC_INVALID_ARGUMENT:
		if (strstr(msg, "user name is empty") != NULL ||
		    strstr(msg, "authentication failed") != NULL) {
			snprintf(err, errlen,
			         "etcd %s: %s: %s (set user and "
			         "password-file)",
			         e->key, op, msg);
			return ELECTOR_DENIED;
		}
		break;
	case GRPC_UNAVAILABLE:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_CANCELED:
	case GRPC_ABORTED:
	case GRPC_RESOURCE_EXHAUSTED:
	case GRPC_INTERNAL:
	case GRPC_UNKNOWN:
		snprintf(err, errlen, "etcd %s: %s: %s", e->key, op, msg);
		return ELECTOR_TRANSIENT;
	default:
		break;
	}
	snprintf(err, errlen, "etcd %s: %s: %s (gRPC code %ld)", e->key, op,
	         msg[0] ? msg : "no message", code);
	return ELECTOR_ERROR;
}

/* One POST to the current endpoint within timeout_ms. */
static int try_once(struct elector_etcd *e, const char *path, const char *body,
                    const char *auth, int64_t timeout_ms,
                    struct elector_http_response *resp, char *err,
                    size_t errlen)
{
	char url[ELECTOR_ETCD_URL_MAX + 64];
	const char *hdrs[3];
	struct elector_http_request req;
	size_t nh = 0;

	snprintf(url, sizeof url, "%s%s", e->eps[e->cur].url, path);
	hdrs[nh++] = "Content-Type: application/json";
	hdrs[nh++] = "User-Agent: elector/0.1.0 (etcd)";
	if (auth != NULL && auth[0] != '\0')
		hdrs[nh++] = auth;
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.n_headers = nh;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = timeout_ms;
	req.max_body = ELECTOR_ETCD_BODY_MAX;
	req.tls = &e->tls;
	return elector_http_do(e->http, &req, resp, err, errlen);
}

/* POST /v3/auth/authenticate until an endpoint answers or deadline. */
static int authenticate(struct elector_etcd *e, int64_t deadline, char *err,
                        size_t errlen)
{
	struct elector_http_response resp = {0};
	json_t *o =
	    json_pack("{s:s, s:s}", "name", e->user, "password", e->password);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char msg[256], why[512] = "no endpoint tried";
	size_t tries;
	int rc = ELECTOR_TRANSIENT;

	json_decref(o); /* jansson keeps no copy after dumps */
	if (body == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		return ELECTOR_ERROR;
	}
	for (tries = 0; tries < 2 * e->n_eps; tries++) {
		int64_t left = deadline - elector_etcd_now_ms();
		long code;

		if (left < MIN_TRY_MS)
			break;
		rc = try_once(e, "/v3/auth/authenticate", body, NULL, left,
		              &resp, why, sizeof why);
		if (rc == ELECTOR_TIMEOUT || rc == ELECTOR_TRANSIENT) {
			rc = ELECTOR_TRANSIENT;
			next_endpoint(e);
			continue;
		}
		if (rc != ELECTOR_OK)
			break;
		if (resp.status == 200) {
			rc =
			    elector_etcd_parse_token(resp.body, resp.body_len,
			                             e->token, sizeof e->token);
			if (rc != ELECTOR_OK)
				snprintf(why, sizeof why,
				         "authenticate: no "
				         "token in the answer");
			break;
		}
		code = elector_etcd_parse_error(resp.body, resp.body_len, msg,
		                                sizeof msg);
		if (code == GRPC_FAILED_PRECONDITION &&
		    strstr(msg, "not enabled") != NULL) {
			if (!e->auth_disabled_logged)
				e->host->log(
				    ELECTOR_LOG_WARN, COMPONENT,
				    "user '%s' is set but authentication "
				    "is not enabled in etcd; going on "
				    "without a token",
				    e->user);
			e->auth_disabled_logged = 1;
			snprintf(e->token, sizeof e->token, "-");
			rc = ELECTOR_OK;
			break;
		}
		if (retry_elsewhere(resp.status, code)) {
			snprintf(why, sizeof why, "%s: authenticate: %s",
			         e->eps[e->cur].url, msg);
			rc = ELECTOR_TRANSIENT;
			next_endpoint(e);
			continue;
		}
		if (code == GRPC_INVALID_ARGUMENT) {
			snprintf(why, sizeof why,
			         "authentication as user '%.100s' failed "
			         "(%.200s): check "
			         "user and password-file",
			         e->user, msg);
			rc = ELECTOR_DENIED;
		} else {
			snprintf(why, sizeof why,
			         "authenticate as '%.100s': %.200s "
			         "(HTTP %ld)",
			         e->user, msg[0] ? msg : "refused",
			         resp.status);
			rc = ELECTOR_DENIED;
		}
		break;
	}
	elector_http_response_clear(&resp);
	memset(body, 0, strlen(body)); /* the password */
	free(body);
	if (rc != ELECTOR_OK) {
		e->token[0] = '\0';
		snprintf(err, errlen, "etcd %s: %s", e->key, why);
		return rc;
	}
	if (strcmp(e->token, "-") == 0)
		e->auth_hdr[0] = '\0';
	else
		snprintf(e->auth_hdr, sizeof e->auth_hdr, "Authorization: %s",
		         e->token);
	return ELECTOR_OK;
}

int elector_etcd_auth_header(struct elector_etcd *e, int force, char *hdr,
                             size_t cap, char *err, size_t errlen)
{
	hdr[0] = '\0';
	if (e->user[0] == '\0')
		return ELECTOR_OK;
	if (force || e->token[0] == '\0') {
		int rc = authenticate(e, elector_etcd_now_ms() + e->timeout_ms,
		                      err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
	}
	snprintf(hdr, cap, "%s", e->auth_hdr);
	return ELECTOR_OK;
}

int elector_etcd_post(struct elector_etcd *e, const char *op, const char *path,
                      const char *body, struct elector_http_response *resp,
                      int *maybe_sent, char *err, size_t errlen)
{
	int64_t deadline = elector_etcd_now_ms() + e->timeout_ms;
	char why[512] = "no endpoint tried", msg[256];
	int reauth = 0, rc = ELECTOR_TRANSIENT;
	size_t tries;

	*maybe_sent = 0;
	elector_http_response_clear(resp);
	for (tries = 0; tries < 2 * e->n_eps + 1; tries++) {
		int64_t left;
		long code;

		if (e->user[0] != '\0' && e->token[0] == '\0') {
			rc = authenticate(e, deadline, err, errlen);
			if (rc != ELECTOR_OK)
				return rc;
		}
		left = deadline - elector_etcd_now_ms();
		if (left < MIN_TRY_MS)
			break;
		/* A hung member (frozen, partitioned) must leave time for one
		 * more member within the same attempt. */
		if (tries == 0 && e->n_eps > 1)
			left = left * 2 / 3;
		rc = try_once(e, path, body, e->auth_hdr, left, resp, why,
		              sizeof why);
		if (rc == ELECTOR_TIMEOUT || rc == ELECTOR_TRANSIENT) {
			*maybe_sent = 1;
			e->host->log(ELECTOR_LOG_DEBUG, COMPONENT, "%s: %s", op,
			             why);
			rc = ELECTOR_TRANSIENT;
			next_endpoint(e);
			continue;
		}
		if (rc != ELECTOR_OK) {
			snprintf(err, errlen, "etcd %s: %s: %s", e->key, op,
			         why);
			return rc;
		}
		if (resp->status == 200)
			return ELECTOR_OK;
		code = elector_etcd_parse_error(resp->body, resp->body_len, msg,
		                                sizeof msg);
		if (code == GRPC_UNAUTHENTICATED && e->user[0] != '\0' &&
		    !reauth) {
			/* the token expired or the member restarted */
			e->host->log(ELECTOR_LOG_DEBUG, COMPONENT,
			             "%s: token refused (%s); authenticating "
			             "again",
			             op, msg);
			reauth = 1;
			e->token[0] = '\0';
			continue;
		}
		if (code == GRPC_INVALID_ARGUMENT && e->user[0] != '\0' &&
		    strstr(msg, "user name is empty") != NULL && !reauth) {
			/* auth was enabled after we found it disabled */
			reauth = 1;
			e->token[0] = '\0';
			continue;
		}
		if (retry_elsewhere(resp->status, code)) {
			*maybe_sent = 1;
			snprintf(why, sizeof why, "%s: %s (HTTP %ld)",
			         e->eps[e->cur].url,
			         msg[0] ? msg : "unavailable", resp->status);
			e->host->log(ELECTOR_LOG_DEBUG, COMPONENT, "%s: %s", op,
			             why);
			rc = ELECTOR_TRANSIENT;
			next_endpoint(e);
			continue;
		}
		if (code < 0) {
			snprintf(err, errlen,
			         "etcd %s: %s: %s%s: HTTP %ld without "
			         "a gateway error (is this etcd >= 3.4?)%s%s",
			         e->key, op, e->eps[e->cur].url, path,
			         resp->status, msg[0] ? ": " : "", msg);
			return ELECTOR_ERROR;
		}
		return elector_etcd_map_code(e, op, code, msg, err, errlen);
	}
	elector_http_response_clear(resp);
	snprintf(err, errlen,
	         "etcd %s: %s: no endpoint answered (%zu tries in %lld ms, "
	         "request timeout %lld ms; last: %s)",
	         e->key, op, tries,
	         (long long)(elector_etcd_now_ms() - deadline + e->timeout_ms),
	         (long long)e->timeout_ms, why);
	return ELECTOR_TRANSIENT;
}
