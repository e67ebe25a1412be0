/*
 * Process trees from /proc: signal every descendant of a process, whatever
 * process group or session they moved to (a double-forked daemon that
 * called setsid() is still a descendant of the subreaper that adopted it).
 */
#ifndef ELECTOR_CORE_PROCTREE_H
#define ELECTOR_CORE_PROCTREE_H

#include <sys/types.h>

/*
 * Send sig to every descendant of root, except the subtrees of root's
 * direct children that are skip_pid or belong to process group skip_pgrp
 * (0: skip none). Reads /proc/[pid]/stat; processes that appear while it
 * runs are missed, so a caller that must kill everything repeats until
 * it finds none. Returns how many processes were signalled, or -1 when
 * /proc cannot be read.
 */
int elector_proctree_signal(pid_t root, int sig, pid_t skip_pid,
                            pid_t skip_pgrp);

/*
 * Reap (waitpid WNOHANG, by pid) the direct children of this process that
 * are not in process group skip_pgrp; other children are left to whoever
 * spawned them. Returns how many were reaped, -1 when /proc cannot be read.
 */
int elector_proctree_reap_children(pid_t skip_pgrp);

#endif
