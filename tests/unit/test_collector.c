#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collect/collector.h"
#include "common/fstree.h"
#include "common/util.h"

struct fixture {
    char dir[64];
    char *status;   /* DIR/collector.json */
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_collector_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->status = path_join(f->dir, "collector.json");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = fstree_rm_rf(f->dir);
    free(f->status);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void write_status(const struct fixture *f, const char *text)
{
    FILE *o = fopen(f->status, "w");
    assert_non_null(o);
    fputs(text, o);
    fclose(o);
}

/* What fn printed on its FILE *. */
#define CAPTURE(text, call)                          \
    do {                                             \
        size_t len_ = 0;                             \
        FILE *out = open_memstream(&(text), &len_);  \
        call;                                        \
        fclose(out);                                 \
    } while (0)

static void test_status_never_ran(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;
    int rc;
    CAPTURE(text, rc = collector_status("r1", f->dir, out));
    assert_int_equal(rc, 3);
    assert_non_null(strstr(text, "run r1: no collector has run"));
    free(text);
    char err[512] = "";
    CAPTURE(text, rc = collector_stop("r1", f->dir, out, err, sizeof err));
    assert_int_equal(rc, TK_EXIT_FAIL);
    assert_non_null(strstr(err, "no collector has run for run 'r1'"));
    assert_string_equal(text, "");
    free(text);
}

static void test_status_stopped(void **state)
{
    struct fixture *f = *state;
    write_status(f, "{\"state\": \"stopped\", \"pid\": 1, \"start_ticks\": 5, \"mode\": \"scan\", "
                    "\"interval_ms\": 200, \"stats\": {\"proc_samples\": 12, \"cpu_ms\": 1.5}}\n");
    char *text = NULL;
    int rc;
    CAPTURE(text, rc = collector_status("r1", f->dir, out));
    assert_int_equal(rc, 3);
    assert_string_equal(text, "run r1: collector not running (pid 1, mode scan, interval 200 ms)\n"
                              "  proc_samples                 12\n"
                              "  cpu_ms                       1.500\n");
    free(text);
}

/* collector.json names a live process that is not the sampler (its start
 * ticks differ): stop must leave it alone (original bug B21). */
static void test_stop_refuses_another_process(void **state)
{
    struct fixture *f = *state;
    pid_t victim = fork();
    assert_true(victim >= 0);
    if (victim == 0) {
        pause();
        _exit(0);
    }
    char *text = xasprintf("{\"state\": \"running\", \"pid\": %d, \"start_ticks\": 1}\n",
                           (int)victim);
    write_status(f, text);
    free(text);
    char err[512] = "";
    int rc;
    text = NULL;
    CAPTURE(text, rc = collector_status("r1", f->dir, out));
    assert_int_equal(rc, 3);
    assert_non_null(strstr(text, "collector not running"));
    free(text);
    CAPTURE(text, rc = collector_stop("r1", f->dir, out, err, sizeof err));
    assert_int_equal(rc, TK_EXIT_FAIL);
    assert_non_null(strstr(err, "no collector is running for run 'r1'"));
    assert_int_equal(kill(victim, 0), 0);   /* still alive */
    free(text);
    kill(victim, SIGKILL);
    waitpid(victim, NULL, 0);
}

/* run in the foreground for a moment: node_meta.json, the records and a
 * stopped collector.json; a record that says "running" without start
 * ticks does not block the next run. */
static void test_run_short(void **state)
{
    struct fixture *f = *state;
    char *pids = path_join(f->dir, "pids");
    struct collector_conf c = {
        .run_id = "r1", .node_id = "n1", .stage = "cloud", .run_dir = f->dir,
        .so = {.interval_ms = 50, .host_interval_ms = 100, .pid_dir = pids, .duration_s = 0.3,
               .sync_every_ms = 1000},
    };
    char err[512] = "";
    assert_int_equal(collector_run(&c, err, sizeof err), TK_EXIT_OK);
    assert_string_equal(err, "");
    char *meta = path_join(f->dir, "node_meta.json");
    assert_true(file_exists(meta));
    char *host = path_join(f->dir, "host_metrics.jsonl");
    assert_true(file_exists(host));
    char *text = NULL;
    int rc;
    CAPTURE(text, rc = collector_status("r1", f->dir, out));
    assert_int_equal(rc, 3);
    assert_non_null(strstr(text, "collector not running"));
    assert_non_null(strstr(text, "mode whitelist, interval 50 ms"));
    free(text);

    char *self = xasprintf("{\"state\": \"running\", \"pid\": %d, \"start_ticks\": 0}\n",
                           (int)getpid());
    write_status(f, self);  /* no start ticks: not a running sampler */
    assert_int_equal(collector_run(&c, err, sizeof err), TK_EXIT_OK);
    free(self);
    free(host);
    free(meta);
    free(pids);
}

static void test_run_unwritable(void **state)
{
    (void)state;
    struct collector_conf c = {.run_id = "r1", .node_id = "n1", .stage = "cloud",
                               .run_dir = "/proc/version/logs/r1",
                               .so = {.interval_ms = 50, .duration_s = 0.1}};
    char err[512] = "";
    assert_int_equal(collector_run(&c, err, sizeof err), TK_EXIT_FAIL);
    assert_non_null(strstr(err, "cannot create run folder /proc/version/logs/r1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_never_ran, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_refuses_another_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_short, setup, teardown),
        cmocka_unit_test(test_run_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
