/*
 * errors — the wire names of the error codes in errors.h. The table is indexed
 * by the enum so that a name and its code can never drift apart.
 */
#include "proto/errors.h"

#include <string.h>

static const char *const error_names[TM_ERR__COUNT] = {
    [TM_OK] = "ok",
    [TM_ERR_INVALID_ARGUMENT] = "invalid_argument",
    [TM_ERR_NOT_FOUND] = "not_found",
    [TM_ERR_PERMISSION_DENIED] = "permission_denied",
    [TM_ERR_QUOTA_EXCEEDED] = "quota_exceeded",
    [TM_ERR_CONFLICT] = "conflict",
    [TM_ERR_PRECONDITION_FAILED] = "precondition_failed",
    [TM_ERR_RATE_LIMITED] = "rate_limited",
    [TM_ERR_UNAVAILABLE] = "unavailable",
    [TM_ERR_INTERNAL] = "internal",
};

/* An out-of-range value is reported as "internal": whatever produced it is a
 * bug on our side, and the name must still be a valid wire name. */
const char *tm_error_name(enum tm_error e)
{
    if ((int)e < 0 || e >= TM_ERR__COUNT)
        return error_names[TM_ERR_INTERNAL];
    return error_names[e];
}

/* Exact, case-sensitive match over len bytes (the name need not be
 * NUL-terminated, as it usually points into a received message). */
int tm_error_from_name(const char *name, unsigned long len)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < TM_ERR__COUNT; i++) {
        if (strlen(error_names[i]) == len && memcmp(error_names[i], name, len) == 0)
            return i;
    }
    return -1;
}
