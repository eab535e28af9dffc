/* opendc_power.c -- each node's CPU power model for the topology
 * (cpuPowerModel): parse's fit from CTS/audit.json, or a refit of the CTS
 * host lines (a forced model parse did not fit, maxPower extrapolated from
 * a run that stayed low), else OpenDC's default, said to be an assumption.
 * The fits are trace/powerfit.c's (OpenDC's linear, square, cubic and sqrt
 * models, least squares, RMSE and R^2). */
#include "opendc/opendc.h"
#include "opendc/opendc_io.h"
#include "common/jsonl.h"
#include "common/util.h"
#include "trace/energy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void odc_power_fit(struct odc_power *pw, const struct powerfit_point *p, size_t n, int forced,
                   const char *from)
{
    struct powerfit_opts o;
    powerfit_opts_default(&o);
    o.extrapolate = true;   /* said so: fit.extrapolated, fit.notice */
    o.forced = forced;
    struct odc_power def = odc_node_power(NULL);
    *pw = def;
    pw->has_fit = true;
    pw->from = from;
    pw->forced = forced >= 0;
    for (size_t i = 0; i < n && !pw->measured; i++)
        pw->measured = isfinite(p[i].watts);
    if (powerfit_fit(p, n, &o, &pw->fit) < 0)
        return;
    const struct powerfit_cand *c = &pw->fit.cand[pw->fit.best];
    pw->type = powerfit_name(c->model);
    pw->idle_w = c->idle_w;
    pw->max_w = c->max_w;
    pw->assumed = false;
}

/* A candidate of audit.json's power.fit; false when it is not a usable fit. */
static bool audit_cand(const json_t *j, struct powerfit_cand *c)
{
    const char *type = jsonl_str(j, "type");
    int m = type ? powerfit_model_of(type) : -1;
    if (m < 0)
        return false;
    memset(c, 0, sizeof *c);
    c->model = (enum powerfit_model)m;
    c->rmse_w = c->r2 = NAN;
    if (!json_is_true(json_object_get(j, "fitted")))
        return true;
    double idle, max, rmse, r2;
    if (!jsonl_num(j, "idle_w", &idle) || !jsonl_num(j, "max_w", &max) || !jsonl_num(j, "rmse_w", &rmse) ||
        !isfinite(idle) || !isfinite(max) || !isfinite(rmse) || idle < 0 || max < idle || rmse < 0)
        return true;   /* not fitted, as far as we can trust it */
    c->ok = true;
    c->idle_w = idle;
    c->max_w = max;
    c->rmse_w = rmse;
    c->r2 = jsonl_num(j, "r2", &r2) && isfinite(r2) ? r2 : NAN;
    return true;
}

bool odc_power_from_audit(struct odc_power *pw, const json_t *power, int forced, bool *measured)
{
    *measured = json_is_true(json_object_get(power, "measured"));
    json_t *fit = json_object_get(power, "fit"), *cands = json_object_get(fit, "candidates");
    if (!*measured || !json_is_object(fit) || json_is_true(json_object_get(fit, "refused")) ||
        !json_is_array(cands))
        return false;
    struct powerfit_result r;
    memset(&r, 0, sizeof r);
    r.best = -1;
    r.util_min = r.util_max = NAN;   /* the audit does not say */
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        r.cand[m].model = (enum powerfit_model)m;
        r.cand[m].rmse_w = r.cand[m].r2 = NAN;
    }
    size_t i;
    json_t *j;
    json_array_foreach(cands, i, j) {
        struct powerfit_cand c;
        if (audit_cand(j, &c))
            r.cand[c.model] = c;
    }
    for (int m = 0; m < POWERFIT_NMODELS; m++)
        if (r.cand[m].ok && (forced == m || (forced < 0 && (r.best < 0 ||
                                                            r.cand[m].rmse_w < r.cand[r.best].rmse_w))))
            r.best = m;
    if (r.best < 0)
        return false;
    int64_t npts;
    r.n = jsonl_int(fit, "points", &npts) && npts > 0 ? (size_t)npts : 0;
    r.extrapolated = json_is_true(json_object_get(fit, "extrapolated"));
    const char *notice = jsonl_str(fit, "notice");
    snprintf(r.notice, sizeof r.notice, "%s", notice ? notice : "");
    const struct powerfit_cand *c = &r.cand[r.best];
    *pw = (struct odc_power){.type = powerfit_name(c->model), .idle_w = c->idle_w, .max_w = c->max_w,
                             .measured = true, .has_fit = true, .forced = forced >= 0,
                             .from = "CTS/audit.json", .fit = r};
    return true;
}

void odc_power_describe(const struct odc_power *pw, char *buf, size_t len)
{
    if (pw->assumed) {
        const char *why = !pw->measured ? "the node recorded no power"
                                        : "no model could be fitted to the node's power";
        snprintf(buf, len, "OpenDC's default (%s, idle %.0f W, max %.0f W): %s%s%s; its energy figures "
                 "will be assumptions", pw->type, pw->idle_w, pw->max_w, why,
                 pw->measured && pw->fit.notice[0] ? ": " : "", pw->measured ? pw->fit.notice : "");
        return;
    }
    int fitted = 0;
    for (int m = 0; m < POWERFIT_NMODELS; m++)
        fitted += pw->fit.cand[m].ok;
    char how[64];
    if (pw->forced)
        snprintf(how, sizeof how, "forced by --power-model");
    else
        snprintf(how, sizeof how, "the best of %d by RMSE", fitted);
    snprintf(buf, len, "%s, idle %.1f W, max %.1f W (%s; RMSE %.2f W)%s%s", pw->type, pw->idle_w, pw->max_w,
             how, pw->fit.cand[pw->fit.best].rmse_w, pw->fit.extrapolated ? "; " : "",
             pw->fit.extrapolated ? pw->fit.notice : "");
}

/* ---- from disk ---- */

/* The fit points of CTS/host_metrics.jsonl (malloc'd; *n of them). */
static struct powerfit_point *host_points(const char *cts, size_t *n)
{
    char *path = path_join(cts, "host_metrics.jsonl");
    struct powerfit_point *p = NULL;
    size_t cap = 0;
    *n = 0;
    struct jsonl_reader r;
    if (file_exists(path) && jsonl_reader_open(&r, path) == 0) {
        json_t *o;
        struct powerfit_point q;
        while (jsonl_next(&r, &o) == 1) {
            if (energy_cts_point(o, &q)) {
                ARRAY_GROW(p, *n + 1, cap, 256);
                p[(*n)++] = q;
            }
            json_decref(o);
        }
        jsonl_reader_close(&r);
    }
    free(path);
    return p;
}

/* One node: audit.json's fit when it has the model wanted, else a refit of
 * the host lines (unless the audit says the node recorded no power). */
static void load_one(struct odc_node *nd, int forced)
{
    nd->power = odc_node_power(nd);
    if (!nd->cts)
        return;
    char *path = path_join(nd->cts, "audit.json");
    json_t *audit = file_exists(path) ? jsonl_load_file(path, 0, NULL) : NULL;
    json_t *power = json_object_get(audit, "power");
    bool measured = false;
    free(path);
    if (json_is_object(power) && odc_power_from_audit(&nd->power, power, forced, &measured)) {
        json_decref(audit);
        return;
    }
    bool none = json_is_object(power) && !measured;
    json_decref(audit);
    if (none)
        return;   /* parse saw no power: the default, nothing to refit */
    size_t n;
    struct powerfit_point *p = host_points(nd->cts, &n);
    if (n)
        odc_power_fit(&nd->power, p, n, forced, "CTS/host_metrics.jsonl");
    free(p);
}

void odc_power_load(struct odc_input *in, int power_model)
{
    int forced = power_model >= ODC_POWER_FORCE ? power_model - ODC_POWER_FORCE : -1;
    if (forced >= POWERFIT_NMODELS)
        TK_BUG("power_model out of range");
    for (size_t k = 0; k < in->n_nodes; k++)
        load_one(&in->nodes[k], forced);
}

/* ---- export_report.md ---- */

void odc_power_report_bullets(FILE *f, const struct odc_input *in)
{
    size_t assumed = 0, forced = 0, extrapolated = 0;
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_power *pw = &in->nodes[k].power;
        assumed += pw->assumed;
        forced += !pw->assumed && pw->forced;
        extrapolated += !pw->assumed && pw->fit.extrapolated;
    }
    fprintf(f, "- CPU power model (`cpuPowerModel`): fitted to the node's measured power on %zu of %zu "
               "nodes%s%s (\"CPU power models\" below: every candidate, which was chosen and why)\n",
            in->n_nodes - assumed, in->n_nodes, forced ? ", the model forced by --power-model" : "",
            extrapolated ? "; **maxPower extrapolated** on some, from runs that stayed at low utilisation"
                         : "");
    if (assumed)
        fprintf(f, "- **Energy figures will be assumptions**: %zu of %zu nodes have no measured power model, "
                   "so their hosts get OpenDC's default CPU power model, written out in `cpuPowerModel` "
                   "(linear, 200 W idle, 400 W at full load); OpenDC's `power_draw`, `energy_usage` and the "
                   "`powerSource` output follow from it for them, not from a measurement\n", assumed,
                in->n_nodes);
}

static void cand_row(FILE *f, const struct odc_power *pw, int m)
{
    const struct powerfit_cand *c = &pw->fit.cand[m];
    if (!c->ok) {
        fprintf(f, "| %s | – | – | – | – | not fitted |\n", powerfit_name((enum powerfit_model)m));
        return;
    }
    char r2[32] = "–";
    if (isfinite(c->r2))
        snprintf(r2, sizeof r2, "%.4f", c->r2);
    fprintf(f, "| %s | %.2f | %.2f | %.3f | %s | %s%s |\n", powerfit_name(c->model), c->idle_w, c->max_w,
            c->rmse_w, r2, !pw->assumed && pw->fit.best == m ? "**chosen**" : "",
            c->clamped ? " (held at maxPower ≥ idlePower ≥ 0)" : "");
}

void odc_power_report_section(FILE *f, const struct odc_input *in)
{
    fprintf(f, "\n## CPU power models (`cpuPowerModel` in `topology.json`)\n\n"
               "OpenDC's CPU power models, P(u) = idlePower + (maxPower − idlePower) × g(u) with g = u "
               "(linear), u² (square), u³ (cubic) or √u (sqrt), fitted by weighted least squares to each "
               "node's measured (host CPU utilisation, power) intervals (no interpolation across gaps); "
               "the host gets the best by RMSE unless `--power-model` forces one. A run that never reached "
               "%.0f%% utilisation has its maxPower extrapolated, and its notice says so.\n",
            100 * POWERFIT_UTIL_NEEDED);
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_node *nd = &in->nodes[k];
        const struct odc_power *pw = &nd->power;
        char what[512];
        odc_power_describe(pw, what, sizeof what);
        fprintf(f, "\n### %s: %s\n", odc_host_name(in->nodes, in->n_nodes, k), what);
        if (!pw->has_fit)
            continue;
        if (pw->from)
            fprintf(f, "\nFrom `%s`%s, %zu intervals with power", pw->from,
                    strstr(pw->from, "audit") ? " (parse's fit)" : " (refitted)", pw->fit.n);
        if (isfinite(pw->fit.util_min) && isfinite(pw->fit.util_max))
            fprintf(f, ", host CPU utilisation %.0f–%.0f%%", 100 * pw->fit.util_min, 100 * pw->fit.util_max);
        fprintf(f, ".\n\n| model | idlePower W | maxPower W | RMSE W | R² | |\n|---|---:|---:|---:|---:|---|\n");
        for (int m = 0; m < POWERFIT_NMODELS; m++)
            cand_row(f, pw, m);
        if (pw->fit.notice[0])
            fprintf(f, "\n- Notice: %s\n", pw->fit.notice);
    }
}
