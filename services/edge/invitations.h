/*
 * invitations — /invitations/accept: a collaborator invitation link opened
 * in a browser (services/edge/invitations.c).
 */
#ifndef TM_INVITATIONS_H
#define TM_INVITATIONS_H

#include <event2/http.h>
#include "services/edge/edge.h"

void invitations_route_accept(struct edge *e, struct evhttp_request *req);

#endif
