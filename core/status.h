/* Short machine names for enum elector_status ("ok", "conflict", ...), as
 * used in metrics labels and JSON. elector_strerror() (elector.h) gives the
 * English text. */
#ifndef ELECTOR_CORE_STATUS_H
#define ELECTOR_CORE_STATUS_H

#define ELECTOR_STATUS_COUNT 12

/* Never NULL; "unknown" for values out of range. */
const char *elector_status_name(int status);

#endif
