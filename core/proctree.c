/* Descendants from /proc (see proctree.h). */
#include "proctree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct proc_ent {
	pid_t pid, ppid, pgrp;
};

/* ppid and pgrp from /proc/PID/stat ("pid (comm) S ppid pgrp ..."; comm
 * may hold spaces and parentheses, so parse after the last ')'). */
static int read_stat(const char *name, struct proc_ent *e)
{
	char path[64], buf[512];
	size_t n = strlen(name);
	if (n > 20)
		return -1;
	memcpy(path, "/proc/", 6);
	memcpy(path + 6, name, n);
	memcpy(path + 6 + n, "/stat", 6);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -1;
	char *end;
	long ppid = strtol(p + 4, &end, 10);
	if (*end != ' ')
		return -1;
	long pgrp = strtol(end + 1, &end, 10);
	e->pid = (pid_t)atol(name);
	e->ppid = (pid_t)ppid;
	e->pgrp = (pid_t)pgrp;
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static int in_set(const pid_t *set, size_t n, pid_t p)
{
	return bsearch(&p, set, n, sizeof *set, cmp_pid) != NULL;
}

static size_t list_procs(struct proc_ent **out)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return (size_t)-1;
	struct proc_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		struct proc_ent e;
		if (read_stat(de->d_name, &e) != 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct proc_ent *nv = realloc(v, nc * sizeof *nv);
			if (nv == NULL)
				break;
			v = nv;
			cap = nc;
		}
		v[n++] = e;
	}
	closedir(d);
	*out = v;
	return n;
}

int elector_proctree_signal(pid_t root, int sig, pid_t skip_pid,
                            pid_t skip_pgrp)
{
	struct proc_ent *v = NULL;
	size_t n = list_procs(&v);
	if (n == (size_t)-1)
		return -1;
	pid_t *set = malloc((n + 1) * sizeof *set);
	char *mark = calloc(n + 1, 1);
	int count = 0;
	if (set == NULL || mark == NULL)
		goto out;
	size_t ns = 0;
	set[ns++] = root;
	/* Grow the set of descendants one generation per pass. */
	for (int changed = 1; changed;) {
		changed = 0;
		size_t before = ns;
		for (size_t i = 0; i < n; i++) {
			if (mark[i] || v[i].pid == root ||
			    !in_set(set, before, v[i].ppid))
				continue;
			if (v[i].ppid == root &&
			    (v[i].pid == skip_pid ||
			     (skip_pgrp != 0 && v[i].pgrp == skip_pgrp))) {
				mark[i] = 2; /* skipped, with its subtree */
				continue;
			}
			mark[i] = 1;
			set[ns++] = v[i].pid;
			changed = 1;
		}
		qsort(set, ns, sizeof *set, cmp_pid);
	}
	for (size_t i = 0; i < n; i++)
		if (mark[i] == 1 && kill(v[i].pid, sig) == 0)
			count++;
out:
	free(set);
	free(mark);
	free(v);
	return count;
}

int elector_proctree_reap_children(pid_t skip_pgrp)
{
	struct proc_ent *v = NULL;
	size_t n = list_procs(&v);
	if (n == (size_t)-1)
		return -1;
	pid_t self = getpid();
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].ppid != self || v[i].pgrp == skip_pgrp)
			continue;
		int st;
		if (waitpid(v[i].pid, &st, WNOHANG) == v[i].pid)
			count++;
	}
	free(v);
	return count;
}
