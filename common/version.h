/* The product version reported by serverInfo, /healthz and `3min --version`. */
#ifndef TM_VERSION_H
#define TM_VERSION_H
#define TM_VERSION "0.1.0"
#define TM_SERVER_NAME "3min-api"
#define TM_SERVER_TITLE "3Min API"
#endif
