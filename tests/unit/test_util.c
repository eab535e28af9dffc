#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pairmap.h"
#include "common/run.h"
#include "common/util.h"
#include "common/uuid.h"

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static void assert_uuid4(const char *u)
{
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(is_hex(u[i]));
    }
    assert_int_equal(u[14], '4');                     /* version */
    assert_non_null(strchr("89ab", u[19]));           /* variant 10xx */
}

static void test_uuid(void **state)
{
    (void)state;
    unsigned char zero[16] = {0}, ones[16];
    memset(ones, 0xff, sizeof ones);
    char u[37];
    uuid_format(zero, u);
    assert_string_equal(u, "00000000-0000-4000-8000-000000000000");
    uuid_format(ones, u);
    assert_string_equal(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    unsigned char seq[16];
    for (int i = 0; i < 16; i++)
        seq[i] = (unsigned char)(i * 17);
    uuid_format(seq, u);
    assert_string_equal(u, "00112233-4455-4677-8899-aabbccddeeff");
    char a[37], b[37];
    assert_int_equal(uuid_new(a), 0);
    assert_int_equal(uuid_new(b), 0);
    assert_uuid4(a);
    assert_uuid4(b);
    assert_string_not_equal(a, b);
}

static void test_pairmap(void **state)
{
    (void)state;
    /* random puts and deletes against a plain array of the same keys;
     * few distinct keys, so chains, wrap-around and shifts all happen */
    enum { KEYS = 300 };
    int64_t ref[KEYS];
    bool in[KEYS] = {false};
    struct pairmap m;
    pairmap_init(&m);
    srand(7);
    for (int round = 0; round < 20000; round++) {
        int k = rand() % KEYS;
        if (rand() % 3) {
            bool added;
            int64_t *v = pairmap_put(&m, k, k % 7, -1, &added);
            assert_int_equal(added, !in[k]);
            *v = ref[k] = round;
            in[k] = true;
        } else {
            pairmap_del(&m, k, k % 7);
            in[k] = false;
        }
        if (round % 97 == 0) {
            size_t n = 0;
            for (int i = 0; i < KEYS; i++) {
                int64_t *v = pairmap_get(&m, i, i % 7);
                assert_int_equal(v != NULL, in[i]);
                if (v)
                    assert_int_equal(*v, ref[i]);
                n += in[i];
                assert_null(pairmap_get(&m, i, i % 7 + 1));  /* the second key counts */
            }
            assert_int_equal(m.len, n);
        }
    }
    pairmap_free(&m);
}

static void test_parse_i64_strict(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_true(parse_i64("200", 1, 1000, &v));
    assert_int_equal(v, 200);
    assert_false(parse_i64("0", 1, 1000, &v));
    assert_false(parse_i64("-5", 1, 1000, &v));
    assert_false(parse_i64("10ms", 1, 1000, &v));
    assert_false(parse_i64("", 1, 1000, &v));
    assert_false(parse_i64(" 5", 1, 1000, &v));
    assert_false(parse_i64("99999999999999999999", 1, INT64_MAX, &v));
    assert_int_equal(v, 200);
    double d;
    assert_true(parse_double("1.25", 0, 10, &d));
    assert_true(d == 1.25);
    assert_false(parse_double("nan", 0, 10, &d));
    assert_false(parse_double("11", 0, 10, &d));
}

static void test_run_id_rules(void **state)
{
    (void)state;
    assert_true(run_id_valid("20250922T101010Z"));
    assert_true(run_id_valid("20250922002(c1)"));
    assert_false(run_id_valid("../etc"));
    assert_false(run_id_valid("a/b"));
    assert_false(run_id_valid(""));
    assert_false(run_id_valid(".."));
}

static void test_run_id_env_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tk-runid-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\nexport RUN_ID=\"abc123\"\nRUN_ID=other\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *id = run_id_from_env_file(path);
    assert_string_equal(id, "abc123");
    free(id);
    unlink(path);
    assert_null(run_id_from_env_file(path));
}

static void test_resolve_precedence(void **state)
{
    (void)state;
    struct run_ctx c;
    char err[256];
    setenv("RUN_ID", "fromenv", 1);
    setenv("NODE_ID", "n1", 1);
    unsetenv("STAGE");
    assert_int_equal(run_ctx_resolve(&c, "fromflag", NULL, NULL, "/tmp/x", RUNID_REQUIRED, err, sizeof err), 0);
    assert_string_equal(c.run_id, "fromflag");
    assert_string_equal(c.node_id, "n1");
    assert_string_equal(c.stage, "cloud");
    assert_string_equal(c.run_dir, "/tmp/x/fromflag");
    run_ctx_free(&c);
    assert_int_equal(run_ctx_resolve(&c, NULL, "n2", "edge", NULL, RUNID_REQUIRED, err, sizeof err), 0);
    assert_string_equal(c.run_id, "fromenv");
    assert_string_equal(c.run_id_source, "RUN_ID");
    assert_string_equal(c.node_id, "n2");
    assert_string_equal(c.run_dir, "logs/fromenv");
    run_ctx_free(&c);
    assert_int_equal(run_ctx_resolve(&c, "bad/id", NULL, NULL, NULL, RUNID_NEW, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad/id"));
    unsetenv("RUN_ID");
    unsetenv("NODE_ID");
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-atomic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = path_join(dir, "sub/deeper");
    assert_int_equal(mkdir_p(p, 0755), 0);
    assert_int_equal(mkdir_p(p, 0755), 0);
    char *f = path_join(p, "x.json");
    assert_int_equal(write_file_atomic(f, "hello", 5), 0);
    size_t n;
    char *t = read_file(f, &n);
    assert_int_equal(n, 5);
    assert_string_equal(t, "hello");
    free(t);
    unlink(f);
    free(f);
    rmdir(p);
    free(p);
    p = path_join(dir, "sub");
    rmdir(p);
    free(p);
    rmdir(dir);
}

/* A symlink planted at the old predictable temporary name (X.tmp.PID) or
 * at any name is never followed; open_regular refuses a FIFO without
 * blocking and a symlink; modes are TK_FILE_MODE masked by the umask. */
static void test_hostile_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-hostile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *victim = path_join(dir, "victim"), *f = path_join(dir, "x.json");
    assert_int_equal(write_file_atomic(victim, "precious", 8), 0);
    char *planted = xasprintf("%s.tmp.%d", f, (int)getpid());
    assert_int_equal(symlink(victim, planted), 0);
    mode_t old = umask(022);
    assert_int_equal(write_file_atomic(f, "new", 3), 0);
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, TK_FILE_MODE);
    umask(077);
    assert_int_equal(write_file_atomic(f, "newer", 5), 0);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    umask(old);
    char *t = read_file(victim, NULL);
    assert_string_equal(t, "precious");
    free(t);
    assert_int_equal(lstat(planted, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* open_regular: a link and a FIFO are refused at once, a file opens */
    errno = 0;
    assert_int_equal(open_regular(planted), -1);
    assert_int_equal(errno, ELOOP);
    char *fifo = path_join(dir, "events.x.jsonl");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(open_regular(fifo), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(open_strerror(EINVAL), "not a regular file"));
    int fd = open_regular(f);
    assert_true(fd >= 0);
    char buf[8];
    assert_int_equal(read(fd, buf, sizeof buf), 5);  /* blocking again: a plain read */
    close(fd);

    /* open_tmp_excl: a fresh name each time, never an existing one */
    char *t1, *t2;
    int a = open_tmp_excl(f, 0600, &t1), b = open_tmp_excl(f, 0600, &t2);
    assert_true(a >= 0 && b >= 0);
    assert_string_not_equal(t1, t2);
    close(a);
    close(b);
    unlink(t1);
    unlink(t2);
    free(t1);
    free(t2);
    unlink(fifo);
    unlink(planted);
    unlink(f);
    unlink(victim);
    rmdir(dir);
    free(fifo);
    free(planted);
    free(f);
    free(victim);
}

/* A repeated warning: the first passes, the next ones in the interval are
 * held and counted, the first after it passes with the count. */
static void test_log_limit(void **state)
{
    (void)state;
    struct log_limit l = {0};
    uint64_t held = 99;
    assert_true(log_limit_pass(&l, 50 * 1000000LL, &held));
    assert_int_equal(held, 0);
    for (int i = 0; i < 1000; i++)
        assert_false(log_limit_pass(&l, 50 * 1000000LL, &held));
    sleep_ms(60);
    assert_true(log_limit_pass(&l, 50 * 1000000LL, &held));
    assert_int_equal(held, 1000);
    assert_false(log_limit_pass(&l, 50 * 1000000LL, &held));
}

/* The cap under a lowered hard limit (in a child: lowering the hard limit
 * cannot be undone).  Exit 0 when every case holds, else the failed case. */
static int nofile_cases(void)
{
    struct rlimit rl = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1;
    if (nofile_cap(10, 1, 16) != 10 || nofile_cap(24, 2, 16) != 24)
        return 2;                                   /* fits: unchanged */
    if (nofile_cap(100, 2, 16) != 24 || nofile_cap(100, 1, 16) != 48)
        return 3;                                   /* (64 - 16) / per connection */
    if (nofile_cap(100, 2, 70) != 1 || nofile_cap(0, 1, 16) != 1)
        return 4;                                   /* never below 1 */
    rl = (struct rlimit){32, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 5;
    if (nofile_cap(20, 2, 16) != 20)
        return 6;                                   /* the soft limit raised to 56 */
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 56)
        return 7;
    return 0;
}

static void test_nofile_cap(void **state)
{
    (void)state;
    assert_int_equal(nofile_cap(1, 1, 16), 1);   /* any sane limit holds 17 */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        log_set_level(LOG_ERROR);   /* the capping warnings are expected */
        _exit(nofile_cases());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Out of descriptors, threads or memory: stop accepting for a second;
 * an aborted connection or a signal is no failure; others only count. */
static void test_accept_backoff(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    struct accept_backoff b = {0};
    int64_t now = now_mono_ns();
    assert_true(accept_backoff_ready(&b, now));
    assert_false(accept_backoff_fail(&b, "accept a client", EINTR));
    assert_false(accept_backoff_fail(&b, "accept a client", ECONNABORTED));
    assert_int_equal(b.fails, 0);
    assert_true(accept_backoff_ready(&b, now_mono_ns()));
    assert_false(accept_backoff_fail(&b, "accept a client", EPERM));
    assert_int_equal(b.fails, 1);
    assert_true(accept_backoff_ready(&b, now_mono_ns()));
    int starved[] = {EMFILE, ENFILE, ENOBUFS, ENOMEM, EAGAIN};
    for (size_t i = 0; i < ARRAY_LEN(starved); i++) {
        b.retry_at = 0;
        now = now_mono_ns();
        assert_true(accept_backoff_fail(&b, "accept a client", starved[i]));
        assert_false(accept_backoff_ready(&b, now_mono_ns()));
        assert_false(accept_backoff_ready(&b, now + ACCEPT_RETRY_NS - 1000000));
        assert_true(accept_backoff_ready(&b, now_mono_ns() + ACCEPT_RETRY_NS));
    }
    assert_int_equal(b.fails, 1 + ARRAY_LEN(starved));
    accept_backoff_full(&b, 8);
    assert_true(b.full.next_ns > 0);   /* the full warning is rate-limited apart */
    log_set_level(LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_pairmap),
        cmocka_unit_test(test_parse_i64_strict),
        cmocka_unit_test(test_run_id_rules),
        cmocka_unit_test(test_run_id_env_file),
        cmocka_unit_test(test_resolve_precedence),
        cmocka_unit_test(test_write_file_atomic),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_log_limit),
        cmocka_unit_test(test_nofile_cap),
        cmocka_unit_test(test_accept_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
