/*
 * Daemon subcommands that do not take part in the election:
 * `elector get` and backend subcommands (`elector NAME-VERB ...`).
 * Both return the process exit code (0 ok, 1 runtime failure, 2 usage)
 * and print their own error messages on stderr.
 */
#ifndef ELECTOR_CORE_D_CMDS_H
#define ELECTOR_CORE_D_CMDS_H

#include "cli.h"

/* Print {"record":{...},"version":"..."} for the configured election. */
int elector_cmd_get(const struct elector_cli *cli);

/* Run backend `name`'s command op with argv[0] = verb and the
 * pass-through arguments of cli. */
int elector_cmd_backend(const char *name, const char *verb,
                        const struct elector_cli *cli);

#endif
