#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"
#include "common/run.h"
#include "trace/ship.h"

static void hash(const void *p, size_t n, char hex[65])
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_hex(&s, hex);
}

/* FIPS 180-4 / NIST example vectors. */
static void test_sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    hash("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hash(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces across block boundaries */
    struct sha256 s;
    sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : (left % 7) + 90;
        sha256_update(&s, a, n);
        left -= n;
    }
    sha256_hex(&s, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_names(void **state)
{
    (void)state;
    assert_true(ship_name_ok("node_meta.json"));
    assert_true(ship_name_ok("CTS/audit.json"));
    assert_true(ship_name_ok("events.ffmpeg.jsonl"));
    assert_false(ship_name_ok("../x"));
    assert_false(ship_name_ok("CTS/../x"));
    assert_false(ship_name_ok("/etc/passwd"));
    assert_false(ship_name_ok("a/b"));
    assert_false(ship_name_ok("CTS/a/b"));
    assert_false(ship_name_ok(".hidden"));
    assert_false(ship_name_ok(""));
    assert_false(ship_name_ok("CTS/"));
    assert_false(ship_name_ok(NULL));
    assert_int_equal(ship_chunks(0, 512), 0);
    assert_int_equal(ship_chunks(1, 512), 1);
    assert_int_equal(ship_chunks(512, 512), 1);
    assert_int_equal(ship_chunks(513, 512), 2);
    /* the controller's records, shipped from a run folder's top level */
    assert_true(ship_controller_file("ledger.jsonl"));
    assert_true(ship_controller_file("placements.jsonl"));
    assert_true(ship_controller_file("submitted.jsonl"));
    assert_false(ship_controller_file("proc_metrics.jsonl"));
    assert_false(ship_controller_file("CTS/ledger.jsonl"));
    assert_true(ship_name_ok(SHIP_CONTROLLER_NODE ".x") && run_id_valid(SHIP_CONTROLLER_NODE));
}

#define SHA0 "0000000000000000000000000000000000000000000000000000000000000000"

static void test_manifest_roundtrip(void **state)
{
    (void)state;
    struct ship_file f[2] = {
        {.name = "node_meta.json", .size = 10, .chunks = 1},
        {.name = "CTS/proc_metrics.jsonl", .size = 1025, .chunks = 3},
    };
    memset(f[0].sha256, 'a', 64);
    memset(f[1].sha256, '0', 64);
    struct ship_manifest m = {.node = "cloud1", .upload = "abc-1-2", .chunk_size = 512,
                              .shipped_ms = 42, .files = f, .nfiles = 2};
    char *json = ship_manifest_json(&m);
    struct ship_manifest p;
    char err[256];
    assert_int_equal(ship_manifest_parse(json, &p, err, sizeof err), 0);
    assert_string_equal(p.node, "cloud1");
    assert_string_equal(p.upload, "abc-1-2");
    assert_int_equal(p.nfiles, 2);
    assert_string_equal(p.files[1].name, "CTS/proc_metrics.jsonl");
    assert_int_equal(p.files[1].size, 1025);
    assert_int_equal(p.files[1].chunks, 3);
    assert_memory_equal(p.files[0].sha256, f[0].sha256, 65);
    ship_manifest_free(&p);
    free(json);

    /* a chunk count that does not match the size, an unsafe name */
    f[1].chunks = 2;
    json = ship_manifest_json(&m);
    assert_int_equal(ship_manifest_parse(json, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "CTS/proc_metrics.jsonl"));
    free(json);
    f[1].chunks = 3;
    f[1].name = "../../etc/x";
    json = ship_manifest_json(&m);
    assert_int_equal(ship_manifest_parse(json, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "unsafe"));
    free(json);
    assert_int_equal(ship_manifest_parse("not json", &p, err, sizeof err), -1);

    /* the node becomes a folder name: an unsafe one is refused, named */
    f[1].name = "CTS/proc_metrics.jsonl";
    const char *bad_nodes[] = {"../../x", "/home/u/.ssh", "..", "a/b", ""};
    for (size_t i = 0; i < sizeof bad_nodes / sizeof *bad_nodes; i++) {
        m.node = (char *)bad_nodes[i];
        json = ship_manifest_json(&m);
        assert_int_equal(ship_manifest_parse(json, &p, err, sizeof err), -1);
        if (*bad_nodes[i])
            assert_non_null(strstr(err, bad_nodes[i]));
        free(json);
    }
    m.node = "cloud1";
    /* a negative size is refused */
    assert_int_equal(ship_manifest_parse(
                         "{\"node\":\"n\",\"upload\":\"u\",\"chunk_size\":4,\"files\":[{\"name\":"
                         "\"x\",\"size\":-1,\"chunks\":0,\"sha256\":\"" SHA0 "\"}]}",
                         &p, err, sizeof err),
                     -1);
    assert_int_equal(ship_manifest_parse(
                         "{\"node\":\"n\",\"upload\":\"u\",\"chunk_size\":4,\"files\":[{\"name\":"
                         "\"x\",\"size\":5,\"chunks\":2,\"sha256\":\"" SHA0 "\"}]}",
                         &p, err, sizeof err),
                     0);
    ship_manifest_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_manifest_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
