/*
 * config — every setting, read once from the environment at start and passed
 * down. Tests build their own struct. The README's configuration table lists
 * the same variables and defaults; keep the two in step.
 */
#ifndef TM_CONFIG_H
#define TM_CONFIG_H

#include <stdint.h>

#define CONFIG_MAX_EDGE_URLS 16

struct config {
    char state_dir[512];          /* STATE_DIR, default ".run" */
    char edge_listen_host[256];   /* from EDGE_LISTEN, default 127.0.0.1:8080 */
    int edge_listen_port;
    char public_url[512];         /* PUBLIC_URL, no trailing slash; default http://<EDGE_LISTEN> */
    char public_origin[512];      /* scheme://host[:port] of public_url */
    char worker_listen[512];      /* WORKER_LISTEN, default ipc://<state_dir>/workers.ipc */
    char edge_urls[CONFIG_MAX_EDGE_URLS][512]; /* EDGE_URLS (comma-separated), default = worker_listen */
    int edge_url_count;
    char database_url[1024];      /* DATABASE_URL */
    char worker_db_user[128];     /* DATABASE_WORKER_USER, default tm_worker */
    char worker_db_password[256]; /* DATABASE_WORKER_PASSWORD, default empty (peer/trust) */
    char allowed_origins[2048];   /* ALLOWED_ORIGINS, comma-separated extra origins */
    char trusted_proxies[2048];   /* TRUSTED_PROXIES: reverse proxies (addresses, CIDRs) whose
                                     X-Forwarded-For names the client; default empty = none */
    char oauth_redirect_origins[2048]; /* OAUTH_REDIRECT_ORIGINS: https origins whose callbacks may register */
    int oauth_allow_private_cimd; /* OAUTH_ALLOW_PRIVATE_CIMD=1: metadata documents on private addresses and
                                     loopback http (tests only), default 0 */
    int mcp_rate_limit;           /* MCP_RATE_LIMIT req/s per credential, default 50; 0 = off */
    int mcp_rate_burst;           /* MCP_RATE_BURST, default 2 x rate */
    int gateway_rate_limit;       /* GATEWAY_RATE_LIMIT req/s per gateway key, default 20; 0 = off */
    int gateway_rate_burst;       /* GATEWAY_RATE_BURST, default 40 */
    int request_deadline_ms;      /* REQUEST_DEADLINE_MS, default 30000 */
    int statement_timeout_ms;     /* STATEMENT_TIMEOUT_MS, default 5000 */
    int worker_threads;           /* WORKER_THREADS per worker process, default 4 */
    int login_address_limit;      /* LOGIN_ADDRESS_LIMIT failed sign-ins per client address per 15
                                     minutes before that address is refused, default 30; 0 = off */
    int max_inflight;             /* EDGE_MAX_INFLIGHT requests to workers, default 256 */
    int edge_count;               /* EDGE_COUNT edges behind one load balancer, default 1: each holds
                                     1/EDGE_COUNT of the MCP and gateway rate limits */
    int key_cache_ttl_ms;         /* API_KEY_CACHE_MS, default 30000 (max 30000) */
    int tools_page_size;          /* MCP_TOOLS_PAGE_SIZE, default 100 */
    char signing_key_file[1024];  /* SIGNING_KEY_FILE, default <state_dir>/signing-key.pem */
    char webhook_retry_schedule[256]; /* WEBHOOK_RETRY_SCHEDULE: seconds between webhook attempts,
                                         comma-separated, default 60,300,1800,7200,21600 */
    int allow_private_webhooks;   /* ALLOW_PRIVATE_WEBHOOKS=1: webhooks to private/loopback addresses
                                     and over plain http (tests, make run), default 0 */
    char smtp_url[512];           /* SMTP_URL smtp://[user:pass@]host:port of the mail relay; empty = no mail */
    int notify_cooldown_s;        /* NOTIFY_COOLDOWN_S per (account, event, endpoint), default 600 */
    char mail_from[256];          /* MAIL_FROM, default "3Min API <no-reply@localhost>" */
    char mail_dir[1024];          /* MAIL_DIR: without SMTP_URL, bin/jobs writes each e-mail there as a
                                     .eml file instead (make run), default empty = e-mails stay queued */
    char jobs_db_user[128];       /* DATABASE_JOBS_USER, the role bin/jobs connects as, default tm_jobs */
    char jobs_db_password[256];   /* DATABASE_JOBS_PASSWORD, default empty (peer/trust) */
    char archive_dir[1024];       /* ARCHIVE_DIR, where bin/jobs writes the daily archives and the edge
                                     reads them, default <state_dir>/archives */
    int retention_days;           /* RETENTION_DAYS: production logs older than this are archived and
                                     sandbox data deleted, default 30 */
    char metrics_token[256];      /* METRICS_TOKEN (or the content of METRICS_TOKEN_FILE): bearer token for
                                     GET /metrics; empty = loopback only */
    char metrics_listen_host[256]; /* METRICS_LISTEN host:port: a second listener serving only /metrics to
                                      whoever reaches it (an unpublished port); default none */
    int metrics_listen_port;
};

/* Fills cfg from the environment; on a bad value, prints why and exits. */
void config_load(struct config *cfg);

/* Fills cfg with the defaults only (tests). */
void config_defaults(struct config *cfg);

#endif
