/*
 * tool_help — the `help` tool: topics compiled in from the markdown files of docs/help
 * (proto/help.h). A topic file is "# Title", the Markdown body, and a last
 * "Related: a, b" line; the tool returns {topic, title, content_md, related}
 * with the title and the Related line taken out of the body. Without a topic
 * it returns the index: every topic with its title. No account data is read.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/help.h"
#include "services/worker/dispatch.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The topic's title: the text of a leading "# " line, else the topic name.
 * *body is set to the text after that line. */
static json_t *topic_title(const struct help_topic *t, const char **body)
{
    const char *md = t->markdown;
    *body = md;
    if (strncmp(md, "# ", 2) != 0)
        return json_string(t->name);
    const char *eol = strchr(md, '\n');
    size_t n = eol ? (size_t)(eol - md) : strlen(md);
    *body = eol ? eol + 1 : md + n;
    const char *s = md + 2;
    n -= 2;
    while (n && is_space(s[n - 1]))
        n--;
    return json_stringn(s, n);
}

/* Splits "Related: a, b" into names. */
static json_t *parse_related(const char *s, size_t n)
{
    json_t *out = json_array();
    size_t i = strlen("Related:");
    while (i < n) {
        while (i < n && (is_space(s[i]) || s[i] == ','))
            i++;
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_space(s[end - 1]))
            end--;
        /* Topic names may be written as `code`. */
        if (end - start >= 2 && s[start] == '`' && s[end - 1] == '`')
            start++, end--;
        if (end > start)
            json_array_append_new(out, json_stringn(s + start, end - start));
    }
    return out;
}

static json_t *render_topic(const struct help_topic *t)
{
    const char *body;
    json_t *title = topic_title(t, &body);
    size_t n = strlen(body);
    while (n && is_space(body[n - 1]))
        n--;
    /* The Related line is the last non-empty line, if any. */
    json_t *related = NULL;
    size_t ls = n;
    while (ls && body[ls - 1] != '\n')
        ls--;
    if (n - ls >= 8 && !strncmp(body + ls, "Related:", 8)) {
        related = parse_related(body + ls, n - ls);
        n = ls;
    }
    if (!related)
        related = json_array();
    size_t b = 0;
    while (b < n && is_space(body[b]))
        b++;
    while (n > b && is_space(body[n - 1]))
        n--;
    return json_pack("{s:s, s:o, s:s%, s:o}", "topic", t->name, "title", title, "content_md", body + b, n - b,
                     "related", related);
}

static json_t *render_index(void)
{
    json_t *related = json_array();
    size_t cap = 256, len = 0;
    char *md = xmalloc(cap);
    md[0] = '\0';
    for (size_t i = 0; i < help_topic_count; i++) {
        const char *body;
        json_t *title = topic_title(&help_topics[i], &body);
        char *line = xasprintf("- `%s`: %s\n", help_topics[i].name, json_string_value(title));
        size_t ll = strlen(line);
        if (len + ll + 1 > cap) {
            cap = (len + ll + 1) * 2;
            md = xrealloc(md, cap);
        }
        memcpy(md + len, line, ll + 1);
        len += ll;
        free(line);
        json_decref(title);
        json_array_append_new(related, json_string(help_topics[i].name));
    }
    char *content = xasprintf("Call help with one of these topics:\n\n%s", md);
    free(md);
    json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "topic", "index", "title", "3Min API help topics",
                            "content_md", content, "related", related);
    free(content);
    return out;
}

enum tm_error tool_help(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *topic = json_string_value(json_object_get(args, "topic"));
    if (!topic) {
        *result = render_index();
        return TM_OK;
    }
    for (size_t i = 0; i < help_topic_count; i++) {
        if (!strcmp(help_topics[i].name, topic)) {
            *result = render_topic(&help_topics[i]);
            return TM_OK;
        }
    }
    json_t *names = json_array();
    for (size_t i = 0; i < help_topic_count; i++)
        json_array_append_new(names, json_string(help_topics[i].name));
    return tool_fail(ctx, TM_ERR_NOT_FOUND, json_pack("{s:o}", "topics", names),
                     "no help topic \"%.64s\"; call help without a topic for the list", topic);
}
