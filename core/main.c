/*
 * elector, the daemon: take part in an election (optionally serving the
 * HTTP status API), run a command only while leading, print the stored
 * record, or run a backend subcommand. See DESIGN §6 and `elector --help`.
 *
 * Signals: every asynchronous terminating signal and SIGCHLD are blocked in
 * every thread (before any thread is created) and read from a signalfd by
 * the main loop, which does all the work; there are no signal handlers.
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT: stop (the command too), release, exit
 * 0. SIGUSR1: hand over (stop, release, sit out, take part again as a
 * follower). Others are logged and ignored.
 *
 * `elector __keeper ...` is the keeper (keeper.h), exec'd by run mode.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "d_cmds.h"
#include "d_events.h"
#include "d_label.h"
#include "elector/elector.h"
#include "clock.h"
#include "http.h"
#include "keeper.h"
#include "log.h"
#include "run.h"
#include "timeutil.h"

/* Run mode looks at the leadership again at most this long after an
 * expected renew that has not shown up yet, and at the latest at the
 * deadline (DESIGN §6: act at once on an expiry, even while the engine
 * thread is blocked in a store request). */
#define RUN_POLL_MS 5

struct daemon_ctx {
	struct elector_run *run;     /* run mode only */
	struct elector_label *label; /* --label-pod only */
	struct elector *el;
	struct elector_events *events; /* --k8s-events only */
	int released;                  /* the last stint released the lease */
	const char *identity;
	int wake_fd;                 /* eventfd: a command was (not) started */
};

static void on_new_leader(void *ud, const char *identity)
{
	struct daemon_ctx *d = ud;
	if (strcmp(identity, d->identity) != 0)
		elector_label_set(d->label, "follower");
}

static void on_started(void *ud, int64_t term)
{
	struct daemon_ctx *d = ud;
	if (d->run != NULL) {
		struct elector_status_info st;
		int64_t until = 0;
		if (elector_status(d->el, &st) == ELECTOR_OK && st.is_leader)
			until = st.valid_until_ms;
		elector_run_start(d->run, term, until);
		/* the main loop now feeds the keeper and watches leadership */
		uint64_t one = 1;
		if (write(d->wake_fd, &one, sizeof one) < 0)
			LOG_DEBUG("eventfd write: %s", strerror(errno));
	}
	elector_label_set(d->label, "leader");
	elector_events_started(d->events, (long long)term);
}

static void on_stopped(void *ud)
{
	struct daemon_ctx *d = ud;
	/* Returns only when the command is dead, so the engine releases the
	 * lease only after leader-only work stopped. */
	if (d->run != NULL)
		elector_run_stop(d->run, "stopped leading");
	elector_label_set(d->label, "follower");
	elector_events_stopped(d->events);
}

/* Events go on the Lease when it lives in this cluster's API (the lease
 * backend without a kubeconfig of its own), else on this pod. */
static int events_on_lease(const struct elector_cli *cli)
{
	if (strcmp(cli->backend, "lease") != 0)
		return 0;
	for (size_t i = 0; i < cli->n_backend_opts; i++)
		if (strncmp(cli->backend_opts[i], "kubeconfig=", 11) == 0)
			return 0;
	return 1;
}

/*
 * Every asynchronous signal whose default action ends the process is
 * blocked in every thread and read from a signalfd: only SIGKILL (and the
 * synchronous crash signals) can end elector without a release. glibc
 * keeps its own real-time signals out of sigprocmask; SIGRTMIN is the
 * first one applications may use.
 */
static void handled_signals(sigset_t *set)
{
	static const int sigs[] = {SIGTERM, SIGINT,    SIGHUP,  SIGQUIT,
	                           SIGUSR1, SIGUSR2,   SIGCHLD, SIGALRM,
	                           SIGVTALRM, SIGPROF, SIGIO,   SIGPWR,
	                           SIGXCPU, SIGXFSZ,   SIGSTKFLT};
	sigemptyset(set);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(set, sigs[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(set, s);
}

/* The mask is set first thing in main(), so a signal that arrives while
 * we parse options waits here instead of killing us with 128+N. */
static int block_signals(sigset_t *set, int *sfd)
{
	handled_signals(set);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return -1;
	*sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	return *sfd < 0 ? -1 : 0;
}

static void log_start(const struct elector_cli *cli, const char *mode)
{
	char l[32], r[32], p[32];
	elector_duration_format(cli->lease_duration_ms, l, sizeof l);
	elector_duration_format(cli->renew_deadline_ms, r, sizeof r);
	elector_duration_format(cli->retry_period_ms, p, sizeof p);
	LOG_INFO("elector %s starting%s: election %s/%s, identity %s, backend %s, "
	         "lease-duration %s, renew-deadline %s, retry-period %s%s%s",
	         ELECTOR_VERSION_STRING, mode, cli->namespace_, cli->election,
	         cli->identity, cli->backend, l, r, p,
	         cli->http ? ", http " : "", cli->http ? cli->http : "");
}

/* What a signal asks for. */
enum sig_action { SIG_NONE = 0, SIG_STOP = 1, SIG_HANDOVER = 2 };

static enum sig_action classify(uint32_t signo)
{
	const char *name = sigabbrev_np((int)signo);
	switch (signo) {
	case SIGTERM: case SIGINT: case SIGHUP: case SIGQUIT:
		LOG_INFO("received SIG%s, stopping", name ? name : "?");
		return SIG_STOP;
	case SIGUSR1:
		LOG_INFO("received SIGUSR1: handing over the leadership");
		return SIG_HANDOVER;
	case SIGCHLD:
		return SIG_NONE;
	default:
		if (name != NULL)
			LOG_INFO("ignoring SIG%s", name);
		else
			LOG_INFO("ignoring signal %u", signo);
		return SIG_NONE;
	}
}

/* Read every pending signal; the strongest request wins. */
static enum sig_action read_signals(int sfd)
{
	enum sig_action a = SIG_NONE;
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		enum sig_action b = classify(si.ssi_signo);
		if (b == SIG_STOP || (b == SIG_HANDOVER && a == SIG_NONE))
			a = b;
	}
	return a;
}

/* Run mode, after any wake-up: reports from the keeper, the deadline,
 * leadership. Returns 1 with *code when elector should exit; else sets
 * *timeout (ms, -1: none) for the next look. */
static int run_check(struct elector *el, struct elector_run *run,
                     int64_t renew_ms, int64_t retry_ms, int *code,
                     int *timeout)
{
	struct elector_status_info st;
	enum elector_run_event ev = elector_run_poll(run, code);
	*timeout = -1;
	if (ev == ELECTOR_RUN_EXITED) {
		LOG_INFO("command exited with status %d; releasing and exiting",
		         *code);
		return 1;
	}
	if (elector_status(el, &st) != ELECTOR_OK)
		return 0;
	if (ev == ELECTOR_RUN_RESTART && st.is_leader) {
		LOG_INFO("run: starting the command again (still leading, term %lld)",
		         (long long)st.term);
		elector_run_start(run, st.term, st.valid_until_ms);
	}
	if (!elector_run_active(run))
		return 0;
	if (!st.is_leader) {
		elector_run_stop(run, "leadership no longer valid");
		return 0;
	}
	/* Feed the keeper, then wake just after the next renew should have
	 * landed (its start: the deadline - renew + retry), polling briefly
	 * while it has not, so the keeper's deadline lags the engine's by a
	 * few ms, not a whole retry period. */
	elector_run_feed(run, st.valid_until_ms);
	int64_t now = st.valid_until_ms - st.valid_ms_left;
	int64_t next = st.valid_until_ms - renew_ms + retry_ms + 1;
	int64_t t = next > now ? next - now : RUN_POLL_MS;
	if (t > st.valid_ms_left)
		t = st.valid_ms_left;
	*timeout = (int)(t < 1 ? 1 : t);
	return 0;
}

/* Wait for a signal, a command exit or a lost leadership. Returns the exit
 * code for a stop the loop decided (0 on SIGTERM/SIGINT/SIGHUP/SIGQUIT);
 * *handover is set on SIGUSR1. Sleeps without a timeout unless a command
 * runs. */
static int main_loop(const struct elector_cli *cli, struct elector *el,
                     int sfd, int wake_fd, struct elector_run *run,
                     int *handover)
{
	int timeout = -1;
	*handover = 0;
	for (;;) {
		int rfd = run != NULL ? elector_run_fd(run) : -1;
		struct pollfd pfd[3] = {{.fd = sfd, .events = POLLIN},
		                        {.fd = wake_fd, .events = POLLIN},
		                        {.fd = rfd, .events = POLLIN}};
		int n = poll(pfd, 3, timeout);
		if (n < 0 && errno != EINTR) {
			LOG_ERROR("poll: %s", strerror(errno));
			return 1;
		}
		uint64_t cnt;
		if (n > 0 && (pfd[1].revents & POLLIN) &&
		    read(wake_fd, &cnt, sizeof cnt) < 0 && errno != EAGAIN)
			LOG_DEBUG("eventfd read: %s", strerror(errno));
		enum sig_action a = read_signals(sfd);
		if (a == SIG_STOP)
			return 0;
		if (a == SIG_HANDOVER) {
			*handover = 1;
			return 0;
		}
		int code;
		if (run != NULL &&
		    run_check(el, run, cli->renew_deadline_ms,
		              cli->retry_period_ms, &code, &timeout))
			return code;
	}
}

/* After a handover: stay out of the election long enough for every other
 * replica (pollers included) to see the released record. Returns -1 to
 * take part again, or an exit code. */
static int sit_out(int sfd, int64_t ms)
{
	int64_t until = elector_mono_ms() + ms;
	for (;;) {
		int64_t left = until - elector_mono_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = sfd, .events = POLLIN};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return 1;
		if (read_signals(sfd) == SIG_STOP)
			return 0;
	}
}

static void fill_config(struct elector_config *cfg, const struct elector_cli *cli,
                        struct daemon_ctx *ctx)
{
	elector_config_init(cfg);
	cfg->election = cli->election;
	cfg->namespace_ = cli->namespace_;
	cfg->identity = cli->identity;
	cfg->lease_duration_ms = cli->lease_duration_ms;
	cfg->renew_deadline_ms = cli->renew_deadline_ms;
	cfg->retry_period_ms = cli->retry_period_ms;
	cfg->backend = cli->backend;
	cfg->backend_options = (const char *const *)cli->backend_opts;
	cfg->n_backend_options = cli->n_backend_opts;
	cfg->plugin_dir = cli->plugin_dir;
	cfg->release_on_stop = cli->release_on_exit;
	cfg->on_new_leader = on_new_leader;
	cfg->on_started_leading = on_started;
	cfg->on_stopped_leading = on_stopped;
	cfg->userdata = ctx;
}

/* One stint in the election: until a signal, the command's exit, or a
 * handover (*handover set). One cleanup path, whatever failed. */
static int one_stint(const struct elector_cli *cli, struct daemon_ctx *ctx,
                     int sfd, int *handover)
{
	char err[1024];
	int code = 1, rc;
	struct elector_http *http = NULL;
	struct elector_http_info info = {cli->election, cli->namespace_, cli->backend};
	struct elector_config cfg;

	*handover = 0;
	fill_config(&cfg, cli, ctx);
	rc = elector_create(&cfg, &ctx->el, err, sizeof err);
	if (rc != ELECTOR_OK) {
		LOG_ERROR("%s", err);
		return rc == ELECTOR_INVALID ? 2 : 1;
	}
	if (cli->http != NULL &&
	    elector_http_start(cli->http, ctx->el, &info, &http, err, sizeof err) != 0) {
		LOG_ERROR("%s", err);
		goto out;
	}
	if (elector_start(ctx->el) != ELECTOR_OK) {
		LOG_ERROR("cannot start the election thread");
		goto out;
	}
	code = main_loop(cli, ctx->el, sfd, ctx->wake_fd, ctx->run, handover);
out:
	if (ctx->run != NULL && !*handover)
		elector_run_shutdown(ctx->run);
	if (!*handover)
		elector_events_shutdown(ctx->events);
	/* stopped_leading (stops the command), release */
	rc = elector_stop(ctx->el);
	ctx->released = rc == ELECTOR_OK && cli->release_on_exit;
	if (rc != ELECTOR_OK)
		LOG_WARN("release failed (%s); the lease expires on its own",
		         elector_strerror(rc));
	elector_http_stop(http);
	if (ctx->run != NULL)
		elector_run_stop(ctx->run, "shutting down");
	elector_destroy(ctx->el);
	ctx->el = NULL;
	return code;
}

/* How long a stop may wait for the keeper beyond the kill grace: half of
 * lease - renew - grace (the time left before another node may take
 * over), between 20 ms and 2 s. */
static int64_t stop_slack(const struct elector_cli *cli)
{
	int64_t left = (cli->lease_duration_ms - cli->renew_deadline_ms -
	                cli->kill_grace_ms) / 2;
	return left < 20 ? 20 : left > 2000 ? 2000 : left;
}

/* Run the election until a signal, or the command's exit in run mode. */
static int take_part(const struct elector_cli *cli, int run_mode)
{
	char err[1024];
	sigset_t set;
	int sfd = -1, code = 1, handover = 0;
	struct daemon_ctx ctx = {.identity = cli->identity, .wake_fd = -1};
	struct elector_config cfg;

	fill_config(&cfg, cli, &ctx);
	if (elector_config_validate(&cfg, err, sizeof err) != ELECTOR_OK) {
		fprintf(stderr, "elector: invalid timings: %s (set --lease-duration, "
		        "--renew-deadline and --retry-period accordingly)\n", err);
		return 2;
	}
	/* before any thread exists, so every thread inherits the mask */
	if (block_signals(&set, &sfd) != 0) {
		fprintf(stderr, "elector: signal setup: %s\n", strerror(errno));
		goto out;
	}
	/* A dead keeper's orphans (the command's double-forked children)
	 * come to us, not to init, and are killed. */
	if (run_mode && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fprintf(stderr, "elector: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
	ctx.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx.wake_fd < 0) {
		fprintf(stderr, "elector: eventfd: %s\n", strerror(errno));
		goto out;
	}
	if (run_mode) {
		struct elector_run_opts o = {
			.argv = cli->cmd_argv,
			.path = cli->cmd_path,
			.kill_grace_ms = cli->kill_grace_ms,
			/* half of what is left before a takeover */
			.stop_slack_ms = stop_slack(cli),
			.restart = (enum elector_restart)cli->restart,
			.backoff_min_ms = cli->restart_backoff_min_ms,
			.backoff_max_ms = cli->restart_backoff_max_ms,
			.election = cli->election,
			.identity = cli->identity,
			.log_level = ELECTOR_LOG_INFO + cli->verbosity,
			.log_json = cli->log_json,
		};
		if (elector_run_new(&o, &ctx.run) != 0) {
			fprintf(stderr, "elector: out of memory\n");
			goto out;
		}
	}
	log_start(cli, run_mode ? " (run mode)" : "");
	if (cli->label_pod && elector_label_start(cli->plugin_dir, &ctx.label) != 0)
		goto out;
	/* never fatal: events are bookkeeping, the election goes on */
	if (cli->k8s_events)
		elector_events_start(cli->plugin_dir, cli->election, cli->namespace_,
		                     cli->identity, events_on_lease(cli), &ctx.events);
	for (;;) {
		code = one_stint(cli, &ctx, sfd, &handover);
		if (!handover)
			break;
		/* Others see the release at once with a watch, within 1.2 x
		 * retry-period when they poll. */
		int64_t pause = 2 * cli->retry_period_ms;
		LOG_INFO("handed over; sitting out for %lldms before taking part "
		         "again", (long long)pause);
		code = sit_out(sfd, pause);
		if (code >= 0)
			break;
	}
out:
	if (ctx.run != NULL)
		elector_run_shutdown(ctx.run);
	elector_label_stop(ctx.label); /* "follower" is the last word */
	elector_events_stop(ctx.events, ctx.released);
	elector_run_free(ctx.run); /* stops a command still running */
	if (ctx.wake_fd >= 0)
		close(ctx.wake_fd);
	if (sfd >= 0)
		close(sfd);
	return code;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "elector: %s\n", msg);
	return 2;
}

/* Options that mean nothing in this mode: say so once, instead of silently
 * dropping them. */
static void warn_ignored(const struct elector_cli *cli,
                         enum elector_cli_mode mode)
{
	if (cli->kill_grace_set && mode != ELECTOR_CLI_RUN)
		LOG_WARN(
		    "--kill-grace is ignored: it applies only to elector run");
	if (cli->restart_set && mode != ELECTOR_CLI_RUN)
		LOG_WARN("--restart and --restart-backoff are ignored: they "
		         "apply only to elector run");
	if (cli->http != NULL &&
	    (mode == ELECTOR_CLI_GET || mode == ELECTOR_CLI_COMMAND))
		LOG_WARN("--http is ignored: %s serves no status API",
		         mode == ELECTOR_CLI_GET ? "elector get"
		                                 : "a backend command");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], ELECTOR_KEEPER_ARG) == 0)
		return elector_keeper_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	/* Held until take_part() reads them from its signalfd; released at
	 * once for the short-lived commands (get, help, BACKEND-VERB). */
	sigset_t handled;
	handled_signals(&handled);
	pthread_sigmask(SIG_BLOCK, &handled, NULL);
	enum elector_cli_mode mode = ELECTOR_CLI_DAEMON;
	int first = 1;
	char name[64] = "", verb[64] = "";
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (sub != NULL && (strcmp(sub, "version") == 0 || strcmp(sub, "--version") == 0)) {
		printf("elector %s\n", ELECTOR_VERSION_STRING);
		return 0;
	}
	if (sub != NULL && strcmp(sub, "help") == 0) {
		elector_cli_usage(stdout);
		return 0;
	}
	if (sub != NULL && sub[0] != '-') {
		first = 2;
		const char *dash = strchr(sub, '-');
		if (strcmp(sub, "run") == 0) {
			mode = ELECTOR_CLI_RUN;
		} else if (strcmp(sub, "get") == 0) {
			mode = ELECTOR_CLI_GET;
		} else if (dash != NULL && dash != sub && dash[1] != '\0' &&
		           (size_t)(dash - sub) < sizeof name && strlen(dash + 1) < sizeof verb) {
			mode = ELECTOR_CLI_COMMAND;
			snprintf(name, sizeof name, "%.*s", (int)(dash - sub), sub);
			snprintf(verb, sizeof verb, "%s", dash + 1);
		} else {
			char m[200];
			snprintf(m, sizeof m, "unknown command '%.64s' (commands: run, get, "
			         "version, help, BACKEND-VERB; see elector --help)", sub);
			return usage_error(m);
		}
	}
	struct elector_cli cli;
	char err[512];
	int rc = elector_cli_parse(&cli, mode, argc - first, argv + first, err, sizeof err);
	if (rc != 0) {
		elector_cli_free(&cli);
		return usage_error(err);
	}
	if (cli.help) {
		elector_cli_usage(stdout);
		elector_cli_free(&cli);
		return 0;
	}
	int level = ELECTOR_LOG_INFO + cli.verbosity;
	elector_log_setup(level > ELECTOR_LOG_TRACE ? ELECTOR_LOG_TRACE : level,
	                  cli.log_json ? ELECTOR_LOG_JSON : ELECTOR_LOG_TEXT);
	warn_ignored(&cli, mode);
	int code;
	if (mode == ELECTOR_CLI_GET || mode == ELECTOR_CLI_COMMAND)
		pthread_sigmask(SIG_UNBLOCK, &handled, NULL);
	switch (mode) {
	case ELECTOR_CLI_GET:
		code = elector_cmd_get(&cli);
		break;
	case ELECTOR_CLI_COMMAND:
		code = elector_cmd_backend(name, verb, &cli);
		break;
	case ELECTOR_CLI_RUN:
		code = take_part(&cli, 1);
		break;
	case ELECTOR_CLI_DAEMON:
	default:
		code = take_part(&cli, 0);
		break;
	}
	elector_cli_free(&cli);
	return code;
}
