/*
 * wire_probe — a test tool that plays the edge's side of the worker wire, so
 * a system test can send workers envelopes the edge itself never would:
 * operations with the wrong principal, forged sessions, malformed msgpack.
 *
 *   wire_probe URL [--timeout-ms N]
 *
 * Listens on URL (what WORKER_LISTEN would be: ipc://… or tcp://…) with an
 * nng REP socket and speaks worker pull (proto/pull.h) as the edge does:
 * BEAT gets ACK, a READY is held until there is a job (JOB) or its hold time
 * passes (IDLE), an ANSWER carries the response envelope. It prints
 * {"listening":URL}, then reads one JSON object a line on stdin and answers
 * each with one JSON line on stdout:
 *
 *   {"cmd":"wait","workers":N,"timeout_ms":T}  -> {"workers":n,"pipes":p}
 *       (waits until N worker processes beat within the last second)
 *   {"op":"tool|gateway|auth|web","name":…,"who":{"acct","kind","client",
 *    "key","scopes"},"args":{…},"deadline_in_ms":…}
 *       -> the request encoded with proto/envelope.h (args as JSON text, or
 *          "args_text" verbatim; scopes an integer or ["read",…]) and given
 *          to one free worker thread; the answer is {"ok":true,"result":…}
 *          or {"ok":false,"error":{"code","message","details"}}, with
 *          "id_match" (the answer's id is the request's), "bytes" and
 *          "worker_pid";
 *   {"hex":"…"} -> these bytes sent as the envelope (malformed envelopes);
 *       the answer as above;
 *   "encode_only":true on a request -> {"hex":…} of its encoding, not sent.
 *
 * A "tag" member is copied to the answer. One job at a time, never sent
 * twice: a worker that dies on a job gives {"transport_error":…} after the
 * timeout, not another worker's answer. Problems with a line itself answer
 * {"probe_error":…}. Built into BIN_DIR for the system tests only
 * (tests/system/97_wire_refusals.test.mjs); images do not contain it.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "common/util.h"
#include "proto/envelope.h"
#include "proto/pull.h"

#define LINE_MAX_BYTES (8u << 20)
#define SERVER_THREADS 24        /* more than the parked READYs of a test's workers, so beats get in */
#define HOLD_MIN_MS 50
#define HOLD_MAX_MS 2000
#define MAX_WORKERS 64
#define ALIVE_MS 1000            /* a worker beats every PULL_BEAT_MS */

static atomic_int pipes;

/* The one job in flight and what is known of the workers; all under lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    enum { JOB_NONE, JOB_QUEUED, JOB_TAKEN, JOB_ANSWERED } state;
    uint8_t *buf;               /* the envelope of the queued job */
    size_t len;
    uint32_t gen;
    uint8_t *answer;            /* the response envelope, malloc'd */
    size_t answer_len;
    uint32_t answer_pid;
    struct {
        uint8_t id[PULL_WORKER_ID_LEN];
        int64_t seen;
    } workers[MAX_WORKERS];
    int nworkers;
    bool stop;
} st = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)arg;
    atomic_fetch_add(&pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

static void emit(json_t *o, const json_t *tag)
{
    if (tag)
        json_object_set(o, "tag", (json_t *)tag);
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static void probe_error(const char *why, const json_t *tag)
{
    emit(json_pack("{s:s}", "probe_error", why), tag);
}

static bool copy_field(char *dst, size_t cap, const json_t *v)
{
    const char *s = v ? json_string_value(v) : "";
    if (!s || strlen(s) >= cap)
        return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool parse_who(const json_t *who, struct principal *p)
{
    memset(p, 0, sizeof *p);
    if (!who)
        return true;
    if (!json_is_object(who) || !copy_field(p->account_id, sizeof p->account_id, json_object_get(who, "acct")) ||
        !copy_field(p->client_id, sizeof p->client_id, json_object_get(who, "client")) ||
        !copy_field(p->key_id, sizeof p->key_id, json_object_get(who, "key")))
        return false;
    const char *kind = json_string_value(json_object_get(who, "kind"));
    bool found = !kind;
    for (int k = PRINCIPAL_ANON; kind && k <= PRINCIPAL_WEB; k++)
        if (!strcmp(kind, principal_kind_name((enum principal_kind)k))) {
            p->kind = (enum principal_kind)k;
            found = true;
        }
    if (!found)
        return false;
    const json_t *sc = json_object_get(who, "scopes");
    if (json_is_integer(sc)) {
        p->scopes = (uint32_t)json_integer_value(sc);
    } else if (json_is_array(sc)) {
        size_t i;
        const json_t *v;
        json_array_foreach(sc, i, v) {
            const char *s = json_string_value(v);
            if (s && !strcmp(s, "read"))
                p->scopes |= SCOPE_READ;
            else if (s && !strcmp(s, "write"))
                p->scopes |= SCOPE_WRITE;
            else if (s && !strcmp(s, "execute"))
                p->scopes |= SCOPE_EXECUTE;
            else
                return false;
        }
    } else if (sc) {
        return false;
    }
    return true;
}

/* Encodes a request line; NULL (after an answer) if the line is not one. */
static uint8_t *encode_line(const json_t *line, size_t *len, uint8_t id[ENV_ID_LEN], const json_t *tag)
{
    struct env_request req;
    memset(&req, 0, sizeof req);
    const char *op = json_string_value(json_object_get(line, "op"));
    for (int o = ENV_OP_TOOL; op && o <= ENV_OP_WEB; o++)
        if (!strcmp(op, env_op_name((enum env_op)o)))
            req.op = (enum env_op)o;
    if (!req.op) {
        probe_error("op must be tool, gateway, auth or web", tag);
        return NULL;
    }
    if (!copy_field(req.name, sizeof req.name, json_object_get(line, "name"))) {
        probe_error("name must be a string shorter than ENV_MAX_NAME (use hex for longer ones)", tag);
        return NULL;
    }
    if (!parse_who(json_object_get(line, "who"), &req.who)) {
        probe_error("who must be {acct, kind (anon|apikey|oauth|collab|web), client, key, scopes}", tag);
        return NULL;
    }
    const json_t *text = json_object_get(line, "args_text"), *args = json_object_get(line, "args");
    char *a = text && json_is_string(text) ? xstrdup(json_string_value(text))
              : args                      ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY)
                                          : xstrdup("{}");
    if (!a) {
        probe_error("args cannot be encoded", tag);
        return NULL;
    }
    req.args = a;
    req.args_len = strlen(a);
    const json_t *din = json_object_get(line, "deadline_in_ms");
    req.deadline_ms = now_ms() + (json_is_integer(din) ? json_integer_value(din) : 30000);
    random_bytes(req.id, ENV_ID_LEN);
    memcpy(id, req.id, ENV_ID_LEN);
    uint8_t *buf;
    env_request_encode(&req, &buf, len);
    free(a);
    return buf;
}

static uint8_t *hex_line(const char *hex, size_t *len, const json_t *tag)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > 2 * ENV_MAX_MESSAGE) {
        probe_error("hex must be an even number of hex digits, at most twice ENV_MAX_MESSAGE bytes", tag);
        return NULL;
    }
    uint8_t *buf = xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            probe_error("hex holds a character that is not a hex digit", tag);
            return NULL;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return buf;
}

static json_t *json_or_text(const char *s, size_t n)
{
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(s, n);
}

/* ---- the edge's side of worker pull ------------------------------------------ */

static void seen_worker(const struct pull_header *h, int64_t now)
{
    for (int i = 0; i < st.nworkers; i++)
        if (!memcmp(st.workers[i].id, h->worker, PULL_WORKER_ID_LEN)) {
            st.workers[i].seen = now;
            return;
        }
    if (st.nworkers < MAX_WORKERS) {
        memcpy(st.workers[st.nworkers].id, h->worker, PULL_WORKER_ID_LEN);
        st.workers[st.nworkers++].seen = now;
    }
}

static int live_workers(int64_t now)
{
    int n = 0;
    for (int i = 0; i < st.nworkers; i++)
        n += now - st.workers[i].seen < ALIVE_MS;
    return n;
}

static void reply(nng_ctx ctx, nng_aio *aio, uint8_t type, uint32_t gen, const uint8_t *body, size_t len)
{
    struct pull_header h = {.type = type, .gen = gen};
    uint8_t hdr[PULL_HEADER_LEN];
    pull_encode(&h, hdr);
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, hdr, sizeof hdr) != 0 ||
        (len && nng_msg_append(m, body, len) != 0)) {
        fprintf(stderr, "wire_probe: out of memory\n");
        exit(1);
    }
    nng_aio_set_msg(aio, m);
    nng_aio_set_timeout(aio, 1000);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) != 0)
        nng_msg_free(m);
}

static void abs_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *serve(void *arg)
{
    nng_socket sock = *(nng_socket *)arg;
    nng_ctx ctx;
    nng_aio *aio;
    if (nng_ctx_open(&ctx, sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0) {
        fprintf(stderr, "wire_probe: nng context setup failed\n");
        exit(1);
    }
    for (;;) {
        nng_aio_set_timeout(aio, 200);
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue;
        nng_msg *m = nng_aio_get_msg(aio);
        const uint8_t *body = nng_msg_body(m);
        size_t len = nng_msg_len(m);
        struct pull_header h;
        if (!pull_decode(body, len, &h)) {
            nng_msg_free(m);
            continue;
        }
        pthread_mutex_lock(&st.lock);
        seen_worker(&h, mono_ms());
        if ((h.type == PULL_ANSWER || h.type == PULL_LAST) && st.state == JOB_TAKEN && h.gen == st.gen) {
            st.answer_len = len - PULL_HEADER_LEN;
            st.answer = xmalloc(st.answer_len + 1);
            memcpy(st.answer, body + PULL_HEADER_LEN, st.answer_len);
            st.answer_pid = h.pid;
            st.state = JOB_ANSWERED;
            pthread_cond_broadcast(&st.changed);
        }
        nng_msg_free(m);
        if (h.type == PULL_BEAT || h.type == PULL_LAST) {
            pthread_mutex_unlock(&st.lock);
            reply(ctx, aio, PULL_ACK, 0, NULL, 0);
            continue;
        }
        if (h.type != PULL_READY && h.type != PULL_ANSWER) {
            pthread_mutex_unlock(&st.lock);
            continue;
        }
        /* A free thread: hold it until there is a job or its hold time passes. */
        int hold = h.hold_ms < HOLD_MIN_MS ? HOLD_MIN_MS : h.hold_ms > HOLD_MAX_MS ? HOLD_MAX_MS : (int)h.hold_ms;
        struct timespec until;
        abs_after(&until, hold);
        while (st.state != JOB_QUEUED && !st.stop && pthread_cond_timedwait(&st.changed, &st.lock, &until) == 0)
            ;
        if (st.state == JOB_QUEUED && !st.stop) {
            st.state = JOB_TAKEN;
            uint8_t *job = st.buf;
            size_t job_len = st.len;
            uint32_t gen = st.gen;
            st.buf = NULL;
            pthread_mutex_unlock(&st.lock);
            reply(ctx, aio, PULL_JOB, gen, job, job_len);
            free(job);
        } else {
            pthread_mutex_unlock(&st.lock);
            reply(ctx, aio, PULL_IDLE, 0, NULL, 0);
        }
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return NULL;
}

/* Gives buf (taken over) to a worker and prints its answer. */
static void exchange(uint8_t *buf, size_t len, const uint8_t *id, long long timeout_ms, const json_t *tag)
{
    pthread_mutex_lock(&st.lock);
    st.buf = buf;
    st.len = len;
    st.gen++;
    st.state = JOB_QUEUED;
    pthread_cond_broadcast(&st.changed);
    struct timespec until;
    abs_after(&until, (int)timeout_ms);
    while (st.state != JOB_ANSWERED && pthread_cond_timedwait(&st.changed, &st.lock, &until) == 0)
        ;
    int state = st.state;
    uint8_t *in = st.answer;
    size_t in_len = st.answer_len;
    uint32_t pid = st.answer_pid;
    free(st.buf);   /* not taken */
    st.buf = NULL;
    st.answer = NULL;
    st.state = JOB_NONE;
    pthread_mutex_unlock(&st.lock);

    if (state != JOB_ANSWERED) {
        emit(json_pack("{s:s}", "transport_error",
                       state == JOB_QUEUED ? "no worker took the job" : "a worker took the job and never answered"),
             tag);
        return;
    }
    struct env_response resp;
    const char *why = NULL;
    if (env_response_decode(in, in_len, &resp, &why) != 0) {
        emit(json_pack("{s:s, s:s}", "transport_error", "the answer does not decode", "why", why ? why : "?"), tag);
        free(in);
        return;
    }
    json_t *o = json_pack("{s:b, s:b, s:I, s:I}", "ok", resp.ok, "id_match", id && !memcmp(resp.id, id, ENV_ID_LEN),
                          "bytes", (json_int_t)in_len, "worker_pid", (json_int_t)pid);
    if (resp.ok) {
        json_object_set_new(o, "result", json_or_text(resp.result, resp.result_len));
    } else {
        json_t *e = json_pack("{s:s, s:s}", "code", tm_error_name(resp.code), "message",
                              resp.message ? resp.message : "");
        if (resp.details)
            json_object_set_new(e, "details", json_or_text(resp.details, resp.details_len));
        json_object_set_new(o, "error", e);
    }
    env_response_free(&resp);
    free(in);
    emit(o, tag);
}

static void wait_workers(const json_t *line, const json_t *tag)
{
    json_int_t want = json_integer_value(json_object_get(line, "workers"));
    json_int_t timeout = json_integer_value(json_object_get(line, "timeout_ms"));
    int64_t end = mono_ms() + (timeout > 0 ? timeout : 20000);
    int n;
    for (;;) {
        pthread_mutex_lock(&st.lock);
        n = live_workers(mono_ms());
        pthread_mutex_unlock(&st.lock);
        if (n >= want || mono_ms() >= end)
            break;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    emit(json_pack("{s:i, s:i}", "workers", n, "pipes", atomic_load(&pipes)), tag);
}

int main(int argc, char **argv)
{
    long long timeout_ms = 15000;
    bool usage_ok = argc == 2 || (argc == 4 && !strcmp(argv[2], "--timeout-ms") &&
                                  parse_int(argv[3], 1, 600000, &timeout_ms));
    if (!usage_ok) {
        fprintf(stderr, "usage: wire_probe URL [--timeout-ms N]   (requests as JSON lines on stdin)\n");
        return 2;
    }
    util_init();
    nng_socket sock;
    int rv;
    if ((rv = nng_rep0_open(&sock)) != 0) {
        fprintf(stderr, "wire_probe: nng_rep0_open: %s\n", nng_strerror(rv));
        return 1;
    }
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, ENV_MAX_MESSAGE + PULL_HEADER_LEN);
    nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
    nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
    const char *url = argv[1];
    if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
        fprintf(stderr, "wire_probe: cannot listen on %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    pthread_t threads[SERVER_THREADS];
    for (int i = 0; i < SERVER_THREADS; i++)
        if (pthread_create(&threads[i], NULL, serve, &sock) != 0) {
            fprintf(stderr, "wire_probe: cannot start a thread\n");
            return 1;
        }
    emit(json_pack("{s:s}", "listening", url), NULL);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if ((size_t)n > LINE_MAX_BYTES) {
            probe_error("line too long", NULL);
            continue;
        }
        json_t *req = json_loadb(line, (size_t)n, 0, NULL);
        if (!json_is_object(req)) {
            json_decref(req);
            probe_error("a line must be one JSON object", NULL);
            continue;
        }
        const json_t *tag = json_object_get(req, "tag");
        const char *cmd = json_string_value(json_object_get(req, "cmd"));
        const char *hex = json_string_value(json_object_get(req, "hex"));
        uint8_t id[ENV_ID_LEN];
        size_t len = 0;
        uint8_t *buf = NULL;
        if (cmd && !strcmp(cmd, "wait")) {
            wait_workers(req, tag);
        } else if (cmd) {
            probe_error("unknown cmd", tag);
        } else if (hex) {
            if ((buf = hex_line(hex, &len, tag)))
                exchange(buf, len, NULL, timeout_ms, tag);
        } else if ((buf = encode_line(req, &len, id, tag))) {
            if (json_is_true(json_object_get(req, "encode_only"))) {
                char *h = xmalloc(2 * len + 1);
                hex_encode(buf, len, h);
                emit(json_pack("{s:s}", "hex", h), tag);
                free(h);
                free(buf);
            } else {
                exchange(buf, len, id, timeout_ms, tag);
            }
        }
        json_decref(req);
    }
    free(line);
    /* Input done: every answer is printed. Leave without tearing nng down:
     * closing the socket while its server threads hold contexts in use
     * panics nng 1.5 now and then, and the process's exit frees it all. */
    (void)sock;
    (void)threads;
    fflush(stdout);
    _exit(0);
}
