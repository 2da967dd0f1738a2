/*
 * help — the topics of the `help` tool, compiled in from the markdown files in docs/help by
 * deploy/embed_help.cmake (sorted by topic name). Each file starts with a
 * "# Title" line and ends with a "Related: a, b" line.
 */
#ifndef TM_HELP_H
#define TM_HELP_H

#include <stddef.h>

struct help_topic {
    const char *name;
    const char *markdown;
};

extern const struct help_topic help_topics[];
extern const size_t help_topic_count;

#endif
