#include "mem_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int64_t sim_mono(void *ctx)
{
	const struct mem_handle *h = ctx;
	return h->store->now_ms;
}

static int64_t sim_wall(void *ctx)
{
	const struct mem_handle *h = ctx;
	return h->store->wall_base_us + h->store->now_ms * 1000 +
	       h->wall_offset_us;
}

static uint32_t sim_random(void *ctx)
{
	struct mem_handle *h = ctx;
	h->store->rng = h->store->rng * 1103515245u + 12345u;
	return h->store->rng >> 8;
}

void mem_store_init(struct mem_store *s, int watch_capable)
{
	memset(s, 0, sizeof *s);
	s->now_ms = 1000000;
	s->wall_base_us = INT64_C(1795000000000000); /* late 2026 */
	s->watch_capable = watch_capable;
	s->rng = 42;
}

void mem_handle_init(struct mem_handle *h, struct mem_store *s,
                     int64_t wall_offset_us)
{
	memset(h, 0, sizeof *h);
	h->store = s;
	h->wall_offset_us = wall_offset_us;
	h->clock.mono_ms = sim_mono;
	h->clock.wall_us = sim_wall;
	h->clock.random = sim_random;
	h->clock.ctx = h;
}

void mem_store_put(struct mem_store *s, const struct elector_record *rec)
{
	if (!s->exists ||
	    s->rec.leader_transitions != rec->leader_transitions ||
	    strcmp(s->rec.holder_identity, rec->holder_identity) != 0)
		s->term_since = s->now_ms;
	s->prev_put_at = s->put_at;
	s->put_at = s->now_ms;
	s->rec = *rec;
	s->exists = 1;
	s->version = ++s->vseq;
}

void mem_store_forget(struct mem_store *s)
{
	memset(&s->rec, 0, sizeof s->rec);
	s->exists = 0;
	s->version = ++s->vseq;
}

void mem_store_version(const struct mem_store *s, struct elector_version *v)
{
	snprintf(v->v, sizeof v->v, "%" PRIu64, s->version);
}

/* Apply the fault for op, if any: advance time, and say what to return. */
static int take_fault(struct mem_store *s, enum mem_op op, int *apply)
{
	struct mem_fault *f = &s->fault[op];
	s->calls[op]++;
	*apply = 1;
	if (f->remaining == 0)
		return ELECTOR_OK;
	if (f->remaining > 0)
		f->remaining--;
	s->now_ms += f->delay_ms;
	if (f->status != ELECTOR_OK)
		*apply = f->apply_anyway;
	return f->status;
}

static int mem_init(const struct elector_backend_host *host,
                    const struct elector_backend_params *params, void **state,
                    char *err, size_t errlen)
{
	snprintf(err, errlen, "mem backend is set up by the test");
	return ELECTOR_INVALID;
}

static void mem_destroy(void *state)
{
}

static int mem_get(void *state, struct elector_record *rec,
                   struct elector_version *ver, char *err, size_t errlen)
{
	struct mem_handle *h = state;
	int apply, rc = take_fault(h->store, MEM_GET, &apply);
	if (rc != ELECTOR_OK) {
		snprintf(err, errlen, "injected %s",
		         rc == ELECTOR_CORRUPT ? "garbage" : "failure");
		return rc;
	}
	if (!h->store->exists)
		return ELECTOR_NOT_FOUND;
	*rec = h->store->rec;
	mem_store_version(h->store, ver);
	if (rec->leader_transitions > h->seen_max)
		h->seen_max = rec->leader_transitions;
	return ELECTOR_OK;
}

static int mem_create(void *state, const struct elector_record *rec,
                      struct elector_version *new_ver, char *err, size_t errlen)
{
	struct mem_handle *h = state;
	int apply, rc = take_fault(h->store, MEM_CREATE, &apply);
	if (apply && !h->store->exists) {
		mem_store_put(h->store, rec);
		mem_store_version(h->store, new_ver);
	} else if (apply && rc == ELECTOR_OK) {
		return ELECTOR_EXISTS;
	}
	if (rc != ELECTOR_OK)
		snprintf(err, errlen, "injected failure");
	return rc;
}

static int mem_update(void *state, const struct elector_record *rec,
                      const struct elector_version *expected,
                      struct elector_version *new_ver, char *err, size_t errlen)
{
	struct mem_handle *h = state;
	struct elector_version cur;
	int apply, rc = take_fault(h->store, MEM_UPDATE, &apply);
	if (apply) {
		if (!h->store->exists)
			return rc == ELECTOR_OK ? ELECTOR_NOT_FOUND : rc;
		mem_store_version(h->store, &cur);
		if (strcmp(cur.v, expected->v) != 0)
			return rc == ELECTOR_OK ? ELECTOR_CONFLICT : rc;
		mem_store_put(h->store, rec);
		mem_store_version(h->store, new_ver);
	}
	if (rc != ELECTOR_OK)
		snprintf(err, errlen, "injected failure");
	return rc;
}

static int mem_watch(void *state, const struct elector_version *known,
                     int64_t timeout_ms, struct elector_record *rec,
                     struct elector_version *ver, int *got, char *err,
                     size_t errlen)
{
	*got = 0;
	return ELECTOR_TIMEOUT;
}

static void mem_wake(void *state)
{
}

static int mem_describe(void *state, char *buf, size_t len)
{
	snprintf(buf, len, "mem:test");
	return ELECTOR_OK;
}

const struct elector_backend_ops mem_backend_ops = {
    .abi_version = ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct elector_backend_ops),
    .name = "mem",
    .capabilities = 0,
    .init = mem_init,
    .destroy = mem_destroy,
    .get = mem_get,
    .create = mem_create,
    .update = mem_update,
    .describe = mem_describe,
};

const struct elector_backend_ops mem_backend_ops_watch = {
    .abi_version = ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct elector_backend_ops),
    .name = "mem",
    .capabilities = ELECTOR_CAP_WATCH,
    .init = mem_init,
    .destroy = mem_destroy,
    .get = mem_get,
    .create = mem_create,
    .update = mem_update,
    .watch = mem_watch,
    .wake = mem_wake,
    .describe = mem_describe,
};
