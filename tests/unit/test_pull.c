/*
 * Unit tests of the worker-pull frame header (proto/pull.h): a round trip
 * keeps every field, and a frame that is short, of another version or of an
 * unknown type is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include "proto/pull.h"

static void test_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct pull_header h = {.type = PULL_ANSWER, .pid = 4000000001u, .slot = 4351, .gen = 0xfedcba98u, .hold_ms = 200};
    memcpy(h.worker, "\x01\x02\x03\x04\x05\x06\x07\xff", PULL_WORKER_ID_LEN);
    uint8_t buf[PULL_HEADER_LEN + 3];
    pull_encode(&h, buf);
    memcpy(buf + PULL_HEADER_LEN, "abc", 3);   /* a body follows the header */
    struct pull_header out;
    assert_true(pull_decode(buf, sizeof buf, &out));
    assert_int_equal(out.type, PULL_ANSWER);
    assert_int_equal(out.pid, 4000000001u);
    assert_int_equal(out.slot, 4351);
    assert_int_equal(out.gen, 0xfedcba98u);
    assert_int_equal(out.hold_ms, 200);
    assert_memory_equal(out.worker, h.worker, PULL_WORKER_ID_LEN);
}

static void test_short_other_version_or_unknown_type_is_refused(void **state)
{
    (void)state;
    struct pull_header h = {.type = PULL_READY}, out;
    uint8_t buf[PULL_HEADER_LEN];
    pull_encode(&h, buf);
    assert_true(pull_decode(buf, sizeof buf, &out));
    assert_false(pull_decode(buf, sizeof buf - 1, &out));
    assert_false(pull_decode(buf, 0, &out));
    buf[1] = PULL_VERSION + 1;
    assert_false(pull_decode(buf, sizeof buf, &out));
    buf[1] = PULL_VERSION;
    buf[0] = 'X';
    assert_false(pull_decode(buf, sizeof buf, &out));
    const uint8_t types[] = {PULL_READY, PULL_ANSWER, PULL_LAST, PULL_BEAT, PULL_JOB, PULL_IDLE, PULL_ACK};
    for (size_t i = 0; i < sizeof types; i++) {
        buf[0] = types[i];
        assert_true(pull_decode(buf, sizeof buf, &out));
        assert_int_equal(out.type, types[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_field),
        cmocka_unit_test(test_short_other_version_or_unknown_type_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
