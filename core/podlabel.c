/* --label-pod: one merge PATCH of our own pod; see podlabel.h. The request
 * itself is k8sapi.c's (libcurl, linked into this module only). */
#include "podlabel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elector/backend.h"
#include "k8sapi.h"

static int map_status(long code, const char *ns, const char *pod,
                      const char *body, char *err, size_t errlen)
{
	char msg[512];

	elector_k8sapi_status_message(body, msg, sizeof msg);
	if (code >= 200 && code < 300)
		return ELECTOR_OK;
	if (code == 401 || code == 403) {
		snprintf(err, errlen,
		         "label pod %s/%s: %ld %s: grant patch on pods in "
		         "namespace %s to the service account",
		         ns, pod, code, msg[0] ? msg : "denied", ns);
		return ELECTOR_DENIED;
	}
	snprintf(err, errlen, "label pod %s/%s: HTTP %ld%s%s", ns, pod, code,
	         msg[0] ? ": " : "", msg);
	if (code == 404)
		return ELECTOR_NOT_FOUND;
	return (code == 429 || code >= 500) ? ELECTOR_TRANSIENT : ELECTOR_ERROR;
}

__attribute__((visibility("default"))) int
elector_podlabel_set(const char *role, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *pod = getenv("POD_NAME");
	const char *nsenv = getenv("POD_NAMESPACE");
	const char *sa = elector_k8sapi_sa_dir();
	char ns[256], path[1024], body[256], why[512];
	struct elector_k8sapi_body *resp;
	long code;
	int n, rc;

	if (role == NULL ||
	    (strcmp(role, "leader") != 0 && strcmp(role, "follower") != 0)) {
		snprintf(err, errlen,
		         "label pod: role must be leader or follower");
		return ELECTOR_INVALID;
	}
	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0' || pod == NULL || pod[0] == '\0') {
		snprintf(err, errlen,
		         "label pod: needs KUBERNETES_SERVICE_HOST, "
		         "KUBERNETES_SERVICE_PORT and POD_NAME (downward API)");
		return ELECTOR_INVALID;
	}
	if (nsenv != NULL && nsenv[0] != '\0') {
		n = snprintf(ns, sizeof ns, "%s", nsenv);
		if (n < 0 || (size_t)n >= sizeof ns) {
			snprintf(err, errlen,
			         "label pod: POD_NAMESPACE too long");
			return ELECTOR_INVALID;
		}
	} else {
		n = snprintf(path, sizeof path, "%s/namespace", sa);
		if (n < 0 || (size_t)n >= sizeof path ||
		    elector_k8sapi_read_trimmed(path, ns, sizeof ns) != 0) {
			snprintf(err, errlen,
			         "label pod: POD_NAMESPACE unset and "
			         "%s/namespace unreadable",
			         sa);
			return ELECTOR_INVALID;
		}
	}
	n = snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", ns,
	             pod);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errlen, "label pod: URL too long");
		return ELECTOR_INVALID;
	}
	n = snprintf(body, sizeof body,
	             "{\"metadata\":{\"labels\":{\"" ELECTOR_PODLABEL_KEY
	             "\":\"%s\"}}}",
	             role);
	if (n < 0 || (size_t)n >= sizeof body)
		return ELECTOR_ERROR;
	resp = calloc(1, sizeof *resp);
	if (resp == NULL) {
		snprintf(err, errlen, "label pod: out of memory");
		return ELECTOR_ERROR;
	}
	code = elector_k8sapi_request(
	    "PATCH", path, "application/merge-patch+json", body,
	    "elector/podlabel", ELECTOR_PODLABEL_TIMEOUT_MS, resp, why,
	    sizeof why);
	switch (code) {
	case ELECTOR_K8SAPI_ESETUP:
		snprintf(err, errlen, "label pod: %s", why);
		rc = ELECTOR_INVALID;
		break;
	case ELECTOR_K8SAPI_ENET:
	case ELECTOR_K8SAPI_EBODY:
		snprintf(err, errlen, "label pod %s/%s: %s", ns, pod, why);
		rc = code == ELECTOR_K8SAPI_ENET ? ELECTOR_TRANSIENT
		                                 : ELECTOR_ERROR;
		break;
	default:
		rc = map_status(code, ns, pod, resp->buf, err, errlen);
	}
	free(resp);
	return rc;
}
