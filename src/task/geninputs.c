/* geninputs.c -- names, filter graphs and ffmpeg arguments of the generated
 * test videos (see geninputs.h). */
#include "task/geninputs.h"
#include "task/profiles.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
