/* Lease object <-> election record, as client-go's LeaseLock converts them
 * (LeaseSpecToLeaderElectionRecord / LeaderElectionRecordToLeaseSpec). */
#include <stdio.h>
#include <string.h>

#include "lease_int.h"

static int get_time(const struct elector_backend_host *host,
                    const json_t *spec, const char *key, int64_t *us,
                    int *set, char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, key);

	*set = 0;
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	if (!json_is_string(v) ||
	    host->time_parse(json_string_value(v), us) != ELECTOR_OK) {
		snprintf(err, errlen, "lease: spec.%s is not an RFC 3339 time",
		         key);
		return ELECTOR_CORRUPT;
	}
	*set = 1;
	return ELECTOR_OK;
}

static int get_str(const json_t *spec, const char *key, char *buf, size_t cap,
                   char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, key);
	const char *s;

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	s = json_string_value(v);
	if (s == NULL || strlen(s) >= cap) {
		snprintf(err, errlen, "lease: spec.%s is not a string shorter "
		         "than %zu bytes", key, cap);
		return ELECTOR_CORRUPT;
	}
	memcpy(buf, s, strlen(s) + 1);
	return ELECTOR_OK;
}

static int get_int(const json_t *spec, const char *key, int64_t *out,
                   char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return ELECTOR_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 2147483647) {
		snprintf(err, errlen, "lease: spec.%s is not an int32 >= 0", key);
		return ELECTOR_CORRUPT;
	}
	*out = json_integer_value(v);
	return ELECTOR_OK;
}

int elector_lease_decode(const struct elector_backend_host *host,
                         const json_t *obj, struct elector_record *rec,
                         struct elector_version *ver, char *err,
                         size_t errlen)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	int64_t dur = 0, tr = 0;
	int set = 0, rc;

	memset(rec, 0, sizeof *rec);
	if (!json_is_object(obj) || !json_is_object(meta) || rv == NULL ||
	    rv[0] == '\0' || strlen(rv) >= sizeof ver->v) {
		snprintf(err, errlen, "lease: object without a usable "
		         "metadata.resourceVersion");
		return ELECTOR_CORRUPT;
	}
	if (spec != NULL && !json_is_object(spec)) {
		snprintf(err, errlen, "lease: spec is not an object");
		return ELECTOR_CORRUPT;
	}
	if ((rc = get_str(spec, "holderIdentity", rec->holder_identity,
	                  sizeof rec->holder_identity, err, errlen)) ||
	    (rc = get_int(spec, "leaseDurationSeconds", &dur, err, errlen)) ||
	    (rc = get_int(spec, "leaseTransitions", &tr, err, errlen)) ||
	    (rc = get_str(spec, "preferredHolder", rec->preferred_holder,
	                  sizeof rec->preferred_holder, err, errlen)) ||
	    (rc = get_str(spec, "strategy", rec->strategy, sizeof rec->strategy,
	                  err, errlen)))
		return rc;
	rc = get_time(host, spec, "acquireTime", &rec->acquire_time_us, &set,
	              err, errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (set)
		rec->flags |= ELECTOR_REC_HAS_ACQUIRE_TIME;
	rc = get_time(host, spec, "renewTime", &rec->renew_time_us, &set, err,
	              errlen);
	if (rc != ELECTOR_OK)
		return rc;
	if (set)
		rec->flags |= ELECTOR_REC_HAS_RENEW_TIME;
	if (rec->holder_identity[0] != '\0' && dur < 1) {
		snprintf(err, errlen, "lease: spec.leaseDurationSeconds missing "
		         "or 0 while held by '%s'", rec->holder_identity);
		return ELECTOR_CORRUPT;
	}
	rec->lease_duration_seconds = (int32_t)dur;
	rec->leader_transitions = tr;
	memcpy(ver->v, rv, strlen(rv) + 1);
	return ELECTOR_OK;
}

static int set_time(const struct elector_backend_host *host, json_t *spec,
                    const char *key, int64_t us)
{
	char buf[40];

	if (host->time_format(us, buf, sizeof buf) != ELECTOR_OK)
		return -1;
	return json_object_set_new(spec, key, json_string(buf));
}

json_t *elector_lease_spec(const struct elector_backend_host *host,
                           const struct elector_record *rec, char *err,
                           size_t errlen)
{
	json_t *spec = json_object();
	int bad = spec == NULL;

	if (rec->leader_transitions < 0 ||
	    rec->leader_transitions > 2147483647 ||
	    rec->lease_duration_seconds < 0) {
		snprintf(err, errlen, "lease: leaseTransitions/leaseDuration out "
		         "of int32 range");
		json_decref(spec);
		return NULL;
	}
	/* Field order as client-go's LeaseSpec marshals it. */
	bad = bad || json_object_set_new(spec, "holderIdentity",
	                                 json_string(rec->holder_identity));
	bad = bad || json_object_set_new(spec, "leaseDurationSeconds",
	                                 json_integer(rec->lease_duration_seconds));
	if (!bad && (rec->flags & ELECTOR_REC_HAS_ACQUIRE_TIME))
		bad = set_time(host, spec, "acquireTime", rec->acquire_time_us);
	if (!bad && (rec->flags & ELECTOR_REC_HAS_RENEW_TIME))
		bad = set_time(host, spec, "renewTime", rec->renew_time_us);
	bad = bad || json_object_set_new(spec, "leaseTransitions",
	                                 json_integer(rec->leader_transitions));
	if (!bad && rec->strategy[0] != '\0')
		bad = json_object_set_new(spec, "strategy",
		                          json_string(rec->strategy));
	if (!bad && rec->preferred_holder[0] != '\0')
		bad = json_object_set_new(spec, "preferredHolder",
		                          json_string(rec->preferred_holder));
	if (bad) {
		snprintf(err, errlen, "lease: cannot encode the record (invalid "
		         "UTF-8 or time out of range)");
		json_decref(spec);
		return NULL;
	}
	return spec;
}
