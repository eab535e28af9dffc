/* fuzz_replay.c -- the replay model (opendc/replay.c, replay_load.c) from a
 * hostile experiment-like JSON: {"topology": {...}, "policy": {...},
 * "tasks": [[sub, cores, mib, dur, usage, dur, usage, ...], ...],
 * "scaling": 0|1, "quantum": N}.  Properties: the hosts and policy either
 * parse or say why; the run ends (bounded input); every task is COMPLETED
 * (start >= submission, finish >= start), TERMINATED (never started) or
 * still PENDING (no host can ever hold it together); the makespan is the
 * last finish. */
#include "fuzz.h"

#include "common/jsonl.h"
#include "opendc/replay_load.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

static int64_t num(json_t *a, size_t i, int64_t lo, int64_t hi)
{
    json_t *x = json_array_get(a, i);
    int64_t v = json_is_integer(x) ? json_integer_value(x) : 0;
    return v < lo ? lo : v > hi ? hi : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root = jsonl_loadb((const char *)data, size, 0, &je);
    if (!root)
        return 0;
    char err[512];
    struct rp_host *hosts = NULL;
    size_t nh = 0;
    struct rp_policy p;
    json_t *pol = json_object_get(root, "policy");
    if (rp_hosts_json(json_object_get(root, "topology"), &hosts, &nh, err, sizeof err) < 0 || nh > 64 ||
        (pol ? rp_policy_json(pol, &p, err, sizeof err) : rp_policy_prefab("Mem", &p, err, sizeof err)) < 0) {
        if (!err[0])
            abort();   /* a refusal says why */
        free(hosts);
        json_decref(root);
        return 0;
    }
    struct rp_task t[16];
    struct rp_frag f[64];
    size_t nt = 0, nf = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(root, "tasks"), i, x) {
        if (nt == 16)
            break;
        t[nt] = (struct rp_task){.id = (int32_t)nt, .sub_ms = num(x, 0, 0, 100000) + (nt ? t[nt - 1].sub_ms : 0),
                                 .cores = (int32_t)num(x, 1, -4, 64), .cap_mhz = 1000, .mem_mib = num(x, 2, -10, 1 << 20),
                                 .frag0 = nf};
        for (size_t k = 3; k + 1 < json_array_size(x) && nf < 64; k += 2) {
            f[nf++] = (struct rp_frag){num(x, k, -5, 100000), (double)num(x, k + 1, -5, 100000)};
            t[nt].nfrag++;
        }
        nt++;
    }
    struct rp_input in = {.tasks = t, .ntasks = nt, .frags = f, .nfrags = nf, .hosts = hosts, .nhosts = nh,
                          .policy = p};
    in.scaling = json_integer_value(json_object_get(root, "scaling")) == 1 ? RP_PERFECT : RP_NODELAY;
    int64_t q = json_integer_value(json_object_get(root, "quantum"));
    in.quantum_ms = q < 1 || q > 5000 ? 1000 : q;
    struct rp_result r;
    if (rp_run(&in, &r, err, sizeof err) == 0) {
        int64_t last = 0;
        for (size_t k = 0; k < r.ntasks; k++) {
            const struct rp_out_task *o = &r.tasks[k];
            if (o->state == RP_COMPLETED && !(o->start_ms >= o->sub_ms && o->finish_ms >= o->start_ms))
                abort();
            if (o->state != RP_COMPLETED && o->finish_ms != -1)
                abort();
            if (o->state == RP_COMPLETED && o->finish_ms > last)
                last = o->finish_ms;
        }
        if (last != r.makespan_ms || r.completed + r.terminated > r.ntasks)
            abort();
        rp_result_free(&r);
    }
    free(hosts);
    json_decref(root);
    return 0;
}
