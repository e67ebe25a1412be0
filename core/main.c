/*
 * elector, the daemon: take part in an election (optionally serving the
 * HTTP status API), run a command only while leading, print the stored
 * record, or run a backend subcommand. See DESIGN §6 and `elector --help`.
 *
 * Signals: SIGTERM, SIGINT and SIGCHLD are blocked in every thread (before
 * any thread is created) and read from a signalfd by the main loop, which
 * does all the work; there are no signal handlers.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "d_cmds.h"
#include "d_events.h"
#include "d_label.h"
#include "elector/elector.h"
#include "http.h"
#include "log.h"
#include "run.h"
#include "timeutil.h"

/* How often run mode re-checks leadership while the engine thread may be
 * blocked in a store request (DESIGN §6: act at once on an expiry). */
#define RUN_CHECK_MS 50

struct daemon_ctx {
	struct elector_run *run;     /* run mode only */
	struct elector_label *label; /* --label-pod only */
	struct elector_events *events; /* --k8s-events only */
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
		elector_run_start(d->run, term);
		/* the main loop now watches the command's leadership */
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

static int block_signals(sigset_t *set, int *sfd)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGCHLD);
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

/* Wait for a signal, a command exit or a lost leadership. Returns the exit
 * code for a stop the loop decided (0 on SIGTERM/SIGINT). Sleeps without a
 * timeout unless a command runs. */
static int main_loop(struct elector *el, int sfd, int wake_fd,
                     struct elector_run *run)
{
	for (;;) {
		struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
		                        {.fd = wake_fd, .events = POLLIN}};
		int timeout = run != NULL && elector_run_active(run) ? RUN_CHECK_MS : -1;
		int n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR) {
			LOG_ERROR("poll: %s", strerror(errno));
			return 1;
		}
		uint64_t cnt;
		if (n > 0 && (pfd[1].revents & POLLIN) &&
		    read(wake_fd, &cnt, sizeof cnt) < 0 && errno != EAGAIN)
			LOG_DEBUG("eventfd read: %s", strerror(errno));
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				LOG_INFO("received %s, stopping",
				         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
				return 0;
			}
		}
		if (run == NULL)
			continue;
		int code;
		if (elector_run_exited(run, &code)) {
			LOG_INFO("command exited with status %d; releasing and exiting", code);
			return code;
		}
		if (elector_run_active(run)) {
			struct elector_status_info st;
			if (elector_status(el, &st) == ELECTOR_OK && !st.is_leader)
				elector_run_stop(run, "leadership no longer valid");
		}
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

/* Run the election until a signal, or the command's exit in run mode.
 * One cleanup path below, whatever failed. */
static int take_part(const struct elector_cli *cli, int run_mode)
{
	char err[1024];
	sigset_t set;
	int sfd = -1, code = 1, rc;
	struct daemon_ctx ctx = {.identity = cli->identity, .wake_fd = -1};
	struct elector *el = NULL;
	struct elector_http *http = NULL;
	struct elector_http_info info = {cli->election, cli->namespace_, cli->backend};
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
	ctx.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx.wake_fd < 0) {
		fprintf(stderr, "elector: eventfd: %s\n", strerror(errno));
		goto out;
	}
	if (run_mode && elector_run_new(cli->cmd_argv, cli->kill_grace_ms, cli->election,
	                                cli->identity, &ctx.run) != 0) {
		fprintf(stderr, "elector: out of memory\n");
		goto out;
	}
	log_start(cli, run_mode ? " (run mode)" : "");
	rc = elector_create(&cfg, &el, err, sizeof err);
	if (rc != ELECTOR_OK) {
		LOG_ERROR("%s", err);
		code = rc == ELECTOR_INVALID ? 2 : 1;
		goto out;
	}
	if (cli->label_pod && elector_label_start(cli->plugin_dir, &ctx.label) != 0)
		goto out;
	/* never fatal: events are bookkeeping, the election goes on */
	if (cli->k8s_events)
		elector_events_start(cli->plugin_dir, cli->election, cli->namespace_,
		                     cli->identity, events_on_lease(cli), &ctx.events);
	if (cli->http != NULL &&
	    elector_http_start(cli->http, el, &info, &http, err, sizeof err) != 0) {
		LOG_ERROR("%s", err);
		goto out;
	}
	if (elector_start(el) != ELECTOR_OK) {
		LOG_ERROR("cannot start the election thread");
		goto out;
	}
	code = main_loop(el, sfd, ctx.wake_fd, ctx.run);
out:
	if (ctx.run != NULL)
		elector_run_shutdown(ctx.run);
	elector_events_shutdown(ctx.events);
	rc = ELECTOR_ERROR;
	if (el != NULL) {
		rc = elector_stop(el); /* stopped_leading (stops the command), release */
		if (rc != ELECTOR_OK)
			LOG_WARN("release failed (%s); the lease expires on its own",
			         elector_strerror(rc));
	}
	elector_http_stop(http);
	elector_label_stop(ctx.label); /* "follower" is the last word */
	elector_events_stop(ctx.events, rc == ELECTOR_OK && cli->release_on_exit);
	elector_destroy(el);
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

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
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
	int code;
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
