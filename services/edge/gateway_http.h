/*
 * gateway_http — the public gateway routes on the edge, /api/v1/data/...
 * (docs/GATEWAY.md, "Edge"). The edge makes the checks it can make alone —
 * path shape (404), method (405), bearer key shape (401), content type (415),
 * body size (413), JSON object body (400), query and webhook headers (400),
 * the per-key rate limit — and sends every request that carries a well-formed
 * key to a worker as `gateway.call`. Early rejections and throttling travel
 * with it ("reject", "throttled") so the worker authenticates the key first
 * and logs the call; the worker's {status, headers, body} becomes the reply.
 *
 * Browsers call the gateway from customers' sites, so every reply carries
 * `Access-Control-Allow-Origin: *` (keys are bearer tokens, never cookies).
 *
 * The parsing steps are pure functions so they can be tested without a
 * server; gateway_http_handle ties them to libevent and the dispatcher.
 */
#ifndef TM_GATEWAY_HTTP_H
#define TM_GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/http.h>
#include <jansson.h>
#include "services/edge/edge.h"

#define GATEWAY_PATH_PREFIX "/api/v1/data/"
#define GW_MAX_BODY 102400u            /* 100 KB request bodies (DOMAIN.md §3) */
#define GW_SLUG_MAX 64
#define GW_RECORD_ID_MAX 44            /* "rec_" + 40 */
#define GW_KEY_LEN 51                  /* "tm_test_"/"tm_live_" + 43 base64url */
#define GW_QUERY_VALUE_MAX 1024        /* decoded bytes per query parameter */
#define GW_LIMIT_MAX 30
#define GW_WEBHOOK_URL_MAX 2048
#define GW_WEBHOOK_AUTH_MAX 1024
#define GW_WEBHOOK_HEADER_MAX 128

enum gw_route {
    GW_ROUTE_NONE = 0,
    GW_ROUTE_COLLECTION,   /* /{slug}: GET list, POST create */
    GW_ROUTE_SEARCH,       /* /{slug}/search: GET */
    GW_ROUTE_RECORD,       /* /{slug}/{record_id}: GET, PUT, DELETE */
};

struct gw_path {
    enum gw_route route;
    char slug[GW_SLUG_MAX + 1];
    char record_id[GW_RECORD_ID_MAX + 1];   /* "" unless GW_ROUTE_RECORD */
};

/* An early rejection: the HTTP status, error code and message the worker logs and answers. */
struct gw_reject {
    int status;            /* 0: none */
    const char *code;      /* static string */
    char message[200];
};

/* Parses the raw request path (no query, no %-decoding). False (404) unless it
 * is GATEWAY_PATH_PREFIX + slug [a-z0-9-]{1,64}, optionally followed by
 * "/search" or "/" + record id rec_[0-9a-z]{1,40}. */
bool gw_parse_path(const char *path, struct gw_path *out);

/* The Allow header value of a route ("GET, POST, OPTIONS", ...). */
const char *gw_allow(enum gw_route route);
/* Whether the route serves this method (OPTIONS is handled before). */
bool gw_method_allowed(enum gw_route route, enum evhttp_cmd_type method);

/* The key of an Authorization header "Bearer <key>" of the exact shape
 * tm_(test|live)_ + 43 base64url characters: returns "sandbox" or
 * "production" and points *key and *len at it; NULL for anything else. */
const char *gw_bearer_key(const char *authorization, const char **key, size_t *len);

/* "application/json", optionally with parameters. */
bool gw_content_type_json(const char *content_type);

/* Checks a POST/PUT body: 415, 413, 400 invalid_json (also duplicate keys),
 * 400 invalid_body (not an object). True when acceptable; else fills rej. */
bool gw_check_body(const char *content_type, const char *body, size_t len, struct gw_reject *rej);

/* Parses the raw query string (text after '?', NULL or "" for none) into
 * {"q","from","to","cursor","limit"} (absent ones null; limit an integer
 * 1..30). Any other name, a repeated name, bad %-escapes, NUL or invalid
 * UTF-8, an oversize value or a bad limit: false with a 400 invalid_query in
 * rej and *out NULL. */
bool gw_parse_query(const char *query, json_t **out, struct gw_reject *rej);

/* Builds the per-request webhook override from the three header values (each
 * may be NULL). *out is NULL when none is present. A header without the
 * callback, oversize or non-printable values, or a header name that is not an
 * HTTP token: false with a 400 invalid_webhook in rej. */
bool gw_parse_webhook(const char *callback, const char *auth, const char *auth_header, json_t **out,
                      struct gw_reject *rej);

/* Validates a worker's gateway.call result {status, headers, body}: status an
 * integer 100..599, headers an object of header-safe strings, body an object.
 * On success *status, *headers (new reference) and *body_text (compact JSON,
 * malloc'd) are set. */
bool gw_parse_result(const char *json, size_t len, int *status, json_t **headers, char **body_text);

/* The route handler: path is the raw path, already known to start with GATEWAY_PATH_PREFIX. */
void gateway_http_handle(struct edge *e, struct evhttp_request *req, const char *path);

#endif
