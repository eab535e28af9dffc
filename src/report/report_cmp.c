/* report_cmp.c -- the report's section "Measured run vs OpenDC": the figures
 * of tracekit compare (opendc/opendc_compare.h) as tables and a chart of the
 * tasks finished per window on both sides. */
#include "report/report_cmp.h"
#include "report/report.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void lit(struct jbuf *b, const char *s)
{
    jb_append(b, s, strlen(s));
}

static void num(struct jbuf *b, double v, const char *unit)
{
    if (isnan(v))
        lit(b, "<td>&ndash;</td>");
    else
        jb_printf(b, "<td>%.1f%s</td>", v, unit);
}

static void row(struct jbuf *b, const char *what, double m, double p, bool pct)
{
    jb_printf(b, "<tr><th>%s</th>", what);
    num(b, m, "");
    num(b, p, "");
    if (pct && !isnan(m) && !isnan(p) && m != 0)
        jb_printf(b, "<td>%+.1f%%</td>", 100 * (p - m) / m);
    else
        lit(b, "<td></td>");
    lit(b, "</tr>");
}

static void figures(const struct odc_cmp *c, struct jbuf *b)
{
    lit(b, "<table><tr><th></th><th>measured</th><th>OpenDC</th><th>difference</th></tr>");
    row(b, "makespan (ms)", (double)c->makespan_meas_ms, (double)c->makespan_pred_ms, true);
    const char *names[2] = {"wait", "run"};
    const struct odc_cmp_dist *d[2][2] = {{&c->wait_meas, &c->wait_pred}, {&c->run_meas, &c->run_pred}};
    double mae[2] = {c->wait_mae_ms, c->run_mae_ms};
    static const char *const q[4] = {"p50", "p90", "p99", "mean"};
    for (int k = 0; k < 2; k++) {
        const double *m = &d[k][0]->p50, *p = &d[k][1]->p50;
        for (int j = 0; j < 4; j++) {
            char what[64];
            snprintf(what, sizeof what, "%s %s (ms)", names[k], q[j]);
            row(b, what, c->matched ? m[j] : NAN, c->matched ? p[j] : NAN, false);
        }
        jb_printf(b, "<tr><th>%s: per-task mean |error| (ms)</th><td colspan=\"3\">%.1f</td></tr>", names[k],
                  mae[k]);
    }
    jb_printf(b, "<tr><th>finish: per-task mean |error| (ms)</th><td colspan=\"3\">%.1f</td></tr>",
              c->finish_mae_ms);
    row(b, "energy (J)", c->has_energy_meas ? c->energy_meas_j : NAN, c->has_energy_pred ? c->energy_pred_j : NAN,
        true);
    lit(b, "</table>");
}

/* Grouped bars: measured (blue) and OpenDC (orange) per window. */
static void throughput_svg(const struct odc_cmp *c, int width, struct jbuf *b)
{
    uint32_t top = 1;
    for (size_t i = 0; i < c->nwin; i++) {
        top = c->thr_meas[i] > top ? c->thr_meas[i] : top;
        top = c->thr_pred[i] > top ? c->thr_pred[i] : top;
    }
    const int h = 160, left = 40, bottom = 20;
    double bw = (double)(width - left) / (double)(c->nwin ? c->nwin : 1);
    jb_printf(b, "<svg class=\"chart\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"tasks finished per "
              "window\">", width, h + bottom);
    jb_printf(b, "<text x=\"0\" y=\"12\" font-size=\"11\">%u</text><text x=\"0\" y=\"%d\" font-size=\"11\">0"
              "</text>", top, h);
    for (size_t i = 0; i < c->nwin; i++) {
        double x = left + bw * (double)i;
        double hm = (double)h * c->thr_meas[i] / top, hp = (double)h * c->thr_pred[i] / top;
        jb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4e79a7\"><title>%lld ms: "
                  "%u measured</title></rect>", x, h - hm, bw / 2, hm, (long long)((int64_t)i * c->window_ms),
                  c->thr_meas[i]);
        jb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f28e2b\"><title>%lld ms: "
                  "%u OpenDC</title></rect>", x + bw / 2, h - hp, bw / 2, hp,
                  (long long)((int64_t)i * c->window_ms), c->thr_pred[i]);
    }
    jb_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0 ms</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
              "text-anchor=\"end\">%lld ms</text></svg>", left, h + bottom - 4, width, h + bottom - 4,
              (long long)((int64_t)c->nwin * c->window_ms));
}

void report_cmp_section_html(const struct odc_cmp *c, const char *dir, int width, struct jbuf *b)
{
    lit(b, "<section id=\"compare\"><h2>Measured run vs OpenDC: ");
    report_html_escape(b, dir);
    jb_printf(b, "</h2><p class=\"note\">%zu tasks completed on both sides (%zu only in the run, %zu only in "
              "OpenDC's output), joined by the export's task ids; times in ms from the workload's clock 0 "
              "(docs/compare.md).</p>", c->matched, c->meas_only, c->pred_only);
    figures(c, b);
    jb_printf(b, "<h3>Tasks finished per %lld ms</h3><p class=\"note\"><span class=\"key\" style=\"background:"
              "#4e79a7\"></span>measured <span class=\"key\" style=\"background:#f28e2b\"></span>OpenDC</p>",
              (long long)c->window_ms);
    throughput_svg(c, width > 200 ? width : 1100, b);
    lit(b, "<h3>Host CPU utilisation</h3><table><tr><th>host</th><th>measured</th><th>OpenDC</th></tr>");
    for (size_t i = 0; i < c->nhosts; i++) {
        lit(b, "<tr><th>");
        report_html_escape(b, c->hosts[i].name);
        lit(b, "</th>");
        num(b, 100 * c->hosts[i].meas, "%");
        num(b, 100 * c->hosts[i].pred, "%");
        lit(b, "</tr>");
    }
    lit(b, "</table>");
    const char *miss[8];
    size_t nm = odc_cmp_missing(c, miss, 8);
    for (size_t i = 0; i < nm; i++) {
        lit(b, "<p class=\"note\">Missing: ");
        report_html_escape(b, miss[i]);
        lit(b, "</p>");
    }
    char *drop[ODC_DROP_N + 1];
    size_t nd = odc_cmp_dropped(c, drop, ODC_DROP_N + 1);
    for (size_t i = 0; i < nd; i++) {
        lit(b, "<p class=\"note\">Dropped: ");
        report_html_escape(b, drop[i]);
        lit(b, "</p>");
        free(drop[i]);
    }
    lit(b, "</section>");
}
