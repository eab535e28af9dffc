/* test_replay.c -- the OpenDC replay model on hand-worked cases: sharing
 * under Perfect, slots with head-of-line blocking, zero-work fragments,
 * each filter and weigher, tasks fitting no host, the policy forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opendc/replay.h"
#include "opendc/replay_compare.h"
#include "opendc/replay_load.h"
#include "parquet/parquet.h"
#include "common/util.h"

#include <unistd.h>

/* A small world: tasks each with their fragments, hosts by name. */
struct world {
    struct rp_task t[16];
    struct rp_frag f[64];
    struct rp_host h[8];
    size_t nt, nf, nh;
    struct rp_result r;
};

static void host(struct world *w, const char *name, int type, int cores, double mhz, int64_t mib)
{
    struct rp_host *h = &w->h[w->nh++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->type = type;
    h->cores = cores;
    h->core_mhz = mhz;
    h->mem_mib = mib;
}

/* A task; frags as (duration ms, usage MHz) pairs, nfrag of them. */
static void task(struct world *w, int id, int64_t sub, int cores, int64_t mib, int nfrag, ...)
{
    struct rp_task *t = &w->t[w->nt++];
    *t = (struct rp_task){.id = id, .sub_ms = sub, .cores = cores, .cap_mhz = cores * 1000.0, .mem_mib = mib,
                          .frag0 = w->nf, .nfrag = (size_t)nfrag};
    va_list ap;
    va_start(ap, nfrag);
    for (int i = 0; i < nfrag; i++) {
        int64_t d = va_arg(ap, int64_t);
        double u = va_arg(ap, double);
        w->f[w->nf++] = (struct rp_frag){d, u};
    }
    va_end(ap);
}

static void run_policy(struct world *w, const struct rp_policy *p, int scaling, int64_t q)
{
    struct rp_input in = {.tasks = w->t, .ntasks = w->nt, .frags = w->f, .nfrags = w->nf, .hosts = w->h,
                          .nhosts = w->nh, .policy = *p, .scaling = scaling, .quantum_ms = q};
    char err[256];
    rp_result_free(&w->r);
    assert_int_equal(rp_run(&in, &w->r, err, sizeof err), 0);
}

static void run(struct world *w, const char *policy, int scaling, int64_t q)
{
    struct rp_policy p;
    char err[256];
    if (policy[0] == '{') {
        json_error_t je;
        json_t *j = json_loads(policy, 0, &je);
        assert_non_null(j);
        assert_int_equal(rp_policy_json(j, &p, err, sizeof err), 0);
        json_decref(j);
    } else {
        assert_int_equal(rp_policy_prefab(policy, &p, err, sizeof err), 0);
    }
    run_policy(w, &p, scaling, q);
}

#define FILTER_ONLY "{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},{\"type\":\"vcpu\"},{\"type\":\"ram\"}]}"
#define F(d, u) (int64_t)(d), (double)(u)

static void test_maxmin(void **state)
{
    (void)state;
    double d[3] = {500, 3000, 100}, g[3];
    rp_maxmin(2000, d, 3, g);   /* 100 and 500 in full, the rest (1400) to the big one */
    assert_true(g[2] == 100 && g[0] == 500 && g[1] == 1400);
    double e[2] = {3000, 3000};
    rp_maxmin(2000, e, 2, g);
    assert_true(g[0] == 1000 && g[1] == 1000);
}

/* Two tasks on one 2 x 1000 MHz host asking 500 and 3000 MHz for 1 s.
 * Perfect: 500 and 1500 MHz until the small one ends at 1000 ms; the big
 * one has 1.5e6 MHz.ms left, now at 2000 MHz: 750 ms more -> 1750.
 * NoDelay: both end at 1000 whatever they get. */
static void test_sharing_perfect(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 2, 1000, 4000);
    task(&w, 1, 0, 1, 0, 1, F(1000, 500));
    task(&w, 2, 0, 1, 0, 1, F(1000, 3000));
    run(&w, FILTER_ONLY, RP_PERFECT, 1000);
    assert_int_equal(w.r.tasks[0].finish_ms, 1000);
    assert_int_equal(w.r.tasks[1].finish_ms, 1750);
    assert_int_equal(w.r.makespan_ms, 1750);
    /* supplied work = 5e5 + 3e6 MHz.ms, all of it */
    assert_true(fabs(w.r.host_busy_mhz_ms[0] - 3.5e6) < 1);
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.tasks[1].finish_ms, 1000);
    rp_result_free(&w.r);
}

/* One 2-core host.  T1 (1 core, 1.5 s) at 0; T2 (2 cores) at 100 cannot fit
 * and blocks T3 (1 core, would fit) behind it.  1-s slots: T1 0-1500, the
 * cycle after its end is at 2000: T2 2000-2500, T3 waits for the slot at
 * 3000: 3000-3100.  1-ms slots: T2 1500-2000, T3 2000-2100. */
static void test_slots_head_of_line(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 2, 1000, 4000);
    task(&w, 1, 0, 1, 0, 1, F(1500, 1000));
    task(&w, 2, 100, 2, 0, 1, F(500, 1000));
    task(&w, 3, 200, 1, 0, 1, F(100, 1000));
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.tasks[0].start_ms, 0);
    assert_int_equal(w.r.tasks[1].start_ms, 2000);
    assert_int_equal(w.r.tasks[2].start_ms, 3000);
    assert_int_equal(w.r.makespan_ms, 3100);
    run(&w, FILTER_ONLY, RP_NODELAY, 1);
    assert_int_equal(w.r.tasks[1].start_ms, 1500);
    assert_int_equal(w.r.tasks[2].start_ms, 2000);
    assert_int_equal(w.r.makespan_ms, 2100);
    rp_result_free(&w.r);
}

/* A submission between slots waits for the next; one on a slot runs at once. */
static void test_slot_rounding(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 4, 1000, 4000);
    task(&w, 1, 5000, 1, 0, 1, F(100, 1000));
    task(&w, 2, 5001, 1, 0, 1, F(100, 1000));
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.t0_ms, 5000);
    assert_int_equal(w.r.tasks[0].start_ms, 0);
    assert_int_equal(w.r.tasks[1].sub_ms, 1);
    assert_int_equal(w.r.tasks[1].start_ms, 1000);
    rp_result_free(&w.r);
}

/* Fragments with no work are passed over: under Perfect a 0-MHz one (and one
 * whose work truncates to 0), under both a 0-ms one. */
static void test_zero_work_fragments(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 4, 1000, 4000);
    task(&w, 1, 0, 1, 0, 4, F(1000, 0), F(0, 1000), F(1000, 0.0005), F(500, 1000));
    run(&w, FILTER_ONLY, RP_PERFECT, 1000);
    assert_int_equal(w.r.tasks[0].finish_ms, 500);
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.tasks[0].finish_ms, 2500);
    /* a task whose fragments all lack work completes when it starts */
    struct world z = {0};
    host(&z, "a", 0, 4, 1000, 4000);
    task(&z, 1, 0, 1, 0, 1, F(1000, 0));
    run(&z, FILTER_ONLY, RP_PERFECT, 1000);
    assert_int_equal(z.r.tasks[0].state, RP_COMPLETED);
    assert_int_equal(z.r.tasks[0].finish_ms, 0);
    rp_result_free(&w.r);
    rp_result_free(&z.r);
}

/* More cores or memory than the largest host: TERMINATED at its cycle, and
 * the queue moves on (it does not block). */
static void test_fits_no_host(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 4, 1000, 4000);
    task(&w, 1, 0, 8, 0, 1, F(1000, 1000));
    task(&w, 2, 0, 1, 5000, 1, F(1000, 1000));
    task(&w, 3, 0, 1, 100, 1, F(1000, 1000));
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.tasks[0].state, RP_TERMINATED);
    assert_int_equal(w.r.tasks[1].state, RP_TERMINATED);
    assert_int_equal(w.r.tasks[2].state, RP_COMPLETED);
    assert_int_equal(w.r.tasks[2].start_ms, 0);
    assert_int_equal(w.r.terminated, 2);
    rp_result_free(&w.r);
}

/* Filter-only: a busy host that fits comes before an idle one; among idle
 * hosts the first of the first type; an idle host rejoins its type at the end. */
static void test_filter_order(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 4, 1000, 4000);
    host(&w, "b", 0, 4, 1000, 4000);
    task(&w, 1, 0, 1, 0, 1, F(500, 1000));
    task(&w, 2, 0, 1, 0, 1, F(500, 1000));
    task(&w, 3, 1000, 1, 0, 1, F(500, 1000));
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.tasks[0].host, 0);
    assert_int_equal(w.r.tasks[1].host, 0);   /* busy a fits: stacked */
    assert_int_equal(w.r.tasks[2].host, 1);   /* a idle again: behind b */
    rp_result_free(&w.r);
}

static int place_one(const char *policy, struct world *w)
{
    run(w, policy, RP_NODELAY, 1000);
    return w->r.tasks[w->nt - 1].host;
}

/* vcpu, ram, vcpuCapacity, instanceCount filters, each alone after compute. */
static void test_filters(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "small", 0, 2, 1000, 1000);
    host(&w, "big", 1, 8, 3000, 8000);
    task(&w, 1, 0, 4, 0, 1, F(100, 1000));
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"vcpu\"}]}", &w), 1);
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"}]}", &w), 0);
    w.t[0].cores = 1;
    w.t[0].mem_mib = 2000;
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"ram\"}]}", &w), 1);
    w.t[0].mem_mib = 0;
    w.t[0].cap_mhz = 2000;   /* per core 2000: only the 3000-MHz host */
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},"
                               "{\"type\":\"vcpuCapacity\"}]}", &w), 1);
    /* vcpu with an allocation ratio: 2 cores x 2.0 hold 4 provisioned */
    w.t[0].cores = 2;
    task(&w, 2, 0, 2, 0, 1, F(100, 1000));
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},"
                               "{\"type\":\"vcpu\",\"allocationRatio\":2.0}]}", &w), 0);
    /* instanceCount limit 1: the second task goes elsewhere */
    assert_int_equal(place_one("{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},"
                               "{\"type\":\"instanceCount\",\"limit\":1}]}", &w), 1);
    rp_result_free(&w.r);
}

/* Weighers on one decision: task 1 (3000 MiB, 1 core) takes host a (range 0
 * on two empty hosts: C[0]); task 2 chooses between busy a and idle b. */
static int second_host(const char *weigher)
{
    struct world w = {0};
    host(&w, "a", 0, 4, 1000, 4000);
    host(&w, "b", 1, 4, 2000, 4000);
    task(&w, 1, 0, 1, 3000, 1, F(100, 1000));
    task(&w, 2, 0, 1, 1000, 1, F(100, 1000));
    char pol[256];
    snprintf(pol, sizeof pol, "{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},{\"type\":\"vcpu\"},"
             "{\"type\":\"ram\"}],\"weighers\":[%s]}", weigher);
    run(&w, pol, RP_NODELAY, 1000);
    int h = w.r.tasks[1].host;
    rp_result_free(&w.r);
    return h;
}

static void test_weighers(void **state)
{
    (void)state;
    /* ram: a has 1000 MiB free, b 4000: +1 spreads to b; -1 never lifts W
     * above 0 and HEAD keeps C[0] = a */
    assert_int_equal(second_host("{\"type\":\"ram\",\"multiplier\":1.0}"), 1);
    assert_int_equal(second_host("{\"type\":\"ram\",\"multiplier\":-1.0}"), 0);
    /* coreRam: 250 vs 1000 MiB per core */
    assert_int_equal(second_host("{\"type\":\"coreRam\",\"multiplier\":1.0}"), 1);
    assert_int_equal(second_host("{\"type\":\"coreRam\",\"multiplier\":-1.0}"), 0);
    /* instanceCount: 1 vs 0 tasks: +1 stacks on a */
    assert_int_equal(second_host("{\"type\":\"instanceCount\",\"multiplier\":1.0}"), 0);
    /* vcpu: 1 - provisioned = 0 vs 1: +1 prefers b */
    assert_int_equal(second_host("{\"type\":\"vcpu\",\"multiplier\":1.0}"), 1);
    /* vcpuCapacity: 4000 vs 8000 MHz minus the task's per core: +1 prefers b */
    assert_int_equal(second_host("{\"type\":\"vcpuCapacity\",\"multiplier\":1.0}"), 1);
    /* no weighers: C[0], the busy host */
    assert_int_equal(second_host(""), 0);
}

static void test_prefabs(void **state)
{
    (void)state;
    struct rp_policy p;
    char err[256];
    assert_int_equal(rp_policy_prefab("Mem", &p, err, sizeof err), 0);
    assert_int_equal(p.nf, 2);   /* Mem: VCpu, Ram, no Compute */
    assert_int_equal(p.f[0].kind, RP_F_VCPU);
    assert_int_equal(p.nw, 1);
    assert_true(p.w[0].kind == RP_W_RAM && p.w[0].mult == 1.0);
    assert_int_equal(rp_policy_prefab("ActiveServers", &p, err, sizeof err), 0);
    assert_true(p.nf == 3 && p.f[0].kind == RP_F_COMPUTE && p.w[0].kind == RP_W_INSTANCE_COUNT &&
                p.w[0].mult == -1.0);
    assert_int_equal(rp_policy_prefab("Random", &p, err, sizeof err), 0);
    assert_int_equal(p.nw, 0);
    assert_int_equal(rp_policy_prefab("TaskNumMemorizing", &p, err, sizeof err), -1);
    assert_int_equal(rp_policy_prefab("FilterOnly", &p, err, sizeof err), -1);
    json_t *j = json_loads("{\"type\":\"prefab\",\"prefabName\":\"CoreMemInv\"}", 0, NULL);
    assert_int_equal(rp_policy_json(j, &p, err, sizeof err), 0);
    assert_true(p.w[0].kind == RP_W_CORE_RAM && p.w[0].mult == -1.0);
    json_decref(j);
    j = json_loads("{\"type\":\"filter\",\"filters\":[{\"type\":\"vgpu\"}]}", 0, NULL);
    assert_int_equal(rp_policy_json(j, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "vgpu"));
    json_decref(j);
    j = json_loads("{\"type\":\"filter\",\"filters\":[{\"type\":\"instanceCount\"}]}", 0, NULL);
    assert_int_equal(rp_policy_json(j, &p, err, sizeof err), -1);
    json_decref(j);
}

/* The compare figures by hand: two measured tasks (t0 = 1000 epoch ms)
 * against the head-of-line replay above (starts 0, 2000, 3000). */
static void test_compare(void **state)
{
    (void)state;
    struct world w = {0};
    host(&w, "a", 0, 2, 1000, 4000);
    task(&w, 1, 1000, 1, 0, 1, F(1500, 1000));
    task(&w, 2, 1100, 2, 0, 1, F(500, 1000));
    task(&w, 3, 1200, 1, 0, 1, F(100, 1000));
    run(&w, FILTER_ONLY, RP_NODELAY, 1000);
    assert_int_equal(w.r.makespan_ms, 3100);
    /* measured: task 1 1000-2500, task 3 1200-1300 (epoch); task 9 is not in the replay */
    struct rp_measured m[] = {{1, 1000, 1000, 2500}, {3, 1200, 1200, 1300}, {9, 0, 0, 99999}};
    struct rp_cmp c;
    rp_compare(&w.r, m, 3, &c);
    assert_int_equal(c.matched, 2);
    assert_int_equal(c.makespan_meas_ms, 1500);   /* 2500 - t0 */
    assert_int_equal(c.makespan_pred_ms, 3100);
    assert_true(fabs(c.makespan_error_pct - 100.0 * 1600 / 1500) < 1e-9);
    /* finish: |1500-1500| and |3100-300| -> 1400; start: |0-0| and |3000-200| -> 1400 */
    assert_true(fabs(c.finish_mae_ms - 1400) < 1e-9);
    assert_true(fabs(c.start_mae_ms - 1400) < 1e-9);
    /* waits: measured 0 and 0; predicted 0 and 3000 - 200 */
    assert_true(c.wait_mean_meas_ms == 0 && fabs(c.wait_mean_pred_ms - 1400) < 1e-9);
    rp_result_free(&w.r);
}

/* The loader (ComputeWorkloadLoader.kt): fragments joined by id in file
 * order, a task without fragments dropped, tasks stably sorted by
 * submission, memory round(mem_capacity / 1000) MiB. */
static void test_loader(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_replay.XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const struct pq_col_spec tc[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, 0},         {"submission_time", PQ_INT64, PQ_LT_NONE, false, 0},
        {"cpu_count", PQ_INT32, PQ_LT_NONE, false, 0},  {"cpu_capacity", PQ_DOUBLE, PQ_LT_NONE, false, 0},
        {"mem_capacity", PQ_INT64, PQ_LT_NONE, false, 0},
    };
    static const struct pq_col_spec fc[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, 0},
        {"duration", PQ_INT64, PQ_LT_NONE, false, 0},
        {"cpu_usage", PQ_DOUBLE, PQ_LT_NONE, false, 0},
    };
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    char err[256], *tp = path_join(dir, "tasks.parquet"), *fp = path_join(dir, "fragments.parquet");
    struct pq_writer *w = pq_writer_open(tp, tc, 5, &o, err, sizeof err);
    assert_non_null(w);
    const int64_t sub[] = {300, 100, 100, 100}, mem[] = {1500, 1499, 0, 2000};
    for (int i = 0; i < 4; i++) {   /* ids 1..4; 2 has no fragments */
        pq_put_i32(w, 0, i + 1);
        pq_put_i64(w, 1, sub[i]);
        pq_put_i32(w, 2, 1);
        pq_put_double(w, 3, 1000);
        pq_put_i64(w, 4, mem[i]);
        assert_int_equal(pq_end_row(w), 0);
    }
    assert_int_equal(pq_writer_close(w, err, sizeof err), 0);
    w = pq_writer_open(fp, fc, 3, &o, err, sizeof err);
    const int32_t fid[] = {1, 4, 3, 1};
    for (int i = 0; i < 4; i++) {
        pq_put_i32(w, 0, fid[i]);
        pq_put_i64(w, 1, 10 * (i + 1));
        pq_put_double(w, 2, i);
        assert_int_equal(pq_end_row(w), 0);
    }
    assert_int_equal(pq_writer_close(w, err, sizeof err), 0);
    struct rp_workload wl;
    assert_int_equal(rp_load_workload(dir, &wl, err, sizeof err), 0);
    assert_int_equal(wl.ntasks, 3);
    assert_int_equal(wl.dropped, 1);
    /* submissions 100 (ids 3, 4 in file order), then 300 (id 1) */
    assert_int_equal(wl.tasks[0].id, 3);
    assert_int_equal(wl.tasks[1].id, 4);
    assert_int_equal(wl.tasks[2].id, 1);
    assert_int_equal(wl.tasks[2].mem_mib, 2);   /* 1500 / 1000 rounds up */
    assert_int_equal(wl.tasks[1].mem_mib, 2);
    assert_int_equal(wl.tasks[2].nfrag, 2);     /* rows 1 and 4, in that order */
    assert_int_equal(wl.frags[wl.tasks[2].frag0].dur_ms, 10);
    assert_int_equal(wl.frags[wl.tasks[2].frag0 + 1].dur_ms, 40);
    rp_workload_free(&wl);
    unlink(tp);
    unlink(fp);
    rmdir(dir);
    free(tp);
    free(fp);
}

/* Hosts as OpenDC builds them: counts, packages, units, legacy memorySize,
 * unique names, one type per entry name. */
static void test_hosts(void **state)
{
    (void)state;
    json_t *t = json_loads("{\"clusters\": [{\"count\": 2, \"hosts\": [{\"name\": \"a\", \"count\": 2, \"cpu\": "
                           "{\"coreCount\": 4, \"count\": 2, \"coreSpeed\": \"2.4 GHz\"}, \"memory\": {\"size\": "
                           "\"16 GiB\"}}, {\"name\": \"b\", \"cpu\": {\"coreCount\": 1, \"coreSpeed\": 1000}, "
                           "\"memory\": {\"memorySize\": 512}}]}]}", 0, NULL);
    struct rp_host *h;
    size_t n;
    char err[256];
    assert_int_equal(rp_hosts_json(t, &h, &n, err, sizeof err), 0);
    assert_int_equal(n, 6);   /* (a, a, b) x 2 */
    assert_string_equal(h[0].name, "a");
    assert_string_equal(h[1].name, "a-0");
    assert_string_equal(h[2].name, "b");
    assert_string_equal(h[3].name, "a-1");
    assert_string_equal(h[5].name, "b-0");
    assert_true(h[0].cores == 8 && h[0].core_mhz == 2400 && h[0].mem_mib == 16384 && h[0].type == 0);
    assert_true(h[2].cores == 1 && h[2].core_mhz == 1000 && h[2].mem_mib == 512 && h[2].type == 1);
    free(h);
    json_decref(t);
    t = json_loads("{\"clusters\": [{\"hosts\": [{\"cpu\": {\"coreCount\": 0}}]}]}", 0, NULL);
    assert_int_equal(rp_hosts_json(t, &h, &n, err, sizeof err), -1);
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxmin),          cmocka_unit_test(test_sharing_perfect),
        cmocka_unit_test(test_slots_head_of_line), cmocka_unit_test(test_slot_rounding),
        cmocka_unit_test(test_zero_work_fragments), cmocka_unit_test(test_fits_no_host),
        cmocka_unit_test(test_filter_order),    cmocka_unit_test(test_filters),
        cmocka_unit_test(test_weighers),        cmocka_unit_test(test_prefabs),
        cmocka_unit_test(test_compare),         cmocka_unit_test(test_loader),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
