/*
 * archives_http — GET /archives/{id}/download?format&expires&sig: serves an
 * archive file to whoever holds a link signed by archives_download.
 */
#ifndef TM_ARCHIVES_HTTP_H
#define TM_ARCHIVES_HTTP_H

#include <event2/http.h>
#include "services/edge/edge.h"

#define ARCHIVES_PATH_PREFIX "/archives/"

/* path starts with ARCHIVES_PATH_PREFIX. Answers exactly once. */
void archives_http_handle(struct edge *e, struct evhttp_request *req, const char *path);

#endif
