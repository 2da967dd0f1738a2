/*
 * pull — the frames of worker-pull dispatch (docs/DESIGN.md "Edge dispatch").
 *
 * Workers dial the edges with nng REQ sockets; each edge listens with a REP
 * socket. A worker thread that is idle asks an edge for work (READY); the
 * edge's reply is a job (JOB) or, when it has had nothing for the requested
 * hold time, IDLE. The thread answers a job with ANSWER, whose reply is again
 * the next job or IDLE, so a job only ever goes to a thread that is free.
 * A separate thread per edge sends BEAT every PULL_BEAT_MS so that the edge
 * can tell a worker that is busy from one that has stopped (SIGSTOP, a
 * frozen host): jobs held by a silent worker are taken back and sent again.
 *
 * Every frame starts with a fixed 26-byte header (integers big-endian):
 *
 *   type(1) version(1) pid(4) worker(8) slot(4) gen(4) hold_ms(4)
 *
 * worker is a random id per worker process; slot and gen name the edge's job
 * (gen starts at a random value per edge process, so a late answer cannot
 * complete another job); hold_ms (READY and ANSWER) is how long the edge may
 * keep the thread waiting before it replies IDLE. JOB frames carry a request
 * envelope after the header, ANSWER and LAST a response envelope.
 */
#ifndef TM_PULL_H
#define TM_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PULL_VERSION 1
#define PULL_HEADER_LEN 26
#define PULL_WORKER_ID_LEN 8
#define PULL_BEAT_MS 250

enum pull_type {
    PULL_READY = 'R',   /* worker -> edge: a free thread asks for a job */
    PULL_ANSWER = 'A',  /* worker -> edge: the answer to job (slot, gen), and ready for the next */
    PULL_LAST = 'L',    /* worker -> edge: an answer, and no next job (the worker is stopping) */
    PULL_BEAT = 'B',    /* worker -> edge: this process is alive */
    PULL_JOB = 'J',     /* edge -> worker: run this request */
    PULL_IDLE = 'N',    /* edge -> worker: nothing to do now; ask again (perhaps another edge) */
    PULL_ACK = 'K',     /* edge -> worker: the reply to BEAT and LAST */
};

struct pull_header {
    uint8_t type;
    uint32_t pid;
    uint8_t worker[PULL_WORKER_ID_LEN];
    uint32_t slot, gen, hold_ms;
};

static inline void pull_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static inline uint32_t pull_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void pull_encode(const struct pull_header *h, uint8_t out[PULL_HEADER_LEN])
{
    out[0] = h->type;
    out[1] = PULL_VERSION;
    pull_put32(out + 2, h->pid);
    memcpy(out + 6, h->worker, PULL_WORKER_ID_LEN);
    pull_put32(out + 14, h->slot);
    pull_put32(out + 18, h->gen);
    pull_put32(out + 22, h->hold_ms);
}

/* False if the frame is too short, of another version or of an unknown type. */
static inline bool pull_decode(const uint8_t *in, size_t len, struct pull_header *h)
{
    if (len < PULL_HEADER_LEN || in[1] != PULL_VERSION)
        return false;
    switch (in[0]) {
    case PULL_READY: case PULL_ANSWER: case PULL_LAST: case PULL_BEAT:
    case PULL_JOB: case PULL_IDLE: case PULL_ACK:
        break;
    default:
        return false;
    }
    h->type = in[0];
    h->pid = pull_get32(in + 2);
    memcpy(h->worker, in + 6, PULL_WORKER_ID_LEN);
    h->slot = pull_get32(in + 14);
    h->gen = pull_get32(in + 18);
    h->hold_ms = pull_get32(in + 22);
    return true;
}

#endif
