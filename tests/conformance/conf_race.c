/*
 * Conformance case "contenders": N forked processes, one store handle
 * each, race compare-and-swap for R rounds.
 *
 * The parent drives every round through pipes in two phases so that the
 * race is purely on update: READ (every child gets the record; all must see
 * the same version), then UPDATE (every child updates on the version it
 * read, with a record that names itself and the round). Exactly one update
 * may succeed; the others must get CONFLICT; the stored record must then be
 * exactly the winner's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "record.h"

enum { CMD_READ = 1, CMD_UPDATE = 2, CMD_QUIT = 3 };

struct msg {
	int32_t cmd; /* parent -> child */
	int32_t round;
	int32_t status; /* child -> parent */
	char ver[ELECTOR_VERSION_MAX];
	char err[200];
};

struct child {
	pid_t pid;
	int to;   /* parent writes commands */
	int from; /* parent reads replies */
};

/* The parent's per-run arrays; a forked child frees its copies before
 * exit() so that LeakSanitizer in the child reports only real leaks. */
static struct {
	struct child *ch;
	struct msg *reads, *upd;
	int *wins;
} bufs;

static void bufs_free(void)
{
	free(bufs.wins);
	free(bufs.upd);
	free(bufs.reads);
	free(bufs.ch);
	memset(&bufs, 0, sizeof bufs);
}

static int xwrite(int fd, const struct msg *m)
{
	ssize_t n;
	do
		n = write(fd, m, sizeof *m);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof *m ? 0 : -1;
}

/* Read one message, waiting at most timeout_ms. */
static int xread(int fd, struct msg *m, int64_t timeout_ms)
{
	size_t got = 0;
	int64_t deadline = conf_now_ms() + timeout_ms;
	while (got < sizeof *m) {
		int64_t left = deadline - conf_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t n = read(fd, (char *)m + got, sizeof *m - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static void contender_record(struct elector_record *r, int idx, int round)
{
	char holder[64];
	snprintf(holder, sizeof holder, "contender-%d", idx);
	conf_record(r, holder, round + 1);
}

static void child_main(const struct conf *c, int idx, int in, int out)
{
	char id[64];
	snprintf(id, sizeof id, "contender-%d", idx);
	struct elector_store *s = conf_open(c, id);
	struct elector_version read_ver;
	memset(&read_ver, 0, sizeof read_ver);
	struct msg m;
	while (xread(in, &m, 600000) == 0 && m.cmd != CMD_QUIT) {
		struct elector_record r;
		struct elector_version v;
		m.err[0] = '\0';
		m.ver[0] = '\0';
		if (s == NULL) {
			m.status = ELECTOR_ERROR;
			snprintf(m.err, sizeof m.err, "store did not open");
		} else if (m.cmd == CMD_READ) {
			m.status =
			    conf_get(s, &r, &read_ver, m.err, sizeof m.err);
			memcpy(m.ver, read_ver.v, sizeof m.ver);
		} else {
			contender_record(&r, idx, m.round);
			m.status = conf_update(s, &r, &read_ver, &v, m.err,
			                       sizeof m.err);
			memcpy(m.ver, v.v, sizeof m.ver);
		}
		if (xwrite(out, &m) != 0)
			break;
	}
	elector_store_close(s);
}

static int spawn(const struct conf *c, struct child *ch, int idx)
{
	int down[2], up[2];
	if (pipe(down) != 0)
		return -1;
	if (pipe(up) != 0) {
		close(down[0]);
		close(down[1]);
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		close(down[0]);
		close(down[1]);
		close(up[0]);
		close(up[1]);
		return -1;
	}
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		child_main(c, idx, down[0], up[1]);
		bufs_free();
		exit(0); /* exit, not _exit: LeakSanitizer checks the child */
	}
	close(down[0]);
	close(up[1]);
	ch->pid = pid;
	ch->to = down[1];
	ch->from = up[0];
	return 0;
}

/* Run one phase on every child; replies in out[]. -1 on a broken child. */
static int phase(struct child *ch, int n, int cmd, int round, struct msg *out,
                 int64_t timeout_ms)
{
	struct msg m;
	memset(&m, 0, sizeof m);
	m.cmd = cmd;
	m.round = round;
	for (int i = 0; i < n; i++)
		if (xwrite(ch[i].to, &m) != 0)
			return -1;
	for (int i = 0; i < n; i++)
		if (xread(ch[i].from, &out[i], timeout_ms) != 0)
			return -1;
	return 0;
}

/* Check one round's replies; returns the winner index or -1 (and a diag). */
static int judge(const struct msg *reads, const struct msg *upd, int n,
                 int round)
{
	for (int i = 0; i < n; i++) {
		if (reads[i].status != ELECTOR_OK) {
			conf_diag("round %d: contender %d get: %s %s", round, i,
			          conf_status(reads[i].status), reads[i].err);
			return -1;
		}
		if (strcmp(reads[i].ver, reads[0].ver) != 0) {
			conf_diag(
			    "round %d: contenders read different versions "
			    "(%s, %s)",
			    round, reads[0].ver, reads[i].ver);
			return -1;
		}
	}
	int winner = -1, wins = 0;
	for (int i = 0; i < n; i++) {
		if (upd[i].status == ELECTOR_OK) {
			winner = i;
			wins++;
		} else if (upd[i].status != ELECTOR_CONFLICT) {
			conf_diag(
			    "round %d: contender %d update: %s %s (expected OK "
			    "or CONFLICT)",
			    round, i, conf_status(upd[i].status), upd[i].err);
			return -1;
		}
	}
	if (wins != 1) {
		conf_diag("round %d: %d updates succeeded on version %s", round,
		          wins, reads[0].ver);
		return -1;
	}
	return winner;
}

void conf_case_contenders(const struct conf *c)
{
	int n = c->contenders;
	struct child *ch = bufs.ch = calloc((size_t)n, sizeof *ch);
	struct msg *reads = bufs.reads = calloc((size_t)n, sizeof *reads);
	struct msg *upd = bufs.upd = calloc((size_t)n, sizeof *upd);
	int *wins = bufs.wins = calloc((size_t)n, sizeof *wins);
	/* The judge's handle is opened only after the fork: a child must not
	 * inherit (and later tear down) a connection its parent uses. */
	struct elector_store *s = NULL;
	int spawned = 0, bad_rounds = 0, rounds_done = 0, broken = 0;
	if (ch == NULL || reads == NULL || upd == NULL || wins == NULL)
		goto out;
	struct elector_record cur;
	struct elector_version v;
	char err[512];
	s = conf_open(c, "conformance-setup");
	if (s == NULL)
		goto out;
	int rc = conf_ensure(s, &cur, &v, err, sizeof err);
	elector_store_close(s);
	s = NULL;
	if (!CONF_OK(rc == ELECTOR_OK, "a record is stored (%s %s)",
	             conf_status(rc), err))
		goto out;
	for (; spawned < n; spawned++)
		if (spawn(c, &ch[spawned], spawned) != 0)
			break;
	if (!CONF_OK(spawned == n, "forked %d contenders", n))
		goto out;
	s = conf_open(c, "conformance-judge");
	if (s == NULL)
		goto out;
	int64_t op_timeout = 4 * c->request_timeout_ms + 10000;
	int64_t t0 = conf_now_ms();
	int mismatch = 0;
	for (int round = 0; round < c->rounds && bad_rounds < 10; round++) {
		if (phase(ch, n, CMD_READ, round, reads, op_timeout) != 0 ||
		    phase(ch, n, CMD_UPDATE, round, upd, op_timeout) != 0) {
			conf_diag("round %d: a contender died or hung", round);
			broken = 1;
			break;
		}
		rounds_done++;
		int w = judge(reads, upd, n, round);
		if (w < 0) {
			bad_rounds++;
			continue;
		}
		wins[w]++;
		struct elector_record want, got;
		contender_record(&want, w, round);
		rc = conf_get(s, &got, &v, err, sizeof err);
		if (rc != ELECTOR_OK || !elector_record_equal(&got, &want) ||
		    strcmp(v.v, upd[w].ver) != 0) {
			conf_diag(
			    "round %d: stored record is not contender %d's "
			    "(get %s %s, holder \"%.64s\", version %s vs %s)",
			    round, w, conf_status(rc), err, got.holder_identity,
			    v.v, upd[w].ver);
			mismatch++;
			bad_rounds++;
		}
	}
	int64_t took = conf_now_ms() - t0;
	CONF_OK(
	    !broken && rounds_done == c->rounds && bad_rounds == 0,
	    "%d contenders x %d rounds: exactly one OK and %d CONFLICT per "
	    "round, stored record is the winner's (%d of %d rounds done, %d "
	    "bad)",
	    n, c->rounds, n - 1, rounds_done, c->rounds, bad_rounds);
	CONF_OK(mismatch == 0, "no lost or torn write (%d mismatches)",
	        mismatch);
	conf_diag("contenders: %d rounds in %lld ms (%.0f rounds/s)",
	          rounds_done, (long long)took,
	          took > 0 ? rounds_done * 1000.0 / (double)took : 0.0);
	char line[512];
	size_t pos = 0;
	line[0] = '\0';
	for (int i = 0; i < n && pos < sizeof line; i++) {
		int k = snprintf(line + pos, sizeof line - pos, " %d", wins[i]);
		if (k < 0)
			break;
		pos += (size_t)k;
	}
	conf_diag("wins per contender:%s", line);
out:
	for (int i = 0; i < spawned; i++) {
		struct msg q;
		memset(&q, 0, sizeof q);
		q.cmd = CMD_QUIT;
		if (xwrite(ch[i].to, &q) != 0)
			kill(ch[i].pid, SIGKILL);
	}
	int clean = 1;
	for (int i = 0; i < spawned; i++) {
		int st = 0;
		int64_t deadline = conf_now_ms() + 30000;
		pid_t r;
		while ((r = waitpid(ch[i].pid, &st, WNOHANG)) == 0 &&
		       conf_now_ms() < deadline)
			conf_sleep_ms(5);
		if (r == 0) {
			kill(ch[i].pid, SIGKILL);
			waitpid(ch[i].pid, &st, 0);
		}
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			conf_diag("contender %d exited with status 0x%x", i,
			          st);
			clean = 0;
		}
		close(ch[i].to);
		close(ch[i].from);
	}
	if (spawned > 0)
		CONF_OK(clean,
		        "every contender exited cleanly (sanitizers quiet)");
	elector_store_close(s);
	bufs_free();
}
