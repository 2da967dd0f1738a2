/*
 * jobs — what the threads of bin/jobs share: the configuration, the parsed
 * retry schedule and the key that opens stored secrets. Built once in
 * main.c and read-only afterwards.
 */
#ifndef TM_JOBS_H
#define TM_JOBS_H

#include <stdbool.h>
#include "common/config.h"
#include "common/keybox.h"

#define JOBS_SCHEDULE_MAX 16

struct jobs_ctx {
    const struct config *cfg;
    struct keybox keys;
    int schedule[JOBS_SCHEDULE_MAX];   /* seconds before retry 1, 2, … */
    int nschedule;
};

/* Parses WEBHOOK_RETRY_SCHEDULE: 1..cap comma-separated integers in
 * [1, 604800] (spaces around them allowed). Returns the count, or -1. */
int jobs_parse_schedule(const char *s, int *out, int cap);

#endif
