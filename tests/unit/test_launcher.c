#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "task/launcher.h"

static int open_fds(void)
{
    int n = 0;
    for (int fd = 3; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static int fds_before;  /* open_fds() of the test before it starts a launcher */

/* What a task process runs instead of exec: says what it got and what it
 * is (own process group, stdin /dev/null, no fd of the launcher's: the
 * fds above 2 are those of the test), exits 7. */
static int probe(int argc, char **argv)
{
    int fds = open_fds() - fds_before;
    struct stat in, null;
    bool stdin_null = fstat(0, &in) == 0 && stat("/dev/null", &null) == 0 &&
                      in.st_rdev == null.st_rdev;
    printf("argc=%d", argc);
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf(" own_group=%d stdin_null=%d fds=%d\n", getpgid(0) == getpid(), stdin_null, fds);
    return 7;
}

/* A launcher serving in a child of ours (as the worker's is). */
static void start(struct launcher *l)
{
    fds_before = open_fds();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        _exit(launcher_serve(sv[1], probe));
    }
    close(sv[1]);
    *l = (struct launcher){.pid = pid, .fd = sv[0]};
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return xstrdup("");
    char *buf = xcalloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/tk-test-launcher.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

/* a task: our child (reaped here with exec's status), its own group, its
 * output in its log file; the launcher goes on to the next one */
static void test_spawn(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct launcher l;
    start(&l);
    char *argv[] = {"tracekit", "exec", "--attempt", "1", "--", "true", NULL};
    struct runner_task t = {.id = 5, .attempt = 1, .argv = argv};
    char err[512];
    for (int round = 0; round < 2; round++) {
        pid_t pid = launcher_spawn(&l, &t, RUNNER_OUT_FILE, dir, err, sizeof err);
        assert_true(pid > 0);
        assert_int_not_equal(pid, l.pid);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);   /* CLONE_PARENT: ours */
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 7);
    }
    char *log = runner_log_path(dir, 5, 1);
    char *text = slurp(log);
    const char *line = "argc=5 exec --attempt 1 -- true own_group=1 stdin_null=1 fds=0\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", line, line);
    assert_string_equal(text, both);
    free(text);
    unlink(log);
    free(log);

    /* a log that cannot be opened: the task fails to start, the launcher stays */
    log = runner_log_path(dir, 6, 1);
    assert_int_equal(mkdir(log, 0700), 0);
    t.id = 6;
    assert_int_equal(launcher_spawn(&l, &t, RUNNER_OUT_FILE, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot start tracekit exec with output to"));
    assert_non_null(strstr(err, strerror(EISDIR)));
    rmdir(log);
    free(log);
    pid_t pid = launcher_spawn(&l, &t, RUNNER_OUT_NULL, dir, err, sizeof err);
    assert_true(pid > 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 7);

    /* a command line over LAUNCHER_MSG_MAX: not for the launcher, which stays */
    char *big = xcalloc(1, LAUNCHER_MSG_MAX + 1);
    memset(big, 'x', LAUNCHER_MSG_MAX);
    char *bargv[] = {"tracekit", "exec", "--", big, NULL};
    struct runner_task bt = {.id = 7, .attempt = 1, .argv = bargv};
    assert_int_equal(launcher_spawn(&l, &bt, RUNNER_OUT_NULL, dir, err, sizeof err),
                     LAUNCHER_DOWN);
    assert_true(l.fd >= 0);
    free(big);

    /* end of file: the launcher exits 0 */
    close(l.fd);
    assert_int_equal(waitpid(l.pid, &st, 0), l.pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    rmdir(dir);
    free(dir);
}

/* a dead launcher: LAUNCHER_DOWN, nothing started; a malformed message
 * ends it with status 1 */
static void test_down(void **state)
{
    (void)state;
    struct launcher l;
    start(&l);
    kill(l.pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(l.pid, &st, 0), l.pid);
    char *argv[] = {"tracekit", "exec", "--", "true", NULL};
    struct runner_task t = {.id = 1, .attempt = 1, .argv = argv};
    char err[512];
    l.pid = -1;
    assert_int_equal(launcher_spawn(&l, &t, RUNNER_OUT_INHERIT, NULL, err, sizeof err),
                     LAUNCHER_DOWN);
    assert_int_equal(l.fd, -1);
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);   /* no task process */

    start(&l);
    assert_int_equal(send(l.fd, "f", 2, 0), 2);   /* no log, no argv */
    assert_int_equal(waitpid(l.pid, &st, 0), l.pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    close(l.fd);
}

/* the starter: a task through its launcher; the launcher reaped (a pid
 * of its own, told apart from the tasks'), closed, not started again
 * before LAUNCHER_RETRY_MS as it lived less than that */
static void test_starter(void **state)
{
    (void)state;
    struct starter s;
    starter_init(&s, NULL);
    assert_int_equal(s.l.pid, -1);
    start(&s.l);
    s.l.started_ms = now_mono_ns() / 1000000;
    char *argv[] = {"tracekit", "exec", "--", "true", NULL};
    struct runner_task t = {.id = 3, .attempt = 1, .argv = argv};
    struct runner_conf rc = {0};
    char xid[17] = "0123456789abcdef", err[512];
    pid_t pid = starter_spawn(&s, &rc, "{}", xid, &t, RUNNER_OUT_NULL, NULL, 3, err, sizeof err);
    assert_true(pid > 0);
    assert_int_not_equal(pid, s.l.pid);
    assert_string_equal(xid, "0123456789abcdef");   /* the launcher answered: same id */
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_false(starter_reaped(&s, pid, WEXITSTATUS(st)));   /* a task: the caller's */
    pid_t lp = s.l.pid;
    kill(lp, SIGKILL);
    assert_int_equal(waitpid(lp, &st, 0), lp);
    int64_t now = now_mono_ns() / 1000000;
    assert_true(starter_reaped(&s, lp, 137));
    assert_int_equal(s.l.pid, -1);
    assert_int_equal(s.l.fd, -1);
    assert_true(s.launch_at >= now + LAUNCHER_RETRY_MS - 100);
    assert_false(starter_reaped(&s, lp, 137));   /* once */
    starter_close(&s);
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);   /* nothing left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn),
        cmocka_unit_test(test_down),
        cmocka_unit_test(test_starter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
