/* libcurl helper; see http.h for the contract. */
#include "http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "elector/backend.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BODY (1024u * 1024u)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int elector_http_global_init(char *err, size_t errlen)
{
	pthread_once(&global_once, global_init_once);
	if (global_rc != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s",
		         curl_easy_strerror(global_rc));
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

void elector_http_response_clear(struct elector_http_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof *resp);
	resp->retry_after_ms = -1;
	resp->ratelimit_limit = -1;
	resp->ratelimit_remaining = -1;
	resp->ratelimit_used = -1;
	resp->ratelimit_reset = -1;
}

/* State shared by the write and header callbacks of one transfer. */
struct xfer {
	CURL *easy;
	struct elector_http_response *resp;
	size_t max_body;
	size_t cap;
	int too_big;
	int aborted;
	elector_http_chunk_fn on_chunk; /* stream mode only */
	void *userdata;
};

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	                 v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int64_t parse_i64(const char *v, size_t n)
{
	char tmp[32];
	char *end;
	long long x;

	copy_trimmed(tmp, sizeof tmp, v, n);
	if (tmp[0] == '\0')
		return -1;
	x = strtoll(tmp, &end, 10);
	if (*end != '\0' || x < 0)
		return -1;
	return (int64_t)x;
}

static int64_t parse_retry_after(const char *v, size_t n)
{
	char tmp[128];
	int64_t secs = parse_i64(v, n);
	time_t when;

	if (secs >= 0)
		return secs * 1000;
	copy_trimmed(tmp, sizeof tmp, v, n);
	when = curl_getdate(tmp, NULL);
	if (when < 0)
		return -1;
	secs = (int64_t)when - (int64_t)time(NULL);
	return secs > 0 ? secs * 1000 : 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct elector_http_response *r = x->resp;
	size_t n = size * nitems;
	const char *colon;
	size_t nlen;
	const char *v;
	size_t vlen;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new status line (after 100 Continue): forget headers. */
		r->retry_after_ms = -1;
		r->etag[0] = r->content_type[0] = '\0';
		r->ratelimit_limit = r->ratelimit_remaining = -1;
		r->ratelimit_used = r->ratelimit_reset = -1;
		r->ratelimit_resource[0] = '\0';
		return n;
	}
	colon = memchr(buf, ':', n);
	if (colon == NULL)
		return n;
	nlen = (size_t)(colon - buf);
	v = colon + 1;
	vlen = n - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
#define HDR_IS(name) (nlen == sizeof(name) - 1 && strncasecmp(buf, name, nlen) == 0)
	if (HDR_IS("Retry-After"))
		r->retry_after_ms = parse_retry_after(v, vlen);
	else if (HDR_IS("ETag"))
		copy_trimmed(r->etag, sizeof r->etag, v, vlen);
	else if (HDR_IS("Content-Type"))
		copy_trimmed(r->content_type, sizeof r->content_type, v, vlen);
	else if (HDR_IS("X-RateLimit-Limit"))
		r->ratelimit_limit = parse_i64(v, vlen);
	else if (HDR_IS("X-RateLimit-Remaining"))
		r->ratelimit_remaining = parse_i64(v, vlen);
	else if (HDR_IS("X-RateLimit-Used"))
		r->ratelimit_used = parse_i64(v, vlen);
	else if (HDR_IS("X-RateLimit-Reset"))
		r->ratelimit_reset = parse_i64(v, vlen);
	else if (HDR_IS("X-RateLimit-Resource"))
		copy_trimmed(r->ratelimit_resource, sizeof r->ratelimit_resource,
		             v, vlen);
#undef HDR_IS
	return n;
}

static int append_body(struct xfer *x, const char *data, size_t n)
{
	struct elector_http_response *r = x->resp;
	size_t need;
	char *nb;

	if (r->body_len + n > x->max_body) {
		x->too_big = 1;
		return -1;
	}
	need = r->body_len + n + 1;
	if (need > x->cap) {
		size_t ncap = x->cap ? x->cap : 4096;
		while (ncap < need)
			ncap *= 2;
		nb = realloc(r->body, ncap);
		if (nb == NULL)
			return -1;
		r->body = nb;
		x->cap = ncap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (x->on_chunk != NULL) {
		long code = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			if (x->on_chunk(x->userdata, data, n) != 0) {
				x->aborted = 1;
				return 0;
			}
			return n;
		}
	}
	if (append_body(x, data, n) != 0)
		return 0;
	return n;
}

/* The request's URL rewritten to carry server_name, plus the CONNECT_TO
 * entry that sends the TCP connection to the original host. */
static int apply_server_name(CURL *easy, const char *url, const char *sn,
                             struct curl_slist **connect_to, char *err,
                             size_t errlen)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *nurl = NULL;
	char entry[512];
	struct curl_slist *l;
	int rc = ELECTOR_INVALID;
	int n;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return ELECTOR_ERROR;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	            CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, sn, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &nurl, 0) != CURLUE_OK) {
		snprintf(err, errlen, "%s: cannot apply tls-server-name '%s'",
		         url, sn);
		goto out;
	}
	n = snprintf(entry, sizeof entry, "%s:%s:%s:%s", sn, port, host, port);
	if (n < 0 || (size_t)n >= sizeof entry) {
		snprintf(err, errlen, "tls-server-name too long");
		goto out;
	}
	l = curl_slist_append(NULL, entry);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = ELECTOR_ERROR;
		goto out;
	}
	*connect_to = l;
	curl_easy_setopt(easy, CURLOPT_CONNECT_TO, l);
	curl_easy_setopt(easy, CURLOPT_URL, nurl);
	rc = ELECTOR_OK;
out:
	curl_free(host);
	curl_free(port);
	curl_free(nurl);
	curl_url_cleanup(u);
	return rc;
}

static void set_blob(CURL *easy, CURLoption opt, const char *data, size_t len)
{
	struct curl_blob b;

	b.data = (void *)(uintptr_t)data;
	b.len = len;
	b.flags = CURL_BLOB_COPY;
	curl_easy_setopt(easy, opt, &b);
}

static void apply_tls(CURL *easy, const struct elector_http_tls *t)
{
	if (t == NULL)
		return;
	if (t->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, t->ca_file);
	if (t->ca_data != NULL)
		set_blob(easy, CURLOPT_CAINFO_BLOB, t->ca_data, t->ca_data_len);
	if (t->cert_file != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLCERT, t->cert_file);
	if (t->cert_data != NULL)
		set_blob(easy, CURLOPT_SSLCERT_BLOB, t->cert_data,
		         t->cert_data_len);
	if (t->cert_file != NULL || t->cert_data != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
	if (t->key_file != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLKEY, t->key_file);
	if (t->key_data != NULL)
		set_blob(easy, CURLOPT_SSLKEY_BLOB, t->key_data, t->key_data_len);
	if (t->key_file != NULL || t->key_data != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
	if (t->insecure) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Everything but the body callbacks; headers and connect_to are owned by the
 * caller afterwards (free with curl_slist_free_all). */
static int setup_easy(CURL *easy, const struct elector_http_request *req,
                      int stream, struct curl_slist **headers,
                      struct curl_slist **connect_to, char *err,
                      size_t errlen)
{
	int64_t t = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct curl_slist *h = NULL, *nh;
	size_t i;

	*headers = NULL;
	*connect_to = NULL;
	if (req->method == NULL || req->url == NULL) {
		snprintf(err, errlen, "http: method and url are required");
		return ELECTOR_INVALID;
	}
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)t);
	if (!stream)
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)t);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS,
		                 req->body ? req->body : "");
	}
	for (i = 0; i < req->n_headers; i++) {
		nh = curl_slist_append(h, req->headers[i]);
		if (nh == NULL)
			goto oom;
		h = nh;
	}
	nh = curl_slist_append(h, "Expect:");
	if (nh == NULL)
		goto oom;
	h = nh;
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	*headers = h;
	apply_tls(easy, req->tls);
	if (req->tls != NULL && req->tls->server_name != NULL &&
	    req->tls->server_name[0] != '\0')
		return apply_server_name(easy, req->url, req->tls->server_name,
		                         connect_to, err, errlen);
	return ELECTOR_OK;
oom:
	curl_slist_free_all(h);
	snprintf(err, errlen, "out of memory");
	return ELECTOR_ERROR;
}

static int map_curl_error(CURLcode rc, const struct xfer *x,
                          const struct elector_http_request *req,
                          const char *ebuf, int64_t timeout_ms, char *err,
                          size_t errlen)
{
	const char *detail = ebuf[0] ? ebuf : curl_easy_strerror(rc);

	if (x->too_big) {
		snprintf(err, errlen, "%s %s: response body exceeds %zu bytes",
		         req->method, req->url, x->max_body);
		return ELECTOR_CORRUPT;
	}
	if (x->aborted) {
		snprintf(err, errlen, "%s %s: aborted by callback", req->method,
		         req->url);
		return ELECTOR_ERROR;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "%s %s: timed out after %lld ms (%s)",
		         req->method, req->url, (long long)timeout_ms, detail);
		return ELECTOR_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(err, errlen, "%s %s: bad URL: %s", req->method, req->url,
		         detail);
		return ELECTOR_INVALID;
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errlen, "%s %s: out of memory", req->method, req->url);
		return ELECTOR_ERROR;
	case CURLE_WRITE_ERROR:
		snprintf(err, errlen, "%s %s: out of memory for the response",
		         req->method, req->url);
		return ELECTOR_ERROR;
	default:
		snprintf(err, errlen, "%s %s: %s", req->method, req->url, detail);
		return ELECTOR_TRANSIENT;
	}
}

struct elector_http_client {
	CURL *easy;
};

int elector_http_client_new(struct elector_http_client **out, char *err,
                            size_t errlen)
{
	struct elector_http_client *c;
	int rc = elector_http_global_init(err, errlen);

	if (rc != ELECTOR_OK)
		return rc;
	c = calloc(1, sizeof *c);
	if (c == NULL || (c->easy = curl_easy_init()) == NULL) {
		free(c);
		snprintf(err, errlen, "http: out of memory");
		return ELECTOR_ERROR;
	}
	*out = c;
	return ELECTOR_OK;
}

void elector_http_client_free(struct elector_http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->easy);
	free(c);
}

int elector_http_do(struct elector_http_client *c,
                    const struct elector_http_request *req,
                    struct elector_http_response *resp, char *err,
                    size_t errlen)
{
	struct curl_slist *headers = NULL, *connect_to = NULL;
	char ebuf[CURL_ERROR_SIZE];
	struct xfer x;
	CURLcode crc;
	int rc;

	elector_http_response_clear(resp);
	memset(&x, 0, sizeof x);
	x.easy = c->easy;
	x.resp = resp;
	x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	/* Reset options but keep the connection cache. */
	curl_easy_reset(c->easy);
	rc = setup_easy(c->easy, req, 0, &headers, &connect_to, err, errlen);
	if (rc != ELECTOR_OK)
		goto out;
	ebuf[0] = '\0';
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, &x);
	crc = curl_easy_perform(c->easy);
	if (crc != CURLE_OK) {
		rc = map_curl_error(crc, &x, req, ebuf,
		                    req->timeout_ms > 0 ? req->timeout_ms
		                                        : DEFAULT_TIMEOUT_MS,
		                    err, errlen);
		resp->status = 0;
		goto out;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	rc = ELECTOR_OK;
out:
	/* The handle must not keep pointers into our stack or lists. */
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->easy, CURLOPT_CONNECT_TO, NULL);
	curl_slist_free_all(headers);
	curl_slist_free_all(connect_to);
	return rc;
}

struct elector_http_stream {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers, *connect_to;
	struct elector_http_request req;
	struct elector_http_response resp;
	struct xfer x;
	char ebuf[CURL_ERROR_SIZE];
	struct timespec started;
	atomic_int woken;
	int finished;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int elector_http_stream_open(const struct elector_http_request *req,
                             elector_http_chunk_fn on_chunk, void *userdata,
                             struct elector_http_stream **out, char *err,
                             size_t errlen)
{
	struct elector_http_stream *s;
	int rc = elector_http_global_init(err, errlen);

	if (rc != ELECTOR_OK)
		return rc;
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return ELECTOR_ERROR;
	}
	s->req = *req;
	elector_http_response_clear(&s->resp);
	atomic_init(&s->woken, 0);
	s->x.resp = &s->resp;
	s->x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	s->x.on_chunk = on_chunk;
	s->x.userdata = userdata;
	s->multi = curl_multi_init();
	s->easy = curl_easy_init();
	if (s->multi == NULL || s->easy == NULL) {
		snprintf(err, errlen, "http: out of memory");
		rc = ELECTOR_ERROR;
		goto fail;
	}
	s->x.easy = s->easy;
	rc = setup_easy(s->easy, req, 1, &s->headers, &s->connect_to, err,
	                errlen);
	if (rc != ELECTOR_OK)
		goto fail;
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->ebuf);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->x);
	curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, &s->x);
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
		snprintf(err, errlen, "http: curl_multi_add_handle failed");
		rc = ELECTOR_ERROR;
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	*out = s;
	return ELECTOR_OK;
fail:
	elector_http_stream_close(s);
	return rc;
}

static int stream_done(struct elector_http_stream *s, CURLcode crc, char *err,
                       size_t errlen)
{
	s->finished = 1;
	if (crc != CURLE_OK)
		return map_curl_error(crc, &s->x, &s->req, s->ebuf,
		                      s->req.timeout_ms, err, errlen);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->resp.status);
	return ELECTOR_OK;
}

int elector_http_stream_poll(struct elector_http_stream *s, int64_t timeout_ms,
                             char *err, size_t errlen)
{
	int64_t now = mono_ms();
	int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
	int64_t header_deadline =
		(int64_t)s->started.tv_sec * 1000 + s->started.tv_nsec / 1000000 +
		(s->req.timeout_ms > 0 ? s->req.timeout_ms : DEFAULT_TIMEOUT_MS);
	int running = 0;
	CURLMsg *m;
	int left;

	if (s->finished) {
		snprintf(err, errlen, "%s %s: stream already finished",
		         s->req.method, s->req.url);
		return ELECTOR_ERROR;
	}
	for (;;) {
		if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
			s->finished = 1;
			snprintf(err, errlen, "%s %s: curl_multi_perform failed",
			         s->req.method, s->req.url);
			return ELECTOR_ERROR;
		}
		while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
			if (m->msg == CURLMSG_DONE)
				return stream_done(s, m->data.result, err, errlen);
		}
		if (s->resp.status == 0) {
			long code = 0;
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
			s->resp.status = code;
		}
		now = mono_ms();
		if (s->resp.status == 0 && now >= header_deadline) {
			s->finished = 1;
			snprintf(err, errlen,
			         "%s %s: no response within %lld ms",
			         s->req.method, s->req.url,
			         (long long)(s->req.timeout_ms > 0
			                             ? s->req.timeout_ms
			                             : DEFAULT_TIMEOUT_MS));
			return ELECTOR_TRANSIENT;
		}
		if (atomic_exchange(&s->woken, 0) || now >= deadline)
			return ELECTOR_TIMEOUT;
		{
			int64_t wait = deadline - now;
			if (s->resp.status == 0 && header_deadline - now < wait)
				wait = header_deadline - now;
			if (wait > 1000)
				wait = 1000;
			if (curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL) !=
			    CURLM_OK) {
				s->finished = 1;
				snprintf(err, errlen,
				         "%s %s: curl_multi_poll failed",
				         s->req.method, s->req.url);
				return ELECTOR_ERROR;
			}
		}
	}
}

const struct elector_http_response *
elector_http_stream_response(const struct elector_http_stream *s)
{
	return &s->resp;
}

void elector_http_stream_wake(struct elector_http_stream *s)
{
	atomic_store(&s->woken, 1);
	curl_multi_wakeup(s->multi);
}

void elector_http_stream_close(struct elector_http_stream *s)
{
	if (s == NULL)
		return;
	if (s->multi != NULL && s->easy != NULL)
		curl_multi_remove_handle(s->multi, s->easy);
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	curl_slist_free_all(s->connect_to);
	elector_http_response_clear(&s->resp);
	free(s);
}
