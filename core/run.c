/* Run mode: the elector side of the keeper (see run.h, keeper.h). */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proctree.h"

extern char **environ;

struct elector_run {
	pthread_mutex_t mu;
	struct elector_run_opts o;
	pid_t keeper;  /* 0 if none */
	int ctl;       /* write end of the pipe to the keeper, -1 */
	int rep;       /* read end of the keeper's reports, -1 */
	int64_t sent;  /* the last deadline sent */
	pid_t cmd_pid; /* the command's pid, as the keeper reported it */
	int done;      /* the keeper's DONE report was read */
	int done_why, done_code;
	int eof; /* rep reached end of file */
	unsigned char buf[sizeof(struct elector_keeper_msg)];
	size_t blen;
	int pending; /* the command ended for good; not yet reported */
	int pending_code;
	int shutdown;
	char exe[4096]; /* the keeper executable, or /proc/self/exe */
	int own_exe;    /* exe is elector itself (hidden __keeper mode) */
};

/* elector-keeper beside our own executable if it is there (small: libc
 * only), else ourselves in the hidden keeper mode. */
static void find_keeper(struct elector_run *r)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			int w = snprintf(r->exe, sizeof r->exe,
			                 "%s/elector-keeper", self);
			if (w > 0 && (size_t)w < sizeof r->exe &&
			    access(r->exe, X_OK) == 0)
				return;
		}
	}
	snprintf(r->exe, sizeof r->exe, "/proc/self/exe");
	r->own_exe = 1;
}

int elector_run_new(const struct elector_run_opts *o, struct elector_run **out)
{
	struct elector_run *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	r->o = *o;
	r->ctl = -1;
	r->rep = -1;
	find_keeper(r);
	LOG_DEBUG("run: keeper executable %s", r->exe);
	*out = r;
	return 0;
}

void elector_run_free(struct elector_run *r)
{
	if (r == NULL)
		return;
	elector_run_stop(r, "shutting down");
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static int is_ours(const char *e)
{
	static const char *const names[] = {
	    "ELECTOR_TERM=", "ELECTOR_ID=", "ELECTOR_ELECTION=",
	    "ELECTOR_LEADER="};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(e, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* environ without our four variables, plus them. Owned: free(*envp) frees
 * only the array; vars[] holds the new strings. */
static char **child_env(struct elector_run *r, int64_t term, char vars[4][320])
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = calloc(n + 5, sizeof *envp);
	if (envp == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ours(environ[i]))
			envp[k++] = environ[i];
	snprintf(vars[0], 320, "ELECTOR_TERM=%lld", (long long)term);
	snprintf(vars[1], 320, "ELECTOR_ID=%s", r->o.identity);
	snprintf(vars[2], 320, "ELECTOR_ELECTION=%s", r->o.election);
	snprintf(vars[3], 320, "ELECTOR_LEADER=true");
	for (int i = 0; i < 4; i++)
		envp[k++] = vars[i];
	envp[k] = NULL;
	return envp;
}

/* A close-on-exec pipe whose ends are above the keeper's fixed fds, so
 * that the dup2() in the spawned keeper always clears close-on-exec. */
static int high_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > ELECTOR_KEEPER_REP_FD)
			continue;
		int h = fcntl(p[i], F_DUPFD_CLOEXEC, ELECTOR_KEEPER_REP_FD + 1);
		if (h < 0) {
			close(p[0]);
			close(p[1]);
			return -1;
		}
		close(p[i]);
		p[i] = h;
	}
	return 0;
}

/* Under mu: exec the keeper with the pipes on fds 3 and 4. Returns 0 or
 * an errno. */
static int spawn_keeper(struct elector_run *r, int64_t term,
                        int64_t valid_until)
{
	int ctl[2], rep[2];
	if (high_pipe(ctl) != 0)
		return errno;
	if (high_pipe(rep) != 0) {
		int e = errno;
		close(ctl[0]);
		close(ctl[1]);
		return e;
	}
	char a[7][32];
	snprintf(a[0], 32, "%lld", (long long)r->o.kill_grace_ms);
	snprintf(a[1], 32, "%s", elector_restart_name(r->o.restart));
	snprintf(a[2], 32, "%lld", (long long)r->o.backoff_min_ms);
	snprintf(a[3], 32, "%lld", (long long)r->o.backoff_max_ms);
	snprintf(a[4], 32, "%lld", (long long)valid_until);
	snprintf(a[5], 32, "%d", r->o.log_level);
	snprintf(a[6], 32, "%d", r->o.log_json);
	size_t n = 0;
	while (r->o.argv[n] != NULL)
		n++;
	char **kargv = calloc(n + 12, sizeof *kargv);
	char vars[4][320];
	char **envp = child_env(r, term, vars);
	int rc = ENOMEM;
	if (kargv == NULL || envp == NULL)
		goto out;
	kargv[0] = r->own_exe ? "elector" : "elector-keeper";
	kargv[1] = ELECTOR_KEEPER_ARG;
	for (int i = 0; i < 7; i++)
		kargv[2 + i] = a[i];
	kargv[9] = (char *)r->o.path;
	kargv[10] = "--";
	for (size_t i = 0; i < n; i++)
		kargv[11 + i] = r->o.argv[i];
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ctl[0], ELECTOR_KEEPER_CTL_FD);
	posix_spawn_file_actions_adddup2(&fa, rep[1], ELECTOR_KEEPER_REP_FD);
	/* Our descriptors (sockets, signalfd, store, the pipes' other
	 * ends) stay ours. */
	posix_spawn_file_actions_addclosefrom_np(&fa,
	                                         ELECTOR_KEEPER_REP_FD + 1);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	pid_t pid = 0;
	rc = posix_spawn(&pid, r->exe, &fa, &attr, kargv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
out:
	free(kargv);
	free(envp);
	close(ctl[0]);
	close(rep[1]);
	if (rc != 0) {
		close(ctl[1]);
		close(rep[0]);
		return rc;
	}
	fcntl(rep[0], F_SETFL, fcntl(rep[0], F_GETFL) | O_NONBLOCK);
	r->keeper = pid;
	r->ctl = ctl[1];
	r->rep = rep[0];
	r->sent = valid_until;
	r->cmd_pid = 0;
	r->done = 0;
	r->eof = 0;
	r->blen = 0;
	return 0;
}

static void send_msg(struct elector_run *r, int type, int64_t value)
{
	struct elector_keeper_msg m = {.type = type, .arg = 0, .value = value};
	if (r->ctl >= 0 && write(r->ctl, &m, sizeof m) < 0)
		LOG_DEBUG("run: write to keeper: %s", strerror(errno));
}

void elector_run_start(struct elector_run *r, int64_t term, int64_t valid_until)
{
	pthread_mutex_lock(&r->mu);
	if (r->shutdown || r->pending) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	if (r->keeper != 0) {
		if (valid_until > r->sent) {
			send_msg(r, ELECTOR_KM_DEADLINE, valid_until);
			r->sent = valid_until;
		}
		pthread_mutex_unlock(&r->mu);
		return;
	}
	int rc = spawn_keeper(r, term, valid_until);
	if (rc != 0) {
		LOG_ERROR("run: cannot start the keeper for '%s': %s",
		          r->o.argv[0], strerror(rc));
		r->pending = 1;
		r->pending_code = 127;
	} else {
		LOG_DEBUG("run: keeper (pid %d) started for term %lld, valid "
		          "for %lldms",
		          (int)r->keeper, (long long)term,
		          (long long)(valid_until - elector_mono_ms()));
	}
	pthread_mutex_unlock(&r->mu);
}

/* Is pid stopped (SIGSTOP, or a tracer)? From /proc/[pid]/stat. */
static int is_stopped(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't');
}

void elector_run_feed(struct elector_run *r, int64_t valid_until)
{
	pthread_mutex_lock(&r->mu);
	/* A stopped keeper cannot enforce the deadline, and should elector
	 * die now nobody would stop the command: end both while we can
	 * (SIGKILL works on a stopped process; the command's parent-death
	 * signal and our subreaper role do the rest). */
	if (r->keeper != 0 && is_stopped(r->keeper)) {
		LOG_ERROR("run: the keeper (pid %d) is stopped and cannot "
		          "enforce the deadline; killing it and the command",
		          (int)r->keeper);
		elector_proctree_signal(r->keeper, SIGKILL, 0, 0);
		kill(r->keeper, SIGKILL);
	}
	if (r->keeper != 0 && valid_until > r->sent) {
		send_msg(r, ELECTOR_KM_DEADLINE, valid_until);
		r->sent = valid_until;
	}
	pthread_mutex_unlock(&r->mu);
}

/* Under mu: read what the keeper reported so far. */
static void read_reports(struct elector_run *r)
{
	while (r->rep >= 0 && !r->eof) {
		ssize_t n =
		    read(r->rep, r->buf + r->blen, sizeof r->buf - r->blen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		if (n == 0) {
			r->eof = 1;
			return;
		}
		r->blen += (size_t)n;
		if (r->blen < sizeof r->buf)
			continue;
		struct elector_keeper_msg m;
		memcpy(&m, r->buf, sizeof m);
		r->blen = 0;
		if (m.type == ELECTOR_KM_STARTED) {
			r->cmd_pid = m.arg;
		} else if (m.type == ELECTOR_KM_DONE) {
			r->done = 1;
			r->done_code = m.arg;
			r->done_why = (int)m.value;
		}
	}
}

/* SIGKILL whatever the command left under us (we are a subreaper, so a
 * dead keeper's orphans are ours) and reap it. Children in our own
 * process group are not the command's (a backend's helper). */
static void kill_leftovers(void)
{
	pid_t own = getpgrp();
	for (long i = 0; i < 1000; i++) {
		int n = elector_proctree_signal(getpid(), SIGKILL, 0, own);
		elector_proctree_reap_children(own);
		if (n <= 0)
			return;
		struct timespec ts = {0, 2000000L};
		nanosleep(&ts, NULL);
	}
	LOG_WARN("run: processes left by the command would not die");
}

static int wstatus_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* Under mu, once the keeper ended (or block: it is ending): reap it and
 * forget it. Returns its wait status. */
static int reap_keeper(struct elector_run *r, int block)
{
	int st = 0;
	pid_t p;
	do {
		p = waitpid(r->keeper, &st, block ? 0 : WNOHANG);
	} while (p < 0 && errno == EINTR);
	if (p == 0)
		return -1;
	read_reports(r);
	if (!r->done) {
		LOG_ERROR("run: the keeper (pid %d) died (%s %d); its command "
		          "died with it",
		          (int)r->keeper, WIFSIGNALED(st) ? "signal" : "status",
		          WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		kill_leftovers();
	}
	close(r->ctl);
	close(r->rep);
	r->ctl = r->rep = -1;
	r->keeper = 0;
	return p < 0 ? 0 : st;
}

void elector_run_stop(struct elector_run *r, const char *why)
{
	pthread_mutex_lock(&r->mu);
	if (r->keeper == 0) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	LOG_INFO("run: stopping the command: %s", why);
	send_msg(r, ELECTOR_KM_STOP, 0);
	/* A keeper that does not answer in time (SIGSTOPped, wedged) is
	 * SIGKILLed: its command dies with it (PR_SET_PDEATHSIG). */
	int64_t until =
	    elector_mono_ms() + r->o.kill_grace_ms + r->o.stop_slack_ms;
	read_reports(r);
	while (!r->done && !r->eof) {
		int64_t left = until - elector_mono_ms();
		if (left <= 0) {
			LOG_WARN("run: the keeper (pid %d) did not stop the "
			         "command in time; killing it",
			         (int)r->keeper);
			kill(r->keeper, SIGKILL);
			break;
		}
		struct pollfd p = {.fd = r->rep, .events = POLLIN};
		poll(&p, 1, (int)left);
		read_reports(r);
	}
	int st = reap_keeper(r, 1);
	if (r->done && r->done_why == ELECTOR_KW_EXIT) {
		/* It ended before we asked: that is its own exit. */
		r->pending = 1;
		r->pending_code = r->done_code;
	}
	LOG_INFO("run: command stopped%s",
	         r->done ? "" : (st != 0 ? " (keeper killed)" : ""));
	pthread_mutex_unlock(&r->mu);
}

int elector_run_active(struct elector_run *r)
{
	pthread_mutex_lock(&r->mu);
	int a = r->keeper != 0;
	pthread_mutex_unlock(&r->mu);
	return a;
}

int elector_run_fd(struct elector_run *r)
{
	pthread_mutex_lock(&r->mu);
	int fd = r->keeper != 0 && !r->eof ? r->rep : -1;
	pthread_mutex_unlock(&r->mu);
	return fd;
}

enum elector_run_event elector_run_poll(struct elector_run *r, int *code)
{
	enum elector_run_event ev = ELECTOR_RUN_NOTHING;
	pthread_mutex_lock(&r->mu);
	if (r->pending) {
		r->pending = 0;
		*code = r->pending_code;
		pthread_mutex_unlock(&r->mu);
		return ELECTOR_RUN_EXITED;
	}
	if (r->keeper == 0) {
		pthread_mutex_unlock(&r->mu);
		return ev;
	}
	read_reports(r);
	/* The keeper writes DONE and exits; end of file means it is exiting
	 * (or dead) and can be waited for. */
	int st = reap_keeper(r, r->eof);
	if (st < 0) {
		pthread_mutex_unlock(&r->mu);
		return ev;
	}
	if (!r->done) {
		int c = wstatus_code(st);
		if (elector_restart_wanted(r->o.restart, c) && !r->shutdown) {
			ev = ELECTOR_RUN_RESTART;
		} else {
			*code = c;
			ev = ELECTOR_RUN_EXITED;
		}
	} else if (r->done_why == ELECTOR_KW_EXIT) {
		*code = r->done_code;
		ev = ELECTOR_RUN_EXITED;
	} else if (r->done_why == ELECTOR_KW_DEADLINE && !r->shutdown) {
		ev = ELECTOR_RUN_RESTART;
	}
	pthread_mutex_unlock(&r->mu);
	return ev;
}

void elector_run_shutdown(struct elector_run *r)
{
	pthread_mutex_lock(&r->mu);
	r->shutdown = 1;
	pthread_mutex_unlock(&r->mu);
}
