/*
 * catalog — the MCP tool catalog, defined once (catalog.c) and read by the
 * edge (tools/list, argument validation, scope checks) and by the worker
 * (dispatch by name). Adding a tool is adding a row here and a handler in
 * services/worker.
 *
 * Schemas are JSON text in the table and parsed once by catalog_init(); after
 * that the catalog is immutable and safe to read from any thread.
 */
#ifndef TM_CATALOG_H
#define TM_CATALOG_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "proto/envelope.h"

struct tool_def {
    const char *name;            /* ^[A-Za-z0-9_.-]{1,128}$ */
    const char *title;
    const char *description;
    const char *input_schema;    /* JSON text, root type object */
    const char *output_schema;   /* JSON text, root type object */
    bool read_only, destructive, idempotent, open_world;   /* all four always explicit */
    uint32_t scope;              /* SCOPE_* bit the caller needs */
    enum env_op op;              /* where the worker routes it */
    /* parsed by catalog_init(): */
    json_t *input;
    json_t *output;
    json_t *listing;             /* the Tool object of tools/list */
};

extern struct tool_def catalog_tools[];
extern const size_t catalog_tool_count;

/* Parses every schema and builds the listings; aborts on a broken catalog. */
void catalog_init(void);
const struct tool_def *catalog_find(const char *name);
const char *scope_name(uint32_t scope_bit);       /* "read", "write", "execute" */
/* Parses "read,write" / "read write" into bits; returns -1 on an unknown scope. */
int scopes_parse(const char *s, uint32_t *out);
/* Writes "read write execute" style text for the bits into out. */
void scopes_format(uint32_t bits, char *out, size_t cap);

#endif
