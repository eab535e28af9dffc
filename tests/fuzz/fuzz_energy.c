/* fuzz_energy.c -- a node's power and the tasks' energy (trace/energy.c,
 * trace/powerfit.c) from hostile files: the input's first line is taken as
 * node_meta.json, the rest as host_metrics.jsonl lines (power_w, power_reset,
 * power_wrap, cpu_idle ...); two tasks get process intervals over each host
 * interval from the line's bytes.  The whole input is also read as a power
 * source's file (collect/power.c).  Properties: energies are finite and not
 * negative; the tasks never get more than the energy above idle; a fitted
 * model keeps maxPower >= idlePower >= 0; the audit's "power" object is
 * valid JSON. */
#include "fuzz.h"

#include "collect/power.h"
#include "common/jsonl.h"
#include "trace/energy.h"

#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

static void check_fit(const struct powerfit_result *r)
{
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        const struct powerfit_cand *c = &r->cand[m];
        if (c->ok && !(c->idle_w >= 0 && c->max_w >= c->idle_w && c->rmse_w >= 0))
            abort();
    }
    if (!r->refused && (r->best < 0 || !r->cand[r->best].ok))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    uint64_t v;
    power_parse_u64(text, &v);
    char *nl = strchr(text, '\n');
    json_t *meta = jsonl_loadb(text, nl ? (size_t)(nl - text) : size, 0, NULL);
    struct energy e;
    energy_init(&e, meta);
    json_decref(meta);
    size_t ntasks = 2;
    for (char *p = nl ? nl + 1 : NULL; p && *p;) {
        char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        json_t *o = jsonl_loadb(p, len, 0, NULL);
        double w;
        if (o && (energy_add_host(&e, o, &w) || e.nh)) {
            const struct energy_hiv *h = &e.h[e.nh - 1];
            double c = (double)(len % 97) * (h->hi - h->lo) / 50.0;
            energy_add_proc(&e, len % 2, h->lo + (double)(len % 7), h->hi, c);
            energy_add_proc(&e, 1 - len % 2, h->lo, h->hi - (double)(len % 5), c / 3);
        }
        json_decref(o);
        p = end ? end + 1 : NULL;
    }
    energy_finish(&e, ntasks, size % 2);
    if (!(e.energy_j >= 0) || !isfinite(e.energy_j))
        abort();
    if (e.fitted || e.fit.refused)
        check_fit(&e.fit);
    double sum = 0;
    for (size_t t = 0; t < ntasks; t++) {
        double j = energy_task(&e, t);
        if (!isnan(j) && !(j >= 0 && isfinite(j)))
            abort();
        if (!isnan(e.task_j[t]))
            sum += e.task_j[t];
    }
    if (e.has_idle && sum > e.above_idle_j * (1 + 1e-9) + 1e-6)
        abort();
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    energy_render_json(&e, &b);
    jb_obj_close(&b);
    json_t *back = jsonl_loadb(b.p, b.len, 0, NULL);
    if (!back)
        abort();
    json_decref(back);
    jb_reset(&b);
    energy_render_md(&e, &b);
    jb_free(&b);
    energy_free(&e);
    free(text);
    return 0;
}
