/* The services lent to backend plugins (struct elector_backend_host). */
#ifndef ELECTOR_CORE_HOST_H
#define ELECTOR_CORE_HOST_H

#include "elector/backend.h"

/* The process-wide host table; static, never freed. */
const struct elector_backend_host *elector_host(void);

#endif
