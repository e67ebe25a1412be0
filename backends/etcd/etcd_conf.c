/* Option values of the etcd backend: endpoints, durations, secret files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "etcd_int.h"

int64_t elector_etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int host_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (h[0] == '[') /* [v6] */
		return n > 2 && h[n - 1] == ']';
	for (i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* One "http(s)://host:port[/]" item of n bytes. */
static int parse_one(const char *s, size_t n, struct elector_etcd_endpoint *ep,
                     char *err, size_t errlen)
{
	const char *p, *colon, *end = s + n;
	long port = 0;
	size_t hl;

	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	end = s + n;
	if (n > 0 && s[n - 1] == '/')
		end--;
	if (n >= 7 && strncmp(s, "http://", 7) == 0) {
		ep->tls = 0;
		p = s + 7;
	} else if (n >= 8 && strncmp(s, "https://", 8) == 0) {
		ep->tls = 1;
		p = s + 8;
	} else {
		snprintf(err, errlen,
		         "endpoint '%.*s' must start with http:// "
		         "or https://",
		         (int)(n > 200 ? 200 : n), s);
		return ELECTOR_INVALID;
	}
	colon = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '/' || *q == '?' || *q == '@' || *q == '#') {
			snprintf(err, errlen,
			         "endpoint '%.*s': give only "
			         "scheme://host:port (no path, user or query)",
			         (int)(n > 200 ? 200 : n), s);
			return ELECTOR_INVALID;
		}
		if (*q == ':')
			colon = q;
		if (*q == ']')
			colon = NULL;
	}
	if (colon == NULL) {
		hl = (size_t)(end - p);
		port = 2379;
	} else {
		char tmp[8];
		char *e2;
		size_t pl = (size_t)(end - colon - 1);
		hl = (size_t)(colon - p);
		if (pl == 0 || pl >= sizeof tmp) {
			port = -1;
		} else {
			memcpy(tmp, colon + 1, pl);
			tmp[pl] = '\0';
			port = strtol(tmp, &e2, 10);
			if (*e2 != '\0' || tmp[0] < '0' || tmp[0] > '9')
				port = -1;
		}
	}
	if (!host_ok(p, hl) || port < 1 || port > 65535) {
		snprintf(err, errlen, "endpoint '%.*s': bad host or port",
		         (int)(n > 200 ? 200 : n), s);
		return ELECTOR_INVALID;
	}
	if ((size_t)snprintf(ep->url, sizeof ep->url, "%s%.*s:%ld",
	                     ep->tls ? "https://" : "http://", (int)hl, p,
	                     port) >= sizeof ep->url) {
		snprintf(err, errlen, "endpoint too long");
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

int elector_etcd_parse_endpoints(const char *s,
                                 struct elector_etcd_endpoint *eps, size_t cap,
                                 size_t *n, char *err, size_t errlen)
{
	/* ';' and blanks separate too: ELECTOR_BACKEND_OPT is split on ','
	 * by the core, so an endpoints list there needs another separator. */
	static const char SEP[] = ",; \t";
	const char *p = s ? s : "";

	*n = 0;
	for (;;) {
		size_t len;
		int rc;

		p += strspn(p, SEP);
		if (*p == '\0')
			break;
		len = strcspn(p, SEP);
		if (*n == cap) {
			snprintf(err, errlen, "more than %zu endpoints", cap);
			return ELECTOR_INVALID;
		}
		rc = parse_one(p, len, &eps[*n], err, errlen);
		if (rc != ELECTOR_OK)
			return rc;
		(*n)++;
		p += len;
	}
	if (*n == 0) {
		snprintf(err, errlen, "endpoints is empty");
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

int elector_etcd_parse_duration(const char *s, int64_t *ms)
{
	char *end;
	double v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	v = strtod(s, &end);
	if (end == s || v <= 0 || v > 3600000)
		return -1;
	if (strcmp(end, "ms") == 0)
		*ms = (int64_t)v;
	else if (strcmp(end, "s") == 0)
		*ms = (int64_t)(v * 1000.0);
	else if (strcmp(end, "m") == 0)
		*ms = (int64_t)(v * 60000.0);
	else
		return -1;
	return *ms > 0 ? 0 : -1;
}

int elector_etcd_read_secret(const struct elector_backend_host *host,
                             const char *path, char *out, size_t cap, char *err,
                             size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t n = 0;
	int rc = ELECTOR_OK;

	if (fd < 0) {
		snprintf(err, errlen, "etcd: password-file %s: %s", path,
		         strerror(errno));
		return ELECTOR_INVALID;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		host->log(ELECTOR_LOG_WARN, "etcd",
		          "password-file %s is "
		          "readable by every user (chmod 600 it)",
		          path);
	for (;;) {
		ssize_t k;
		if (n + 1 >= cap) {
			snprintf(err, errlen,
			         "etcd: password-file %s: longer "
			         "than %zu bytes",
			         path, cap - 2);
			rc = ELECTOR_INVALID;
			break;
		}
		k = read(fd, out + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err, errlen, "etcd: password-file %s: %s",
			         path, strerror(errno));
			rc = ELECTOR_INVALID;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (rc != ELECTOR_OK) {
		memset(out, 0, cap);
		return rc;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	if (n == 0 || memchr(out, '\n', n) || strlen(out) != n) {
		snprintf(err, errlen,
		         "etcd: password-file %s: must hold one "
		         "non-empty line",
		         path);
		memset(out, 0, cap);
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}
