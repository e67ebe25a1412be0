/*
 * The daemon's command line: one option table used by the parser, by
 * `elector --help` and by every error message.
 *
 * Sources, weakest first: built-in defaults, the environment (ELECTOR_<NAME>,
 * upper case, '-' and '.' -> '_'; ELECTOR_BACKEND_OPT is a comma-separated
 * list), the command line. Long options take one or two dashes
 * (`-election x` = `--election x`) and `--opt=value` or `--opt value`;
 * boolean options take only `--opt`, `--opt=BOOL` or `--no-opt`.
 */
#ifndef ELECTOR_CORE_CLI_H
#define ELECTOR_CORE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "elector/backend.h"

/* What the command line is parsed for. */
enum elector_cli_mode {
	ELECTOR_CLI_DAEMON = 0,  /* elector [OPTIONS] */
	ELECTOR_CLI_RUN = 1,     /* elector run [OPTIONS] -- CMD ... */
	ELECTOR_CLI_GET = 2,     /* elector get [OPTIONS] */
	ELECTOR_CLI_COMMAND = 3  /* elector NAME-VERB [OPTIONS] [ARGS]:
	                            unknown options and positional arguments
	                            are passed through to the backend */
};

struct elector_cli {
	const char *election;
	const char *namespace_;
	const char *identity;      /* points to id_buf or to the given --id */
	char id_buf[ELECTOR_ID_MAX];
	const char *backend;       /* never NULL after a successful parse */
	char **backend_opts;       /* owned "key=value" strings, later keys win */
	size_t n_backend_opts;
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	int64_t kill_grace_ms;     /* run mode; validated, defaulted */
	bool kill_grace_set;       /* --kill-grace given (warned outside run) */
	bool restart_set;          /* --restart(-backoff) given (likewise) */
	int restart;               /* run mode: enum elector_restart */
	int64_t restart_backoff_min_ms; /* run mode: first restart delay */
	int64_t restart_backoff_max_ms; /* run mode: the doubling stops here */
	const char *http;          /* "ADDR:PORT", ":PORT" or NULL */
	bool release_on_exit;
	int log_json;              /* 0 text, 1 json */
	int verbosity;             /* -v: 0 info, 1 debug, 2 trace */
	const char *plugin_dir;    /* NULL: the loader's default */
	bool label_pod;
	bool k8s_events;           /* --k8s-events */
	bool help;                 /* --help seen: print usage, exit 0 */

	/* run mode: the command after "--"; COMMAND mode: the pass-through
	 * arguments (argv[0] is the verb). Point into the caller's argv;
	 * pass_argv itself is owned. */
	int cmd_argc;
	char **cmd_argv;
	char cmd_path[4096];       /* run mode: cmd_argv[0] resolved in PATH */
	int pass_argc;
	char **pass_argv;
};

/*
 * Parse argv (argv[0] is the first option, not the program or subcommand)
 * for mode. Returns 0, or 2 with a message in err that says what is wrong
 * and how to fix it (bad usage: the caller exits 2). On return *cli must be
 * released with elector_cli_free() whatever the result.
 */
int elector_cli_parse(struct elector_cli *cli, enum elector_cli_mode mode,
                      int argc, char **argv, char *err, size_t errlen);
void elector_cli_free(struct elector_cli *cli);

/* Print the usage text, generated from the option table, to f. */
void elector_cli_usage(FILE *f);

/* Split "ADDR:PORT" / ":PORT" / "[v6]:PORT" into host (empty = all
 * addresses) and port. Returns 0 or -1 with the reason in err. */
int elector_cli_split_hostport(const char *s, char *host, size_t hostcap,
                               char *port, size_t portcap, char *err,
                               size_t errlen);

#endif
