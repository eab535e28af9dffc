/* Table-driven tests of host selection.  Expected choices are worked out by
 * hand from the rules in policy.h; random picks from CPython's
 * random.Random(seed)._randbelow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sched/policy.h"

/* id, up, cores, units_total, units_free, mem_total, mem_free, instances, max_parallel, mhz */
static const struct pol_host cluster[] = {
    {"A", true, 4, 4, 4, 8000, 8000, 0, 0, 2000},
    {"B", true, 4, 4, 1, 8000, 2000, 2, 0, 2000},
    {"C", true, 8, 8, 6, 16000, 12000, 1, 0, 3000},
    {"D", false, 8, 8, 8, 16000, 16000, 0, 0, 3000},
};
#define NCLUSTER (sizeof cluster / sizeof cluster[0])

static const char *pick(const struct policy *p, const struct pol_host *h, size_t n,
                        int64_t cpu, int64_t mem)
{
    struct pol_task t = {cpu, mem, 0};
    long i = policy_select(p, h, n, &t, NULL, NULL, NULL);
    return i < 0 ? "-" : h[i].id;
}

static void test_named_policies_table(void **state)
{
    (void)state;
    static const struct {
        const char *policy;
        int64_t cpu, mem;
        const char *want;
    } cases[] = {
        /* cpu 2: B lacks units, D is down -> feasible {A, C} */
        {"Mem", 2, 1000, "C"},                  /* most free MiB: 12000 > 8000 */
        {"MemInv", 2, 1000, "A"},
        {"CoreMem", 2, 1000, "A"},              /* 2000/core > 1500/core */
        {"CoreMemInv", 2, 1000, "C"},
        {"ActiveServers", 2, 1000, "A"},        /* fewest instances */
        {"ActiveServersInv", 2, 1000, "C"},
        {"ProvisionedCores", 2, 1000, "A"},     /* fewest provisioned units */
        {"ProvisionedCoresInv", 2, 1000, "C"},
        {"FilterOnly", 2, 1000, "C"},           /* a busy host that fits beats idle A */
        {"FilterOnly", 4, 0, "C"},
        {"FilterOnly", 7, 0, "-"},              /* C has 6 free cores; A only 4 */
        {"Random", 2, 1000, "A"},               /* no rng: the first in id order */
        /* cpu 1: B fits too (1 unit, 2000 MiB) */
        {"Mem", 1, 1000, "C"},
        {"MemInv", 1, 1000, "B"},
        {"ActiveServersInv", 1, 1000, "B"},
        {"FilterOnly", 1, 1000, "B"},           /* tightest busy host: 1 free core */
        /* memory decides: B has only 2000 MiB free */
        {"MemInv", 1, 2001, "A"},
        {"FilterOnly", 1, 2001, "C"},
        /* nothing fits 9 units */
        {"Mem", 9, 0, "-"},
        {"FilterOnly", 9, 0, "-"},
        /* case-insensitive names, like OpenDC's prefab lookup */
        {"meminv", 2, 1000, "A"},
        {"ACTIVESERVERSINV", 2, 1000, "C"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct policy p;
        char err[256];
        assert_int_equal(policy_named(cases[i].policy, &p, err, sizeof err), 0);
        const char *got = pick(&p, cluster, NCLUSTER, cases[i].cpu, cases[i].mem);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s cpu=%lld mem=%lld: got %s, want %s", i, cases[i].policy,
                     (long long)cases[i].cpu, (long long)cases[i].mem, got, cases[i].want);
    }
}

/* The original scheduler (upstream §7.6): plain string order of node ids,
 * so cloud10 < cloud2; "max" sorts (metric, id) descending. */
static void test_original_weighers_table(void **state)
{
    (void)state;
    /* run_count: cloud10=1 cloud2=0 cloud3=0; units in use: 3, 1, 1 */
    const struct pol_host h[] = {
        {"cloud2", true, 4, 4, 3, 0, 0, 0, 0, 0},
        {"cloud3", true, 4, 4, 3, 0, 0, 0, 0, 0},
        {"cloud10", true, 4, 4, 1, 0, 0, 1, 0, 0},
    };
    const struct pol_host equal[] = {
        {"cloud2", true, 4, 4, 4, 0, 0, 0, 0, 0},
        {"cloud10", true, 4, 4, 4, 0, 0, 0, 0, 0},
        {"cloud3", true, 4, 4, 4, 0, 0, 0, 0, 0},
    };
    static const struct {
        const char *weigher, *order;
        int equal;
        int64_t cpu;
        const char *want;
    } cases[] = {
        {"", "min", 0, 1, "cloud10"},        /* first fit = smallest id as a string */
        {"", "max", 0, 1, "cloud10"},        /* order does not matter without a weigher */
        {NULL, NULL, 0, 2, "cloud2"},        /* cloud10 lacks units for 2 */
        {"instances", "min", 0, 1, "cloud2"},/* 0 instances; tie cloud2/cloud3 -> smallest */
        {"instances", "max", 0, 1, "cloud10"},
        {"instances", "max", 1, 1, "cloud3"},/* all tied: max order -> largest id */
        {"instances", "min", 1, 1, "cloud10"},
        {"vcpu", "min", 0, 1, "cloud2"},     /* fewest units in use */
        {"vcpu", "max", 0, 1, "cloud10"},    /* most units in use */
        {"vcpu", "max", 0, 2, "cloud3"},     /* cloud10 cannot take 2: tie -> largest */
        {"vcpu", "max", 1, 4, "cloud3"},
        {"vcpu", "min", 1, 5, "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct policy p;
        char err[256];
        assert_int_equal(policy_original(cases[i].weigher, cases[i].order, &p, err, sizeof err),
                         0);
        const char *got = pick(&p, cases[i].equal ? equal : h, 3, cases[i].cpu, 0);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: weigher=%s order=%s: got %s, want %s", i,
                     cases[i].weigher ? cases[i].weigher : "(null)",
                     cases[i].order ? cases[i].order : "(null)", got, cases[i].want);
    }
}

static void test_filters_table(void **state)
{
    (void)state;
    /* worker with ratio 1.5: 4 cores, 6 units, 4 in use; RAM 1000, 900 used */
    const struct pol_host over = {"o", true, 4, 6, 2, 1000, 100, 2, 0, 2500};
    const struct pol_host full = {"f", true, 4, 4, 4, 0, 0, 2, 2, 0};  /* --parallel 2 reached */
    const struct pol_host unk = {"u", true, 0, 3, 3, 0, 0, 0, 0, 0};   /* cores, RAM unknown */
    static const struct {
        int host;                  /* 0 over, 1 full, 2 unk */
        enum pol_filter_kind kind;
        double ratio;
        int64_t limit;
        int64_t cpu, mem;
        double mhz;
        bool want;
    } cases[] = {
        {0, PF_VCPU, 1.0, 0, 2, 0, 0, false},   /* 4 cores - 4 provisioned < 2 */
        {0, PF_VCPU, 1.5, 0, 2, 0, 0, true},    /* 2 <= 4 and 6 - 4 >= 2 */
        {0, PF_VCPU, 1.5, 0, 3, 0, 0, false},
        {0, PF_VCPU, 2.0, 0, 5, 0, 0, false},   /* more than the cores */
        {0, PF_RAM, 1.0, 0, 1, 500, 0, false},  /* 100 free */
        {0, PF_RAM, 1.5, 0, 1, 500, 0, true},   /* 1500 - 900 = 600 */
        {0, PF_RAM, 1.5, 0, 1, 601, 0, false},
        {0, PF_RAM, 1.0, 0, 1, 0, 0, true},     /* no memory asked */
        {0, PF_CAPACITY, 1, 0, 2, 0, 0, true},
        {0, PF_CAPACITY, 1, 0, 3, 0, 0, false},
        {0, PF_CAPACITY, 1, 0, 0, 0, 0, true},  /* 0 units counts as 1 */
        {1, PF_CAPACITY, 1, 0, 1, 0, 0, false}, /* --parallel reached (B9) */
        {0, PF_CAPACITY, 1, 0, 1, 100, 0, true},  /* memory, as the script checks it */
        {0, PF_CAPACITY, 1, 0, 1, 101, 0, false}, /* ... whatever the RAM filter's ratio */
        {2, PF_CAPACITY, 1, 0, 1, 99999, 0, true},/* memory not accounted */
        {0, PF_INSTANCE_COUNT, 1, 3, 1, 0, 0, true},
        {0, PF_INSTANCE_COUNT, 1, 2, 1, 0, 0, false},
        {0, PF_VCPU_CAPACITY, 1, 0, 1, 0, 2500, true},
        {0, PF_VCPU_CAPACITY, 1, 0, 1, 0, 2501, false},
        {0, PF_COMPUTE, 1, 0, 1, 0, 0, true},
        {2, PF_VCPU, 1.0, 0, 3, 0, 0, true},    /* unknown cores: units stand in */
        {2, PF_VCPU, 1.0, 0, 4, 0, 0, false},
        {2, PF_RAM, 1.0, 0, 1, 99999, 0, true}, /* unknown RAM: no limit */
        {2, PF_VCPU_CAPACITY, 1, 0, 1, 0, 9999, true},
    };
    const struct pol_host *hosts[] = {&over, &full, &unk};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pol_filter f = {cases[i].kind, cases[i].ratio, cases[i].limit};
        struct pol_task t = {cases[i].cpu, cases[i].mem, cases[i].mhz};
        if (policy_filter_pass(&f, hosts[cases[i].host], &t) != cases[i].want)
            fail_msg("filter case %zu: want %d", i, cases[i].want);
    }
    struct pol_host down = over;
    down.up = false;
    struct pol_filter compute = {PF_COMPUTE, 1, 0};
    struct pol_task t1 = {1, 0, 0};
    assert_false(policy_filter_pass(&compute, &down, &t1));
}

static void test_weighers_normalisation(void **state)
{
    (void)state;
    /* X: 1000 MiB, 0 inst; Y: 3000, 2; Z: 2000, 1 */
    const struct pol_host h[] = {
        {"X", true, 4, 4, 4, 4000, 1000, 0, 0, 0},
        {"Y", true, 4, 4, 4, 4000, 3000, 2, 0, 0},
        {"Z", true, 4, 4, 4, 4000, 2000, 1, 0, 0},
    };
    struct pol_task t = {1, 0, 0};
    struct policy p;
    char err[256];
    struct pol_rank r[3];
    size_t nr;

    /* ram +1 and instances -1 cancel exactly: all scores 0, id order. */
    assert_int_equal(policy_custom(NULL, "ram:1,instanceCount:-1", 1, &p, err, sizeof err), 0);
    assert_int_equal(policy_select(&p, h, 3, &t, NULL, r, &nr), 0);
    assert_int_equal(nr, 3);
    for (int i = 0; i < 3; i++)
        assert_true(r[i].score == 0.0);

    /* ram x2: X 0, Y 2-1 = 1, Z 1-0.5 = 0.5 -> Y, Z, X */
    assert_int_equal(policy_custom(NULL, "ram:2,instanceCount:-1", 1, &p, err, sizeof err), 0);
    assert_int_equal(policy_select(&p, h, 3, &t, NULL, r, &nr), 1);
    assert_int_equal(r[0].host, 1);
    assert_int_equal(r[1].host, 2);
    assert_int_equal(r[2].host, 0);
    assert_true(r[0].score == 1.0);
    assert_true(r[1].score == 0.5);
    assert_true(r[2].score == 0.0);

    /* A weigher with no range adds nothing: vcpu is equal everywhere. */
    assert_int_equal(policy_custom(NULL, "vcpu:100,instanceCount:-1", 1, &p, err, sizeof err), 0);
    assert_int_equal(policy_select(&p, h, 3, &t, NULL, r, &nr), 0);
    assert_true(r[0].score == 0.0);
    assert_true(r[2].score == -1.0);

    /* Normalisation is over the feasible hosts only: with Y filtered out
     * (instanceCount < 2), Z gets the full +1 for RAM. */
    assert_int_equal(policy_custom("compute,instanceCount:2", "ram", 1, &p, err, sizeof err), 0);
    assert_int_equal(policy_select(&p, h, 3, &t, NULL, r, &nr), 2);
    assert_int_equal(nr, 2);
    assert_true(r[0].score == 1.0);

    /* Raw values. */
    struct pol_weigher w = {PW_CORE_RAM, 1, 1};
    assert_true(policy_weigher_raw(&w, &h[1], &t) == 750.0);
    w = (struct pol_weigher){PW_VCPU, 1, 1.0};
    const struct pol_host busy = {"b", true, 4, 4, 1, 0, 0, 1, 0, 0};
    assert_true(policy_weigher_raw(&w, &busy, &t) == -2.0); /* 1 - 3 provisioned */
    w = (struct pol_weigher){PW_VCPU_CAPACITY, 1, 1};
    const struct pol_host fast = {"f", true, 4, 4, 4, 0, 0, 0, 0, 2500};
    struct pol_task tm = {1, 0, 1000};
    assert_true(policy_weigher_raw(&w, &fast, &tm) == 9000.0);
}

static void test_subset_random_pick(void **state)
{
    (void)state;
    /* Four identical idle hosts: ranking is by id; subset 2 draws
     * _randbelow(2) from Random(7): 1, 0, 1, 0, 0, 0, 1, 0. */
    const struct pol_host h[] = {
        {"n1", true, 4, 4, 4, 0, 0, 0, 0, 0},
        {"n2", true, 4, 4, 4, 0, 0, 0, 0, 0},
        {"n3", true, 4, 4, 4, 0, 0, 0, 0, 0},
        {"n4", true, 4, 4, 4, 0, 0, 0, 0, 0},
    };
    struct pol_task t = {1, 0, 0};
    struct policy p;
    char err[256];
    assert_int_equal(policy_custom(NULL, NULL, 2, &p, err, sizeof err), 0);
    struct pyrand rng;
    pyrand_seed(&rng, 7);
    static const long want[8] = {1, 0, 1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(policy_select(&p, h, 4, &t, &rng, NULL, NULL), want[i]);

    /* Random = subset of all feasible: _randbelow(3) from Random(11) over
     * n1, n2, n4 (n3 made infeasible): 1, 2, 1, 1, 2, 2, 0, 0. */
    struct pol_host h2[4];
    memcpy(h2, h, sizeof h);
    h2[2].units_free = 0;
    assert_int_equal(policy_named("Random", &p, err, sizeof err), 0);
    pyrand_seed(&rng, 11);
    static const long want3[8] = {1, 3, 1, 1, 3, 3, 0, 0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(policy_select(&p, h2, 4, &t, &rng, NULL, NULL), want3[i]);

    /* Subset 1 never draws: the generator is untouched. */
    struct pyrand a, b;
    pyrand_seed(&a, 3);
    pyrand_seed(&b, 3);
    assert_int_equal(policy_named("Mem", &p, err, sizeof err), 0);
    assert_int_equal(policy_select(&p, h, 4, &t, &a, NULL, NULL), 0);
    assert_int_equal(pyrand_u32(&a), pyrand_u32(&b));
}

static void test_ratios_and_never_fits(void **state)
{
    (void)state;
    const struct pol_host h[] = {
        {"o", true, 4, 6, 2, 1000, 100, 2, 0, 0},
        {"p", true, 2, 2, 0, 1000, 1000, 1, 0, 0},
    };
    struct policy p;
    char err[256];
    assert_int_equal(policy_named("Mem", &p, err, sizeof err), 0);
    assert_string_equal(pick(&p, h, 2, 2, 0), "-"); /* VCpu(1.0): 4 - 4 < 2 */
    policy_set_ratios(&p, 1.5, 0);
    assert_string_equal(pick(&p, h, 2, 2, 0), "o");
    assert_string_equal(pick(&p, h, 2, 2, 200), "-"); /* RAM 100 free */
    policy_set_ratios(&p, 0, 1.5);
    /* the ram filter now admits 200 MiB (1500 - 900 >= 200) ... */
    struct pol_task t200 = {2, 200, 0};
    size_t ram = 0;
    while (ram < p.nfilters && p.filters[ram].kind != PF_RAM)
        ram++;
    assert_true(ram < p.nfilters);
    assert_true(policy_filter_pass(&p.filters[ram], &h[0], &t200));
    /* ... but the capacity check, like the placement script, never
     * overcommits memory: a host the script would refuse is not chosen */
    assert_string_equal(pick(&p, h, 2, 2, 200), "-");
    assert_string_equal(pick(&p, h, 2, 2, 100), "o");

    /* Deciding a queue from one snapshot: commit, then decide again. */
    struct pol_host snap[2];
    memcpy(snap, h, sizeof snap);
    struct pol_task two = {2, 50, 0};
    policy_set_ratios(&p, 1.0, 1.0);
    struct pol_host roomy[2] = {{"r1", true, 4, 4, 4, 1000, 1000, 0, 2, 0},
                                {"r2", true, 4, 4, 4, 1000, 900, 0, 0, 0}};
    assert_string_equal(pick(&p, roomy, 2, 2, 50), "r1"); /* more free MiB */
    policy_commit(&roomy[0], &two);
    assert_int_equal(roomy[0].units_free, 2);
    assert_int_equal(roomy[0].mem_free_mb, 950);
    assert_int_equal(roomy[0].instances, 1);
    assert_string_equal(pick(&p, roomy, 2, 2, 50), "r1"); /* 950 > 900 */
    policy_commit(&roomy[0], &two);
    assert_string_equal(pick(&p, roomy, 2, 1, 0), "r2");  /* r1 full (and --parallel 2) */
    struct pol_task zero = {0, 0, 0};
    policy_commit(&snap[1], &zero); /* 0 units still takes one, like the original */
    assert_int_equal(snap[1].units_free, -1);
    assert_int_equal(snap[1].mem_free_mb, 1000);

    struct pol_task big = {7, 0, 0}, fits = {6, 0, 0}, mem = {1, 1001, 0};
    assert_true(policy_never_fits(h, 2, &big));
    assert_false(policy_never_fits(h, 2, &fits)); /* o is busy, but 6 units total */
    assert_true(policy_never_fits(h, 2, &mem));
    assert_false(policy_never_fits(h, 0, &big));  /* no hosts yet: they may come */
}

static void test_parse_and_describe(void **state)
{
    (void)state;
    struct policy p;
    char err[256], d[256];
    assert_int_equal(policy_named("Mem", &p, err, sizeof err), 0);
    policy_describe(&p, d, sizeof d);
    assert_string_equal(d, "Mem: filters compute,vcpu(1),ram(1),capacity; weighers ram(+1); "
                           "subset 1");
    assert_int_equal(policy_named("Random", &p, err, sizeof err), 0);
    policy_describe(&p, d, sizeof d);
    assert_string_equal(d, "Random: filters compute,vcpu(1),ram(1),capacity; weighers none; "
                           "subset all");
    assert_int_equal(policy_original("instances", "max", &p, err, sizeof err), 0);
    policy_describe(&p, d, sizeof d);
    assert_string_equal(d, "instances-max: filters compute,capacity; weighers "
                           "instanceCount(+1); subset 1; ties to the largest id");
    assert_int_equal(policy_custom("Compute, VCpu:1.5 ,ram:2,instanceCount:8,vcpuCapacity",
                                   "RAM:-1,coreRam:0.5,instances", 3, &p, err, sizeof err), 0);
    policy_describe(&p, d, sizeof d);
    assert_string_equal(d, "custom: filters compute,vcpu(1.5),ram(2),instanceCount(8),"
                           "vcpuCapacity,capacity; weighers ram(-1),coreRam(+0.5),"
                           "instanceCount(+1); subset 3");
    assert_int_equal(policy_custom("vcpu", NULL, 1, &p, err, sizeof err), 0);
    policy_describe(&p, d, sizeof d);
    assert_string_equal(d, "custom: filters vcpu(1),capacity,compute; weighers none; subset 1");
    char tiny[8];
    policy_describe(&p, tiny, sizeof tiny);
    assert_string_equal(tiny, "custom:");

    assert_int_equal(policy_named("bogus", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown policy 'bogus'"));
    assert_int_equal(policy_named("Timeshift", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not implement"));
    assert_int_equal(policy_original("cpu", "min", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--weigher"));
    assert_int_equal(policy_original("vcpu", "mid", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--weigher-order"));
    assert_int_equal(policy_custom("compute,gpu", NULL, 1, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown filter 'gpu'"));
    assert_int_equal(policy_custom("vcpu:x", NULL, 1, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a number"));
    assert_int_equal(policy_custom("ram:0", NULL, 1, &p, err, sizeof err), -1);
    assert_int_equal(policy_custom("instanceCount", NULL, 1, &p, err, sizeof err), -1);
    assert_int_equal(policy_custom(NULL, "ram,disk", 1, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown weigher 'disk'"));
    assert_int_equal(policy_custom(NULL, NULL, 0, &p, err, sizeof err), -1);
    const char *const *names = policy_names();
    assert_string_equal(names[0], "Mem");
    size_t n = 0;
    while (names[n])
        n++;
    assert_int_equal(n, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_policies_table),
        cmocka_unit_test(test_original_weighers_table),
        cmocka_unit_test(test_filters_table),
        cmocka_unit_test(test_weighers_normalisation),
        cmocka_unit_test(test_subset_random_pick),
        cmocka_unit_test(test_ratios_and_never_fits),
        cmocka_unit_test(test_parse_and_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
