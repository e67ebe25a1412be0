/*
 * conformance — the backend conformance suite. Every backend must pass it.
 *
 * USAGE
 *   conformance --plugin-dir DIR --backend NAME [--opt K=V]...
 *               [--namespace NS] [--election NAME]
 *               [--rounds N] [--contenders N] [--request-timeout MS]
 *               [--slack MS] [--watch-bound MS] [--recover MS]
 *               [--max-transitions N]  (the largest leaderTransitions the
 *               store can hold; the limits record uses min(2^53+1, N):
 *               a Kubernetes Lease's leaseTransitions is an int32)
 *               [--corrupt-cmd CMD] [--fix-cmd CMD]
 *               [--down-cmd CMD] [--up-cmd CMD]
 *               [--slow-cmd CMD] [--unslow-cmd CMD]
 *               [--case NAME]...
 *
 * It loads DIR/NAME.so through elector_store_open() (the same loader the
 * daemon uses), opens as many store handles as a case needs (each with the
 * options given by --opt, e.g. --opt path=/tmp/x.json or --opt
 * url=redis://127.0.0.1:6380/0), and prints TAP on stdout: "ok N - ..." /
 * "not ok N - ...", "# ..." comments (measurements such as the watch
 * latency), and the plan "1..N" at the end.
 *
 * EXIT STATUS: 0 when every test passed, 1 when one failed, 2 on a usage
 * error (message on stderr).
 *
 * THE STORE must be empty at the start when the "empty" case runs (the
 * default election name is unique per run: conformance-PID-TIME; give a
 * fresh --election or a fresh path otherwise). The cases leave a record
 * behind.
 *
 * CASES (in this order; --case selects some; default all):
 *   empty      get and update on an empty store return NOT_FOUND
 *   roundtrip  create/get/update keep every record field (holder with
 *              escapes and UTF-8, both times with microseconds or null,
 *              preferredHolder, strategy, limits)
 *   exists     create on an existing record returns EXISTS, store unchanged
 *   conflict   update based on a stale version returns CONFLICT, store
 *              unchanged
 *   release    holder "" with leaseDurationSeconds 1 round-trips
 *   watch      (backends with ELECTOR_CAP_WATCH) an unchanged store times
 *              out; a watcher blocked in watch() wakes within --watch-bound
 *              after another handle's update (latency printed as a
 *              comment); no stale wake-up after the writes it has seen
 *   wake       (ELECTOR_CAP_WATCH) wake() from another thread ends a
 *              blocked watch promptly with TIMEOUT; a wake() before watch()
 *              too; a later watch blocks again
 *              (watch may return OK when the record only *may* have changed;
 *              up to 2 such "spurious" returns per wait are tolerated and
 *              counted in the test names, but an unchanged store must end
 *              up blocking until the timeout)
 *   contenders --contenders processes (fork, one handle each) race for
 *              --rounds rounds: all read the same version, then all update
 *              it with their own identity and round; exactly one OK and
 *              N-1 CONFLICT per round, and the stored record is then the
 *              winner's, byte for byte (no lost or torn write)
 *   garbage    (with --corrupt-cmd) after CMD stored garbage, get returns
 *              CORRUPT with a message (never OK) and watch never reports a
 *              record; after --fix-cmd (if given) get works again
 *   down       (with --down-cmd/--up-cmd) while the store is down get and
 *              update return TRANSIENT or TIMEOUT within request timeout +
 *              slack; after --up-cmd get recovers within --recover
 *   slow       (with --slow-cmd) ops return within request timeout + slack;
 *              then --unslow-cmd (if given) and get recovers
 *
 * Cases whose commands or capability are missing print "ok N # SKIP why".
 * Commands run with /bin/sh -c, each bounded by 60 s; a failing command is
 * a failing test.
 *
 * Defaults: request timeout 2000 ms, lease 15 s, renew deadline 10 s,
 * retry period 2 s (the latter three are only passed to the backend).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

int conf_ok_(int cond, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return tap_ok_(cond, file, line, "%s", msg);
}

void conf_diag(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag("%s", msg);
}

void conf_skip(const char *why)
{
	skip(1, why);
}

struct conf_case {
	const char *name;
	void (*run)(const struct conf *c);
};

static const struct conf_case cases[] = {
    {"empty", conf_case_empty},     {"roundtrip", conf_case_roundtrip},
    {"exists", conf_case_exists},   {"conflict", conf_case_conflict},
    {"release", conf_case_release}, {"watch", conf_case_watch},
    {"wake", conf_case_wake},       {"contenders", conf_case_contenders},
    {"garbage", conf_case_garbage}, {"down", conf_case_down},
    {"slow", conf_case_slow},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static void usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "conformance: %s\n", msg);
	fprintf(stderr,
	        "usage: conformance --plugin-dir DIR --backend NAME [--opt "
	        "K=V]...\n"
	        "  [--namespace NS] [--election NAME] [--rounds N] "
	        "[--contenders N]\n"
	        "  [--request-timeout MS] [--slack MS] [--watch-bound MS] "
	        "[--recover MS]\n"
	        "  [--corrupt-cmd CMD] [--fix-cmd CMD] [--down-cmd CMD] "
	        "[--up-cmd CMD]\n"
	        "  [--slow-cmd CMD] [--unslow-cmd CMD] [--case NAME]...\n"
	        "cases:");
	for (size_t i = 0; i < N_CASES; i++)
		fprintf(stderr, " %s", cases[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

static long long num_arg(const char *opt, const char *v, long long lo,
                         long long hi)
{
	char *end;
	long long x = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
		char msg[160];
		snprintf(msg, sizeof msg,
		         "--%s: \"%s\" is not a number in %lld..%lld", opt, v,
		         lo, hi);
		usage(msg);
	}
	return x;
}

enum {
	O_PLUGIN_DIR = 1000,
	O_BACKEND,
	O_OPT,
	O_NS,
	O_ELECTION,
	O_ROUNDS,
	O_CONTENDERS,
	O_RT,
	O_SLACK,
	O_WB,
	O_RECOVER,
	O_CORRUPT,
	O_FIX,
	O_DOWN,
	O_UP,
	O_SLOW,
	O_UNSLOW,
	O_MAXT,
	O_CASE,
	O_HELP
};

static const struct option long_opts[] = {
    {"plugin-dir", required_argument, NULL, O_PLUGIN_DIR},
    {"backend", required_argument, NULL, O_BACKEND},
    {"opt", required_argument, NULL, O_OPT},
    {"namespace", required_argument, NULL, O_NS},
    {"election", required_argument, NULL, O_ELECTION},
    {"rounds", required_argument, NULL, O_ROUNDS},
    {"contenders", required_argument, NULL, O_CONTENDERS},
    {"request-timeout", required_argument, NULL, O_RT},
    {"slack", required_argument, NULL, O_SLACK},
    {"watch-bound", required_argument, NULL, O_WB},
    {"recover", required_argument, NULL, O_RECOVER},
    {"corrupt-cmd", required_argument, NULL, O_CORRUPT},
    {"fix-cmd", required_argument, NULL, O_FIX},
    {"down-cmd", required_argument, NULL, O_DOWN},
    {"up-cmd", required_argument, NULL, O_UP},
    {"slow-cmd", required_argument, NULL, O_SLOW},
    {"unslow-cmd", required_argument, NULL, O_UNSLOW},
    {"max-transitions", required_argument, NULL, O_MAXT},
    {"case", required_argument, NULL, O_CASE},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static int select_case(const char *name, int *selected)
{
	for (size_t i = 0; i < N_CASES; i++) {
		if (strcmp(cases[i].name, name) == 0) {
			selected[i] = 1;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	static char election[64];
	struct conf c;
	int selected[N_CASES] = {0}, any_selected = 0;
	memset(&c, 0, sizeof c);
	c.namespace_ = "default";
	c.rounds = 1000;
	c.contenders = 8;
	c.request_timeout_ms = 2000;
	c.slack_ms = 1500;
	c.watch_bound_ms = 2000;
	c.recover_ms = 30000;
	c.max_transitions = 9223372036854775807LL;
	snprintf(election, sizeof election, "conformance-%ld-%ld",
	         (long)getpid(), (long)time(NULL));
	c.election = election;

	int o;
	while ((o = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (o) {
		case O_PLUGIN_DIR:
			c.plugin_dir = optarg;
			break;
		case O_BACKEND:
			c.backend = optarg;
			break;
		case O_OPT:
			if (c.n_opts >= CONF_MAX_OPTS)
				usage("too many --opt");
			if (strchr(optarg, '=') == NULL)
				usage("--opt needs KEY=VALUE");
			c.opts[c.n_opts++] = optarg;
			break;
		case O_NS:
			c.namespace_ = optarg;
			break;
		case O_ELECTION:
			c.election = optarg;
			break;
		case O_ROUNDS:
			c.rounds = (int)num_arg("rounds", optarg, 1, 1000000);
			break;
		case O_CONTENDERS:
			c.contenders =
			    (int)num_arg("contenders", optarg, 2, 256);
			break;
		case O_RT:
			c.request_timeout_ms =
			    num_arg("request-timeout", optarg, 1, 600000);
			break;
		case O_SLACK:
			c.slack_ms = num_arg("slack", optarg, 0, 600000);
			break;
		case O_WB:
			c.watch_bound_ms =
			    num_arg("watch-bound", optarg, 1, 600000);
			break;
		case O_RECOVER:
			c.recover_ms = num_arg("recover", optarg, 1, 3600000);
			break;
		case O_MAXT:
			c.max_transitions = num_arg("max-transitions", optarg, 1,
			                            9223372036854775807LL);
			break;
		case O_CORRUPT:
			c.corrupt_cmd = optarg;
			break;
		case O_FIX:
			c.fix_cmd = optarg;
			break;
		case O_DOWN:
			c.down_cmd = optarg;
			break;
		case O_UP:
			c.up_cmd = optarg;
			break;
		case O_SLOW:
			c.slow_cmd = optarg;
			break;
		case O_UNSLOW:
			c.unslow_cmd = optarg;
			break;
		case O_CASE:
			for (char *tok = strtok(optarg, ","); tok != NULL;
			     tok = strtok(NULL, ",")) {
				if (select_case(tok, selected) != 0) {
					char msg[128];
					snprintf(msg, sizeof msg,
					         "unknown case \"%s\"", tok);
					usage(msg);
				}
				any_selected = 1;
			}
			break;
		case O_HELP:
			usage(NULL);
			break;
		default:
			usage("unknown option");
		}
	}
	if (optind != argc)
		usage("unexpected argument");
	if (c.plugin_dir == NULL || c.backend == NULL)
		usage("--plugin-dir and --backend are required");
	if ((c.down_cmd != NULL) != (c.up_cmd != NULL))
		usage("--down-cmd and --up-cmd go together");

	/* Unbuffered child output must not interleave with ours mid-line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct elector_store *s = conf_open(&c, "conformance-probe");
	if (s == NULL) {
		printf("Bail out! cannot open the store\n");
		done_testing();
		return 1;
	}
	char desc[512] = "";
	s->ops->describe(s->state, desc, sizeof desc);
	c.caps = s->ops->capabilities;
	diag("backend %s (%s), capabilities 0x%x, election %s/%s", c.backend,
	     desc, (unsigned)c.caps, c.namespace_, c.election);
	elector_store_close(s);

	for (size_t i = 0; i < N_CASES; i++) {
		if (any_selected && !selected[i])
			continue;
		diag("--- case %s", cases[i].name);
		cases[i].run(&c);
	}
	return done_testing();
}
