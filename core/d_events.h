/*
 * --k8s-events: Kubernetes Events for this participant's leadership changes
 * (see k8sevents.h), through the module ext/k8sevents.so, loaded only when
 * the option is on. Recording never blocks and never fails the election: a
 * failure is one log line per distinct reason.
 */
#ifndef ELECTOR_CORE_D_EVENTS_H
#define ELECTOR_CORE_D_EVENTS_H

#include "k8sevents.h"

struct elector_events;

/* Load PLUGIN_DIR/ext/k8sevents.so (plugin_dir NULL: the default) and start
 * recording events about election/namespace_ (on the Lease when on_lease,
 * else on this pod). Returns 0 and *out, or -1 (logged as a warning: the
 * daemon goes on without events). */
int elector_events_start(const char *plugin_dir, const char *election,
                         const char *namespace_, const char *identity,
                         int on_lease, struct elector_events **out);
/* This participant started leading with term. Thread-safe, returns at
 * once. e may be NULL (as for every call below). */
void elector_events_started(struct elector_events *e, long long term);
/* It stopped leading: "stopped leading" (lost), unless the daemon is
 * shutting down (elector_events_shutdown), whose release ends the term. */
void elector_events_stopped(struct elector_events *e);
/* The daemon begins its shutdown: a stop of leading from now on is the
 * release's business. */
void elector_events_shutdown(struct elector_events *e);
/* After the release: "released the lock" when released and this
 * participant led when the shutdown began, else "stopped leading"; then
 * flush (bounded by the module's request timeout), stop and free. */
void elector_events_stop(struct elector_events *e, int released);

#endif
