/*
 * errors — the error codes that travel from workers to the edge, with their
 * names on the wire and in tool results.
 */
#ifndef TM_ERRORS_H
#define TM_ERRORS_H

enum tm_error {
    TM_OK = 0,
    TM_ERR_INVALID_ARGUMENT,      /* "invalid_argument" */
    TM_ERR_NOT_FOUND,             /* "not_found" */
    TM_ERR_PERMISSION_DENIED,     /* "permission_denied" */
    TM_ERR_QUOTA_EXCEEDED,        /* "quota_exceeded" */
    TM_ERR_CONFLICT,              /* "conflict" */
    TM_ERR_PRECONDITION_FAILED,   /* "precondition_failed" */
    TM_ERR_RATE_LIMITED,          /* "rate_limited" */
    TM_ERR_UNAVAILABLE,           /* "unavailable" */
    TM_ERR_INTERNAL,              /* "internal" */
    TM_ERR__COUNT
};

const char *tm_error_name(enum tm_error e);
/* Returns the code for a wire name, or -1 if unknown. */
int tm_error_from_name(const char *name, unsigned long len);

#endif
