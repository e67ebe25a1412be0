/*
 * One HTTPS request to this cluster's API server with the pod's service
 * account, for the optional daemon modules (podlabel.so, k8sevents.so).
 * Linked into each module (and its test driver); not part of the daemon.
 *
 * The server: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT. The
 * credentials: the token (re-read on every call, as it rotates) and ca.crt
 * in $ELECTOR_SERVICEACCOUNT_DIR, else
 * /var/run/secrets/kubernetes.io/serviceaccount. Answers are capped at
 * ELECTOR_K8SAPI_BODY_CAP bytes; every request is bounded by timeout_ms
 * (half of it to connect). The token never reaches a message.
 */
#ifndef ELECTOR_CORE_K8SAPI_H
#define ELECTOR_CORE_K8SAPI_H

#include <stddef.h>

#define ELECTOR_K8SAPI_BODY_CAP 65536

/* An answer body, NUL-terminated. Large: allocate it, do not put it on a
 * thread's stack. */
struct elector_k8sapi_body {
	char buf[ELECTOR_K8SAPI_BODY_CAP];
	size_t len;
};

/* The service-account directory in use. */
const char *elector_k8sapi_sa_dir(void);

/* Read a small file (token, namespace) into buf, trailing whitespace
 * trimmed. Returns 0, or -1 when missing, empty or cap bytes or longer. */
int elector_k8sapi_read_trimmed(const char *path, char *buf, size_t cap);

/* Failures of elector_k8sapi_request (nothing usable was answered). */
#define ELECTOR_K8SAPI_ESETUP (-1) /* not in a cluster, token unreadable */
#define ELECTOR_K8SAPI_ENET (-2)   /* connect, TLS, timeout */
#define ELECTOR_K8SAPI_EBODY (-3)  /* answer over the cap, out of memory */

/*
 * method path (e.g. "/api/v1/namespaces/NS/events") with body (NULL for
 * none) of content_type. Returns the HTTP status, or one of the negative
 * ELECTOR_K8SAPI_E* codes with the reason in err. resp (may be NULL)
 * receives the body.
 */
long elector_k8sapi_request(const char *method, const char *path,
                            const char *content_type, const char *body,
                            const char *user_agent, long timeout_ms,
                            struct elector_k8sapi_body *resp, char *err,
                            size_t errlen);

/* The "message" of a Status body (best effort, unescaped) into out. */
void elector_k8sapi_status_message(const char *body, char *out, size_t cap);

#endif
