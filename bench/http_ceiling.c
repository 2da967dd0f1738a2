/*
 * http_ceiling — the HTTP baseline of `make bench`: a bare libevent evhttp
 * server on one loop thread answering every request with a fixed JSON body.
 * Nothing can be faster through evhttp, so the edge's throughput is reported
 * as a ratio to this. Usage: bench_http_ceiling HOST PORT [BODY_FILE]
 * With BODY_FILE it answers with that file's bytes (the bench passes the
 * edge's own tools/list answer, so both sides write the same payload and the
 * ratio measures the edge's work, not the size of the catalog).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const char default_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"endpoints_list\",\"title\":\"List endpoints\"}]}}";
static const char *body = default_body;
static size_t body_len = sizeof default_body - 1;

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_reference(out, body, body_len, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT [BODY_FILE]\n", argv[0]);
        return 2;
    }
    if (argc == 4) {
        FILE *f = fopen(argv[3], "rb");
        static char buf[4 << 20];
        if (!f || (body_len = fread(buf, 1, sizeof buf, f)) == 0) {
            fprintf(stderr, "cannot read %s\n", argv[3]);
            return 1;
        }
        fclose(f);
        body = buf;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, on_request, NULL);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, argv[1], (ev_uint16_t)atoi(argv[2]));
    if (!bound) {
        fprintf(stderr, "cannot listen on %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    int one = 1;   /* the same socket option the edge sets, so the comparison is fair */
    setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    event_base_dispatch(base);
    return 0;
}
