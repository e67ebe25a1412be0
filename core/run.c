/* Run mode: child supervision (see run.h). */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

struct elector_run {
	pthread_mutex_t mu;
	char **argv;
	int64_t grace_ms;
	const char *election;
	const char *identity;
	pid_t pid;        /* the running command, 0 if none */
	int pending;      /* it exited on its own; not yet reported */
	int pending_code;
	int shutdown;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

static void describe(int wstatus, char *buf, size_t cap)
{
	if (WIFSIGNALED(wstatus))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(wstatus));
	else
		snprintf(buf, cap, "exit status %d", exit_code(wstatus));
}

/*
 * Under mu, with r->pid set: if the command has exited, kill what is left
 * of its process group and reap it. The zombie is only observed first
 * (WNOWAIT) so its pid, which is the group id, cannot be reused while we
 * signal the group. Returns 1 (reaped, status in *wstatus) or 0.
 */
static int reap_locked(struct elector_run *r, int *wstatus, int block)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
	int rc;
	do {
		rc = waitid(P_PID, (id_t)r->pid, &si, flags);
	} while (rc != 0 && errno == EINTR);
	if (rc != 0) {
		/* ECHILD: someone else reaped it; treat it as gone. */
		LOG_ERROR("run: waitid(%d): %s", (int)r->pid, strerror(errno));
		*wstatus = 1 << 8;
		r->pid = 0;
		return 1;
	}
	if (si.si_pid == 0)
		return 0;
	kill(-r->pid, SIGKILL);
	int st = 0;
	while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
	*wstatus = st;
	return 1;
}

int elector_run_new(char **argv, int64_t kill_grace_ms, const char *election,
                    const char *identity, struct elector_run **out)
{
	struct elector_run *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	r->argv = argv;
	r->grace_ms = kill_grace_ms;
	r->election = election;
	r->identity = identity;
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
	static const char *const names[] = {"ELECTOR_TERM=", "ELECTOR_ID=",
	                                    "ELECTOR_ELECTION=", "ELECTOR_LEADER="};
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
	snprintf(vars[1], 320, "ELECTOR_ID=%s", r->identity);
	snprintf(vars[2], 320, "ELECTOR_ELECTION=%s", r->election);
	snprintf(vars[3], 320, "ELECTOR_LEADER=true");
	for (int i = 0; i < 4; i++)
		envp[k++] = vars[i];
	envp[k] = NULL;
	return envp;
}

static int spawn(struct elector_run *r, int64_t term, pid_t *pid)
{
	char vars[4][320];
	char **envp = child_env(r, term, vars);
	if (envp == NULL)
		return ENOMEM;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_init(&fa);
	/* Our descriptors (sockets, signalfd, store) stay ours. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	int rc = posix_spawnp(pid, r->argv[0], &fa, &attr, r->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(envp);
	return rc;
}

void elector_run_start(struct elector_run *r, int64_t term)
{
	pthread_mutex_lock(&r->mu);
	if (r->shutdown || r->pid != 0 || r->pending) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	pid_t pid = 0;
	int rc = spawn(r, term, &pid);
	if (rc != 0) {
		LOG_ERROR("run: cannot start command '%s': %s", r->argv[0], strerror(rc));
		r->pending = 1;
		r->pending_code = 127;
	} else {
		r->pid = pid;
		LOG_INFO("run: started command '%s' (pid %d) for term %lld",
		         r->argv[0], (int)pid, (long long)term);
	}
	pthread_mutex_unlock(&r->mu);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void elector_run_stop(struct elector_run *r, const char *why)
{
	pthread_mutex_lock(&r->mu);
	int ws = 0;
	if (r->pid == 0) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	pid_t pid = r->pid;
	if (reap_locked(r, &ws, 0)) {
		/* It ended before we asked: that is its own exit. */
		r->pending = 1;
		r->pending_code = exit_code(ws);
		pthread_mutex_unlock(&r->mu);
		return;
	}
	LOG_INFO("run: stopping command (pid %d): %s; SIGTERM, SIGKILL after %lldms",
	         (int)pid, why, (long long)r->grace_ms);
	kill(-pid, SIGTERM);
	int64_t deadline = mono_ms() + r->grace_ms;
	int64_t nap = 1;
	while (!reap_locked(r, &ws, 0)) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			LOG_WARN("run: command (pid %d) still running after the kill grace; "
			         "sending SIGKILL", (int)pid);
			kill(-pid, SIGKILL);
			reap_locked(r, &ws, 1);
			break;
		}
		sleep_ms(nap < left ? nap : left);
		if (nap < 8)
			nap *= 2;
	}
	char d[64];
	describe(ws, d, sizeof d);
	LOG_INFO("run: command (pid %d) stopped: %s", (int)pid, d);
	pthread_mutex_unlock(&r->mu);
}

int elector_run_active(struct elector_run *r)
{
	pthread_mutex_lock(&r->mu);
	int a = r->pid != 0;
	pthread_mutex_unlock(&r->mu);
	return a;
}

int elector_run_exited(struct elector_run *r, int *code)
{
	pthread_mutex_lock(&r->mu);
	int got = 0, ws = 0;
	if (r->pending) {
		*code = r->pending_code;
		r->pending = 0;
		got = 1;
	} else if (r->pid != 0) {
		pid_t pid = r->pid;
		if (reap_locked(r, &ws, 0)) {
			char d[64];
			describe(ws, d, sizeof d);
			LOG_INFO("run: command (pid %d) exited: %s", (int)pid, d);
			*code = exit_code(ws);
			got = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

void elector_run_shutdown(struct elector_run *r)
{
	pthread_mutex_lock(&r->mu);
	r->shutdown = 1;
	pthread_mutex_unlock(&r->mu);
}
