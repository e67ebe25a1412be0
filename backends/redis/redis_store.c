/*
 * get/create/update as Lua scripts, so each is atomic in Redis.
 *
 * Keys (one hash tag, so one Cluster slot):
 *   {elector:NS:NAME}:record   the client-go JSON record (a string)
 *   {elector:NS:NAME}:version  an INCR counter, bumped by every write
 * Channel {elector:NS:NAME}:events gets "VERSION\nRECORD-JSON" per write.
 *
 * The version handed to the core is "COUNTER:DIGEST", DIGEST being the
 * first 16 hex digits of the SHA-1 of the stored record bytes. The update
 * script recomputes both, so a record overwritten behind our back (e.g. by
 * redis-cli SET, which does not bump the counter) is a CONFLICT, never
 * silently replaced by a renew. A missing counter key counts as 0.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

/* KEYS: record, version. ARGV: max record length.
 * {0} none; {-1, reason} foreign data; {1, record, version}. */
static const char get_lua[] =
	"local t = redis.call('TYPE', KEYS[1])['ok']\n"
	"if t == 'none' then return {0} end\n"
	"if t ~= 'string' then return {-1, 'key ' .. KEYS[1] .. ' holds a ' "
	".. t .. ', not a string'} end\n"
	"local n = redis.call('STRLEN', KEYS[1])\n"
	"if n > tonumber(ARGV[1]) then return {-1, 'key ' .. KEYS[1] .. "
	"' holds ' .. n .. ' bytes (limit ' .. ARGV[1] .. ')'} end\n"
	"local vt = redis.call('TYPE', KEYS[2])['ok']\n"
	"local v = '0'\n"
	"if vt == 'string' then v = redis.call('GET', KEYS[2]) "
	"elseif vt ~= 'none' then return {-1, 'key ' .. KEYS[2] .. "
	"' holds a ' .. vt .. ', not a counter'} end\n"
	"local r = redis.call('GET', KEYS[1])\n"
	"return {1, r, v .. ':' .. string.sub(redis.sha1hex(r), 1, 16)}\n";

/* KEYS: record, version. ARGV: record, channel.
 * {0} exists; {1, version}. */
static const char create_lua[] =
	"if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end\n"
	"local v = redis.call('INCR', KEYS[2]) .. ':' .. "
	"string.sub(redis.sha1hex(ARGV[1]), 1, 16)\n"
	"redis.call('SET', KEYS[1], ARGV[1])\n"
	"redis.call('PUBLISH', ARGV[2], v .. '\\n' .. ARGV[1])\n"
	"return {1, v}\n";

/* KEYS: record, version. ARGV: record, expected version, channel.
 * {0} not found; {2, current} conflict; {1, version}. */
static const char update_lua[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if not cur then return {0} end\n"
	"local v = (redis.call('GET', KEYS[2]) or '0') .. ':' .. "
	"string.sub(redis.sha1hex(cur), 1, 16)\n"
	"if v ~= ARGV[2] then return {2, v} end\n"
	"local nv = redis.call('INCR', KEYS[2]) .. ':' .. "
	"string.sub(redis.sha1hex(ARGV[1]), 1, 16)\n"
	"redis.call('SET', KEYS[1], ARGV[1])\n"
	"redis.call('PUBLISH', ARGV[3], nv .. '\\n' .. ARGV[1])\n"
	"return {1, nv}\n";

struct script {
	const char *name;
	const char *body;
	char sha[41];
};

static struct script scripts[] = {
	{"get", get_lua, ""},
	{"create", create_lua, ""},
	{"update", update_lua, ""},
};

enum { S_GET = 0, S_CREATE = 1, S_UPDATE = 2 };

static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void scripts_digest(void)
{
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++)
		elector_redis_sha1_hex(scripts[i].body, strlen(scripts[i].body),
		                       scripts[i].sha);
}

void elector_redis_scripts_init(void)
{
	/* Several instances (libelector users) may init concurrently. */
	pthread_once(&scripts_once, scripts_digest);
}

static const char *script_sha(const struct script *s)
{
	return s->sha;
}

/* An idle command connection never has anything to read: readable means
 * EOF, an error or unexpected data, so it cannot be trusted. */
static int conn_stale(const redisContext *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
	return poll(&p, 1, 0) != 0;
}

/*
 * Run script s with 2 keys and nargs args: EVALSHA, then EVAL on NOSCRIPT.
 * Connects first when needed. On OK *out is an array or status reply owned
 * by the caller. Any failure drops the connection (it may be unusable).
 */
static int run_script(struct elector_redis *r, int which, int nargs,
                      const char **args, const size_t *arglens,
                      redisReply **out, char *err, size_t errlen)
{
	struct script *s = &scripts[which];
	int64_t deadline = elector_redis_now_us() + r->request_timeout_ms * 1000;
	const char *argv[8];
	size_t lens[8];
	redisReply *rep = NULL;
	int rc;
	*out = NULL;
	if (r->t.kind == ELECTOR_REDIS_SENTINEL) {
		/* Confirm the master before every op: during a failover two
		 * nodes may both say "master" for seconds (the old one until
		 * Sentinel reconfigures it), and a client that kept writing to
		 * the old one could elect a second leader there. */
		rc = elector_redis_sentinel_locate(r, deadline, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
	}
	if (r->cmd && conn_stale(r->cmd)) {
		/* Closed by the server while idle (restart, idle timeout):
		 * reconnect rather than fail one request for nothing. */
		redisFree(r->cmd);
		r->cmd = NULL;
	}
	if (!r->cmd) {
		rc = elector_redis_open(r, 1, deadline, &r->cmd, err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		if (!r->connected_logged) {
			char where[ELECTOR_REDIS_HOST_MAX + 64];
			r->host->log(ELECTOR_LOG_INFO, "redis", "connected to %s",
			             elector_redis_where(r, where, sizeof where));
			r->connected_logged = 1;
		}
	}
	argv[0] = "EVALSHA";
	lens[0] = 7;
	argv[1] = script_sha(s);
	lens[1] = 40;
	argv[2] = "2";
	lens[2] = 1;
	argv[3] = r->key_record;
	lens[3] = strlen(r->key_record);
	argv[4] = r->key_version;
	lens[4] = strlen(r->key_version);
	for (int i = 0; i < nargs; i++) {
		argv[5 + i] = args[i];
		lens[5 + i] = arglens[i];
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = elector_redis_command(r, r->cmd, deadline, 5 + nargs, argv,
		                           lens, &rep, err, errlen);
		if (rc != ELECTOR_OK)
			goto drop;
		if (rep->type != REDIS_REPLY_ERROR)
			break;
		if (attempt == 0 && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			argv[0] = "EVAL";
			lens[0] = 4;
			argv[1] = s->body;
			lens[1] = strlen(s->body);
			continue;
		}
		char what[32];
		snprintf(what, sizeof what, "%s script", s->name);
		rc = elector_redis_reply_error(r, what, rep, err, errlen);
		freeReplyObject(rep);
		rep = NULL;
		goto drop;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		char where[ELECTOR_REDIS_HOST_MAX + 64];
		snprintf(err, errlen, "redis %s: %s script: unexpected reply "
		         "type %d", elector_redis_where(r, where, sizeof where),
		         s->name, rep->type);
		freeReplyObject(rep);
		rc = ELECTOR_ERROR;
		goto drop;
	}
	*out = rep;
	return ELECTOR_OK;
drop:
	redisFree(r->cmd);
	r->cmd = NULL;
	r->connected_logged = 0;
	if (rc == ELECTOR_TRANSIENT)
		r->master_known = 0; /* Sentinel: ask where the master is */
	return rc;
}

/* Copy a version string reply into *ver; ERROR when it does not fit. */
static int copy_version(struct elector_redis *r, const redisReply *e,
                        struct elector_version *ver, char *err, size_t errlen)
{
	if (e->type != REDIS_REPLY_STRING || e->len == 0 ||
	    e->len >= sizeof ver->v) {
		snprintf(err, errlen, "redis: key %s: the version counter is "
		         "not a short string", r->key_version);
		return ELECTOR_CORRUPT;
	}
	memcpy(ver->v, e->str, e->len);
	ver->v[e->len] = '\0';
	/* The counter part must be a decimal number (redis-cli may have
	 * written anything there). */
	size_t i = 0;
	while (ver->v[i] >= '0' && ver->v[i] <= '9')
		i++;
	if (i == 0 || ver->v[i] != ':') {
		snprintf(err, errlen, "redis: key %s holds '%.*s', not a "
		         "counter (fix or DEL it with redis-cli)", r->key_version,
		         (int)(e->len < 40 ? e->len : 40), e->str);
		return ELECTOR_CORRUPT;
	}
	return ELECTOR_OK;
}

int elector_redis_get(void *state, struct elector_record *rec,
                      struct elector_version *ver, char *err, size_t errlen)
{
	struct elector_redis *r = state;
	char max[16];
	snprintf(max, sizeof max, "%d", ELECTOR_REDIS_RECORD_MAX);
	const char *args[] = {max};
	size_t lens[] = {strlen(max)};
	redisReply *rep;
	int rc = run_script(r, S_GET, 1, args, lens, &rep, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	long long tag = rep->element[0]->integer;
	if (tag == 0) {
		snprintf(err, errlen, "redis: no record at key %s",
		         r->key_record);
		rc = ELECTOR_NOT_FOUND;
	} else if (tag == -1 && rep->elements == 2) {
		snprintf(err, errlen, "redis: %s (fix or DEL it with "
		         "redis-cli)", rep->element[1]->str ? rep->element[1]->str
		                                             : "foreign data");
		rc = ELECTOR_CORRUPT;
	} else if (tag == 1 && rep->elements == 3 &&
	           rep->element[1]->type == REDIS_REPLY_STRING) {
		rc = copy_version(r, rep->element[2], ver, err, errlen);
		if (rc == ELECTOR_OK) {
			char why[256];
			rc = r->host->record_decode(rep->element[1]->str,
			                            rep->element[1]->len, rec, why,
			                            sizeof why);
			if (rc != ELECTOR_OK) {
				snprintf(err, errlen, "redis: key %s does not "
				         "hold a valid election record: %s (fix "
				         "or DEL it with redis-cli)",
				         r->key_record, why);
				rc = ELECTOR_CORRUPT;
			}
		}
	} else {
		snprintf(err, errlen, "redis: get script: unexpected reply");
		rc = ELECTOR_ERROR;
	}
	freeReplyObject(rep);
	return rc;
}

static int encode(struct elector_redis *r, const struct elector_record *rec,
                  char *buf, size_t cap, size_t *len, char *err,
                  size_t errlen)
{
	if (r->host->record_encode(rec, buf, cap, len) != ELECTOR_OK) {
		snprintf(err, errlen, "redis: cannot encode the record (invalid "
		         "or longer than %zu bytes)", cap);
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

/* After our own write: a leader never watches, so read away the echo of
 * its publish before it piles up. */
static void after_write(struct elector_redis *r)
{
	if (r->sub)
		elector_redis_sub_drain(r);
}

int elector_redis_create(void *state, const struct elector_record *rec,
                         struct elector_version *new_ver, char *err,
                         size_t errlen)
{
	struct elector_redis *r = state;
	char json[ELECTOR_REDIS_RECORD_MAX];
	size_t jlen;
	int rc = encode(r, rec, json, sizeof json, &jlen, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	const char *args[] = {json, r->channel};
	size_t lens[] = {jlen, strlen(r->channel)};
	redisReply *rep;
	rc = run_script(r, S_CREATE, 2, args, lens, &rep, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	long long tag = rep->element[0]->integer;
	if (tag == 0) {
		snprintf(err, errlen, "redis: key %s already exists",
		         r->key_record);
		rc = ELECTOR_EXISTS;
	} else if (tag == 1 && rep->elements == 2) {
		rc = copy_version(r, rep->element[1], new_ver, err, errlen);
	} else {
		snprintf(err, errlen, "redis: create script: unexpected reply");
		rc = ELECTOR_ERROR;
	}
	freeReplyObject(rep);
	if (rc == ELECTOR_OK)
		after_write(r);
	return rc;
}

int elector_redis_update(void *state, const struct elector_record *rec,
                         const struct elector_version *expected,
                         struct elector_version *new_ver, char *err,
                         size_t errlen)
{
	struct elector_redis *r = state;
	char json[ELECTOR_REDIS_RECORD_MAX];
	size_t jlen;
	int rc = encode(r, rec, json, sizeof json, &jlen, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	const char *args[] = {json, expected->v, r->channel};
	size_t lens[] = {jlen, strlen(expected->v), strlen(r->channel)};
	redisReply *rep;
	rc = run_script(r, S_UPDATE, 3, args, lens, &rep, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	long long tag = rep->element[0]->integer;
	if (tag == 0) {
		snprintf(err, errlen, "redis: no record at key %s",
		         r->key_record);
		rc = ELECTOR_NOT_FOUND;
	} else if (tag == 2 && rep->elements == 2 &&
	           rep->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(err, errlen, "redis: key %s: version is %.40s, not "
		         "%.40s", r->key_record, rep->element[1]->str,
		         expected->v);
		rc = ELECTOR_CONFLICT;
	} else if (tag == 1 && rep->elements == 2) {
		rc = copy_version(r, rep->element[1], new_ver, err, errlen);
	} else {
		snprintf(err, errlen, "redis: update script: unexpected reply");
		rc = ELECTOR_ERROR;
	}
	freeReplyObject(rep);
	if (rc == ELECTOR_OK)
		after_write(r);
	return rc;
}
