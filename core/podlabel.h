/*
 * The leader pod label (--label-pod): patch this process's own pod with
 * the label elector.io/role=leader|follower, so a Service can select the
 * leader.
 *
 * Where the pod is: POD_NAME and POD_NAMESPACE from the environment (the
 * downward API); without POD_NAMESPACE, the service account's namespace
 * file. The API server: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT,
 * authenticated with the service-account token (re-read on every call) and
 * verified with its ca.crt, both in /var/run/secrets/kubernetes.io/
 * serviceaccount unless $ELECTOR_SERVICEACCOUNT_DIR names another directory
 * (tests).
 *
 * The request is one PATCH with Content-Type application/merge-patch+json:
 *   {"metadata":{"labels":{"elector.io/role":"leader"}}}
 * bounded by a 2 s total timeout (1 s to connect), so a slow API server
 * delays the caller (the engine's leadership callback) by at most that.
 * RBAC needed: patch on pods in the pod's namespace (the Helm chart grants
 * it only when labelling is on).
 */
#ifndef ELECTOR_CORE_PODLABEL_H
#define ELECTOR_CORE_PODLABEL_H

#include <stddef.h>

/* Label value for role, the key is "elector.io/role". */
#define ELECTOR_PODLABEL_KEY "elector.io/role"
#define ELECTOR_PODLABEL_TIMEOUT_MS 2000

/*
 * Set the label to role ("leader" or "follower"). Thread-safe; blocks up to
 * ELECTOR_PODLABEL_TIMEOUT_MS. Returns ELECTOR_OK, or with a message in
 * err[errlen] (the caller logs it once; a failed patch is never fatal):
 *   ELECTOR_INVALID   bad role, not in a cluster, POD_NAME unset
 *   ELECTOR_DENIED    401/403 (the message names the RBAC rule needed)
 *   ELECTOR_NOT_FOUND the pod does not exist
 *   ELECTOR_TRANSIENT network trouble, timeout, 429, 5xx
 *   ELECTOR_ERROR     anything else
 */
int elector_podlabel_set(const char *role, char *err, size_t errlen);

#endif
