/* In-cluster API requests for the optional modules; see k8sapi.h. Uses
 * libcurl directly (the modules link it; the daemon does not). */
#include "k8sapi.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc =
	    curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

const char *elector_k8sapi_sa_dir(void)
{
	const char *d = getenv("ELECTOR_SERVICEACCOUNT_DIR");

	return (d != NULL && d[0] != '\0') ? d : SA_DIR_DEFAULT;
}

int elector_k8sapi_read_trimmed(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	if (n == cap - 1)
		return -1; /* too long */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	                 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

static size_t body_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct elector_k8sapi_body *b = ud;
	size_t n = size * nmemb;

	if (n > sizeof b->buf - 1 - b->len)
		return 0; /* over the cap: abort */
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

static size_t body_discard(char *data, size_t size, size_t nmemb, void *ud)
{
	(void)data;
	(void)ud;
	return size * nmemb;
}

void elector_k8sapi_status_message(const char *body, char *out, size_t cap)
{
	const char *m = strstr(body, "\"message\":\"");
	size_t i = 0;

	out[0] = '\0';
	if (m == NULL)
		return;
	m += 11;
	while (*m && *m != '"' && i + 1 < cap) {
		if (*m == '\\' && m[1])
			m++;
		out[i++] = *m++;
	}
	out[i] = '\0';
}

/* "https://HOST:PORT" + path into url; -1 when not in a cluster. */
static int make_url(const char *path, char *url, size_t cap, char *err,
                    size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	int n;

	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0') {
		snprintf(err, errlen,
		         "needs KUBERNETES_SERVICE_HOST and "
		         "KUBERNETES_SERVICE_PORT (run in a pod)");
		return -1;
	}
	n = snprintf(url, cap,
	             strchr(host, ':') ? "https://[%s]:%s%s"
	                               : "https://%s:%s%s",
	             host, port, path);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

/* "Authorization: Bearer TOKEN" into auth (wiped by the caller). */
static int make_auth(char *auth, size_t cap, char *err, size_t errlen)
{
	char file[1024], token[8192];
	int n;

	n = snprintf(file, sizeof file, "%s/token", elector_k8sapi_sa_dir());
	if (n < 0 || (size_t)n >= sizeof file ||
	    elector_k8sapi_read_trimmed(file, token, sizeof token) != 0) {
		snprintf(err, errlen,
		         "service account token %s/token unreadable",
		         elector_k8sapi_sa_dir());
		return -1;
	}
	n = snprintf(auth, cap, "Authorization: Bearer %s", token);
	memset(token, 0, sizeof token);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "service account token too long");
		return -1;
	}
	return 0;
}

long elector_k8sapi_request(const char *method, const char *path,
                            const char *content_type, const char *body,
                            const char *user_agent, long timeout_ms,
                            struct elector_k8sapi_body *resp, char *err,
                            size_t errlen)
{
	char auth[8300], url[1024], ca[1024], ctype[128];
	char ebuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL, *h;
	CURL *easy = NULL;
	long code = ELECTOR_K8SAPI_ESETUP;
	int n;

	auth[0] = '\0';
	if (make_url(path, url, sizeof url, err, errlen) != 0 ||
	    make_auth(auth, sizeof auth, err, errlen) != 0)
		goto out;
	n = snprintf(ca, sizeof ca, "%s/ca.crt", elector_k8sapi_sa_dir());
	int m = snprintf(ctype, sizeof ctype, "Content-Type: %s",
	                 content_type ? content_type : "application/json");
	if (n < 0 || (size_t)n >= sizeof ca || m < 0 ||
	    (size_t)m >= sizeof ctype) {
		snprintf(err, errlen, "path too long");
		goto out;
	}
	code = ELECTOR_K8SAPI_EBODY;
	pthread_once(&curl_once, curl_init_once);
	easy = curl_init_rc == 0 ? curl_easy_init() : NULL;
	if (easy == NULL) {
		snprintf(err, errlen, "curl initialisation failed");
		goto out;
	}
	h = curl_slist_append(hdrs, auth);
	if (h != NULL)
		hdrs = h;
	h = h ? curl_slist_append(hdrs, ctype) : NULL;
	if (h != NULL)
		hdrs = h;
	h = h ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	hdrs = h;
	ebuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
		                 (long)strlen(body));
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms / 2);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, ebuf);
	if (resp != NULL) {
		resp->len = 0;
		resp->buf[0] = '\0';
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, resp);
	} else {
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_discard);
	}
	CURLcode crc = curl_easy_perform(easy);
	if (crc != CURLE_OK) {
		snprintf(err, errlen, "%s",
		         ebuf[0] ? ebuf : curl_easy_strerror(crc));
		code = crc == CURLE_WRITE_ERROR ? ELECTOR_K8SAPI_EBODY
		                                : ELECTOR_K8SAPI_ENET;
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
out:
	memset(auth, 0, sizeof auth);
	curl_slist_free_all(hdrs);
	if (easy != NULL)
		curl_easy_cleanup(easy);
	return code;
}
