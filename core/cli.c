/* The daemon's option table and parser (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "elector/elector.h"
#include "keeper.h"
#include "timeutil.h"

enum opt_type {
	OT_STRING,   /* plain string */
	OT_DURATION, /* Go duration */
	OT_BOOL,     /* --x, --x=BOOL, --no-x */
	OT_INT,      /* small non-negative integer */
	OT_KV,       /* KEY=VALUE, repeatable */
	OT_SHORT     /* shorthand for one backend option key */
};

enum opt_id {
	O_ELECTION, O_NAMESPACE, O_ID, O_BACKEND, O_BACKEND_OPT, O_KUBECONFIG,
	O_REDIS_URL, O_GIST_ID, O_GIST_TOKEN_FILE, O_FILE_PATH, O_ETCD_ENDPOINTS, O_LEASE,
	O_RENEW, O_RETRY, O_HTTP, O_RELEASE, O_LOG_FORMAT, O_VERBOSE,
	O_PLUGIN_DIR, O_KILL_GRACE, O_RESTART, O_RESTART_BACKOFF, O_LABEL_POD,
	O_LOCK_TYPE, O_TTL, O_HELP, O_K8S_EVENTS
};

struct opt {
	const char *name;    /* primary long name (env: ELECTOR_<NAME>) */
	const char *aliases; /* space-separated other names, or NULL */
	enum opt_type type;
	enum opt_id id;
	const char *arg;     /* value placeholder in --help */
	const char *def;     /* default, as shown in --help */
	const char *help;
	const char *key;     /* OT_SHORT: the backend option key */
};

static const struct opt OPTS[] = {
	{"election", "leaselock.name", OT_STRING, O_ELECTION, "NAME", "(required)",
	 "election (lock) name: [a-z0-9]([-a-z0-9.]*[a-z0-9])?, at most 63 chars", NULL},
	{"namespace", "leaselock.namespace", OT_STRING, O_NAMESPACE, "NS", "$POD_NAMESPACE or default",
	 "namespace of the election", NULL},
	{"id", "node-id", OT_STRING, O_ID, "ID", "$POD_NAME or hostname + _ + 8 random hex",
	 "this participant's identity (must be unique per process)", NULL},
	{"backend", NULL, OT_STRING, O_BACKEND, "NAME",
	 "lease if KUBERNETES_SERVICE_HOST or --kubeconfig is set, else file",
	 "lock store plugin (file, redis, lease, gist, ...)", NULL},
	{"backend-opt", NULL, OT_KV, O_BACKEND_OPT, "KEY=VALUE", "",
	 "backend option, repeatable (env: comma-separated list)", NULL},
	{"kubeconfig", NULL, OT_SHORT, O_KUBECONFIG, "FILE", "",
	 "= --backend-opt kubeconfig=FILE (lease backend)", "kubeconfig"},
	{"redis-url", NULL, OT_SHORT, O_REDIS_URL, "URL", "",
	 "= --backend-opt url=URL (redis backend)", "url"},
	{"gist-id", NULL, OT_SHORT, O_GIST_ID, "ID", "",
	 "= --backend-opt id=ID (gist backend)", "id"},
	{"gist-token-file", NULL, OT_SHORT, O_GIST_TOKEN_FILE, "FILE", "",
	 "= --backend-opt token-file=FILE (gist backend)", "token-file"},
	{"file-path", NULL, OT_SHORT, O_FILE_PATH, "PATH", "",
	 "= --backend-opt path=PATH (file backend)", "path"},
	{"etcd-endpoints", NULL, OT_SHORT, O_ETCD_ENDPOINTS, "URLS", "",
	 "= --backend-opt endpoints=URLS (etcd backend)", "endpoints"},
	{"lease-duration", NULL, OT_DURATION, O_LEASE, "DURATION", "15s",
	 "how long followers wait after the last change before taking over", NULL},
	{"renew-deadline", NULL, OT_DURATION, O_RENEW, "DURATION", "10s",
	 "the leader steps down when it could not renew for this long", NULL},
	{"retry-period", NULL, OT_DURATION, O_RETRY, "DURATION", "2s",
	 "interval between renewals / acquisition attempts", NULL},
	{"http", NULL, OT_STRING, O_HTTP, "ADDR:PORT", "off",
	 "serve the status API (:PORT = all addresses)", NULL},
	{"release-on-exit", NULL, OT_BOOL, O_RELEASE, NULL, "true",
	 "release the lease on a clean stop (--no-release-on-exit to keep it)", NULL},
	{"log-format", NULL, OT_STRING, O_LOG_FORMAT, "text|json", "text",
	 "log line format on stderr", NULL},
	{"v", "verbosity", OT_INT, O_VERBOSE, "LEVEL", "0",
	 "log verbosity: 0 info, 1 debug, 2 trace", NULL},
	{"plugin-dir", NULL, OT_STRING, O_PLUGIN_DIR, "DIR",
	 "$ELECTOR_PLUGIN_DIR, else ../lib/elector beside the binary",
	 "directory of backend plugins", NULL},
	{"kill-grace", NULL, OT_DURATION, O_KILL_GRACE, "DURATION",
	 "min(5s, (lease-duration - renew-deadline)/2)",
	 "run mode: SIGTERM to SIGKILL delay; must be < lease-duration - renew-deadline", NULL},
	{"restart", NULL, OT_STRING, O_RESTART, "never|on-failure|always", "never",
	 "run mode: start the command again when it exits while we lead "
	 "(never: its exit ends elector)", NULL},
	{"restart-backoff", NULL, OT_STRING, O_RESTART_BACKOFF, "MIN[:MAX]", "1s:30s",
	 "run mode: delay before a restart, doubling up to MAX", NULL},
	{"label-pod", NULL, OT_BOOL, O_LABEL_POD, NULL, "false",
	 "label this pod role=leader|follower at every transition (Kubernetes)", NULL},
	{"k8s-events", NULL, OT_BOOL, O_K8S_EVENTS, NULL, "false",
	 "record Kubernetes Events (became leader, stopped leading, released) on the "
	 "Lease, or on this pod for other backends; needs create on events", NULL},
	{"lock-type", NULL, OT_STRING, O_LOCK_TYPE, "TYPE", "",
	 "k8s-elector compatibility: leases (= --backend lease); others refused", NULL},
	{"ttl", NULL, OT_DURATION, O_TTL, "DURATION", "",
	 "k8s-elector compatibility: lease-duration=TTL, renew-deadline=2/3 TTL, "
	 "retry-period=1/5 TTL (explicit options win)", NULL},
	{"help", "h", OT_BOOL, O_HELP, NULL, "", "print this help and exit", NULL},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

/* Parse-time state that does not outlive elector_cli_parse(). */
struct pstate {
	struct elector_cli *cli;
	int64_t ttl_ms;
	bool lease_set, renew_set, retry_set, grace_set, kubeconfig_set;
	/* env_bad: the environment's value failed to parse; an error only
	 * when the command line does not set the option (on_cmdline). */
	bool env_bad[N_OPTS], on_cmdline[N_OPTS];
	char *err;
	size_t errlen;
};

static int fail(struct pstate *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct pstate *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return 2;
}

static int name_matches(const struct opt *o, const char *name, size_t len)
{
	if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
		return 1;
	if (o->aliases == NULL)
		return 0;
	const char *a = o->aliases;
	while (*a) {
		size_t n = strcspn(a, " ");
		if (n == len && strncmp(a, name, len) == 0)
			return 1;
		a += n;
		while (*a == ' ')
			a++;
	}
	return 0;
}

static const struct opt *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (name_matches(&OPTS[i], name, len))
			return &OPTS[i];
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on", "t", "y"};
	static const char *const no[] = {"0", "false", "no", "off", "f", "n"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int add_backend_opt(struct pstate *ps, const char *key, size_t keylen,
                           const char *value, const char *src)
{
	struct elector_cli *c = ps->cli;
	if (keylen == 0)
		return fail(ps, "%s: empty backend option key; use KEY=VALUE", src);
	size_t need = keylen + 1 + strlen(value) + 1;
	char *s = malloc(need);
	if (s == NULL)
		return fail(ps, "%s: out of memory", src);
	snprintf(s, need, "%.*s=%s", (int)keylen, key, value);
	/* A later setting of the same key replaces the earlier one, so the
	 * command line wins over the environment. */
	for (size_t i = 0; i < c->n_backend_opts; i++) {
		if (strncmp(c->backend_opts[i], s, keylen + 1) == 0) {
			free(c->backend_opts[i]);
			c->backend_opts[i] = s;
			return 0;
		}
	}
	char **n = realloc(c->backend_opts, (c->n_backend_opts + 1) * sizeof *n);
	if (n == NULL) {
		free(s);
		return fail(ps, "%s: out of memory", src);
	}
	c->backend_opts = n;
	c->backend_opts[c->n_backend_opts++] = s;
	return 0;
}

static int add_kv(struct pstate *ps, const char *kv, const char *src)
{
	const char *eq = strchr(kv, '=');
	if (eq == NULL)
		return fail(ps, "%s: '%s' is not KEY=VALUE (e.g. --backend-opt path=/tmp/x.json)",
		            src, kv);
	return add_backend_opt(ps, kv, (size_t)(eq - kv), eq + 1, src);
}

static int set_duration(struct pstate *ps, const char *v, const char *src,
                        int64_t *out)
{
	char why[160];
	if (elector_duration_parse(v, out, why, sizeof why) != ELECTOR_OK)
		return fail(ps, "%s: %s (use a Go duration such as 15s, 500ms, 1m30s)",
		            src, why);
	return 0;
}

/* "MIN[:MAX]": both Go durations, 0 < MIN <= MAX <= 1h. */
static int set_backoff(struct pstate *ps, const char *v, const char *src)
{
	struct elector_cli *c = ps->cli;
	char min[64], why[160];
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	int64_t lo, hi;
	if (n >= sizeof min)
		goto bad;
	memcpy(min, v, n);
	min[n] = '\0';
	if (elector_duration_parse(min, &lo, why, sizeof why) != ELECTOR_OK)
		goto bad;
	if (colon == NULL)
		hi = lo > 30000 ? lo : 30000;
	else if (elector_duration_parse(colon + 1, &hi, why, sizeof why) != ELECTOR_OK)
		goto bad;
	if (lo <= 0 || hi < lo || hi > 3600000)
		goto bad;
	c->restart_backoff_min_ms = lo;
	c->restart_backoff_max_ms = hi;
	return 0;
bad:
	return fail(ps, "%s: '%s' is not a backoff: use MIN or MIN:MAX, Go durations "
	            "with 0 < MIN <= MAX <= 1h (e.g. 1s:30s; the delay doubles from "
	            "MIN up to MAX)", src, v);
}

/* Apply one option value; src names where it came from for messages. */
static int apply(struct pstate *ps, const struct opt *o, const char *v,
                 const char *src)
{
	struct elector_cli *c = ps->cli;
	bool b = false;
	if (o->type == OT_BOOL) {
		if (parse_bool(v, &b) != 0)
			return fail(ps, "%s: '%s' is not a boolean (use true or false)",
			            src, v);
	}
	switch (o->id) {
	case O_ELECTION: c->election = v; break;
	case O_NAMESPACE: c->namespace_ = v; break;
	case O_ID: c->identity = v; break;
	case O_BACKEND: c->backend = v; break;
	case O_BACKEND_OPT: return add_kv(ps, v, src);
	case O_KUBECONFIG:
		ps->kubeconfig_set = true;
		return add_backend_opt(ps, o->key, strlen(o->key), v, src);
	case O_REDIS_URL: case O_GIST_ID: case O_GIST_TOKEN_FILE: case O_FILE_PATH:
	case O_ETCD_ENDPOINTS:
		return add_backend_opt(ps, o->key, strlen(o->key), v, src);
	case O_LEASE: ps->lease_set = true; return set_duration(ps, v, src, &c->lease_duration_ms);
	case O_RENEW: ps->renew_set = true; return set_duration(ps, v, src, &c->renew_deadline_ms);
	case O_RETRY: ps->retry_set = true; return set_duration(ps, v, src, &c->retry_period_ms);
	case O_KILL_GRACE:
		ps->grace_set = c->kill_grace_set = true;
		return set_duration(ps, v, src, &c->kill_grace_ms);
	case O_TTL: return set_duration(ps, v, src, &ps->ttl_ms);
	case O_RESTART: {
		enum elector_restart r;
		c->restart_set = true;
		if (elector_restart_parse(v, &r) != 0)
			return fail(ps, "%s: unknown restart policy '%s' (use never, "
			            "on-failure or always)", src, v);
		c->restart = (int)r;
		break;
	}
	case O_RESTART_BACKOFF:
		c->restart_set = true;
		return set_backoff(ps, v, src);
	case O_HTTP: c->http = v; break;
	case O_RELEASE: c->release_on_exit = b; break;
	case O_LABEL_POD: c->label_pod = b; break;
	case O_K8S_EVENTS: c->k8s_events = b; break;
	case O_HELP: c->help = b; break;
	case O_LOG_FORMAT:
		if (strcmp(v, "text") == 0)
			c->log_json = 0;
		else if (strcmp(v, "json") == 0)
			c->log_json = 1;
		else
			return fail(ps, "%s: unknown log format '%s' (use text or json)", src, v);
		break;
	case O_VERBOSE: {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 0 || n > 10)
			return fail(ps, "%s: '%s' is not a log level (use 0 info, 1 debug, 2 trace)",
			            src, v);
		c->verbosity = (int)n;
		break;
	}
	case O_PLUGIN_DIR: c->plugin_dir = v; break;
	case O_LOCK_TYPE:
		if (strcmp(v, "leases") == 0 || strcmp(v, "lease") == 0)
			c->backend = "lease";
		else
			return fail(ps, "%s: lock type '%s' is not supported: elector stores "
			            "Kubernetes locks only as coordination.k8s.io Leases; use "
			            "-lock-type=leases (or --backend lease)", src, v);
		break;
	}
	return 0;
}

/* ELECTOR_<NAME> for an option name. */
static void env_name(const struct opt *o, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "ELECTOR_%s",
	                 o->id == O_VERBOSE ? "VERBOSITY" : o->name);
	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		return;
	}
	for (char *p = buf; *p; p++)
		*p = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
}

static int apply_env(struct pstate *ps)
{
	char name[64];
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &OPTS[i];
		if (o->id == O_HELP)
			continue;
		env_name(o, name, sizeof name);
		const char *v = getenv(name);
		if (v == NULL || *v == '\0')
			continue;
		int rc;
		if (o->type == OT_KV) {
			/* comma-separated KEY=VALUE list */
			char *copy = strdup(v);
			if (copy == NULL)
				return fail(ps, "%s: out of memory", name);
			rc = 0;
			char *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t && rc == 0;
			     t = strtok_r(NULL, ",", &save))
				rc = add_kv(ps, t, name);
			free(copy);
		} else {
			rc = apply(ps, o, v, name);
			if (rc != 0) {
				/* env_errors() reports it unless a flag wins */
				ps->env_bad[i] = true;
				if (ps->errlen > 0)
					ps->err[0] = '\0';
				rc = 0;
			}
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The first bad environment value that no command-line flag overrides. */
static int env_errors(struct pstate *ps)
{
	char name[64];
	for (size_t i = 0; i < N_OPTS; i++) {
		if (!ps->env_bad[i] || ps->on_cmdline[i])
			continue;
		env_name(&OPTS[i], name, sizeof name);
		const char *v = getenv(name);
		int rc = apply(ps, &OPTS[i], v ? v : "", name);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int push_pass(struct pstate *ps, char *arg)
{
	struct elector_cli *c = ps->cli;
	char **n = realloc(c->pass_argv, (size_t)(c->pass_argc + 2) * sizeof *n);
	if (n == NULL)
		return fail(ps, "out of memory");
	c->pass_argv = n;
	c->pass_argv[c->pass_argc++] = arg;
	c->pass_argv[c->pass_argc] = NULL;
	return 0;
}

static int parse_args(struct pstate *ps, enum elector_cli_mode mode, int argc,
                      char **argv)
{
	struct elector_cli *c = ps->cli;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		bool dashdash = strcmp(a, "--") == 0;
		if (mode == ELECTOR_CLI_COMMAND && !dashdash &&
		    (a[0] != '-' || a[1] == '\0')) {
			if (push_pass(ps, a) != 0)
				return 2;
			continue;
		}
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			int first = dashdash ? i + 1 : i;
			if (mode == ELECTOR_CLI_RUN) {
				c->cmd_argc = argc - first;
				c->cmd_argv = argv + first;
				return 0;
			}
			if (mode == ELECTOR_CLI_COMMAND) {
				for (int j = first; j < argc; j++)
					if (push_pass(ps, argv[j]) != 0)
						return 2;
				return 0;
			}
			return fail(ps, "unexpected argument '%s' (options start with --; "
			            "to run a command use: elector run [OPTIONS] -- CMD)", a);
		}
		const char *name = a + 1 + (a[1] == '-');
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		bool negated = false;
		const struct opt *o = find_opt(name, len);
		if (o == NULL && len > 3 && strncmp(name, "no-", 3) == 0) {
			o = find_opt(name + 3, len - 3);
			if (o != NULL && o->type != OT_BOOL)
				o = NULL;
			negated = o != NULL;
		}
		/* -v2: klog's short form */
		if (o == NULL && name == a + 1 && name[0] == 'v' && isdigit((unsigned char)name[1])) {
			o = find_opt("v", 1);
			eq = name;
		}
		/* a backend subcommand prints its own help */
		if (o != NULL && o->id == O_HELP && mode == ELECTOR_CLI_COMMAND)
			o = NULL;
		if (o == NULL) {
			if (mode == ELECTOR_CLI_COMMAND) {
				if (push_pass(ps, a) != 0)
					return 2;
				continue;
			}
			return fail(ps, "unknown option '%.*s' (see elector --help)",
			            (int)(len + (size_t)(name - a)), a);
		}
		const char *v;
		if (o->type == OT_BOOL) {
			if (negated && eq)
				return fail(ps, "%s: --no-%s takes no value", a, o->name);
			v = eq ? eq + 1 : (negated ? "false" : "true");
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			return fail(ps, "option --%s needs a value: --%s %s", o->name,
			            o->name, o->arg ? o->arg : "VALUE");
		}
		char src[80];
		snprintf(src, sizeof src, "%s%s",
		         o->name[1] == '\0' ? "-" : "--", o->name);
		ps->on_cmdline[o - OPTS] = true;
		int rc = apply(ps, o, v, src);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int valid_election(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && !((ch == '-' || ch == '.') && i > 0 && i + 1 < n))
			return 0;
	}
	return 1;
}

/* $POD_NAME (else the hostname) + "_" + 8 random hex digits. */
static int default_identity(struct pstate *ps)
{
	struct elector_cli *c = ps->cli;
	char host[200];
	const char *base = getenv("POD_NAME");
	if (base == NULL || *base == '\0') {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "elector");
		host[sizeof host - 1] = '\0';
		base = host;
	}
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
	}
	int n = snprintf(c->id_buf, sizeof c->id_buf, "%.200s_%08x", base, r);
	if (n < 0 || (size_t)n >= sizeof c->id_buf)
		return fail(ps, "cannot build an identity from '%s'; use --id", base);
	c->identity = c->id_buf;
	return 0;
}

/* A script whose "#!" line names a missing or non-executable interpreter
 * fails only at exec, with a misleading "No such file or directory": say
 * so at start. NULL when fine (or not a script). */
static const char *bad_interpreter(const char *path)
{
	static char why[PATH_MAX + 128];
	char head[PATH_MAX + 3];
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL; /* exec-only files cannot be read: let exec judge */
	ssize_t n = read(fd, head, sizeof head - 1);
	close(fd);
	if (n < 3 || head[0] != '#' || head[1] != '!')
		return NULL;
	head[n] = '\0';
	char *interp = head + 2 + strspn(head + 2, " \t");
	interp[strcspn(interp, " \t\r\n")] = '\0';
	if (interp[0] != '/')
		return NULL;
	if (stat(interp, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    access(interp, X_OK) != 0) {
		snprintf(why, sizeof why,
		         "is a script whose interpreter %.*s is missing or not "
		         "executable (fix its #! line)",
		         PATH_MAX, interp);
		return why;
	}
	return NULL;
}

/* Check one candidate path for the command: 0 when it is an executable
 * regular file, else a reason. */
static const char *not_runnable(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return errno == ENOENT || errno == ENOTDIR ? "not found" : strerror(errno);
	if (S_ISDIR(sb.st_mode))
		return "is a directory";
	if (!S_ISREG(sb.st_mode))
		return "is not a regular file";
	if (access(path, X_OK) != 0)
		return "is not executable (chmod +x it, or run it through its "
		       "interpreter: -- sh SCRIPT)";
	return bad_interpreter(path);
}

/* Resolve cmd_argv[0] as execvp would (PATH, default /usr/local/bin:
 * /usr/bin:/bin), into cmd_path, so a typo fails on every replica at
 * start and not only on the one that wins. */
static int resolve_command(struct pstate *ps)
{
	struct elector_cli *c = ps->cli;
	const char *cmd = c->cmd_argv[0];
	if (cmd[0] == '\0')
		return fail(ps, "run: the command is empty: elector run [OPTIONS] -- CMD");
	if (strchr(cmd, '/') != NULL) {
		const char *why = not_runnable(cmd);
		if (why != NULL)
			return fail(ps, "run: command '%s' %s", cmd, why);
		if (strlen(cmd) >= sizeof c->cmd_path)
			return fail(ps, "run: command path too long");
		snprintf(c->cmd_path, sizeof c->cmd_path, "%s", cmd);
		return 0;
	}
	const char *path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	const char *first_why = NULL;
	char first[sizeof c->cmd_path] = "";
	for (const char *p = path;; p++) {
		size_t n = strcspn(p, ":");
		char cand[sizeof c->cmd_path];
		int w = snprintf(cand, sizeof cand, "%.*s%s%s", (int)n, n ? p : ".",
		                 "/", cmd);
		if (w > 0 && (size_t)w < sizeof cand) {
			const char *why = not_runnable(cand);
			if (why == NULL) {
				snprintf(c->cmd_path, sizeof c->cmd_path, "%s", cand);
				return 0;
			}
			if (first_why == NULL && strcmp(why, "not found") != 0) {
				first_why = why;
				snprintf(first, sizeof first, "%s", cand);
			}
		}
		p += n;
		if (*p == '\0')
			break;
	}
	if (first_why != NULL)
		return fail(ps, "run: command '%s' found as %s, which %s", cmd, first,
		            first_why);
	return fail(ps, "run: command '%s' not found in PATH (%s): check the "
	            "spelling, install it, or give its full path", cmd, path);
}

static int has_control(const char *s)
{
	for (; *s; s++) {
		if (iscntrl((unsigned char)*s))
			return 1;
	}
	return 0;
}

static int finish(struct pstate *ps, enum elector_cli_mode mode)
{
	struct elector_cli *c = ps->cli;
	if (c->help)
		return 0;
	if (ps->ttl_ms > 0) {
		if (!ps->lease_set)
			c->lease_duration_ms = ps->ttl_ms;
		if (!ps->renew_set)
			c->renew_deadline_ms = ps->ttl_ms * 2 / 3;
		if (!ps->retry_set)
			c->retry_period_ms = ps->ttl_ms / 5;
	}
	if (c->lease_duration_ms < 1000) {
		char l[32];
		elector_duration_format(c->lease_duration_ms, l, sizeof l);
		return fail(
		    ps,
		    "--lease-duration %s is below 1s: the record stores "
		    "leaseDurationSeconds in whole seconds, so a lease must "
		    "be at least 1s",
		    l);
	}
	if (c->election == NULL && mode != ELECTOR_CLI_COMMAND)
		return fail(ps, "missing --election NAME (or ELECTOR_ELECTION): the name "
		            "of the election every participant shares");
	if (c->election != NULL && !valid_election(c->election))
		return fail(ps, "--election '%s' is invalid: use lower-case letters, digits, "
		            "'-' and '.', starting and ending with a letter or digit, "
		            "at most 63 characters", c->election);
	if (c->namespace_[0] == '\0')
		return fail(ps, "--namespace must not be empty");
	if (c->identity != NULL && c->identity[0] == '\0')
		return fail(ps, "--id must not be empty");
	if (c->identity != NULL && strlen(c->identity) >= ELECTOR_ID_MAX)
		return fail(ps, "--id is too long (at most %d bytes)", ELECTOR_ID_MAX - 1);
	if (c->identity != NULL && has_control(c->identity))
		return fail(
		    ps,
		    "--id must not contain control characters (newline, "
		    "tab, ...): it is written to the record, logs and labels");
	if (c->identity == NULL && default_identity(ps) != 0)
		return 2;
	if (c->backend == NULL)
		c->backend = (ps->kubeconfig_set || getenv("KUBERNETES_SERVICE_HOST"))
		             ? "lease" : "file";
	if (mode == ELECTOR_CLI_RUN && c->cmd_argc == 0)
		return fail(ps, "run needs a command: elector run [OPTIONS] -- CMD [ARGS...]");
	if (mode == ELECTOR_CLI_RUN && resolve_command(ps) != 0)
		return 2;
	if (c->http != NULL) {
		char h[256], p[16];
		if (elector_cli_split_hostport(c->http, h, sizeof h, p, sizeof p, ps->err,
		                               ps->errlen) != 0)
			return 2;
	}
	int64_t slack = c->lease_duration_ms - c->renew_deadline_ms;
	if (!ps->grace_set) {
		c->kill_grace_ms = slack / 2 < 5000 ? slack / 2 : 5000;
		if (c->kill_grace_ms < 0)
			c->kill_grace_ms = 0;
	} else if (mode == ELECTOR_CLI_RUN && c->kill_grace_ms >= slack) {
		char g[32], l[32], r[32];
		elector_duration_format(c->kill_grace_ms, g, sizeof g);
		elector_duration_format(c->lease_duration_ms, l, sizeof l);
		elector_duration_format(c->renew_deadline_ms, r, sizeof r);
		return fail(ps, "--kill-grace %s must be below lease-duration - renew-deadline "
		            "(%s - %s), so the command is dead before another node may take "
		            "over; lower --kill-grace or widen the gap", g, l, r);
	}
	return 0;
}

int elector_cli_parse(struct elector_cli *cli, enum elector_cli_mode mode,
                      int argc, char **argv, char *err, size_t errlen)
{
	memset(cli, 0, sizeof *cli);
	/* In a pod, the election lives in the pod's namespace unless told
	 * otherwise (the downward API sets POD_NAMESPACE). */
	const char *pod_ns = getenv("POD_NAMESPACE");
	cli->namespace_ = pod_ns && *pod_ns ? pod_ns : "default";
	cli->lease_duration_ms = ELECTOR_DEFAULT_LEASE_DURATION_MS;
	cli->renew_deadline_ms = ELECTOR_DEFAULT_RENEW_DEADLINE_MS;
	cli->retry_period_ms = ELECTOR_DEFAULT_RETRY_PERIOD_MS;
	cli->release_on_exit = true;
	cli->restart = ELECTOR_RESTART_NEVER;
	cli->restart_backoff_min_ms = 1000;
	cli->restart_backoff_max_ms = 30000;
	struct pstate ps = {.cli = cli, .err = err, .errlen = errlen};
	if (errlen > 0)
		err[0] = '\0';
	int rc = apply_env(&ps);
	if (rc == 0)
		rc = parse_args(&ps, mode, argc, argv);
	if (rc == 0)
		rc = env_errors(&ps);
	if (rc == 0)
		rc = finish(&ps, mode);
	return rc;
}

void elector_cli_free(struct elector_cli *cli)
{
	for (size_t i = 0; i < cli->n_backend_opts; i++)
		free(cli->backend_opts[i]);
	free(cli->backend_opts);
	free(cli->pass_argv);
	cli->backend_opts = NULL;
	cli->pass_argv = NULL;
	cli->n_backend_opts = 0;
	cli->pass_argc = 0;
}

void elector_cli_usage(FILE *f)
{
	fprintf(f,
	        "Usage: elector [OPTIONS]                 take part in the election\n"
	        "       elector run [OPTIONS] -- CMD ...  run CMD only while leading\n"
	        "       elector get [OPTIONS]             print the stored record as JSON\n"
	        "       elector BACKEND-VERB [ARGS...]    backend subcommand (e.g. gist-create)\n"
	        "       elector version | help\n\n"
	        "Options (one or two dashes; --opt=VALUE or --opt VALUE; each also read\n"
	        "from the environment as shown; the command line wins):\n");
	char env[64], head[96];
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &OPTS[i];
		const char *dash = o->name[1] == '\0' ? "-" : "--";
		if (o->id == O_HELP)
			snprintf(head, sizeof head, "-h, --help");
		else if (o->type == OT_BOOL)
			snprintf(head, sizeof head, "--%s[=BOOL]", o->name);
		else
			snprintf(head, sizeof head, "%s%s %s", dash, o->name, o->arg);
		fprintf(f, "  %-28s %s\n", head, o->help);
		if (o->id == O_HELP)
			continue;
		env_name(o, env, sizeof env);
		fprintf(f, "  %-28s env %s", "", env);
		if (o->def[0] != '\0')
			fprintf(f, "; default: %s", o->def);
		if (o->aliases != NULL)
			fprintf(f, "; alias: --%s", o->aliases);
		fputc('\n', f);
	}
	fprintf(f, "\nAlso accepted: -election, -id, -http (:PORT = all addresses), "
	        "-kubeconfig, -namespace,\n-lock-type, -ttl (k8s-elector); --node-id, "
	        "--leaselock.name, --leaselock.namespace (client-go demos).\n"
	        "Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT stop (the command too), "
	        "release, exit 0;\nSIGUSR1 hands the leadership over and stays a "
	        "follower; others are ignored.\n"
	        "Run mode: a keeper process (elector-keeper) kills the command when "
	        "the leadership\ndeadline passes unrenewed, when elector dies, or on "
	        "loss of leadership. The command\nis checked at start (PATH, execute "
	        "bit). In a Kubernetes Deployment use --restart always\nfor a command "
	        "meant to run on the leader forever.\n"
	        "Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or "
	        "configuration;\nrun mode with --restart never: the command's status "
	        "(128+signal if killed).\n");
}

int elector_cli_split_hostport(const char *s, char *host, size_t hostcap,
                               char *port, size_t portcap, char *err,
                               size_t errlen)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL) {
		snprintf(err, errlen, "--http '%s': expected ADDR:PORT or :PORT "
		         "(e.g. 127.0.0.1:4040)", s);
		return -1;
	}
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	const char *p = colon + 1;
	char *end;
	errno = 0;
	long pn = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || pn < 0 || pn > 65535) {
		snprintf(err, errlen, "--http '%s': port '%s' is not a number 0-65535", s, p);
		return -1;
	}
	if (hl >= hostcap || strlen(p) >= portcap) {
		snprintf(err, errlen, "--http '%s': address too long", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portcap, "%s", p);
	return 0;
}
