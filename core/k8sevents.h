/*
 * Kubernetes Events for leadership changes (--k8s-events), the way
 * client-go's resourcelock records them: reason "LeaderElection", message
 * "<identity> became leader" / "<identity> stopped leading", on the Lease
 * (kubectl describe lease) or, when the lock is not a Lease of this cluster,
 * on this pod. Built into the optional module ext/k8sevents.so (libcurl),
 * loaded by the daemon only when the option is on.
 *
 * Where the API server is and who we are: as in podlabel.h
 * (KUBERNETES_SERVICE_HOST/PORT, the service-account token and ca.crt in
 * $ELECTOR_SERVICEACCOUNT_DIR or /var/run/secrets/kubernetes.io/
 * serviceaccount). For events on the pod: POD_NAME and POD_UID (downward
 * API). The Lease's uid comes from one GET of the Lease (kubectl describe
 * finds events by uid); without it the event is still listed by
 * `kubectl get events`.
 *
 * Each event is one POST of a core/v1 Event to
 * /api/v1/namespaces/NS/events (RBAC: create on events in NS), from a
 * worker thread: elector_k8sevents_record() never blocks on the network,
 * so a slow or forbidding API server never affects the election.
 *
 * Rate limit: a token bucket of ELECTOR_K8SEVENTS_BURST events, refilled
 * one every ELECTOR_K8SEVENTS_REFILL_MS. Events beyond it wait in a queue of
 * ELECTOR_K8SEVENTS_QUEUE (the oldest is dropped when it is full). At stop
 * the queue still drains as the bucket allows for up to 3 s; what is left
 * then is coalesced into one last event, whose message says how many were
 * not recorded.
 */
#ifndef ELECTOR_CORE_K8SEVENTS_H
#define ELECTOR_CORE_K8SEVENTS_H

#include <stddef.h>

#define ELECTOR_K8SEVENTS_BURST 10
#define ELECTOR_K8SEVENTS_REFILL_MS 6000 /* 10 per minute, sustained */
#define ELECTOR_K8SEVENTS_QUEUE 32
#define ELECTOR_K8SEVENTS_TIMEOUT_MS 2000

/* What happened; the message is "<identity> <text>". */
enum elector_k8sevent_kind {
	ELECTOR_K8SEVENT_ACQUIRED = 0,   /* "became leader" (Normal) */
	ELECTOR_K8SEVENT_LOST = 1,       /* "stopped leading" (Warning) */
	ELECTOR_K8SEVENT_RELEASED = 2,   /* "released the lock" (Normal) */
	ELECTOR_K8SEVENT_HANDED_OVER = 3 /* "handed over leadership" */
};

/* Severity for the log callback. */
enum { ELECTOR_K8SEVENTS_INFO = 0, ELECTOR_K8SEVENTS_WARN = 1 };

struct elector_k8sevents_config {
	const char *election;   /* the Lease name (object "lease") */
	const char *namespace_; /* where the Lease lives */
	const char *identity;   /* this participant, in every message */
	int on_lease;           /* 1: events on the Lease; 0: on this pod */
	/* Called from the worker thread, once per distinct failure and on
	 * recovery; may be NULL. */
	void (*log)(int level, const char *msg);
};

struct elector_k8sevents;

/*
 * Check the environment and start the worker. Returns 0 and *out, or -1
 * with the reason in err (not in a cluster, POD_NAME unset for events on
 * the pod, out of memory). cfg's strings are copied.
 */
int elector_k8sevents_start(const struct elector_k8sevents_config *cfg,
                            struct elector_k8sevents **out, char *err,
                            size_t errlen);
/* Queue one event (term: the leadership term, 0 if unknown). Thread-safe,
 * never blocks on the network. ev may be NULL. */
void elector_k8sevents_record(struct elector_k8sevents *ev,
                              enum elector_k8sevent_kind kind, long long term);
/* Drain the queue as the bucket allows for up to 3 s, coalesce the rest
 * into one last event (always posted), stop the worker and free. Each
 * request is bounded by ELECTOR_K8SEVENTS_TIMEOUT_MS. ev may be NULL. */
void elector_k8sevents_stop(struct elector_k8sevents *ev);

#endif
