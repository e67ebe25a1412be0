/* libFuzzer target: the redis backend's URL and duration parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const struct elector_redis_addr *a)
{
	if (memchr(a->host, '\0', sizeof a->host) == NULL || a->host[0] == '\0' ||
	    a->port < 1 || a->port > 65535)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct elector_redis_target t;
	char err[256];
	err[0] = '\0';
	int rc = elector_redis_url_parse(s, &t, err, sizeof err);
	if (rc == ELECTOR_OK) {
		if (t.db < 0)
			abort();
		if (t.kind == ELECTOR_REDIS_TCP)
			check_addr(&t.addr);
		else if (t.kind == ELECTOR_REDIS_UNIX && t.path[0] != '/')
			abort();
		else if (t.kind == ELECTOR_REDIS_SENTINEL) {
			if (t.n_sentinels < 1 ||
			    t.n_sentinels > ELECTOR_REDIS_MAX_SENTINELS ||
			    t.master[0] == '\0')
				abort();
			for (int i = 0; i < t.n_sentinels; i++)
				check_addr(&t.sentinels[i]);
		}
	} else if (rc != ELECTOR_INVALID || err[0] == '\0' ||
	           memchr(err, '\0', sizeof err) == NULL) {
		abort();
	}
	int64_t ms = -1;
	err[0] = '\0';
	rc = elector_redis_duration_parse(s, &ms, err, sizeof err);
	if ((rc == ELECTOR_OK && ms < 0) ||
	    (rc != ELECTOR_OK && (rc != ELECTOR_INVALID || err[0] == '\0')))
		abort();
	free(s);
	return 0;
}
