/* The services lent to plugins: logging, the record codec, time formats,
 * option checking and gauges, all forwarding to the core's own functions. */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "record.h"
#include "timeutil.h"

__attribute__((format(printf, 3, 4))) static void
host_log(int level, const char *component, const char *fmt, ...)
{
	va_list ap;
	if (!elector_log_enabled(level))
		return;
	char where[80];
	snprintf(where, sizeof where, "%s.so", component ? component : "plugin");
	va_start(ap, fmt);
	elector_log_vwrite(level, where, 0, NULL, fmt, ap);
	va_end(ap);
}

static const char *host_option(const struct elector_backend_params *p,
                               const char *key)
{
	size_t i;
	const char *found = NULL;
	if (!p || !key)
		return NULL;
	/* The last occurrence wins, as with repeated flags. */
	for (i = 0; i < p->n_options; i++) {
		if (strcmp(p->options[i].key, key) == 0)
			found = p->options[i].value;
	}
	return found;
}

static void list_known(const struct elector_backend_option *known, char *buf,
                       size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (; known && known->key; known++) {
		int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "",
		                 known->key);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		snprintf(buf, cap, "none");
}

static int host_options_check(const struct elector_backend_params *p,
                              const char *backend_name,
                              const struct elector_backend_option *known,
                              char *err, size_t errlen)
{
	size_t i, j;
	char names[512];

	for (i = 0; p && i < p->n_options; i++) {
		const struct elector_backend_option *k = known;
		int ok = 0;
		for (; k && k->key; k++) {
			if (strcmp(k->key, p->options[i].key) == 0) {
				ok = 1;
				break;
			}
		}
		if (!ok) {
			list_known(known, names, sizeof names);
			snprintf(
			    err, errlen,
			    "unknown option '%s' for backend %s (known: %s)",
			    p->options[i].key, backend_name, names);
			return ELECTOR_INVALID;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(p->options[j].key, p->options[i].key) == 0) {
				snprintf(
				    err, errlen,
				    "option '%s' for backend %s given twice",
				    p->options[i].key, backend_name);
				return ELECTOR_INVALID;
			}
		}
	}
	return ELECTOR_OK;
}

static int host_time_format(int64_t unix_us, char *buf, size_t cap)
{
	return elector_time_format(unix_us, buf, cap);
}

static int host_time_parse(const char *s, int64_t *unix_us)
{
	return elector_time_parse(s, unix_us);
}

static int host_record_encode(const struct elector_record *rec, char *buf,
                              size_t cap, size_t *len)
{
	return elector_record_encode(rec, buf, cap, len);
}

static int host_record_decode(const char *json, size_t len,
                              struct elector_record *rec, char *err,
                              size_t errlen)
{
	return elector_record_decode(json, len, rec, err, errlen);
}

static const struct elector_backend_host host = {
    .abi_version = ELECTOR_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct elector_backend_host),
    .log = host_log,
    .log_enabled = elector_log_enabled,
    .record_encode = host_record_encode,
    .record_decode = host_record_decode,
    .time_format = host_time_format,
    .time_parse = host_time_parse,
    .options_check = host_options_check,
    .option = host_option,
    .gauge_set = elector_metrics_gauge_set,
};

const struct elector_backend_host *elector_host(void)
{
	return &host;
}
