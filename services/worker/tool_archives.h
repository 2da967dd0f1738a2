/*
 * tool_archives — the archive tools: archives_list, archives_download
 * (a signed link the edge serves, common/archive_link.h) and
 * logs_fetch_archived (one archived entry, read back from its file).
 */
#ifndef TM_TOOL_ARCHIVES_H
#define TM_TOOL_ARCHIVES_H

#include "services/worker/tool.h"

enum tm_error tool_archives_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_archives_download(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_logs_fetch_archived(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
