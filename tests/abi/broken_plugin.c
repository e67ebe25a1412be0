/*
 * One plugin source, compiled once per VARIANT into $(BUILD)/tests/abi/:
 * a good plugin and each way a plugin can be broken. The loader must refuse
 * every broken one with a clear message and without crashing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "elector/backend.h"

#define V_GOOD 0
#define V_NOSYM 1
#define V_NULLENTRY 2
#define V_BADABI 3
#define V_SMALL 4
#define V_NULLOP 5
#define V_WATCHNOWAKE 6
#define V_HANG 7 /* loads fine; get() ignores the request timeout */

#ifndef VARIANT
#error "define VARIANT"
#endif

static int p_init(const struct elector_backend_host *host,
                  const struct elector_backend_params *params, void **state,
                  char *err, size_t errlen)
{
	static const struct elector_backend_option known[] = {
	    {"color", "a test option"}, {NULL, NULL}};
	*state = NULL;
	return host->options_check(params, "good", known, err, errlen);
}

static void p_destroy(void *state)
{
}

static int p_get(void *state, struct elector_record *rec,
                 struct elector_version *ver, char *err, size_t errlen)
{
	if (VARIANT == V_HANG) {
		/* A store call stuck far past any timeout: the engine is
		 * wedged and /healthz must say so. */
		struct timespec ts = {8, 0};
		nanosleep(&ts, NULL);
		snprintf(err, errlen, "hung");
		return ELECTOR_TRANSIENT;
	}
	return ELECTOR_NOT_FOUND;
}

static int p_create(void *state, const struct elector_record *rec,
                    struct elector_version *v, char *err, size_t errlen)
{
	snprintf(v->v, sizeof v->v, "1");
	return ELECTOR_OK;
}

static int p_update(void *state, const struct elector_record *rec,
                    const struct elector_version *expected,
                    struct elector_version *v, char *err, size_t errlen)
{
	return ELECTOR_CONFLICT;
}

static int p_watch(void *state, const struct elector_version *known,
                   int64_t timeout_ms, struct elector_record *rec,
                   struct elector_version *ver, int *got, char *err,
                   size_t errlen)
{
	return ELECTOR_TIMEOUT;
}

static int p_describe(void *state, char *buf, size_t len)
{
	snprintf(buf, len, "test:%d", VARIANT);
	return ELECTOR_OK;
}

__attribute__((unused)) static const struct elector_backend_ops ops = {
    .abi_version = VARIANT == V_BADABI ? 99 : ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = VARIANT == V_SMALL ? 16 : sizeof(struct elector_backend_ops),
    .name = PLUGIN_NAME,
    .capabilities = VARIANT == V_WATCHNOWAKE ? ELECTOR_CAP_WATCH : 0,
    .init = p_init,
    .destroy = p_destroy,
    .get = VARIANT == V_NULLOP ? NULL : p_get,
    .create = p_create,
    .update = p_update,
    .watch = p_watch,
    .describe = p_describe,
};

#if VARIANT != V_NOSYM
__attribute__((visibility("default"))) const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version);

const struct elector_backend_ops *
elector_backend_entry(uint32_t host_abi_version)
{
	if (VARIANT == V_NULLENTRY)
		return NULL;
	return &ops;
}
#else
__attribute__((visibility("default"))) int elector_wrong_entry(void);
int elector_wrong_entry(void)
{
	return 0;
}
#endif
