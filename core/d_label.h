/*
 * --label-pod: keep this pod's elector.io/role label in step with the
 * leadership, from a worker thread so the engine's callbacks never wait for
 * the API server (elector_podlabel_set blocks up to 2 s).
 *
 * elector_label_set() records the wanted role and returns at once; the
 * worker applies the latest wanted role (intermediate ones are skipped),
 * retries a failed patch every few seconds, and logs a failure once per
 * distinct message. A failure is never fatal.
 */
#ifndef ELECTOR_CORE_D_LABEL_H
#define ELECTOR_CORE_D_LABEL_H

struct elector_label;

/* Load the pod-label module (PLUGIN_DIR/ext/podlabel.so, which brings
 * libcurl; plugin_dir NULL: the default) and start the worker with role
 * "follower" wanted. Returns 0 and *out, or -1 (logged). */
int elector_label_start(const char *plugin_dir, struct elector_label **out);
/* Want role ("leader" or "follower"). Thread-safe, never blocks long. */
void elector_label_set(struct elector_label *l, const char *role);
/* Apply a still pending role once more (bounded by the patch timeout),
 * stop the worker and free. l may be NULL. */
void elector_label_stop(struct elector_label *l);

#endif
