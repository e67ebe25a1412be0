/*
 * The keeper process (see keeper.h): `elector __keeper ...`, exec'd by
 * run.c from /proc/self/exe so that it starts single-threaded with a fresh
 * allocator, owns no engine state, and maps no more than the binary itself.
 *
 * It blocks on nothing but three descriptors: the pipe from elector, a
 * CLOCK_BOOTTIME timerfd armed at the next instant the decision logic
 * asked for, and a signalfd for SIGCHLD. Whatever wakes it, it steps the
 * logic with the current time first (deadline check), then with what it
 * read. Terminating signals are ignored: elector decides, or its death
 * (EOF on the pipe) does.
 */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proctree.h"

static int64_t boot_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kctx {
	struct elector_keeper k;
	int64_t wake_at;
	pid_t pid;  /* the command's main process while not reaped */
	pid_t pgid; /* its process group, 0 once everything is reaped */
	const char *path;
	char **argv;
	const char *term;
	int ctl, rep, tfd, sfd;
	unsigned char buf[sizeof(struct elector_keeper_msg)];
	size_t blen;
};

static void feed(struct kctx *c, int type, int64_t value);

static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

static void report(struct kctx *c, int type, int arg, int64_t value)
{
	struct elector_keeper_msg m = {
	    .type = type, .arg = arg, .value = value};
	/* 16 bytes < PIPE_BUF: atomic; a dead elector (EPIPE) is fine. */
	if (write(c->rep, &m, sizeof m) < 0 && errno != EPIPE)
		LOG_DEBUG("keeper: report: %s", strerror(errno));
}

static void nap_ms(long ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Reap every child that exited; the main process's status is kept.
 * Returns 1 when no child is left. */
static int reap(struct kctx *c, int report_main)
{
	for (;;) {
		int st = 0;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			if (p == c->pid) {
				c->pid = 0;
				if (report_main) {
					LOG_INFO("run: command (pid %d) exited "
					         "with status %d",
					         (int)p, exit_code(st));
					feed(c, ELECTOR_KE_EXITED,
					     exit_code(st));
				} else {
					c->k.exit_code = exit_code(st);
					c->k.alive = 0;
				}
			}
			continue;
		}
		if (p < 0 && errno == EINTR)
			continue;
		return p < 0 && errno == ECHILD;
	}
}

static void signal_all(struct kctx *c, int sig)
{
	if (c->pid != 0)
		kill(-c->pgid,
		     sig); /* the group, atomically, while it exists */
	elector_proctree_signal(getpid(), sig, 0, 0);
}

/* SIGKILL the group and every descendant until none is left. */
static void kill_all(struct kctx *c)
{
	for (long n = 1;; n = n < 8 ? n * 2 : 8) {
		signal_all(c, SIGKILL);
		if (reap(c, 0))
			break;
		nap_ms(n);
	}
	c->pgid = 0;
}

static void child_exec(struct kctx *c, pid_t keeper)
{
	/* Die with the keeper; and if it died already, do not start. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != keeper)
		_exit(127);
	setpgid(0, 0);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	closefrom(3);
	execv(c->path, c->argv);
	if (errno == ENOEXEC) {
		/* a script without #!: what execvp would do */
		int n = 0;
		while (c->argv[n] != NULL)
			n++;
		char **sh = calloc((size_t)n + 2, sizeof *sh);
		if (sh != NULL) {
			sh[0] = "sh";
			sh[1] = (char *)c->path;
			for (int i = 1; i <= n; i++)
				sh[i + 1] = c->argv[i];
			execv("/bin/sh", sh);
		}
	}
	dprintf(2, "elector keeper: cannot execute %s: %s\n", c->path,
	        strerror(errno));
	_exit(127);
}

static void spawn(struct kctx *c)
{
	pid_t keeper = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child_exec(c, keeper);
	if (pid < 0) {
		LOG_ERROR("run: cannot start command '%s': %s", c->argv[0],
		          strerror(errno));
		feed(c, ELECTOR_KE_EXITED, 127);
		return;
	}
	setpgid(pid, pid); /* also here: no race with our first kill */
	c->pid = pid;
	c->pgid = pid;
	LOG_INFO("run: started command '%s' (pid %d) for term %s", c->argv[0],
	         (int)pid, c->term);
	report(c, ELECTOR_KM_STARTED, (int)pid, 0);
	feed(c, ELECTOR_KE_SPAWNED, 0);
}

static const char *why_text(enum elector_keeper_why w)
{
	switch (w) {
	case ELECTOR_KW_DEADLINE:
		return "leadership deadline passed without a renewal";
	case ELECTOR_KW_EOF:
		return "elector is gone";
	case ELECTOR_KW_STOP:
		return "stopped leading";
	case ELECTOR_KW_EXIT:
		return "command exited";
	case ELECTOR_KW_NONE:
	default:
		return "?";
	}
}

static void perform(struct kctx *c, int acts)
{
	if (acts & ELECTOR_KA_TERM) {
		LOG_INFO("run: stopping command (pid %d): %s; SIGTERM, SIGKILL "
		         "after %lldms",
		         (int)c->pgid, why_text(c->k.why),
		         (long long)c->k.grace_ms);
		signal_all(c, SIGTERM);
	}
	if (acts & ELECTOR_KA_KILL) {
		if (c->k.phase == ELECTOR_KP_DONE &&
		    c->k.why != ELECTOR_KW_EXIT)
			LOG_WARN("run: command (pid %d) still running after "
			         "the kill grace; sending SIGKILL",
			         (int)c->pgid);
		kill_all(c);
	}
	if (acts & ELECTOR_KA_SPAWN)
		spawn(c);
	if (acts & ELECTOR_KA_DONE) {
		kill_all(c); /* nothing may outlive the keeper */
		if (c->k.why != ELECTOR_KW_EXIT)
			LOG_INFO("run: command stopped (%s)",
			         why_text(c->k.why));
		report(c, ELECTOR_KM_DONE, c->k.exit_code, c->k.why);
		_exit(0);
	}
}

static void feed(struct kctx *c, int type, int64_t value)
{
	int acts =
	    elector_keeper_step(&c->k, boot_ms(), type, value, &c->wake_at);
	perform(c, acts);
}

static void arm(struct kctx *c)
{
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	if (c->wake_at != INT64_MAX) {
		int64_t t = c->wake_at < 1 ? 1 : c->wake_at;
		its.it_value.tv_sec = (time_t)(t / 1000);
		its.it_value.tv_nsec = (long)(t % 1000) * 1000000L;
	}
	if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		LOG_ERROR("keeper: timerfd_settime: %s", strerror(errno));
}

static void read_ctl(struct kctx *c)
{
	for (;;) {
		ssize_t n =
		    read(c->ctl, c->buf + c->blen, sizeof c->buf - c->blen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN */
		if (n == 0) {
			close(c->ctl);
			c->ctl = -1;
			feed(c, ELECTOR_KE_EOF, 0);
			return;
		}
		c->blen += (size_t)n;
		if (c->blen < sizeof c->buf)
			continue;
		struct elector_keeper_msg m;
		memcpy(&m, c->buf, sizeof m);
		c->blen = 0;
		if (m.type == ELECTOR_KM_DEADLINE)
			feed(c, ELECTOR_KE_DEADLINE, m.value);
		else if (m.type == ELECTOR_KM_STOP)
			feed(c, ELECTOR_KE_STOP, 0);
	}
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int setup(struct kctx *c)
{
	/* Orphans of the command are re-parented to us, not to init. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		LOG_WARN("keeper: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	static const int ignored[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
	                              SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
	                              SIGTSTP, SIGTTIN, SIGTTOU};
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	c->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	c->tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->sfd < 0 || c->tfd < 0) {
		LOG_ERROR("keeper: signalfd/timerfd: %s", strerror(errno));
		return -1;
	}
	c->ctl = ELECTOR_KEEPER_CTL_FD;
	c->rep = ELECTOR_KEEPER_REP_FD;
	fcntl(c->ctl, F_SETFL, fcntl(c->ctl, F_GETFL) | O_NONBLOCK);
	fcntl(c->ctl, F_SETFD, FD_CLOEXEC);
	fcntl(c->rep, F_SETFD, FD_CLOEXEC);
	return 0;
}

int elector_keeper_main(int argc, char **argv)
{
	struct kctx c;
	memset(&c, 0, sizeof c);
	int64_t grace, bmin, bmax, t, level, json;
	enum elector_restart restart;
	if (argc < 12 || strcmp(argv[10], "--") != 0 ||
	    parse_i64(argv[2], &grace) != 0 ||
	    elector_restart_parse(argv[3], &restart) != 0 ||
	    parse_i64(argv[4], &bmin) != 0 || parse_i64(argv[5], &bmax) != 0 ||
	    parse_i64(argv[6], &t) != 0 || parse_i64(argv[7], &level) != 0 ||
	    parse_i64(argv[8], &json) != 0) {
		fprintf(stderr, "elector: %s is internal to `elector run`\n",
		        ELECTOR_KEEPER_ARG);
		return 2;
	}
	elector_log_setup((int)level,
	                  json ? ELECTOR_LOG_JSON : ELECTOR_LOG_TEXT);
	c.path = argv[9];
	c.argv = argv + 11;
	c.term = getenv("ELECTOR_TERM") ? getenv("ELECTOR_TERM") : "?";
	if (setup(&c) != 0)
		return 1;
	elector_keeper_init(&c.k, grace, restart, bmin, bmax, t);
	feed(&c, ELECTOR_KE_TICK, 0);
	for (;;) {
		arm(&c);
		struct pollfd p[3] = {{.fd = c.ctl, .events = POLLIN},
		                      {.fd = c.tfd, .events = POLLIN},
		                      {.fd = c.sfd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0 && errno != EINTR) {
			LOG_ERROR("keeper: poll: %s", strerror(errno));
			nap_ms(1);
		}
		uint64_t ticks;
		struct signalfd_siginfo si;
		/* 1. The clock, before anything we might read. */
		while (read(c.tfd, &ticks, sizeof ticks) > 0)
			;
		feed(&c, ELECTOR_KE_TICK, 0);
		/* 2. Children. */
		while (read(c.sfd, &si, sizeof si) > 0)
			;
		if (reap(&c, 1) && c.k.phase == ELECTOR_KP_STOPPING)
			feed(&c, ELECTOR_KE_ALL_GONE, 0);
		/* 3. elector. */
		if (c.ctl >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			read_ctl(&c);
	}
}
