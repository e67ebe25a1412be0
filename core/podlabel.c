/* --label-pod: one merge PATCH of our own pod; see podlabel.h. Uses libcurl
 * directly (the daemon links it) to stay independent of the plugins. */
#include "podlabel.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elector/backend.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define BODY_CAP 65536

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static const char *sa_dir(void)
{
	const char *d = getenv("ELECTOR_SERVICEACCOUNT_DIR");

	return (d != NULL && d[0] != '\0') ? d : SA_DIR_DEFAULT;
}

/* Read a small file (token, namespace), trailing whitespace trimmed. */
static int read_trimmed(const char *path, char *buf, size_t cap)
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

struct sink {
	char buf[BODY_CAP];
	size_t len;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (n > sizeof s->buf - 1 - s->len)
		return 0; /* over the cap: abort */
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* The "message" of a Status body, copied into out (best effort). */
static void status_message(const char *body, char *out, size_t cap)
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

static int map_status(long code, const char *ns, const char *pod,
                      const char *body, char *err, size_t errlen)
{
	char msg[512];

	status_message(body, msg, sizeof msg);
	if (code >= 200 && code < 300)
		return ELECTOR_OK;
	if (code == 401 || code == 403) {
		snprintf(err, errlen,
		         "label pod %s/%s: %ld %s: grant patch on pods in "
		         "namespace %s to the service account",
		         ns, pod, code, msg[0] ? msg : "denied", ns);
		return ELECTOR_DENIED;
	}
	snprintf(err, errlen, "label pod %s/%s: HTTP %ld%s%s", ns, pod, code,
	         msg[0] ? ": " : "", msg);
	if (code == 404)
		return ELECTOR_NOT_FOUND;
	return (code == 429 || code >= 500) ? ELECTOR_TRANSIENT : ELECTOR_ERROR;
}

__attribute__((visibility("default"))) int
elector_podlabel_set(const char *role, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *pod = getenv("POD_NAME");
	const char *nsenv = getenv("POD_NAMESPACE");
	char ns[256], token[8192], auth[8300], url[1024], path[1024], ca[1024];
	char body[256], ebuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL, *h;
	struct sink *sink = NULL;
	CURL *easy = NULL;
	CURLcode crc;
	long code = 0;
	int n, rc = ELECTOR_ERROR;

	if (role == NULL ||
	    (strcmp(role, "leader") != 0 && strcmp(role, "follower") != 0)) {
		snprintf(err, errlen, "label pod: role must be leader or follower");
		return ELECTOR_INVALID;
	}
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0' ||
	    pod == NULL || pod[0] == '\0') {
		snprintf(err, errlen, "label pod: needs KUBERNETES_SERVICE_HOST, "
		         "KUBERNETES_SERVICE_PORT and POD_NAME (downward API)");
		return ELECTOR_INVALID;
	}
	if (nsenv != NULL && nsenv[0] != '\0') {
		n = snprintf(ns, sizeof ns, "%s", nsenv);
		if (n < 0 || (size_t)n >= sizeof ns) {
			snprintf(err, errlen, "label pod: POD_NAMESPACE too long");
			return ELECTOR_INVALID;
		}
	} else {
		n = snprintf(path, sizeof path, "%s/namespace", sa_dir());
		if (n < 0 || (size_t)n >= sizeof path ||
		    read_trimmed(path, ns, sizeof ns) != 0) {
			snprintf(err, errlen, "label pod: POD_NAMESPACE unset and "
			         "%s/namespace unreadable", sa_dir());
			return ELECTOR_INVALID;
		}
	}
	n = snprintf(path, sizeof path, "%s/token", sa_dir());
	if (n < 0 || (size_t)n >= sizeof path ||
	    read_trimmed(path, token, sizeof token) != 0) {
		snprintf(err, errlen, "label pod: service account token %s/token "
		         "unreadable", sa_dir());
		return ELECTOR_INVALID;
	}
	n = snprintf(ca, sizeof ca, "%s/ca.crt", sa_dir());
	if (n < 0 || (size_t)n >= sizeof ca) {
		snprintf(err, errlen, "label pod: path too long");
		return ELECTOR_INVALID;
	}
	n = snprintf(url, sizeof url,
	             strchr(host, ':') ? "https://[%s]:%s/api/v1/namespaces/%s/pods/%s"
	                               : "https://%s:%s/api/v1/namespaces/%s/pods/%s",
	             host, port, ns, pod);
	if (n < 0 || (size_t)n >= sizeof url) {
		snprintf(err, errlen, "label pod: URL too long");
		return ELECTOR_INVALID;
	}
	n = snprintf(body, sizeof body,
	             "{\"metadata\":{\"labels\":{\"" ELECTOR_PODLABEL_KEY
	             "\":\"%s\"}}}", role);
	if (n < 0 || (size_t)n >= sizeof body)
		return ELECTOR_ERROR;
	n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	memset(token, 0, sizeof token);
	if (n < 0 || (size_t)n >= sizeof auth) {
		snprintf(err, errlen, "label pod: token too long");
		return ELECTOR_INVALID;
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != 0) {
		snprintf(err, errlen, "label pod: curl_global_init failed");
		goto out;
	}
	sink = calloc(1, sizeof *sink);
	easy = curl_easy_init();
	if (sink == NULL || easy == NULL) {
		snprintf(err, errlen, "label pod: out of memory");
		goto out;
	}
	h = curl_slist_append(hdrs, auth);
	if (h != NULL)
		hdrs = h;
	h = h ? curl_slist_append(hdrs, "Content-Type: application/merge-patch+json") : NULL;
	if (h != NULL)
		hdrs = h;
	h = h ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (h == NULL) {
		snprintf(err, errlen, "label pod: out of memory");
		goto out;
	}
	hdrs = h;
	ebuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "elector/podlabel");
	curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)ELECTOR_PODLABEL_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(ELECTOR_PODLABEL_TIMEOUT_MS / 2));
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
	crc = curl_easy_perform(easy);
	if (crc != CURLE_OK) {
		snprintf(err, errlen, "label pod %s/%s: %s", ns, pod,
		         ebuf[0] ? ebuf : curl_easy_strerror(crc));
		rc = crc == CURLE_WRITE_ERROR ? ELECTOR_ERROR : ELECTOR_TRANSIENT;
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	rc = map_status(code, ns, pod, sink->buf, err, errlen);
out:
	memset(auth, 0, sizeof auth);
	curl_slist_free_all(hdrs);
	if (easy != NULL)
		curl_easy_cleanup(easy);
	free(sink);
	return rc;
}
