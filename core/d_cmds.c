/* `elector get` and backend subcommands (see d_cmds.h). */
#include "d_cmds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elector/elector.h"
#include "host.h"
#include "loader.h"
#include "record.h"

int elector_cmd_get(const struct elector_cli *cli)
{
	char err[512];
	struct elector_store *s = NULL;
	int rc = elector_store_open(cli->plugin_dir, cli->backend, cli->election,
	                            cli->namespace_, cli->identity,
	                            (const char *const *)cli->backend_opts,
	                            cli->n_backend_opts, cli->lease_duration_ms,
	                            cli->renew_deadline_ms, cli->retry_period_ms, 0,
	                            ELECTOR_PARAMS_READ_ONLY,
	                            &s, err, sizeof err);
	if (rc != ELECTOR_OK) {
		fprintf(stderr, "elector get: %s\n", err);
		return rc == ELECTOR_INVALID ? 2 : 1;
	}
	struct elector_record rec;
	struct elector_version ver;
	memset(&rec, 0, sizeof rec);
	memset(&ver, 0, sizeof ver);
	err[0] = '\0';
	rc = s->ops->get(s->state, &rec, &ver, err, sizeof err);
	int code = 1;
	if (rc == ELECTOR_NOT_FOUND) {
		fprintf(stderr, "elector get: no record stored for election %s/%s in "
		        "backend %s (nobody has taken part yet)\n", cli->namespace_,
		        cli->election, cli->backend);
	} else if (rc != ELECTOR_OK) {
		fprintf(stderr, "elector get: %s/%s: %s: %s\n", cli->namespace_,
		        cli->election, elector_strerror(rc), err);
	} else {
		char buf[ELECTOR_RECORD_JSON_MAX];
		size_t len = 0;
		json_t *jr = NULL, *out = NULL;
		char *text = NULL;
		if (elector_record_encode(&rec, buf, sizeof buf, &len) == ELECTOR_OK)
			jr = json_loadb(buf, len, 0, NULL);
		if (jr != NULL)
			out = json_pack("{s:o,s:s}", "record", jr, "version", ver.v);
		if (out != NULL)
			text = json_dumps(out, JSON_COMPACT);
		if (text != NULL) {
			printf("%s\n", text);
			code = fflush(stdout) == 0 ? 0 : 1;
		} else {
			fprintf(stderr, "elector get: cannot encode the record as JSON\n");
		}
		free(text);
		json_decref(out);
	}
	elector_store_close(s);
	return code;
}

int elector_cmd_backend(const char *name, const char *verb,
                        const struct elector_cli *cli)
{
	char err[512];
	struct elector_plugin *p = NULL;
	if (elector_plugin_load(cli->plugin_dir, name, &p, err, sizeof err) != ELECTOR_OK) {
		fprintf(stderr, "elector %s-%s: %s\n", name, verb, err);
		return 2;
	}
	const struct elector_backend_ops *ops = elector_plugin_ops(p);
	int code = 2;
	struct elector_kv *kv = NULL;
	char **argv = NULL;
	char **keys = NULL;
	if (ops->command == NULL) {
		fprintf(stderr, "elector %s-%s: backend %s has no subcommands\n", name,
		        verb, name);
		goto out;
	}
	kv = calloc(cli->n_backend_opts + 1, sizeof *kv);
	argv = calloc((size_t)cli->pass_argc + 2, sizeof *argv);
	keys = calloc(cli->n_backend_opts + 1, sizeof *keys);
	if (kv == NULL || argv == NULL || keys == NULL) {
		fprintf(stderr, "elector %s-%s: out of memory\n", name, verb);
		code = 1;
		goto out;
	}
	/* "key=value" strings are split into copies we own. */
	for (size_t i = 0; i < cli->n_backend_opts; i++) {
		keys[i] = strdup(cli->backend_opts[i]);
		if (keys[i] == NULL) {
			fprintf(stderr, "elector %s-%s: out of memory\n", name, verb);
			code = 1;
			goto out;
		}
		char *eq = strchr(keys[i], '=');
		if (eq != NULL)
			*eq = '\0';
		kv[i].key = keys[i];
		kv[i].value = eq ? eq + 1 : "";
	}
	argv[0] = (char *)verb;
	for (int i = 0; i < cli->pass_argc; i++)
		argv[i + 1] = cli->pass_argv[i];
	struct elector_backend_params params = {
		.struct_size = sizeof params,
		.election = cli->election ? cli->election : "",
		.namespace_ = cli->namespace_,
		.identity = cli->identity,
		.lease_duration_ms = cli->lease_duration_ms,
		.renew_deadline_ms = cli->renew_deadline_ms,
		.retry_period_ms = cli->retry_period_ms,
		.request_timeout_ms = cli->retry_period_ms < cli->renew_deadline_ms / 2
		                      ? cli->retry_period_ms : cli->renew_deadline_ms / 2,
		.options = kv,
		.n_options = cli->n_backend_opts,
	};
	err[0] = '\0';
	int rc = ops->command(elector_host(), &params, cli->pass_argc + 1, argv, err,
	                      sizeof err);
	fflush(stdout);
	if (rc != ELECTOR_OK)
		fprintf(stderr, "elector %s-%s: %s\n", name, verb,
		        err[0] ? err : elector_strerror(rc));
	code = rc == ELECTOR_OK ? 0 : rc == ELECTOR_INVALID ? 2 : 1;
out:
	for (size_t i = 0; keys != NULL && i < cli->n_backend_opts; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	free(kv);
	elector_plugin_unload(p);
	return code;
}
