/*
 * klog-style and JSON line logging. Each line is formatted into one buffer
 * and written with a single write(2) so lines from threads never interleave.
 */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_max_level = ELECTOR_LOG_INFO;
static atomic_int log_format = ELECTOR_LOG_TEXT;

void elector_log_setup(int max_level, enum elector_log_format format)
{
	atomic_store(&log_max_level, max_level);
	atomic_store(&log_format, (int)format);
}

int elector_log_enabled(int level)
{
	return level <= atomic_load(&log_max_level);
}

static const char *base_name(const char *file)
{
	const char *slash = strrchr(file, '/');
	return slash ? slash + 1 : file;
}

static const char *level_name(int level)
{
	static const char *const names[] = {"error", "warning", "info", "debug",
	                                    "trace"};
	if (level < 0 || level > ELECTOR_LOG_TRACE)
		return "info";
	return names[level];
}

/* Append s to buf as the inside of a JSON string. */
static size_t json_escape(char *buf, size_t cap, size_t pos, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c == '\n') {
			buf[pos++] = '\\';
			buf[pos++] = 'n';
		} else if (c < 0x20) {
			int n = snprintf(buf + pos, cap - pos, "\\u%04x", c);
			pos += (size_t)n;
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

void elector_log_vwrite(int level, const char *file, int line,
                        const char *component, const char *fmt, va_list ap)
{
	char msg[2048];
	char out[4096];
	struct timeval tv;
	struct tm tm;
	size_t pos;
	int n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);

	if (atomic_load(&log_format) == ELECTOR_LOG_JSON) {
		n = snprintf(out, sizeof out,
		             "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\","
		             "\"level\":\"%s\",\"caller\":\"%s:%d\",",
		             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		             tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
		             level_name(level), base_name(file), line);
		pos = n > 0 ? (size_t)n : 0;
		if (component && pos < sizeof out) {
			n = snprintf(out + pos, sizeof out - pos,
			             "\"component\":\"%s\",", component);
			pos += n > 0 ? (size_t)n : 0;
		}
		if (pos + 8 < sizeof out) {
			memcpy(out + pos, "\"msg\":\"", 7);
			pos += 7;
			pos = json_escape(out, sizeof out - 4, pos, msg);
			memcpy(out + pos, "\"}\n", 3);
			pos += 3;
		}
	} else {
		static const char letters[] = "EWIDT";
		char letter = level >= 0 && level <= ELECTOR_LOG_TRACE
		                  ? letters[level]
		                  : 'I';
		char where[128];
		/* Plugins log without a line number: "redis.so]". */
		if (line > 0)
			snprintf(where, sizeof where, "%s:%d", base_name(file),
			         line);
		else
			snprintf(where, sizeof where, "%s", base_name(file));
		n = snprintf(
		    out, sizeof out,
		    "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s] %s%s%s%s\n",
		    letter, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, (long)tv.tv_usec, (int)getpid(), where,
		    component ? "[" : "", component ? component : "",
		    component ? "] " : "", msg);
		if (n < 0)
			return;
		pos = (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;
		if ((size_t)n >= sizeof out)
			out[pos - 1] = '\n';
	}
	/* Best effort: a log line that cannot be written is dropped. */
	if (write(STDERR_FILENO, out, pos) < 0)
		return;
}

void elector_log_write(int level, const char *file, int line,
                       const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	elector_log_vwrite(level, file, line, component, fmt, ap);
	va_end(ap);
}
