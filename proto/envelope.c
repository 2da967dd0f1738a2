/*
 * envelope — encoding and strict decoding of the msgpack messages between the
 * edge and the workers (see envelope.h for the layout).
 *
 * Interface routines:
 *   env_request_encode / env_response_encode   struct -> new malloc'd bytes
 *   env_request_decode / env_response_decode   untrusted bytes -> struct
 *   env_request_free / env_response_free
 *   mp_check                                    allocation-free validator
 *   env_op_name / principal_kind_name           wire names
 *
 * Why a validator runs before msgpack-c: msgpack_unpack_next allocates
 * n * sizeof(msgpack_object) for a container before it checks that the n
 * elements exist, so a 5-byte array32 header makes it reserve gigabytes
 * (C-LIBS.md §3). mp_check rejects any declared length larger than what is
 * left of the buffer, so after it passes every allocation msgpack-c makes is
 * bounded by the message size. The decoder additionally caps the number of
 * objects in an envelope, which has only a couple of dozen.
 */
#include "proto/envelope.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* An envelope holds about 25 objects (keys and values); this leaves room and
 * keeps msgpack-c's zone allocation for hostile input in the kilobytes. */
#define ENV_MAX_OBJECTS 128

/* mp_check keeps one counter per open container; deeper limits are clamped
 * (msgpack-c itself stops at MSGPACK_EMBED_STACK_SIZE = 32). */
#define MP_STACK 64

/* ---- mp_check ------------------------------------------------------------ */

static uint64_t rd_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * Walks one msgpack object without allocating. stack[d] counts the elements
 * still expected in the container at depth d+1. Every container's element
 * count is compared with the bytes left (each element takes at least one
 * byte), which is what makes hostile headers harmless. Returns the number of
 * objects seen, or -1 if the bytes are not exactly one well-formed object.
 */
static long mp_scan(const uint8_t *buf, size_t len, int max_depth, long max_objects)
{
    uint64_t stack[MP_STACK];
    int depth = 0;
    size_t pos = 0;
    long objects = 0;

    if (buf == NULL || len == 0)
        return -1;
    if (max_depth < 0)
        max_depth = 0;
    if (max_depth > MP_STACK)
        max_depth = MP_STACK;

    for (;;) {
        if (pos >= len)
            return -1;
        if (max_objects > 0 && objects >= max_objects)
            return -1;
        objects++;

        const uint8_t t = buf[pos++];
        const size_t left = len - pos;
        uint64_t skip = 0;      /* payload bytes after the header */
        uint64_t children = 0;  /* container elements (a map counts 2 per pair) */
        bool container = false;
        int hdr = 0;            /* length bytes that follow the type byte */

        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            /* fixint, nil, false, true: the type byte is the whole object */
        } else if ((t & 0xf0) == 0x80) {
            container = true;
            children = 2u * (t & 0x0f);
        } else if ((t & 0xf0) == 0x90) {
            container = true;
            children = t & 0x0f;
        } else if ((t & 0xe0) == 0xa0) {
            skip = t & 0x1f;
        } else {
            switch (t) {
            case 0xc1:
                return -1; /* reserved, never valid */
            case 0xc4: case 0xd9: hdr = 1; skip = 0; break; /* bin8, str8 */
            case 0xc5: case 0xda: hdr = 2; break;            /* bin16, str16 */
            case 0xc6: case 0xdb: hdr = 4; break;            /* bin32, str32 */
            case 0xc7: hdr = 1; break;                       /* ext8 */
            case 0xc8: hdr = 2; break;                       /* ext16 */
            case 0xc9: hdr = 4; break;                       /* ext32 */
            case 0xca: skip = 4; break;                      /* float32 */
            case 0xcb: skip = 8; break;                      /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                      /* fixext1: type + 1 */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: hdr = 2; container = true; break;     /* array16 */
            case 0xdd: hdr = 4; container = true; break;     /* array32 */
            case 0xde: hdr = 2; container = true; break;     /* map16 */
            case 0xdf: hdr = 4; container = true; break;     /* map32 */
            default:
                return -1;
            }
            if (hdr > 0) {
                if ((size_t)hdr > left)
                    return -1;
                uint64_t n = rd_be(buf + pos, hdr);
                pos += (size_t)hdr;
                if (container)
                    children = (t == 0xde || t == 0xdf) ? 2 * n : n;
                else if (t >= 0xc7 && t <= 0xc9)
                    skip = n + 1; /* ext: the type byte, then n data bytes */
                else
                    skip = n;
            }
        }

        if (skip > len - pos)
            return -1;
        pos += (size_t)skip;

        if (container) {
            if (depth >= max_depth)
                return -1;
            if (children > len - pos)
                return -1;
            if (children > 0) {
                stack[depth++] = children;
                continue;
            }
            /* an empty container is complete at once: fall through */
        }

        /* One object finished: pop every container it completes. */
        while (depth > 0 && --stack[depth - 1] == 0)
            depth--;
        if (depth == 0)
            return pos == len ? objects : -1;
    }
}

bool mp_check(const uint8_t *buf, size_t len, int max_depth)
{
    return mp_scan(buf, len, max_depth, 0) >= 0;
}

/* ---- names ------------------------------------------------------------- */

static const char *const op_names[] = {
    [ENV_OP_TOOL] = "tool", [ENV_OP_GATEWAY] = "gateway", [ENV_OP_AUTH] = "auth", [ENV_OP_WEB] = "web",
};

static const char *const kind_names[] = {
    [PRINCIPAL_ANON] = "anon",     [PRINCIPAL_APIKEY] = "apikey", [PRINCIPAL_OAUTH] = "oauth",
    [PRINCIPAL_COLLAB] = "collab", [PRINCIPAL_WEB] = "web",
};

const char *env_op_name(enum env_op op)
{
    if ((int)op < ENV_OP_TOOL || (size_t)op >= TM_ARRAY_LEN(op_names))
        return "?";
    return op_names[op];
}

const char *principal_kind_name(enum principal_kind k)
{
    if ((int)k < 0 || (size_t)k >= TM_ARRAY_LEN(kind_names))
        return "?";
    return kind_names[k];
}

/* Looks a wire name up in a table indexed by enum value; -1 if unknown. */
static int name_lookup(const char *const *table, size_t n, int first, const char *s, size_t len)
{
    for (size_t i = (size_t)first; i < n; i++) {
        if (table[i] && strlen(table[i]) == len && memcmp(table[i], s, len) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- encoding ------------------------------------------------------------ */

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str_with_body(pk, s, n);
}

static void pk_key(msgpack_packer *pk, const char *k)
{
    pk_str(pk, k, strlen(k));
}

/* A fixed-size char field: its bytes up to the first NUL, never past the array. */
static void pk_field(msgpack_packer *pk, const char *s, size_t cap)
{
    pk_str(pk, s, strnlen(s, cap));
}

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin_with_body(pk, n ? p : "", n);
}

static void pk_cstr(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        s = "";
    pk_str(pk, s, strlen(s));
}

/* Hands the packed bytes to the caller; a message that the peer's decoder
 * would reject for its size is refused here rather than sent. */
static int pk_finish(msgpack_sbuffer *sb, uint8_t **out, size_t *out_len)
{
    if (sb->size > ENV_MAX_MESSAGE) {
        msgpack_sbuffer_destroy(sb);
        *out = NULL;
        *out_len = 0;
        return -1;
    }
    /* Copy into an xmalloc'd buffer so the caller frees with free() and an
     * out-of-memory inside msgpack's realloc cannot pass unnoticed. */
    uint8_t *p = xmalloc(sb->size ? sb->size : 1);
    if (sb->size)
        memcpy(p, sb->data, sb->size);
    *out = p;
    *out_len = sb->size;
    msgpack_sbuffer_destroy(sb);
    return 0;
}

int env_request_encode(const struct env_request *r, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, 7);
    pk_key(&pk, "v");
    msgpack_pack_uint64(&pk, ENV_VERSION);
    pk_key(&pk, "id");
    pk_bin(&pk, r->id, ENV_ID_LEN);
    pk_key(&pk, "op");
    pk_cstr(&pk, env_op_name(r->op));
    pk_key(&pk, "name");
    pk_field(&pk, r->name, sizeof r->name);
    pk_key(&pk, "who");
    msgpack_pack_map(&pk, 5);
    pk_key(&pk, "acct");
    pk_field(&pk, r->who.account_id, sizeof r->who.account_id);
    pk_key(&pk, "kind");
    pk_cstr(&pk, principal_kind_name(r->who.kind));
    pk_key(&pk, "client");
    pk_field(&pk, r->who.client_id, sizeof r->who.client_id);
    pk_key(&pk, "key");
    pk_field(&pk, r->who.key_id, sizeof r->who.key_id);
    pk_key(&pk, "scopes");
    msgpack_pack_uint64(&pk, r->who.scopes);
    pk_key(&pk, "args");
    pk_bin(&pk, r->args, r->args ? r->args_len : 0);
    pk_key(&pk, "deadline");
    msgpack_pack_int64(&pk, r->deadline_ms);
    return pk_finish(&sb, out, out_len);
}

int env_response_encode(const struct env_response *r, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, 4);
    pk_key(&pk, "v");
    msgpack_pack_uint64(&pk, ENV_VERSION);
    pk_key(&pk, "id");
    pk_bin(&pk, r->id, ENV_ID_LEN);
    pk_key(&pk, "ok");
    if (r->ok) {
        msgpack_pack_true(&pk);
        pk_key(&pk, "result");
        pk_bin(&pk, r->result, r->result ? r->result_len : 0);
    } else {
        msgpack_pack_false(&pk);
        pk_key(&pk, "error");
        msgpack_pack_map(&pk, r->details ? 3 : 2);
        pk_key(&pk, "code");
        /* TM_OK is not an error: a failure without a code is internal. */
        pk_cstr(&pk, tm_error_name(r->code == TM_OK ? TM_ERR_INTERNAL : r->code));
        pk_key(&pk, "message");
        pk_cstr(&pk, r->message);
        if (r->details) {
            pk_key(&pk, "details");
            pk_bin(&pk, r->details, r->details_len);
        }
    }
    return pk_finish(&sb, out, out_len);
}

/* ---- decoding ------------------------------------------------------------ */

/* Shared front half of both decoders: size limit, structural check, unpack. */
static int unpack_map(const uint8_t *buf, size_t len, msgpack_unpacked *u, const char **err)
{
    if (buf == NULL || len == 0) {
        *err = "empty message";
        return -1;
    }
    if (len > ENV_MAX_MESSAGE) {
        *err = "message too large";
        return -1;
    }
    if (mp_scan(buf, len, ENV_MAX_DEPTH, ENV_MAX_OBJECTS) < 0) {
        *err = "malformed msgpack";
        return -1;
    }
    size_t off = 0;
    msgpack_unpacked_init(u);
    if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(u);
        *err = "malformed msgpack";
        return -1;
    }
    if (u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        *err = "message is not a map";
        return -1;
    }
    return 0;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* Finds which of the names a key is; -1 if it is not a string or unknown. */
static int key_index(const msgpack_object *k, const char *const *names, int n)
{
    if (k->type != MSGPACK_OBJECT_STR)
        return -1;
    for (int i = 0; i < n; i++) {
        if (key_is(k, names[i]))
            return i;
    }
    return -1;
}

/*
 * Matches a map against a fixed key set: every key must be known and appear
 * at most once; vals[i] receives the value of names[i] (NULL if absent).
 */
static int map_fields(const msgpack_object *m, const char *const *names, int n,
                      const msgpack_object **vals, const char **err)
{
    for (int i = 0; i < n; i++)
        vals[i] = NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        int k = key_index(&kv->key, names, n);
        if (k < 0) {
            *err = "unknown key";
            return -1;
        }
        if (vals[k]) {
            *err = "duplicate key";
            return -1;
        }
        vals[k] = &kv->val;
    }
    return 0;
}

static int need(const msgpack_object *o, msgpack_object_type t, const char *what, const char **err)
{
    if (o == NULL) {
        *err = what; /* the caller passes "missing <key>"-style reasons */
        return -1;
    }
    if (o->type != t) {
        *err = "wrong type";
        return -1;
    }
    return 0;
}

static int get_version(const msgpack_object *o, const char **err)
{
    if (need(o, MSGPACK_OBJECT_POSITIVE_INTEGER, "missing v", err))
        return -1;
    if (o->via.u64 != ENV_VERSION) {
        *err = "unsupported version";
        return -1;
    }
    return 0;
}

static int get_id(const msgpack_object *o, uint8_t id[ENV_ID_LEN], const char **err)
{
    if (need(o, MSGPACK_OBJECT_BIN, "missing id", err))
        return -1;
    if (o->via.bin.size != ENV_ID_LEN) {
        *err = "id must be 16 bytes";
        return -1;
    }
    memcpy(id, o->via.bin.ptr, ENV_ID_LEN);
    return 0;
}

/* Copies a string into a fixed char field: it must fit with its NUL and may
 * not contain one (which would silently shorten it). */
static int get_field(const msgpack_object *o, char *dst, size_t cap, bool nonempty,
                     const char *missing, const char **err)
{
    if (need(o, MSGPACK_OBJECT_STR, missing, err))
        return -1;
    size_t n = o->via.str.size;
    if (n >= cap) {
        *err = "string too long";
        return -1;
    }
    if (nonempty && n == 0) {
        *err = "empty string";
        return -1;
    }
    if (memchr(o->via.str.ptr, '\0', n)) {
        *err = "string contains NUL";
        return -1;
    }
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    return 0;
}

/* Copies a bin (JSON text) into a new NUL-terminated string. */
static int get_text(const msgpack_object *o, char **dst, size_t *dst_len, const char *missing,
                    const char **err)
{
    if (need(o, MSGPACK_OBJECT_BIN, missing, err))
        return -1;
    /* Copy all size bytes: the JSON parser, not this layer, decides what an
     * embedded NUL means, and *dst_len must describe the whole buffer. */
    size_t n = o->via.bin.size;
    *dst = xmalloc(n + 1);
    if (n)
        memcpy(*dst, o->via.bin.ptr, n);
    (*dst)[n] = '\0';
    *dst_len = n;
    return 0;
}

static int get_name(const msgpack_object *o, const char *const *table, size_t n, int first,
                    const char *missing, const char **err)
{
    if (need(o, MSGPACK_OBJECT_STR, missing, err))
        return -1;
    int v = name_lookup(table, n, first, o->via.str.ptr, o->via.str.size);
    if (v < 0)
        *err = "unknown name";
    return v;
}

static int get_principal(const msgpack_object *o, struct principal *p, const char **err)
{
    static const char *const keys[] = {"acct", "kind", "client", "key", "scopes"};
    const msgpack_object *v[5];

    if (need(o, MSGPACK_OBJECT_MAP, "missing who", err) || map_fields(o, keys, 5, v, err))
        return -1;
    if (get_field(v[0], p->account_id, sizeof p->account_id, false, "missing who.acct", err))
        return -1;
    int kind = get_name(v[1], kind_names, TM_ARRAY_LEN(kind_names), 0, "missing who.kind", err);
    if (kind < 0)
        return -1;
    p->kind = (enum principal_kind)kind;
    if (get_field(v[2], p->client_id, sizeof p->client_id, false, "missing who.client", err) ||
        get_field(v[3], p->key_id, sizeof p->key_id, false, "missing who.key", err))
        return -1;
    if (need(v[4], MSGPACK_OBJECT_POSITIVE_INTEGER, "missing who.scopes", err))
        return -1;
    if (v[4]->via.u64 & ~(uint64_t)SCOPE_ALL) {
        *err = "unknown scope bits";
        return -1;
    }
    p->scopes = (uint32_t)v[4]->via.u64;
    return 0;
}

int env_request_decode(const uint8_t *buf, size_t len, struct env_request *r, const char **err)
{
    static const char *const keys[] = {"v", "id", "op", "name", "who", "args", "deadline"};
    const msgpack_object *v[7];
    const char *dummy;
    msgpack_unpacked u;

    if (err == NULL)
        err = &dummy;
    memset(r, 0, sizeof *r);
    if (unpack_map(buf, len, &u, err))
        return -1;
    if (map_fields(&u.data, keys, 7, v, err) || get_version(v[0], err) || get_id(v[1], r->id, err))
        goto fail;
    int op = get_name(v[2], op_names, TM_ARRAY_LEN(op_names), ENV_OP_TOOL, "missing op", err);
    if (op < 0)
        goto fail;
    r->op = (enum env_op)op;
    if (get_field(v[3], r->name, sizeof r->name, true, "missing name", err) ||
        get_principal(v[4], &r->who, err))
        goto fail;
    if (v[6] == NULL) {
        *err = "missing deadline";
        goto fail;
    }
    if (v[6]->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v[6]->via.u64 > INT64_MAX) {
            *err = "deadline out of range";
            goto fail;
        }
        r->deadline_ms = (int64_t)v[6]->via.u64;
    } else if (v[6]->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        r->deadline_ms = v[6]->via.i64;
    } else {
        *err = "wrong type";
        goto fail;
    }
    /* args last: it is the only allocation, so earlier failures free nothing. */
    if (get_text(v[5], &r->args, &r->args_len, "missing args", err))
        goto fail;
    msgpack_unpacked_destroy(&u);
    return 0;

fail:
    msgpack_unpacked_destroy(&u);
    env_request_free(r);
    return -1;
}

int env_response_decode(const uint8_t *buf, size_t len, struct env_response *r, const char **err)
{
    static const char *const keys[] = {"v", "id", "ok", "result", "error"};
    static const char *const ekeys[] = {"code", "message", "details"};
    const msgpack_object *v[5], *e[3];
    const char *dummy;
    msgpack_unpacked u;

    if (err == NULL)
        err = &dummy;
    memset(r, 0, sizeof *r);
    if (unpack_map(buf, len, &u, err))
        return -1;
    if (map_fields(&u.data, keys, 5, v, err) || get_version(v[0], err) || get_id(v[1], r->id, err) ||
        need(v[2], MSGPACK_OBJECT_BOOLEAN, "missing ok", err))
        goto fail;
    r->ok = v[2]->via.boolean;
    if (r->ok) {
        if (v[4]) {
            *err = "error in a successful response";
            goto fail;
        }
        if (get_text(v[3], &r->result, &r->result_len, "missing result", err))
            goto fail;
    } else {
        if (v[3]) {
            *err = "result in a failed response";
            goto fail;
        }
        if (need(v[4], MSGPACK_OBJECT_MAP, "missing error", err) || map_fields(v[4], ekeys, 3, e, err))
            goto fail;
        if (need(e[0], MSGPACK_OBJECT_STR, "missing error.code", err))
            goto fail;
        int code = tm_error_from_name(e[0]->via.str.ptr, e[0]->via.str.size);
        if (code <= TM_OK) {
            *err = "unknown error code";
            goto fail;
        }
        r->code = (enum tm_error)code;
        if (need(e[1], MSGPACK_OBJECT_STR, "missing error.message", err))
            goto fail;
        if (memchr(e[1]->via.str.ptr, '\0', e[1]->via.str.size)) {
            *err = "string contains NUL";
            goto fail;
        }
        if (e[2] && e[2]->type != MSGPACK_OBJECT_BIN) {
            *err = "wrong type";
            goto fail;
        }
        r->message = xstrndup(e[1]->via.str.size ? e[1]->via.str.ptr : "", e[1]->via.str.size);
        if (e[2])
            get_text(e[2], &r->details, &r->details_len, "", err);
    }
    msgpack_unpacked_destroy(&u);
    return 0;

fail:
    msgpack_unpacked_destroy(&u);
    env_response_free(r);
    return -1;
}

void env_request_free(struct env_request *r)
{
    if (r == NULL)
        return;
    free(r->args);
    memset(r, 0, sizeof *r);
}

void env_response_free(struct env_response *r)
{
    if (r == NULL)
        return;
    free(r->result);
    free(r->message);
    free(r->details);
    memset(r, 0, sizeof *r);
}
