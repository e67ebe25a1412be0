/*
 * The election record codec: client-go's LeaderElectionRecord as JSON.
 *
 *   {"holderIdentity":"a_1f2e","leaseDurationSeconds":15,
 *    "acquireTime":"2026-11-21T10:00:00.123456Z",
 *    "renewTime":"2026-11-21T10:00:04.000001Z","leaderTransitions":3}
 *
 * preferredHolder and strategy are written only when non-empty; times only
 * when set. Decoding is strict: an object is required; the known fields must
 * have the right JSON type and range (holderIdentity a string shorter than
 * ELECTOR_ID_MAX; leaseDurationSeconds an integer 1..86400 (0 accepted only
 * with an empty holder); leaderTransitions an integer >= 0; times an RFC 3339
 * string or null); unknown fields are ignored (forward compatible). Anything
 * else is ELECTOR_CORRUPT with a reason that names the field.
 */
#ifndef ELECTOR_CORE_RECORD_H
#define ELECTOR_CORE_RECORD_H

#include <stddef.h>

#include "elector/backend.h"

/* Largest encoded or accepted record, in bytes. */
#define ELECTOR_RECORD_JSON_MAX 4096

int elector_record_encode(const struct elector_record *rec, char *buf,
                          size_t cap, size_t *len);
int elector_record_decode(const char *json, size_t len,
                          struct elector_record *rec, char *err, size_t errlen);
/* Range checks shared by encode and decode. ELECTOR_OK or ELECTOR_CORRUPT. */
int elector_record_validate(const struct elector_record *rec, char *err,
                            size_t errlen);
/* Nonzero when both records are field-for-field equal. */
int elector_record_equal(const struct elector_record *a,
                         const struct elector_record *b);

#endif
