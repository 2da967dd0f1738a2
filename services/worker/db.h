/*
 * db — the worker's PostgreSQL connection. The code lives in common/db.c so
 * that bin/jobs shares it; this name is kept for the worker's includes.
 */
#ifndef TM_WORKER_DB_H
#define TM_WORKER_DB_H

#include "common/db.h"

#endif
