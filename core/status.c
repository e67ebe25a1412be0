#include "status.h"

#include "elector/elector.h"

static const char *const status_names[ELECTOR_STATUS_COUNT] = {
    "ok",      "not_found", "exists", "conflict",    "transient",   "timeout",
    "invalid", "corrupt",   "denied", "unsupported", "ratelimited", "error",
};

static const char *const status_texts[ELECTOR_STATUS_COUNT] = {
    "success",
    "no record stored",
    "a record already exists",
    "the record changed since it was read (lost a race)",
    "temporary store failure",
    "timed out",
    "invalid argument or configuration",
    "stored record is corrupt",
    "permission denied by the store",
    "not supported by this backend",
    "rate limited by the store",
    "internal error",
};

const char *elector_status_name(int status)
{
	if (status < 0 || status >= ELECTOR_STATUS_COUNT)
		return "unknown";
	return status_names[status];
}

const char *elector_strerror(int status)
{
	if (status < 0 || status >= ELECTOR_STATUS_COUNT)
		return "unknown status";
	return status_texts[status];
}
