/* The HTTP status API (see http.h). */
#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "elector/elector.h"
#include "log.h"

/* Largest /metrics body we are willing to build. */
#define METRICS_MAX (1024 * 1024)

struct elector_http {
	struct MHD_Daemon *mhd;
	struct elector *el;
	struct elector_http_info info;
	int fd;
};

static int listen_on(const char *addr, int *out, char *err, size_t errlen)
{
	char host[256], port[16];
	if (elector_cli_split_hostport(addr, host, sizeof host, port, sizeof port,
	                               err, errlen) != 0)
		return -1;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "--http %s: %s", addr, gai_strerror(gai));
		return -1;
	}
	int fd = -1, saved = 0;
	/* For ":PORT" prefer one dual-stack IPv6 socket, else IPv4. */
	for (int pass = 0; pass < 2 && fd < 0; pass++) {
		for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
			if ((pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				saved = errno;
				continue;
			}
			int one = 1, zero = 0;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			if (ai->ai_family == AF_INET6 && host[0] == '\0')
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
				saved = errno;
				close(fd);
				fd = -1;
			}
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "--http %s: cannot listen: %s", addr,
		         strerror(saved ? saved : EADDRNOTAVAIL));
		return -1;
	}
	*out = fd;
	return 0;
}

static char *status_json(struct elector_http *h, const struct elector_status_info *st)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I}",
	                      "is_leader", st->is_leader ? 1 : 0,
	                      "leader", st->leader,
	                      "node", st->identity,
	                      "timestamp", ts,
	                      "election", h->info.election,
	                      "namespace", h->info.namespace_,
	                      "term", (json_int_t)st->term,
	                      "backend", h->info.backend,
	                      "store", st->backend,
	                      "lease_duration_seconds",
	                      (json_int_t)(st->lease_duration_ms / 1000),
	                      "observed_age_ms", (json_int_t)st->observed_age_ms,
	                      /* the leadership deadline (CLOCK_BOOTTIME ms) and
	                       * what is left of it; 0 when not leading */
	                      "valid_until_ms", (json_int_t)st->valid_until_ms,
	                      "valid_ms_left", (json_int_t)st->valid_ms_left);
	if (o == NULL)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *metrics_text(struct elector_http *h, size_t *len)
{
	for (size_t cap = 16384; cap <= METRICS_MAX; cap *= 2) {
		char *buf = malloc(cap);
		if (buf == NULL)
			return NULL;
		if (elector_metrics_write(h->el, buf, cap, len) == ELECTOR_OK)
			return buf;
		free(buf);
	}
	return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, char *body, size_t len,
                             int allow)
{
	/* body is malloc()ed; MHD frees it with free(). */
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code,
                                  const char *text, int allow)
{
	char *b = strdup(text);
	if (b == NULL)
		return MHD_NO;
	return reply(c, code, "text/plain; charset=utf-8", b, strlen(b), allow);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	struct elector_http *h = cls;
	enum {
		P_ROOT,
		P_LEADER,
		P_FOLLOWER,
		P_HEALTHZ,
		P_METRICS,
		P_NONE
	} p = P_NONE;
	if (strcmp(url, "/") == 0)
		p = P_ROOT;
	else if (strcmp(url, "/leader") == 0)
		p = P_LEADER;
	else if (strcmp(url, "/follower") == 0)
		p = P_FOLLOWER;
	else if (strcmp(url, "/healthz") == 0)
		p = P_HEALTHZ;
	else if (strcmp(url, "/metrics") == 0)
		p = P_METRICS;
	if (p == P_NONE)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                  "method not allowed\n", 1);

	struct elector_status_info st;
	if (elector_status(h->el, &st) != ELECTOR_OK)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no status\n", 0);
	if (p == P_HEALTHZ) {
		if (st.healthy)
			return reply_text(c, MHD_HTTP_OK, "ok\n", 0);
		char msg[400];
		snprintf(msg, sizeof msg, "unhealthy: %s\n",
		         st.last_error_msg[0] ? st.last_error_msg : "engine wedged");
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg, 0);
	}
	if (p == P_METRICS) {
		size_t len = 0;
		char *m = metrics_text(h, &len);
		if (m == NULL)
			return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			                  "metrics unavailable\n", 0);
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		             m, len, 0);
	}
	char *js = status_json(h, &st);
	if (js == NULL)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "cannot encode status\n", 0);
	unsigned code = MHD_HTTP_OK;
	if (p == P_LEADER && !st.is_leader)
		code = MHD_HTTP_SERVICE_UNAVAILABLE;
	/* Patroni's /replica: a healthy follower that sees a live leader. */
	if (p == P_FOLLOWER &&
	    (st.is_leader || st.leader[0] == '\0' || !st.healthy))
		code = MHD_HTTP_SERVICE_UNAVAILABLE;
	return reply(c, code, "application/json", js, strlen(js), 0);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (elector_log_enabled(ELECTOR_LOG_DEBUG))
		elector_log_vwrite(ELECTOR_LOG_DEBUG, __FILE__, __LINE__, "http", fmt, ap);
}

int elector_http_start(const char *addr, struct elector *el,
                       const struct elector_http_info *info,
                       struct elector_http **out, char *err, size_t errlen)
{
	struct elector_http *h = calloc(1, sizeof *h);
	if (h == NULL) {
		snprintf(err, errlen, "--http %s: out of memory", addr);
		return -1;
	}
	h->el = el;
	h->info = *info;
	if (listen_on(addr, &h->fd, err, errlen) != 0) {
		free(h);
		return -1;
	}
	h->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, to catch all */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)32,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen, "--http %s: cannot start the HTTP server", addr);
		close(h->fd);
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

void elector_http_stop(struct elector_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd); /* also closes the listening socket */
	free(h);
}
