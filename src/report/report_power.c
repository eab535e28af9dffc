/* report_power.c -- the report's power section: each node's power over time
 * beside its CPU utilisation, the OpenDC power models fitted to its
 * measured (utilisation, power) points and drawn over them, and energy per
 * node and per app (report.h). */
#include "report/report.h"

#include "common/util.h"
#include "trace/powerfit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PW_LEFT 60
#define PW_TOP 24
#define PW_H 140
#define SC_W 420
#define SC_H 260

static bool node_has_power(const struct rp_node *n)
{
    for (size_t i = 0; i < n->nhost; i++)
        if (n->host[i].has_power)
            return true;
    return false;
}

static double nice_max(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static double max_power(const struct rp_node *n)
{
    double m = 0;
    for (size_t i = 0; i < n->nhost; i++)
        if (n->host[i].has_power && n->host[i].power_w > m)
            m = n->host[i].power_w;
    return m;
}

/* Power (left axis, W) and host CPU (right axis, %) on the run's time axis. */
static void timeline_svg(const struct report *r, const struct rp_node *n, int64_t t0, int64_t t1,
                         struct jbuf *b)
{
    int W = r->width, H = PW_TOP + PW_H + 24;
    double ymax = nice_max(max_power(n) * 1.05), span = t1 > t0 ? (double)(t1 - t0) : 1;
    jb_printf(b, "<svg class=\"power\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "xmlns=\"http://www.w3.org/2000/svg\"><text class=\"hd\" x=\"4\" y=\"14\">",
              PW_LEFT + W + 50, H, PW_LEFT + W + 50, H);
    report_html_escape(b, n->name);
    jb_printf(b, " &middot; power (W, left) and host CPU (%%, right)</text>");
    for (int k = 0; k <= 4; k++) {
        double y = PW_TOP + PW_H - PW_H * k / 4.0;
        jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f W</text>"
                  "<text x=\"%d\" y=\"%.1f\">%d%%</text>", PW_LEFT, y, PW_LEFT + W, y,
                  PW_LEFT - 6, y + 4, ymax * k / 4, PW_LEFT + W + 6, y + 4, 25 * k);
    }
    for (int pass = 0; pass < 2; pass++) {
        jb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"",
                  pass ? "#c0392b" : "#1f4e9c", pass ? "1.6" : "1");
        for (size_t i = 0; i < n->nhost; i++) {
            const struct rp_host *h = &n->host[i];
            double v = pass ? (h->has_power ? h->power_w / ymax : NAN) : h->cpu_pct / 100;
            if (isnan(v) || h->ts < t0 || h->ts > t1)
                continue;
            jb_printf(b, "%.1f,%.1f ", PW_LEFT + W * (double)(h->ts - t0) / span,
                      PW_TOP + PW_H - PW_H * fmin(1, fmax(0, v)));
        }
        jb_printf(b, "\"/>");
    }
    jb_printf(b, "<text x=\"%d\" y=\"%d\">%.1f s</text></svg>", PW_LEFT + W - 40, H - 4,
              span / 1000);
}

/* The node's (utilisation, power) points; weights are the intervals. */
static size_t points(const struct rp_node *n, struct powerfit_point **out)
{
    struct powerfit_point *p = xcalloc(n->nhost ? n->nhost : 1, sizeof *p);
    size_t k = 0;
    for (size_t i = 0; i < n->nhost; i++) {
        const struct rp_host *h = &n->host[i];
        if (!h->has_power || isnan(h->cpu_pct))
            continue;
        /* the interval ends at ts; the first one's length is taken as the next's */
        size_t j = i > 0 ? i : i + 1 < n->nhost ? i + 1 : 0;
        double dt = j > 0 ? (double)(n->host[j].ts - n->host[j - 1].ts) / 1000 : 1;
        p[k++] = (struct powerfit_point){h->cpu_pct / 100, h->power_w, dt};
    }
    *out = p;
    return k;
}

static const char *const curve_colour[POWERFIT_NMODELS] = {"#c0392b", "#2a9d3a", "#8e44ad",
                                                            "#e67e22"};

/* Measured points with every fitted model over them (the best one bold). */
static void scatter_svg(const struct rp_node *n, struct jbuf *b)
{
    struct powerfit_point *p;
    size_t np = points(n, &p);
    struct powerfit_result fr;
    powerfit_fit(p, np, NULL, &fr);
    double ymax = nice_max(max_power(n) * 1.05);
    for (int m = 0; m < POWERFIT_NMODELS; m++)
        if (fr.cand[m].ok)
            ymax = fmax(ymax, nice_max(fr.cand[m].max_w * 1.05));
    int W = SC_W, H = SC_H, L = PW_LEFT, T = PW_TOP;
    jb_printf(b, "<svg class=\"powerfit\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "xmlns=\"http://www.w3.org/2000/svg\"><text class=\"hd\" x=\"4\" y=\"14\">",
              L + W + 260, T + H + 30, L + W + 260, T + H + 30);
    report_html_escape(b, n->name);
    jb_printf(b, " &middot; power against host CPU, OpenDC models fitted</text>");
    for (int k = 0; k <= 4; k++) {
        double y = T + H - H * k / 4.0, x = L + W * k / 4.0;
        jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f W</text>"
                  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d%%</text>", L, y, L + W, y,
                  L - 6, y + 4, ymax * k / 4, x, T + H + 16, 25 * k);
    }
    for (size_t i = 0; i < np; i++)
        jb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"#1f4e9c\" "
                  "fill-opacity=\".55\"/>", L + W * fmin(1, fmax(0, p[i].util)),
                  T + H - H * fmin(1, p[i].watts / ymax));
    int ly = T + 10;
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        const struct powerfit_cand *c = &fr.cand[m];
        if (!c->ok)
            continue;
        bool best = m == fr.best;
        jb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
                  curve_colour[m], best ? "2.2" : "1", best ? "" : " stroke-dasharray=\"4 3\"");
        for (int k = 0; k <= 50; k++) {
            double u = k / 50.0;
            jb_printf(b, "%.1f,%.1f ", L + W * u,
                      T + H - H * fmin(1, powerfit_eval(c->model, c->idle_w, c->max_w, u) / ymax));
        }
        jb_printf(b, "\"/><text x=\"%d\" y=\"%d\" fill=\"%s\">%s%s: idle %.1f W, max %.1f W, "
                  "RMSE %.2f W, R&#178; %.3f</text>", L + W + 12, ly, curve_colour[m],
                  best ? "&#9679; " : "", powerfit_name(c->model), c->idle_w, c->max_w,
                  c->rmse_w, isnan(c->r2) ? 0 : c->r2);
        ly += 18;
    }
    if (fr.notice[0]) {
        jb_printf(b, "<text class=\"warn\" x=\"%d\" y=\"%d\">", L + 6, T + 14);
        report_html_escape(b, fr.notice);
        jb_printf(b, "</text>");
    }
    jb_printf(b, "</svg>");
    free(p);
}

static double audit_num(const json_t *audit, const char *key)
{
    json_t *v = json_object_get(json_object_get(audit, "power"), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void num_cell(struct jbuf *b, double v, const char *unit)
{
    if (isnan(v))
        jb_printf(b, "<td>&ndash;</td>");
    else
        jb_printf(b, "<td>%.1f%s</td>", v, unit);
}

static void energy_tables(const struct report *r, struct jbuf *b)
{
    jb_printf(b, "<h3>Energy per node</h3><table><tr><th>node</th><th>energy</th>"
              "<th>mean power</th><th>idle power</th><th>above idle</th><th>tasks' share</th>"
              "<th>intervals with power</th></tr>");
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct rp_node *n = &r->nodes[i];
        jb_printf(b, "<tr><td>");
        report_html_escape(b, n->name);
        jb_printf(b, "</td>");
        num_cell(b, audit_num(n->audit, "energy_j"), " J");
        num_cell(b, audit_num(n->audit, "mean_w"), " W");
        num_cell(b, audit_num(n->audit, "idle_w"), " W");
        num_cell(b, audit_num(n->audit, "above_idle_j"), " J");
        num_cell(b, audit_num(n->audit, "tasks_j"), " J");
        num_cell(b, 100 * audit_num(n->audit, "coverage"), "%");
        jb_printf(b, "</tr>");
    }
    jb_printf(b, "</table><h3>Energy per app</h3><table><tr><th>app</th><th>tasks with "
              "energy</th><th>energy</th><th>mean per task</th></tr>");
    for (size_t a = 0; a < r->napps; a++) {
        double sum = 0;
        size_t k = 0, all = 0;
        for (size_t t = 0; t < r->ntasks; t++) {
            if (r->tasks[t].app != a)
                continue;
            all++;
            if (r->tasks[t].has_energy)
                sum += r->tasks[t].energy_j, k++;
        }
        if (!all)
            continue;
        jb_printf(b, "<tr><td>");
        report_html_escape(b, r->apps[a]);
        jb_printf(b, "</td><td>%zu of %zu</td>", k, all);
        num_cell(b, k ? sum : NAN, " J");
        num_cell(b, k ? sum / (double)k : NAN, " J");
        jb_printf(b, "</tr>");
    }
    jb_printf(b, "</table>");
}

void report_power_html(const struct report *r, int64_t t0, int64_t t1, struct jbuf *b)
{
    jb_printf(b, "<h2>Power and energy</h2>");
    bool any = false;
    for (size_t i = 0; i < r->nnodes; i++)
        any |= node_has_power(&r->nodes[i]);
    if (!any) {
        jb_printf(b, "<p class=\"note\">No power measured on any node (collect's "
                  "--energy-counter, --power-input or a readable powercap zone).</p>");
        return;
    }
    jb_printf(b, "<p class=\"note\"><span class=\"key\" style=\"background:#c0392b\"></span>"
              "node power <span class=\"key\" style=\"background:#1f4e9c\"></span>host CPU. "
              "Task energy: the energy above idle shared by CPU (docs/cts.md).</p>");
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct rp_node *n = &r->nodes[i];
        if (!node_has_power(n))
            continue;
        timeline_svg(r, n, t0, t1, b);
        scatter_svg(n, b);
    }
    energy_tables(r, b);
}
