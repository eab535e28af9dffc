/* gen_inputs.c -- `tracekit gen-inputs`: H.264 test videos from ffmpeg's
 * built-in sources, so a new machine can run the workload without external
 * files.  Options only; the work is geninputs_plan and geninputs_run
 * (task/geninputs.c). */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "task/geninputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {"tracekit gen-inputs [OPTIONS]", NULL};

struct gen_args {
    struct geninputs_job job;
    const char *durations, *sizes, *patterns;
    int64_t fps;
};

static int set_preset(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (!*arg || strspn(arg, "abcdefghijklmnopqrstuvwxyz") != strlen(arg)) {
        cli_error("invalid --preset '%s': expected an x264 preset such as veryfast", arg);
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

static int set_bitrate(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (geninputs_parse_bitrate(arg, value))
        return 0;
    cli_error("invalid --bitrate '%s': expected bits per second like 2M, 800k or 1500000 (10k "
              "to 1000M)", arg);
    return -1;
}

/* "Patterns:" and a line per pattern (malloc'd). */
static char *pattern_list(void)
{
    int n;
    const struct geninputs_pattern *p = geninputs_patterns(&n);
    char *s = xstrdup("Patterns (--patterns):\n");
    for (int i = 0; i < n; i++) {
        char *t = xasprintf("%s  %-12s %s%s%s%s\n", s, p[i].name, p[i].what,
                            p[i].alias ? " (alias " : "", p[i].alias ? p[i].alias : "",
                            p[i].alias ? ")" : "");
        free(s);
        s = t;
    }
    return s;
}

static int parse_args(int argc, char **argv, struct gen_args *a)
{
    struct opt opts[] = {
        OPT_STRING(0, "output", &a->job.outdir, "DIR", "where to write (default: inputs/ffmpeg)"),
        OPT_STRING(0, "durations", &a->durations, "LIST",
                   "seconds, comma-separated (default: 10)"),
        OPT_STRING(0, "sizes", &a->sizes, "LIST",
                   "WxH, comma-separated, even numbers (default: 854x480)"),
        OPT_STRING(0, "patterns", &a->patterns, "LIST",
                   "comma-separated, from the list below (default: " GENINPUTS_DEFAULT_PATTERN
                   ")"),
        OPT_INT(0, "fps", &a->fps, "N", 1, 240, "frame rate (default: 30)"),
        OPT_CALLBACK(0, "preset", &a->job.preset, "NAME", "x264 preset (default: veryfast)",
                     set_preset),
        OPT_CALLBACK(0, "bitrate", &a->job.bps, "RATE",
                     "target bit rate like 2M or 800k (default: 2M)", set_bitrate),
        OPT_FLAG(0, "force", &a->job.force, "regenerate files that already exist"),
        OPT_STRING(0, "ffmpeg", &a->job.ffmpeg, "PATH", "(default: ffmpeg)"),
        OPT_STRING(0, "ffprobe", &a->job.ffprobe, "PATH", "(default: ffprobe)"),
        OPT_FLAG('q', "quiet", &a->job.quiet, "print only the summary line"),
        OPT_END(),
    };
    char *patterns = pattern_list();
    const struct opt_cmd cmd = {
        .name = "gen-inputs",
        .usage = usage,
        .description =
            "Generate H.264 test videos with ffmpeg's built-in sources (no downloads), one per\n"
            "size x duration x pattern, named gen_WxH_Ds.mp4 (gen_WxH_Ds_PATTERN.mp4 for\n"
            "patterns other than testsrc2).  Files that exist and match (ffprobe: H.264, size,\n"
            "duration) are kept.\n",
        .epilogue = patterns,
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    free(patterns);
    return n;
}

int cmd_gen_inputs(int argc, char **argv)
{
    struct gen_args a = {
        .job = {.outdir = "inputs/ffmpeg", .preset = "veryfast", .bps = 2000000,
                .ffmpeg = "ffmpeg", .ffprobe = "ffprobe"},
        .durations = "10", .sizes = "854x480", .patterns = GENINPUTS_DEFAULT_PATTERN, .fps = 30,
    };
    int n = parse_args(argc, argv, &a);
    if (n < 0)
        return opt_exit_code(n);
    char err[512];
    struct geninputs_item *items;
    a.job.nitems = geninputs_plan(a.durations, a.sizes, a.patterns, &items, err, sizeof err);
    if (a.job.nitems < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    a.job.items = items;
    a.job.fps = (int)a.fps;
    struct geninputs_summary sum;
    int rc = geninputs_run(&a.job, stdout, &sum);
    free(items);
    if (rc < 0)
        return TK_EXIT_FAIL;
    printf("gen-inputs: %d generated, %d kept, %d failed; %.2f MB in %s\n", sum.made, sum.kept,
           sum.failed, sum.total_mb, a.job.outdir);
    return sum.failed ? TK_EXIT_FAIL : TK_EXIT_OK;
}
