/*
 * Logging: klog-style text (default) or one JSON object per line, on stderr.
 *
 *   I1121 10:00:00.123456    4242 engine.c:88] successfully acquired lease default/demo
 *   {"ts":"2026-11-21T10:00:00.123456Z","level":"info","caller":"engine.c:88","msg":"..."}
 *
 * Levels are enum elector_log_level (backend.h). The macros check the level
 * before formatting. Thread-safe: one write(2) per line.
 */
#ifndef ELECTOR_CORE_LOG_H
#define ELECTOR_CORE_LOG_H

#include <stdarg.h>

#include "elector/backend.h"

enum elector_log_format { ELECTOR_LOG_TEXT = 0, ELECTOR_LOG_JSON = 1 };

/* Set the most verbose level printed and the format. Default INFO, text. */
void elector_log_setup(int max_level, enum elector_log_format format);
int elector_log_enabled(int level);
/* Write one line. file is reduced to its basename. component may be NULL;
 * when given it prefixes the message as "[component] " (text) or becomes the
 * "component" field (JSON). */
void elector_log_write(int level, const char *file, int line,
                       const char *component, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void elector_log_vwrite(int level, const char *file, int line,
                        const char *component, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

#define ELECTOR_LOG_AT(lvl, comp, ...)                                         \
	do {                                                                   \
		if (elector_log_enabled(lvl))                                  \
			elector_log_write(lvl, __FILE__, __LINE__, comp,       \
			                  __VA_ARGS__);                        \
	} while (0)
#define LOG_ERROR(...) ELECTOR_LOG_AT(ELECTOR_LOG_ERROR, NULL, __VA_ARGS__)
#define LOG_WARN(...) ELECTOR_LOG_AT(ELECTOR_LOG_WARN, NULL, __VA_ARGS__)
#define LOG_INFO(...) ELECTOR_LOG_AT(ELECTOR_LOG_INFO, NULL, __VA_ARGS__)
#define LOG_DEBUG(...) ELECTOR_LOG_AT(ELECTOR_LOG_DEBUG, NULL, __VA_ARGS__)
#define LOG_TRACE(...) ELECTOR_LOG_AT(ELECTOR_LOG_TRACE, NULL, __VA_ARGS__)

#endif
