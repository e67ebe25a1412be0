/*
 * Backend plugin loading (dlopen) and a small "store" handle: one
 * initialised backend instance, for the engine, `elector get` and the
 * conformance tests.
 *
 * A plugin NAME is loaded from DIR/NAME.so with RTLD_NOW|RTLD_LOCAL. It is
 * refused, with a message saying why, when: NAME is not [a-z0-9_-]+, DIR or
 * the file is world-writable, the file is missing (the message lists the
 * backends present in DIR), the entry symbol is missing, the entry returns
 * NULL, abi_version is not ELECTOR_BACKEND_ABI_VERSION, struct_size is smaller
 * than the version-1 table, a required op is NULL, or WATCH is declared
 * without watch/wake.
 */
#ifndef ELECTOR_CORE_LOADER_H
#define ELECTOR_CORE_LOADER_H

#include <stddef.h>

#include "elector/backend.h"

struct elector_plugin;

/* The plugin directory to use when none is configured: $ELECTOR_PLUGIN_DIR,
 * else ../lib/elector relative to the running executable. Writes into
 * buf[cap]; returns buf. */
const char *elector_plugin_default_dir(char *buf, size_t cap);

/* Load NAME from dir (NULL: the default). On success *out is owned by the
 * caller (elector_plugin_unload). Returns ELECTOR_OK or ELECTOR_INVALID. */
int elector_plugin_load(const char *dir, const char *name,
                        struct elector_plugin **out, char *err, size_t errlen);
const struct elector_backend_ops *elector_plugin_ops(const struct elector_plugin *p);
void elector_plugin_unload(struct elector_plugin *p);
/*
 * dlopen dir/relpath (RTLD_NOW|RTLD_LOCAL) after the same permission checks
 * as plugins (dir NULL: the default plugin directory). Used for optional
 * daemon modules such as ext/podlabel.so, so that their libraries are only
 * mapped when the feature is on. *handle is for dlsym/dlclose. Returns
 * ELECTOR_OK or ELECTOR_INVALID with the reason in err.
 */
int elector_module_open(const char *dir, const char *relpath, void **handle,
                        char *err, size_t errlen);

/* Comma-separated names of the *.so plugins in dir, sorted ("" if none). */
void elector_plugin_list(const char *dir, char *buf, size_t cap);

/* One initialised backend. */
struct elector_store {
	struct elector_plugin *plugin;
	const struct elector_backend_ops *ops;
	void *state;
	struct elector_backend_params params; /* points into kv below */
	struct elector_kv *kv;                /* owned */
	char *kv_storage;                     /* owned */
	char *election, *namespace_, *identity; /* owned copies */
};

/*
 * Load backend `name` from dir and init it. opts are "key=value" strings
 * (a missing '=' is ELECTOR_INVALID). Timings in ms; request_timeout_ms 0
 * means min(retry_period, renew_deadline/2). flags: ELECTOR_PARAMS_*. On success *out is owned by the
 * caller (elector_store_close).
 */
int elector_store_open(const char *dir, const char *name, const char *election,
                       const char *namespace_, const char *identity,
                       const char *const *opts, size_t n_opts,
                       long long lease_duration_ms, long long renew_deadline_ms,
                       long long retry_period_ms, long long request_timeout_ms,
                       unsigned flags, struct elector_store **out, char *err,
                       size_t errlen);
void elector_store_close(struct elector_store *s);

#endif
