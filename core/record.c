/*
 * The client-go LeaderElectionRecord codec (see record.h for the contract).
 *
 * Decoding goes through jansson with duplicate keys and NUL characters
 * refused; the validation is shared with encoding so that anything this
 * file writes it also accepts, and anything it accepts it can write back
 * unchanged (the fuzzer checks that round trip).
 */
#include "record.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#define LEASE_SECONDS_MAX 86400
#define KNOWN_FLAGS (ELECTOR_REC_HAS_ACQUIRE_TIME | ELECTOR_REC_HAS_RENEW_TIME)
/* Range that elector_time_format can write: years 0001..9999. */
#define TIME_US_MIN (-62135596800LL * 1000000LL)
#define TIME_US_MAX (253402300799LL * 1000000LL + 999999LL)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		if (n < 0)
			err[0] = '\0';
	}
	return ELECTOR_CORRUPT;
}

/* Nonzero when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF): what JSON text may carry and jansson accepts. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

/* A fixed buffer field must be NUL-terminated within cap and valid UTF-8. */
static int check_str(const char *s, size_t cap, const char *field, char *err,
                     size_t errlen)
{
	size_t n = strnlen(s, cap);
	if (n >= cap)
		return fail(err, errlen, "%s: longer than %zu bytes", field,
		            cap - 1);
	if (!utf8_valid((const unsigned char *)s, n))
		return fail(err, errlen, "%s: not valid UTF-8", field);
	return ELECTOR_OK;
}

int elector_record_validate(const struct elector_record *rec, char *err,
                            size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rec == NULL)
		return fail(err, errlen, "no record");
	int rc = check_str(rec->holder_identity, sizeof rec->holder_identity,
	                   "holderIdentity", err, errlen);
	if (rc == ELECTOR_OK)
		rc = check_str(rec->preferred_holder,
		               sizeof rec->preferred_holder, "preferredHolder",
		               err, errlen);
	if (rc == ELECTOR_OK)
		rc = check_str(rec->strategy, sizeof rec->strategy, "strategy",
		               err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	int32_t lds = rec->lease_duration_seconds;
	if (lds == 0 && rec->holder_identity[0] != '\0')
		return fail(err, errlen,
		            "leaseDurationSeconds: 0 with holder \"%.64s\" "
		            "(only a released record may have 0)",
		            rec->holder_identity);
	if (lds < 0 || lds > LEASE_SECONDS_MAX)
		return fail(err, errlen,
		            "leaseDurationSeconds: %ld out of range 1..%d",
		            (long)lds, LEASE_SECONDS_MAX);
	if (rec->leader_transitions < 0)
		return fail(err, errlen, "leaderTransitions: %lld is negative",
		            (long long)rec->leader_transitions);
	if ((rec->flags & ~KNOWN_FLAGS) != 0)
		return fail(err, errlen, "unknown record flags 0x%x",
		            (unsigned)rec->flags);
	if ((rec->flags & ELECTOR_REC_HAS_ACQUIRE_TIME) &&
	    (rec->acquire_time_us < TIME_US_MIN ||
	     rec->acquire_time_us > TIME_US_MAX))
		return fail(err, errlen, "acquireTime: out of range");
	if ((rec->flags & ELECTOR_REC_HAS_RENEW_TIME) &&
	    (rec->renew_time_us < TIME_US_MIN ||
	     rec->renew_time_us > TIME_US_MAX))
		return fail(err, errlen, "renewTime: out of range");
	return ELECTOR_OK;
}

/* Adds key: time string, or nothing when the time is unset. */
static int set_time(json_t *obj, const char *key, int has, int64_t us)
{
	if (!has)
		return 0;
	char tb[32];
	if (elector_time_format(us, tb, sizeof tb) != ELECTOR_OK)
		return -1;
	return json_object_set_new(obj, key, json_string(tb));
}

int elector_record_encode(const struct elector_record *rec, char *buf,
                          size_t cap, size_t *len)
{
	if (buf == NULL || len == NULL || cap == 0)
		return ELECTOR_ERROR;
	buf[0] = '\0';
	*len = 0;
	if (elector_record_validate(rec, NULL, 0) != ELECTOR_OK)
		return ELECTOR_ERROR;
	json_t *o = json_object();
	if (o == NULL)
		return ELECTOR_ERROR;
	/* jansson keeps insertion order: client-go's field order. */
	int bad = json_object_set_new(o, "holderIdentity",
	                              json_string(rec->holder_identity));
	bad |= json_object_set_new(o, "leaseDurationSeconds",
	                           json_integer(rec->lease_duration_seconds));
	bad |= set_time(o, "acquireTime",
	                (rec->flags & ELECTOR_REC_HAS_ACQUIRE_TIME) != 0,
	                rec->acquire_time_us);
	bad |= set_time(o, "renewTime",
	                (rec->flags & ELECTOR_REC_HAS_RENEW_TIME) != 0,
	                rec->renew_time_us);
	bad |= json_object_set_new(o, "leaderTransitions",
	                           json_integer(rec->leader_transitions));
	if (rec->preferred_holder[0] != '\0')
		bad |= json_object_set_new(o, "preferredHolder",
		                           json_string(rec->preferred_holder));
	if (rec->strategy[0] != '\0')
		bad |= json_object_set_new(o, "strategy",
		                           json_string(rec->strategy));
	int rc = ELECTOR_ERROR;
	if (bad == 0) {
		size_t n = json_dumpb(o, buf, cap, JSON_COMPACT);
		if (n > 0 && n < cap && n <= ELECTOR_RECORD_JSON_MAX) {
			buf[n] = '\0';
			*len = n;
			rc = ELECTOR_OK;
		} else {
			buf[0] = '\0';
		}
	}
	json_decref(o);
	return rc;
}

/* Copies a JSON string (or null/absent = "") into dst[cap]. */
static int get_str(json_t *o, const char *key, char *dst, size_t cap, char *err,
                   size_t errlen)
{
	json_t *v = json_object_get(o, key);
	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	if (!json_is_string(v))
		return fail(err, errlen, "%s: expected a string", key);
	size_t n = json_string_length(v);
	if (n >= cap)
		return fail(err, errlen, "%s: longer than %zu bytes", key,
		            cap - 1);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return ELECTOR_OK;
}

/* An integer field (absent = 0) in [lo, hi]. */
static int get_int(json_t *o, const char *key, long long lo, long long hi,
                   long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	if (!json_is_integer(v))
		return fail(err, errlen, "%s: expected an integer", key);
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return fail(err, errlen, "%s: %lld out of range %lld..%lld",
		            key, x, lo, hi);
	*out = x;
	return ELECTOR_OK;
}

/* A time field: RFC 3339 string, or null/absent = unset. */
static int get_time(json_t *o, const char *key, uint32_t flag,
                    struct elector_record *rec, int64_t *dst, char *err,
                    size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*dst = 0;
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	if (!json_is_string(v))
		return fail(err, errlen,
		            "%s: expected an RFC 3339 string or null", key);
	const char *s = json_string_value(v);
	if (elector_time_parse(s, dst) != ELECTOR_OK)
		return fail(err, errlen,
		            "%s: \"%.40s\" is not an RFC 3339 time", key, s);
	rec->flags |= flag;
	return ELECTOR_OK;
}

static int decode_object(json_t *o, struct elector_record *rec, char *err,
                         size_t errlen)
{
	long long lds, lt;
	int rc = get_str(o, "holderIdentity", rec->holder_identity,
	                 sizeof rec->holder_identity, err, errlen);
	if (rc == ELECTOR_OK)
		rc = get_str(o, "preferredHolder", rec->preferred_holder,
		             sizeof rec->preferred_holder, err, errlen);
	if (rc == ELECTOR_OK)
		rc = get_str(o, "strategy", rec->strategy, sizeof rec->strategy,
		             err, errlen);
	if (rc == ELECTOR_OK)
		rc = get_int(o, "leaseDurationSeconds", 0, LEASE_SECONDS_MAX,
		             &lds, err, errlen);
	if (rc == ELECTOR_OK)
		rc = get_int(o, "leaderTransitions", 0, INT64_MAX, &lt, err,
		             errlen);
	if (rc == ELECTOR_OK)
		rc = get_time(o, "acquireTime", ELECTOR_REC_HAS_ACQUIRE_TIME,
		              rec, &rec->acquire_time_us, err, errlen);
	if (rc == ELECTOR_OK)
		rc = get_time(o, "renewTime", ELECTOR_REC_HAS_RENEW_TIME, rec,
		              &rec->renew_time_us, err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	rec->lease_duration_seconds = (int32_t)lds;
	rec->leader_transitions = lt;
	return elector_record_validate(rec, err, errlen);
}

int elector_record_decode(const char *json, size_t len,
                          struct elector_record *rec, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rec == NULL)
		return fail(err, errlen, "no record buffer");
	memset(rec, 0, sizeof *rec);
	if (json == NULL || len == 0)
		return fail(err, errlen, "empty record");
	if (len > ELECTOR_RECORD_JSON_MAX)
		return fail(err, errlen, "record of %zu bytes exceeds %d bytes",
		            len, ELECTOR_RECORD_JSON_MAX);
	json_error_t je;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL)
		return fail(err, errlen, "not JSON: %s at line %d column %d",
		            je.text, je.line, je.column);
	int rc;
	if (!json_is_object(o))
		rc = fail(err, errlen, "expected a JSON object");
	else
		rc = decode_object(o, rec, err, errlen);
	json_decref(o);
	if (rc != ELECTOR_OK)
		memset(rec, 0, sizeof *rec);
	return rc;
}

int elector_record_equal(const struct elector_record *a,
                         const struct elector_record *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->flags != b->flags ||
	    a->lease_duration_seconds != b->lease_duration_seconds ||
	    a->leader_transitions != b->leader_transitions)
		return 0;
	if ((a->flags & ELECTOR_REC_HAS_ACQUIRE_TIME) &&
	    a->acquire_time_us != b->acquire_time_us)
		return 0;
	if ((a->flags & ELECTOR_REC_HAS_RENEW_TIME) &&
	    a->renew_time_us != b->renew_time_us)
		return 0;
	return strncmp(a->holder_identity, b->holder_identity,
	               sizeof a->holder_identity) == 0 &&
	       strncmp(a->preferred_holder, b->preferred_holder,
	               sizeof a->preferred_holder) == 0 &&
	       strncmp(a->strategy, b->strategy, sizeof a->strategy) == 0;
}
