/*
 * envelope — the msgpack messages between edge and workers (ARCHITECTURE.md,
 * "Wire contract"). One msgpack map per message with short string keys:
 *
 *   request : {v, id(bin16), op, name, who{acct,kind,client,key,scopes}, args(bin JSON), deadline}
 *   response: {v, id(bin16), ok:true,  result(bin JSON)}
 *           | {v, id(bin16), ok:false, error{code, message, details(bin JSON, optional)}}
 *
 * JSON arguments and results travel as opaque bin (no transcoding). Decoding is
 * strict: the bytes are first checked by an allocation-free validator (bounded
 * depth, every declared length within the remaining bytes, no trailing data),
 * then unpacked; any wrong type, missing key, unknown version or oversize field
 * is an error. Hostile bytes never crash and never cause a large allocation.
 *
 * Ownership: decoded strings and bins are copied into the struct, which the
 * caller releases with env_request_free / env_response_free.
 */
#ifndef TM_ENVELOPE_H
#define TM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "proto/errors.h"

#define ENV_VERSION 1
#define ENV_ID_LEN 16
#define ENV_MAX_MESSAGE (2u << 20)   /* 2 MiB: 1 MiB HTTP body plus room */
#define ENV_MAX_DEPTH 8
#define ENV_MAX_NAME 64

enum env_op { ENV_OP_TOOL = 1, ENV_OP_GATEWAY, ENV_OP_AUTH, ENV_OP_WEB };

enum principal_kind { PRINCIPAL_ANON = 0, PRINCIPAL_APIKEY, PRINCIPAL_OAUTH, PRINCIPAL_COLLAB, PRINCIPAL_WEB };

/* Scope bits of a credential. */
#define SCOPE_READ    1u
#define SCOPE_WRITE   2u
#define SCOPE_EXECUTE 4u
#define SCOPE_ALL     (SCOPE_READ | SCOPE_WRITE | SCOPE_EXECUTE)

struct principal {
    char account_id[40];          /* uuid text, "" for anon */
    enum principal_kind kind;
    char client_id[256];          /* OAuth client id, or "" */
    char key_id[40];              /* id of the API key / grant used, or "" */
    uint32_t scopes;              /* SCOPE_* bits */
};

struct env_request {
    uint8_t id[ENV_ID_LEN];
    enum env_op op;
    char name[ENV_MAX_NAME];
    struct principal who;
    char *args;                   /* JSON text, NUL-terminated, malloc'd */
    size_t args_len;
    int64_t deadline_ms;          /* epoch ms; the worker must not start after it */
};

struct env_response {
    uint8_t id[ENV_ID_LEN];
    bool ok;
    char *result;                 /* ok: JSON text, malloc'd, NUL-terminated */
    size_t result_len;
    enum tm_error code;           /* !ok */
    char *message;                /* !ok: malloc'd */
    char *details;                /* !ok: JSON text or NULL */
    size_t details_len;
};

/* Encode into a new malloc'd buffer (*out, *out_len). Returns 0. */
int env_request_encode(const struct env_request *r, uint8_t **out, size_t *out_len);
int env_response_encode(const struct env_response *r, uint8_t **out, size_t *out_len);

/* Strict decode. Returns 0, or -1 with a short reason in err (may be NULL).
 * On failure the struct is left empty (nothing to free). */
int env_request_decode(const uint8_t *buf, size_t len, struct env_request *r, const char **err);
int env_response_decode(const uint8_t *buf, size_t len, struct env_response *r, const char **err);

void env_request_free(struct env_request *r);
void env_response_free(struct env_response *r);

/* Allocation-free structural check of untrusted msgpack: every declared
 * length fits in the remaining bytes, nesting <= max_depth, no reserved 0xc1,
 * exactly one object with no trailing bytes. Returns true if well-formed. */
bool mp_check(const uint8_t *buf, size_t len, int max_depth);

const char *env_op_name(enum env_op op);
const char *principal_kind_name(enum principal_kind k);

#endif
