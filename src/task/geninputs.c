/* geninputs.c -- the plan, names, filter graphs and ffmpeg arguments of the
 * generated test videos, and making them (see geninputs.h). */
#include "task/geninputs.h"
#include "common/log.h"
#include "common/util.h"
#include "task/launch.h"
#include "task/profiles.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sources like the original's five, each with temporal noise so that the
 * encoder has real work on every frame. */
static const struct geninputs_pattern patterns[] = {
    {"testsrc2", "moving", "moving test pattern (testsrc2) with light noise"},
    {"mandelbrot", NULL, "zooming Mandelbrot set"},
    {"smptehdbars", "gradient", "SMPTE HD bars, slow hue rotation"},
    {"plasma", NULL, "testsrc2 with fast hue rotation"},
    {"noise", NULL, "grey field of heavy noise (hard to compress)"},
};

const struct geninputs_pattern *geninputs_patterns(int *n)
{
    *n = (int)ARRAY_LEN(patterns);
    return patterns;
}

const struct geninputs_pattern *geninputs_pattern_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(patterns); i++)
        if (!strcmp(name, patterns[i].name) ||
            (patterns[i].alias && !strcmp(name, patterns[i].alias)))
            return &patterns[i];
    return NULL;
}

bool geninputs_parse_size(const char *s, int *w, int *h)
{
    const char *x = strchr(s, 'x');
    if (!x || x == s)
        return false;
    char a[16];
    size_t n = (size_t)(x - s);
    if (n >= sizeof a)
        return false;
    memcpy(a, s, n);
    a[n] = '\0';
    int64_t vw, vh;
    if (!parse_i64(a, 16, 7680, &vw) || !parse_i64(x + 1, 16, 7680, &vh) || vw % 2 || vh % 2)
        return false;
    *w = (int)vw;
    *h = (int)vh;
    return true;
}

bool geninputs_parse_bitrate(const char *s, int64_t *bps)
{
    char buf[32];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    int64_t mult = 1;
    char last = buf[n - 1];
    if (last == 'k' || last == 'K')
        mult = 1000;
    else if (last == 'm' || last == 'M')
        mult = 1000000;
    if (mult > 1)
        buf[n - 1] = '\0';
    int64_t v;
    if (!parse_i64(buf, 1, 1000000000, &v) || v * mult < 10000 || v * mult > 1000000000)
        return false;
    *bps = v * mult;
    return true;
}

char *geninputs_filter(const struct geninputs_pattern *p, int w, int h, int fps)
{
    const char *n = p->name;
    if (!strcmp(n, "mandelbrot"))
        return xasprintf("mandelbrot=size=%dx%d:rate=%d:maxiter=100,noise=alls=7:allf=t", w, h,
                         fps);
    if (!strcmp(n, "smptehdbars"))
        return xasprintf("smptehdbars=size=%dx%d:rate=%d,hue=h=36*t,noise=alls=10:allf=t", w, h,
                         fps);
    if (!strcmp(n, "plasma"))
        return xasprintf("testsrc2=size=%dx%d:rate=%d,hue=h=180*t,noise=alls=7:allf=t", w, h, fps);
    if (!strcmp(n, "noise"))
        return xasprintf("color=c=gray:size=%dx%d:rate=%d,noise=alls=30:allf=t+u", w, h, fps);
    return xasprintf("testsrc2=size=%dx%d:rate=%d,noise=alls=5:allf=t", w, h, fps);
}

char *geninputs_name(int w, int h, double seconds, const char *pattern)
{
    bool plain = !strcmp(pattern, GENINPUTS_DEFAULT_PATTERN);
    return xasprintf("gen_%dx%d_%gs%s%s.mp4", w, h, seconds, plain ? "" : "_",
                     plain ? "" : pattern);
}

char **geninputs_ffmpeg_argv(const char *ffmpeg, const struct geninputs_pattern *p, int w, int h, int fps,
                      double seconds, const char *preset, int64_t bps, const char *out)
{
    char **v = xcalloc(40, sizeof *v);
    size_t n = 0;
    v[n++] = xstrdup(ffmpeg);
    const char *fixed[] = {"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                           "-i"};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++)
        v[n++] = xstrdup(fixed[i]);
    v[n++] = geninputs_filter(p, w, h, fps);
    v[n++] = xstrdup("-t");
    v[n++] = xasprintf("%g", seconds);
    v[n++] = xstrdup("-c:v");
    v[n++] = xstrdup("libx264");
    v[n++] = xstrdup("-preset");
    v[n++] = xstrdup(preset);
    v[n++] = xstrdup("-b:v");
    v[n++] = xasprintf("%lld", (long long)bps);
    v[n++] = xstrdup("-maxrate");
    v[n++] = xasprintf("%lld", (long long)bps);
    v[n++] = xstrdup("-bufsize");
    v[n++] = xasprintf("%lld", (long long)bps * 2);
    /* the original's GOP: 3 s, at least 2 s, scene cut 40 */
    v[n++] = xstrdup("-x264-params");
    v[n++] = xasprintf("keyint=%d:min-keyint=%d:scenecut=40", 3 * fps, 2 * fps);
    v[n++] = xstrdup("-pix_fmt");
    v[n++] = xstrdup("yuv420p");
    v[n++] = xstrdup("-an");
    v[n++] = xstrdup("-f");
    v[n++] = xstrdup("mp4");
    v[n++] = xstrdup(out);
    v[n] = NULL;
    return v;
}

bool geninputs_probe_parse(const char *text, struct geninputs_probe *out)
{
    memset(out, 0, sizeof *out);
    bool has_codec = false, has_w = false, has_h = false, has_d = false;
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[128];
        if (n < sizeof line) {
            memcpy(line, p, n);
            line[n] = '\0';
            char *eq = strchr(line, '=');
            if (eq) {
                *eq = '\0';
                char *val = str_trim(eq + 1);
                int64_t iv;
                double dv;
                if (!strcmp(line, "codec_name") && strlen(val) < sizeof out->codec) {
                    strcpy(out->codec, val);
                    has_codec = true;
                } else if (!strcmp(line, "width") && parse_i64(val, 1, 100000, &iv)) {
                    out->width = (int)iv;
                    has_w = true;
                } else if (!strcmp(line, "height") && parse_i64(val, 1, 100000, &iv)) {
                    out->height = (int)iv;
                    has_h = true;
                } else if (!strcmp(line, "duration") && parse_double(val, 0, 1e9, &dv)) {
                    out->duration = dv;
                    has_d = true;
                }
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return has_codec && has_w && has_h && has_d;
}

bool geninputs_probe_matches(const struct geninputs_probe *p, int w, int h, double seconds, int fps)
{
    double tol = fmax(0.5, 2.0 / fps);
    return !strcmp(p->codec, "h264") && p->width == w && p->height == h &&
           fabs(p->duration - seconds) <= tol;
}

/* ---- the plan (pure) ---- */

/* Split a comma list into a malloc'd array of malloc'd, trimmed items. */
static char **split(const char *s, int *n)
{
    char *copy = xstrdup(s), *save = NULL;
    char **v = NULL;
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
        v[(*n)++] = xstrdup(str_trim(t));
    }
    free(copy);
    return v;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Check every item of the lists before anything is made. */
static int plan_lists(char **dl, int nd, char **sl, int ns, char **pl, int np,
                      struct geninputs_item *plan, char *err, size_t errlen)
{
    int n = 0;
    if (!nd || !ns || !np) {
        snprintf(err, errlen, "--durations, --sizes and --patterns need at least one item");
        return -1;
    }
    for (int si = 0; si < ns; si++) {
        int w, h;
        if (!geninputs_parse_size(sl[si], &w, &h)) {
            snprintf(err, errlen, "invalid size '%s' in --sizes: expected WxH with even numbers "
                     "from 16 to 7680, like 854x480", sl[si]);
            return -1;
        }
        for (int di = 0; di < nd; di++) {
            double secs;
            if (!parse_double(dl[di], 0.1, 86400, &secs)) {
                snprintf(err, errlen, "invalid duration '%s' in --durations: expected seconds "
                         "from 0.1 to 86400", dl[di]);
                return -1;
            }
            for (int pi = 0; pi < np; pi++) {
                const struct geninputs_pattern *p = geninputs_pattern_find(pl[pi]);
                if (!p) {
                    snprintf(err, errlen, "unknown pattern '%s' in --patterns (see 'tracekit "
                             "gen-inputs --help')", pl[pi]);
                    return -1;
                }
                plan[n++] = (struct geninputs_item){w, h, secs, p};
            }
        }
    }
    return n;
}

int geninputs_plan(const char *durations, const char *sizes, const char *pats,
                   struct geninputs_item **out, char *err, size_t errlen)
{
    int nd, ns, np;
    char **dl = split(durations, &nd), **sl = split(sizes, &ns), **pl = split(pats, &np);
    *out = xcalloc((size_t)(nd * ns * np + 1), sizeof **out);
    int n = plan_lists(dl, nd, sl, ns, pl, np, *out, err, errlen);
    if (n < 0) {
        free(*out);
        *out = NULL;
    }
    free_list(dl, nd);
    free_list(sl, ns);
    free_list(pl, np);
    return n;
}

/* ---- making the files ---- */

static bool probe_ok(const char *ffprobe, const char *path, int w, int h, double secs, int fps)
{
    char *argv[] = {(char *)ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=codec_name,width,height:format=duration", "-of",
                    "default=noprint_wrappers=1", (char *)path, NULL};
    char *out = NULL;
    int st = launch_command(argv, &out, 1);
    struct geninputs_probe p;
    bool ok = st == 0 && out && geninputs_probe_parse(out, &p) &&
              geninputs_probe_matches(&p, w, h, secs, fps);
    free(out);
    return ok;
}

/* Encode x to path through a hidden temporary name: an interrupted run
 * never leaves a partial file under the real name. */
static void make_one(const struct geninputs_job *j, const struct geninputs_item *x,
                     const char *name, const char *path, FILE *out, struct geninputs_summary *sum)
{
    char *tmp = xasprintf("%s/.%s.part", j->outdir, name);
    char **av = geninputs_ffmpeg_argv(j->ffmpeg, x->pat, x->w, x->h, j->fps, x->secs, j->preset,
                                      j->bps, tmp);
    int64_t t0 = now_mono_ns();
    int s = launch_command(av, NULL, 0);
    double took = (double)(now_mono_ns() - t0) / 1e9;
    struct stat st;
    if (s == 0 && rename(tmp, path) == 0 && stat(path, &st) == 0) {
        sum->made++;
        sum->total_mb += (double)st.st_size / 1e6;
        if (!j->quiet)
            fprintf(out, "generated  %s (%.2f MB, %s, %.1f s to encode)\n", path,
                    (double)st.st_size / 1e6, x->pat->name, took);
    } else {
        sum->failed++;
        unlink(tmp);
        if (s == 127)
            log_error("cannot run '%s' (is ffmpeg installed? see --ffmpeg)", j->ffmpeg);
        else
            log_error("ffmpeg failed for %s (status %d)", path, s);
    }
    argv_free(av);
    free(tmp);
}

int geninputs_run(const struct geninputs_job *j, FILE *out, struct geninputs_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    if (mkdir_p(j->outdir, 0755) < 0) {
        log_error("cannot create %s: %s", j->outdir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < j->nitems; i++) {
        const struct geninputs_item *x = &j->items[i];
        char *name = geninputs_name(x->w, x->h, x->secs, x->pat->name);
        char *path = path_join(j->outdir, name);
        struct stat st;
        if (!j->force && stat(path, &st) == 0 &&
            probe_ok(j->ffprobe, path, x->w, x->h, x->secs, j->fps)) {
            sum->kept++;
            sum->total_mb += (double)st.st_size / 1e6;
            if (!j->quiet)
                fprintf(out, "kept       %s (%.2f MB, valid; --force regenerates)\n", path,
                        (double)st.st_size / 1e6);
        } else {
            make_one(j, x, name, path, out, sum);
        }
        fflush(out);
        free(name);
        free(path);
    }
    return 0;
}
