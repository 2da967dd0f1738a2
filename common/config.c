/*
 * config — reads every setting from the environment once, with defaults.
 * A bad value stops the process with a message naming the variable.
 */
#include "common/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"

static void copy(char *dst, size_t cap, const char *src, const char *var)
{
    if (strlen(src) >= cap)
        fatal("%s is too long (at most %zu characters)", var, cap - 1);
    memcpy(dst, src, strlen(src) + 1);
}

static int env_int(const char *var, int def, int min, int max)
{
    const char *v = getenv(var);
    long long n;
    if (!v || !*v)
        return def;
    if (!parse_int(v, min, max, &n))
        fatal("%s must be an integer between %d and %d (got \"%s\")", var, min, max, v);
    return (int)n;
}

/* "host:port" or "[v6]:port" into host and port; false if malformed. */
static bool split_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    long long p;
    if (!colon || colon == s || !parse_int(colon + 1, 1, 65535, &p))
        return false;
    size_t hlen = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']')
            return false;
        s++;
        hlen -= 2;
    }
    if (hlen >= cap)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return true;
}

/* The origin (scheme://authority) of an http(s) URL; false if it is not one. */
static bool url_origin(const char *url, char *out, size_t cap)
{
    const char *rest;
    if (!strncmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncmp(url, "https://", 8))
        rest = url + 8;
    else
        return false;
    size_t auth = strcspn(rest, "/?#");
    if (auth == 0)
        return false;
    size_t n = (size_t)(rest - url) + auth;
    if (n >= cap)
        return false;
    memcpy(out, url, n);
    out[n] = '\0';
    return true;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->state_dir, ".run");
    strcpy(cfg->edge_listen_host, "127.0.0.1");
    cfg->edge_listen_port = 8080;
    strcpy(cfg->public_url, "http://127.0.0.1:8080");
    strcpy(cfg->public_origin, "http://127.0.0.1:8080");
    strcpy(cfg->worker_listen, "ipc://.run/workers.ipc");
    strcpy(cfg->edge_urls[0], cfg->worker_listen);
    cfg->edge_url_count = 1;
    strcpy(cfg->worker_db_user, "tm_worker");
    cfg->mcp_rate_limit = 50;
    cfg->mcp_rate_burst = 100;
    cfg->gateway_rate_limit = 20;
    cfg->gateway_rate_burst = 40;
    cfg->request_deadline_ms = 30000;
    cfg->statement_timeout_ms = 5000;
    cfg->worker_threads = 4;
    cfg->max_inflight = 256;
    cfg->edge_count = 1;
    cfg->key_cache_ttl_ms = 30000;
    cfg->tools_page_size = 100;
    strcpy(cfg->signing_key_file, ".run/signing-key.pem");
    strcpy(cfg->archive_dir, ".run/archives");
    cfg->retention_days = 30;
    strcpy(cfg->webhook_retry_schedule, "60,300,1800,7200,21600");
    cfg->notify_cooldown_s = 600;
    strcpy(cfg->mail_from, "3Min API <no-reply@localhost>");
    strcpy(cfg->jobs_db_user, "tm_jobs");
}

void config_load(struct config *cfg)
{
    const char *v;
    config_defaults(cfg);

    if ((v = getenv("STATE_DIR")) && *v)
        copy(cfg->state_dir, sizeof cfg->state_dir, v, "STATE_DIR");

    if ((v = getenv("EDGE_LISTEN")) && *v) {
        if (!split_listen(v, cfg->edge_listen_host, sizeof cfg->edge_listen_host, &cfg->edge_listen_port))
            fatal("EDGE_LISTEN must be host:port (got \"%s\")", v);
    }

    if ((v = getenv("PUBLIC_URL")) && *v) {
        copy(cfg->public_url, sizeof cfg->public_url, v, "PUBLIC_URL");
        size_t n = strlen(cfg->public_url);
        while (n > 0 && cfg->public_url[n - 1] == '/')
            cfg->public_url[--n] = '\0';
    } else {
        /* A wildcard listen address is not a URL anyone can use: say 127.0.0.1. */
        const char *h = cfg->edge_listen_host;
        bool v6 = strchr(h, ':') != NULL;
        if (!strcmp(h, "0.0.0.0") || !strcmp(h, "::"))
            h = "127.0.0.1", v6 = false;
        if (snprintf(cfg->public_url, sizeof cfg->public_url, v6 ? "http://[%s]:%d" : "http://%s:%d", h,
                     cfg->edge_listen_port) >= (int)sizeof cfg->public_url)
            fatal("EDGE_LISTEN is too long to form PUBLIC_URL");
    }
    if (!url_origin(cfg->public_url, cfg->public_origin, sizeof cfg->public_origin))
        fatal("PUBLIC_URL must be an http:// or https:// URL (got \"%s\")", cfg->public_url);

    if ((v = getenv("WORKER_LISTEN")) && *v)
        copy(cfg->worker_listen, sizeof cfg->worker_listen, v, "WORKER_LISTEN");
    else if (snprintf(cfg->worker_listen, sizeof cfg->worker_listen, "ipc://%s/workers.ipc", cfg->state_dir) >=
             (int)sizeof cfg->worker_listen)
        fatal("STATE_DIR is too long");

    cfg->edge_url_count = 0;
    if ((v = getenv("EDGE_URLS")) && *v) {
        char *list = xstrdup(v), *save = NULL;
        for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
            if (cfg->edge_url_count == CONFIG_MAX_EDGE_URLS)
                fatal("EDGE_URLS lists more than %d addresses", CONFIG_MAX_EDGE_URLS);
            copy(cfg->edge_urls[cfg->edge_url_count++], sizeof cfg->edge_urls[0], tok, "EDGE_URLS");
        }
        free(list);
    }
    if (cfg->edge_url_count == 0) {
        strcpy(cfg->edge_urls[0], cfg->worker_listen);
        cfg->edge_url_count = 1;
    }

    if ((v = getenv("DATABASE_URL")))
        copy(cfg->database_url, sizeof cfg->database_url, v, "DATABASE_URL");
    if ((v = getenv("DATABASE_WORKER_USER")) && *v)
        copy(cfg->worker_db_user, sizeof cfg->worker_db_user, v, "DATABASE_WORKER_USER");
    if ((v = getenv("DATABASE_WORKER_PASSWORD")))
        copy(cfg->worker_db_password, sizeof cfg->worker_db_password, v, "DATABASE_WORKER_PASSWORD");
    if ((v = getenv("ALLOWED_ORIGINS")))
        copy(cfg->allowed_origins, sizeof cfg->allowed_origins, v, "ALLOWED_ORIGINS");
    if ((v = getenv("TRUSTED_PROXIES")))
        copy(cfg->trusted_proxies, sizeof cfg->trusted_proxies, v, "TRUSTED_PROXIES");
    if ((v = getenv("OAUTH_REDIRECT_ORIGINS")))
        copy(cfg->oauth_redirect_origins, sizeof cfg->oauth_redirect_origins, v, "OAUTH_REDIRECT_ORIGINS");

    cfg->oauth_allow_private_cimd = env_int("OAUTH_ALLOW_PRIVATE_CIMD", 0, 0, 1);

    cfg->mcp_rate_limit = env_int("MCP_RATE_LIMIT", 50, 0, 1000000);
    cfg->mcp_rate_burst = env_int("MCP_RATE_BURST", cfg->mcp_rate_limit * 2, 1, 2000000);
    cfg->gateway_rate_limit = env_int("GATEWAY_RATE_LIMIT", 20, 0, 1000000);
    cfg->gateway_rate_burst = env_int("GATEWAY_RATE_BURST", 40, 1, 2000000);
    cfg->request_deadline_ms = env_int("REQUEST_DEADLINE_MS", 30000, 100, 600000);
    cfg->statement_timeout_ms = env_int("STATEMENT_TIMEOUT_MS", 5000, 10, 600000);
    cfg->worker_threads = env_int("WORKER_THREADS", 4, 1, 64);
    cfg->login_address_limit = env_int("LOGIN_ADDRESS_LIMIT", 30, 0, 100000);
    cfg->max_inflight = env_int("EDGE_MAX_INFLIGHT", 256, 1, 4096);
    cfg->edge_count = env_int("EDGE_COUNT", 1, 1, 1024);
    cfg->key_cache_ttl_ms = env_int("API_KEY_CACHE_MS", 30000, 0, 30000);
    cfg->tools_page_size = env_int("MCP_TOOLS_PAGE_SIZE", 100, 1, 1000);

    if ((v = getenv("SIGNING_KEY_FILE")) && *v)
        copy(cfg->signing_key_file, sizeof cfg->signing_key_file, v, "SIGNING_KEY_FILE");
    else if (snprintf(cfg->signing_key_file, sizeof cfg->signing_key_file, "%s/signing-key.pem", cfg->state_dir) >=
             (int)sizeof cfg->signing_key_file)
        fatal("STATE_DIR is too long");

    /* bin/jobs checks the schedule's syntax at start (jobs_parse_schedule). */
    if ((v = getenv("WEBHOOK_RETRY_SCHEDULE")) && *v)
        copy(cfg->webhook_retry_schedule, sizeof cfg->webhook_retry_schedule, v, "WEBHOOK_RETRY_SCHEDULE");
    cfg->allow_private_webhooks = env_int("ALLOW_PRIVATE_WEBHOOKS", 0, 0, 1);
    if ((v = getenv("SMTP_URL")))
        copy(cfg->smtp_url, sizeof cfg->smtp_url, v, "SMTP_URL");
    cfg->notify_cooldown_s = env_int("NOTIFY_COOLDOWN_S", 600, 0, 86400 * 7);
    if ((v = getenv("MAIL_FROM")) && *v)
        copy(cfg->mail_from, sizeof cfg->mail_from, v, "MAIL_FROM");
    if ((v = getenv("MAIL_DIR")))
        copy(cfg->mail_dir, sizeof cfg->mail_dir, v, "MAIL_DIR");
    if ((v = getenv("DATABASE_JOBS_USER")) && *v)
        copy(cfg->jobs_db_user, sizeof cfg->jobs_db_user, v, "DATABASE_JOBS_USER");
    if ((v = getenv("DATABASE_JOBS_PASSWORD")))
        copy(cfg->jobs_db_password, sizeof cfg->jobs_db_password, v, "DATABASE_JOBS_PASSWORD");
    if ((v = getenv("ARCHIVE_DIR")) && *v)
        copy(cfg->archive_dir, sizeof cfg->archive_dir, v, "ARCHIVE_DIR");
    else if (snprintf(cfg->archive_dir, sizeof cfg->archive_dir, "%s/archives", cfg->state_dir) >=
             (int)sizeof cfg->archive_dir)
        fatal("STATE_DIR is too long");
    cfg->retention_days = env_int("RETENTION_DAYS", 30, 1, 3650);
    if ((v = getenv("METRICS_TOKEN")))
        copy(cfg->metrics_token, sizeof cfg->metrics_token, v, "METRICS_TOKEN");
    else if ((v = getenv("METRICS_TOKEN_FILE")) && *v) {
        /* A mounted secret: its content without the trailing newline. */
        FILE *f = fopen(v, "r");
        size_t n = f ? fread(cfg->metrics_token, 1, sizeof cfg->metrics_token - 1, f) : 0;
        if (f)
            fclose(f);
        while (n && (cfg->metrics_token[n - 1] == '\n' || cfg->metrics_token[n - 1] == '\r'))
            n--;
        cfg->metrics_token[n] = '\0';
        if (!n || n == sizeof cfg->metrics_token - 1)
            fatal("METRICS_TOKEN_FILE: cannot read a token (1 to %zu bytes) from %s", sizeof cfg->metrics_token - 2, v);
    }
    if ((v = getenv("METRICS_LISTEN")) && *v &&
        !split_listen(v, cfg->metrics_listen_host, sizeof cfg->metrics_listen_host, &cfg->metrics_listen_port))
        fatal("METRICS_LISTEN must be host:port (got \"%s\")", v);
}
