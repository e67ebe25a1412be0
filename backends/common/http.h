/*
 * A small libcurl helper shared by the HTTP backends (lease, gist) and the
 * daemon's pod labeller. Linked statically into each plugin (link the plugin
 * with $(call pc_libs,libcurl)).
 *
 * Two modes:
 *   - one request/response: elector_http_do() with a reusable client
 *     (keeps the connection alive between requests);
 *   - a stream (watches): elector_http_stream_open() starts a request whose
 *     body is handed to a callback chunk by chunk while the caller polls it
 *     with a bounded wait; elector_http_stream_wake() interrupts a poll from
 *     another thread.
 *
 * Status codes are enum elector_status (elector/backend.h). An HTTP answer of
 * any status code is ELECTOR_OK at this level: the caller maps resp->status.
 * Error messages are written into err[errlen] (always NUL-terminated) with
 * the method and URL as context ("GET https://h:6443/apis/...: timed out
 * after 2000 ms"). Request headers (tokens!) are never put into messages.
 *
 * Threads: a client or a stream is used by one thread at a time, except
 * elector_http_stream_wake(), which may be called from any thread.
 * elector_http_global_init() must run once before any thread uses the helper
 * (it is called by elector_http_client_new(); calling it early from a single
 * thread is harmless).
 */
#ifndef ELECTOR_COMMON_HTTP_H
#define ELECTOR_COMMON_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* TLS settings. Every pointer may be NULL; blobs are PEM bytes (len bytes,
 * need not be NUL-terminated). Strings are copied by libcurl at request
 * time; the struct only has to live until the call returns. */
struct elector_http_tls {
	const char *ca_file;        /* CA bundle file (verify the server) */
	const char *ca_data;        /* CA bundle in memory (PEM) */
	size_t ca_data_len;
	const char *cert_file;      /* client certificate file (PEM) */
	const char *cert_data;      /* client certificate in memory (PEM) */
	size_t cert_data_len;
	const char *key_file;       /* client key file (PEM) */
	const char *key_data;       /* client key in memory (PEM) */
	size_t key_data_len;
	int insecure;               /* nonzero: do not verify the server (the
	                               caller warns the user) */
	const char *server_name;    /* verify/SNI against this name instead of
	                               the URL's host (kubeconfig
	                               tls-server-name); the TCP connection
	                               still goes to the URL's host */
};

/* Called with each piece of a streamed response body (status 2xx only; an
 * error body is collected into the stream's response instead). Return 0 to
 * continue, nonzero to abort the stream (poll then returns ELECTOR_ERROR
 * with "aborted by callback"). */
typedef int (*elector_http_chunk_fn)(void *userdata, const char *data,
                                     size_t len);

struct elector_http_request {
	const char *method;          /* "GET", "POST", "PUT", "PATCH", ... */
	const char *url;             /* absolute http(s) URL */
	const char *const *headers;  /* "Name: value" strings, may be NULL */
	size_t n_headers;
	const char *body;            /* request body, may be NULL */
	size_t body_len;
	int64_t timeout_ms;          /* whole request (do) or connect +
	                                headers (stream); <= 0: 10000 */
	size_t max_body;             /* response body cap; 0: 1 MiB */
	const struct elector_http_tls *tls; /* may be NULL (system CAs) */
};

/* Selected response headers, captured for every request. */
#define ELECTOR_HTTP_HDR_MAX 256
struct elector_http_response {
	long status;                 /* HTTP status, 0 if none was received */
	char *body;                  /* NUL-terminated, owned; NULL if empty */
	size_t body_len;
	int64_t retry_after_ms;      /* Retry-After (seconds or HTTP date),
	                                -1 when absent */
	char etag[ELECTOR_HTTP_HDR_MAX];         /* "" when absent */
	char content_type[ELECTOR_HTTP_HDR_MAX];
	int64_t ratelimit_limit;     /* X-RateLimit-Limit, -1 when absent */
	int64_t ratelimit_remaining; /* X-RateLimit-Remaining, -1 */
	int64_t ratelimit_used;      /* X-RateLimit-Used, -1 */
	int64_t ratelimit_reset;     /* X-RateLimit-Reset (unix s), -1 */
	char ratelimit_resource[64]; /* X-RateLimit-Resource, "" */
};

/* Free resp->body and reset *resp to "nothing received". resp may be a
 * zeroed struct. */
void elector_http_response_clear(struct elector_http_response *resp);

/* Once per process (idempotent, thread-safe after the first call). */
int elector_http_global_init(char *err, size_t errlen);

struct elector_http_client;

/* A reusable client (one curl easy handle: connections are kept alive).
 * *out is owned by the caller; free with elector_http_client_free().
 * Returns ELECTOR_OK or ELECTOR_ERROR. */
int elector_http_client_new(struct elector_http_client **out, char *err,
                            size_t errlen);
void elector_http_client_free(struct elector_http_client *c);

/*
 * Perform one request. *resp is cleared first and filled; the caller frees
 * it with elector_http_response_clear() whatever the return value.
 * Returns:
 *   ELECTOR_OK        a response was received (any status; see resp->status)
 *   ELECTOR_TIMEOUT   no complete answer within req->timeout_ms (the
 *                     request may have reached the server)
 *   ELECTOR_TRANSIENT connection refused/reset, DNS, TLS handshake failure
 *                     (message says which), or a dropped connection
 *   ELECTOR_CORRUPT   the response body exceeded req->max_body
 *   ELECTOR_INVALID   bad request arguments (URL, method)
 *   ELECTOR_ERROR     out of memory, libcurl internal errors
 */
int elector_http_do(struct elector_http_client *c,
                    const struct elector_http_request *req,
                    struct elector_http_response *resp, char *err,
                    size_t errlen);

struct elector_http_stream;

/*
 * Start a streamed request (its own connection). Nothing is sent until the
 * first poll. req and its strings must stay valid until the stream is
 * closed. on_chunk receives the body of a 2xx response; a non-2xx body is
 * collected (capped at req->max_body) into the stream's response.
 * *out is owned by the caller (elector_http_stream_close).
 */
int elector_http_stream_open(const struct elector_http_request *req,
                             elector_http_chunk_fn on_chunk, void *userdata,
                             struct elector_http_stream **out, char *err,
                             size_t errlen);

/*
 * Run the transfer for up to timeout_ms (chunks are delivered from inside
 * this call). Returns:
 *   ELECTOR_TIMEOUT   still open; timeout passed or wake() was called
 *   ELECTOR_OK        the response ended (server closed it cleanly); see
 *                     elector_http_stream_response() for the status
 *   ELECTOR_TRANSIENT the connection failed or dropped (message says why)
 *   ELECTOR_TIMEOUT is also returned when no headers arrived yet; the
 *   connect/header deadline (req->timeout_ms) then yields TRANSIENT.
 *   ELECTOR_ERROR     aborted by the callback, or internal error
 * After any return other than ELECTOR_TIMEOUT the stream is finished; close
 * it.
 */
int elector_http_stream_poll(struct elector_http_stream *s, int64_t timeout_ms,
                             char *err, size_t errlen);

/* The response status and headers once they arrived (status 0 before), and
 * the collected body of a non-2xx answer. Owned by the stream. */
const struct elector_http_response *
elector_http_stream_response(const struct elector_http_stream *s);

/* Make a concurrent or the next poll return ELECTOR_TIMEOUT promptly.
 * Thread-safe; s must not be closed concurrently. */
void elector_http_stream_wake(struct elector_http_stream *s);

/* Abort the transfer and free everything. s may be NULL. */
void elector_http_stream_close(struct elector_http_stream *s);

#endif
