/*
 * Unit tests of edge_clientip: TRUSTED_PROXIES parsing, and which address
 * X-Forwarded-For may name — only behind a trusted peer, the right-most
 * untrusted entry, and never from a header that is malformed or too big.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "services/edge/edge_clientip.h"

static struct clientip_trust trust(const char *list)
{
    struct clientip_trust t;
    char err[256];
    assert_true(clientip_parse_list(list, &t, err, sizeof err));
    return t;
}

static const char *resolve(const char *list, const char *peer, const char *xff)
{
    static char out[64];
    struct clientip_trust t = trust(list);
    clientip_resolve(&t, peer, xff, false, out, sizeof out);
    return out;
}

static void test_list_parsing(void **state)
{
    (void)state;
    struct clientip_trust t;
    char err[256];
    assert_true(clientip_parse_list("", &t, err, sizeof err));
    assert_int_equal(t.n, 0);
    assert_true(clientip_parse_list(NULL, &t, err, sizeof err));
    assert_int_equal(t.n, 0);
    assert_true(clientip_parse_list("  ", &t, err, sizeof err));
    assert_int_equal(t.n, 0);
    assert_true(clientip_parse_list("10.0.0.1, 192.168.0.0/16,fd00::/8 ,::1", &t, err, sizeof err));
    assert_int_equal(t.n, 4);
    assert_int_equal(t.nets[0].prefix, 32);
    assert_int_equal(t.nets[1].prefix, 16);
    assert_int_equal(t.nets[2].family, 6);
    assert_int_equal(t.nets[2].prefix, 8);
    assert_int_equal(t.nets[3].prefix, 128);
    assert_true(clientip_parse_list("::ffff:10.0.0.0/104", &t, err, sizeof err));
    assert_int_equal(t.nets[0].family, 4);
    assert_int_equal(t.nets[0].prefix, 8);

    const char *bad[] = {"10.0.0.1,", ",10.0.0.1", "10.0.0.1,,10.0.0.2", "10.0.0.256", "10.0.0", "010.0.0.1",
                         "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/08", "fd00::/129", "proxy",
                         "10.0.0.1:80", "[::1]", "fe80::1%eth0", "0x0a.0.0.1", "10.0.0.1/8/8",
                         "::ffff:10.0.0.0/64"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_false(clientip_parse_list(bad[i], &t, err, sizeof err));
        assert_non_null(strstr(err, "TRUSTED_PROXIES"));
    }
    char many[2048] = "";
    for (int i = 0; i <= CLIENTIP_MAX_NETS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.0.%d", i ? "," : "", i);
    assert_false(clientip_parse_list(many, &t, err, sizeof err));
}

static void test_membership(void **state)
{
    (void)state;
    struct clientip_trust t = trust("10.1.0.0/16, 2001:db8::/32, 192.0.2.7, 172.16.0.0/12");
    assert_true(clientip_trusted(&t, "10.1.255.3"));
    assert_false(clientip_trusted(&t, "10.2.0.1"));
    assert_true(clientip_trusted(&t, "::ffff:10.1.0.9"));   /* dual-stack listener's form */
    assert_true(clientip_trusted(&t, "2001:db8:1::5"));
    assert_false(clientip_trusted(&t, "2001:db9::5"));
    assert_true(clientip_trusted(&t, "192.0.2.7"));
    assert_false(clientip_trusted(&t, "192.0.2.8"));
    assert_true(clientip_trusted(&t, "172.31.255.255"));
    assert_false(clientip_trusted(&t, "172.32.0.0"));
    assert_false(clientip_trusted(&t, ""));
    assert_false(clientip_trusted(&t, NULL));
    struct clientip_trust all = trust("0.0.0.0/0");
    assert_true(clientip_trusted(&all, "8.8.8.8"));
    assert_false(clientip_trusted(&all, "2001:db8::1"));   /* families do not mix */
}

static void test_untrusted_peer_is_the_client(void **state)
{
    (void)state;
    assert_string_equal(resolve("", "203.0.113.9", "198.51.100.1"), "203.0.113.9");
    assert_string_equal(resolve("10.0.0.1", "203.0.113.9", "198.51.100.1"), "203.0.113.9");
    assert_string_equal(resolve("10.0.0.1", "10.0.0.1", NULL), "10.0.0.1");
}

static void test_right_most_untrusted_entry(void **state)
{
    (void)state;
    /* nginx appends the address it saw; what the client sent stays to its left. */
    assert_string_equal(resolve("10.0.0.1", "10.0.0.1", "198.51.100.1"), "198.51.100.1");
    assert_string_equal(resolve("10.0.0.1", "10.0.0.1", "1.2.3.4, 198.51.100.1"), "198.51.100.1");
    /* Two trusted hops: the second proxy's own entry is skipped. */
    assert_string_equal(resolve("10.0.0.0/8", "10.0.0.1", "6.6.6.6,198.51.100.1, 10.9.9.9"), "198.51.100.1");
    /* Every entry trusted: the left-most. */
    assert_string_equal(resolve("10.0.0.0/8", "10.0.0.1", "10.2.2.2, 10.3.3.3"), "10.2.2.2");
    /* IPv6, canonical form; mapped IPv4 becomes IPv4. */
    assert_string_equal(resolve("::1", "::1", "2001:DB8:0:0::1"), "2001:db8::1");
    assert_string_equal(resolve("127.0.0.1", "::ffff:127.0.0.1", "::ffff:198.51.100.2"), "198.51.100.2");
    assert_string_equal(resolve("127.0.0.1", "127.0.0.1", " \t198.51.100.3\t "), "198.51.100.3");
}

static void test_malformed_header_falls_back_to_peer(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", "unknown", "198.51.100.1:443", "[2001:db8::1]", "fe80::1%eth0",
                         "198.51.100.1,", ",198.51.100.1", "1.2.3.4,,198.51.100.1", "198.51.100.1;x",
                         "01.2.3.4", "1.2.3.4.5", "999.1.1.1", "<script>", "198.51.100.1 198.51.100.2",
                         "garbage, 198.51.100.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(resolve("10.0.0.1", "10.0.0.1", bad[i]), "10.0.0.1");
    /* Too many entries or too many bytes: ignored whole. */
    char many[2048] = "";
    for (int i = 0; i <= CLIENTIP_MAX_ENTRIES; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s1.1.1.%d", i ? "," : "", i % 250);
    assert_true(strlen(many) <= CLIENTIP_MAX_HEADER);
    assert_string_equal(resolve("10.0.0.1", "10.0.0.1", many), "10.0.0.1");
    char big[CLIENTIP_MAX_HEADER + 40];
    memset(big, ' ', sizeof big);
    strcpy(big + sizeof big - 16, "198.51.100.1");
    assert_string_equal(resolve("10.0.0.1", "10.0.0.1", big), "10.0.0.1");
    /* Several X-Forwarded-For headers: ignored. */
    struct clientip_trust t = trust("10.0.0.1");
    char out[64];
    clientip_resolve(&t, "10.0.0.1", "198.51.100.1", true, out, sizeof out);
    assert_string_equal(out, "10.0.0.1");
    /* A small buffer is never overrun. */
    clientip_resolve(&t, "10.0.0.1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", false, out, 8);
    assert_int_equal(strlen(out), 7);
}

static void test_address_parsing_is_strict(void **state)
{
    (void)state;
    int f;
    uint8_t a[16];
    assert_true(clientip_parse_addr("1.2.3.4", 7, &f, a));
    assert_int_equal(f, 4);
    assert_false(clientip_parse_addr("1.2.3.4", 0, &f, a));
    assert_false(clientip_parse_addr("1.2.3", 5, &f, a));
    assert_false(clientip_parse_addr("1.2.3.4\0", 8, &f, a));
    assert_false(clientip_parse_addr(" 1.2.3.4", 8, &f, a));
    assert_true(clientip_parse_addr("::", 2, &f, a));
    assert_int_equal(f, 6);
    char longtext[100];
    memset(longtext, '1', sizeof longtext);
    assert_false(clientip_parse_addr(longtext, sizeof longtext, &f, a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parsing),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_untrusted_peer_is_the_client),
        cmocka_unit_test(test_right_most_untrusted_entry),
        cmocka_unit_test(test_malformed_header_falls_back_to_peer),
        cmocka_unit_test(test_address_parsing_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
