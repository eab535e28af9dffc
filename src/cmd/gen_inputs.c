/* gen_inputs.c -- `tracekit gen-inputs`: H.264 test videos from ffmpeg's
 * built-in sources, so a new machine can run the workload without external
 * files.  Existing valid files are kept (checked with ffprobe). */
#include "cmd/commands.h"
#include "task/geninputs.h"
#include "common/log.h"
#include "task/profiles.h"
#include "task/launch.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit gen-inputs [OPTIONS]\n"
            "\n"
            "Generate H.264 test videos with ffmpeg's built-in sources (no downloads), one per\n"
            "size x duration x pattern, named gen_WxH_Ds.mp4 (gen_WxH_Ds_PATTERN.mp4 for\n"
            "patterns other than testsrc2).  Files that exist and match (ffprobe: H.264, size,\n"
            "duration) are kept.\n"
            "\n"
            "  --output DIR        where to write (default: inputs/ffmpeg)\n"
            "  --durations LIST    seconds, comma-separated (default: 10)\n"
            "  --sizes LIST        WxH, comma-separated, even numbers (default: 854x480)\n"
            "  --patterns LIST     comma-separated (default: testsrc2):\n");
    int n;
    const struct geninputs_pattern *p = geninputs_patterns(&n);
    for (int i = 0; i < n; i++)
        fprintf(out, "                        %-12s %s%s%s%s\n", p[i].name, p[i].what,
                p[i].alias ? " (alias " : "", p[i].alias ? p[i].alias : "",
                p[i].alias ? ")" : "");
    fprintf(out,
            "  --fps N             frame rate (default: 30)\n"
            "  --preset NAME       x264 preset (default: veryfast)\n"
            "  --bitrate RATE      target bit rate like 2M or 800k (default: 2M)\n"
            "  --force             regenerate files that already exist\n"
            "  --ffmpeg PATH       (default: ffmpeg)\n"
            "  --ffprobe PATH      (default: ffprobe)\n"
            "  -q, --quiet         print only the summary line\n"
            "  -h, --help          this text\n");
}

/* Split a comma list into a malloc'd array of malloc'd items. */
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

static bool probe_ok(const char *ffprobe, const char *path, int w, int h, double secs, int fps)
{
    char *argv[] = {(char *)ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=codec_name,width,height:format=duration", "-of",
                    "default=noprint_wrappers=1", (char *)path, NULL};
    char *out = NULL;
    int st = launch_command(argv, &out, 1);
    struct geninputs_probe p;
    bool ok = st == 0 && out && geninputs_probe_parse(out, &p) && geninputs_probe_matches(&p, w, h, secs, fps);
    free(out);
    return ok;
}

struct plan {
    int w, h;
    double secs;
    const struct geninputs_pattern *pat;
};

int cmd_gen_inputs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"durations", required_argument, NULL, 'd'},
        {"sizes", required_argument, NULL, 's'},
        {"patterns", required_argument, NULL, 'p'},
        {"fps", required_argument, NULL, 'f'},
        {"preset", required_argument, NULL, 'P'},
        {"bitrate", required_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'F'},
        {"ffmpeg", required_argument, NULL, 'M'},
        {"ffprobe", required_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *outdir = "inputs/ffmpeg", *durs = "10", *sizes = "854x480";
    const char *pats = GENINPUTS_DEFAULT_PATTERN, *preset = "veryfast", *ffmpeg = "ffmpeg";
    const char *ffprobe = "ffprobe";
    int64_t fps = 30, bps = 2000000;
    bool force = false, quiet = false;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': outdir = optarg; break;
        case 'd': durs = optarg; break;
        case 's': sizes = optarg; break;
        case 'p': pats = optarg; break;
        case 'f':
            if (!parse_i64(optarg, 1, 240, &fps)) {
                cli_error("invalid --fps '%s': expected an integer from 1 to 240", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'P':
            if (!*optarg || strspn(optarg, "abcdefghijklmnopqrstuvwxyz") != strlen(optarg)) {
                cli_error("invalid --preset '%s': expected an x264 preset such as veryfast",
                          optarg);
                return TK_EXIT_USAGE;
            }
            preset = optarg;
            break;
        case 'b':
            if (!geninputs_parse_bitrate(optarg, &bps)) {
                cli_error("invalid --bitrate '%s': expected bits per second like 2M, 800k or "
                          "1500000 (10k to 1000M)",
                          optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'F': force = true; break;
        case 'M': ffmpeg = optarg; break;
        case 'R': ffprobe = optarg; break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit gen-inputs --help')",
                          argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit gen-inputs --help')",
                          argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit gen-inputs --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }

    /* Check every list before generating anything. */
    int nd, ns, np, rc = TK_EXIT_USAGE;
    char **dl = split(durs, &nd), **sl = split(sizes, &ns), **pl = split(pats, &np);
    struct plan *plan = xcalloc((size_t)(nd * ns * np + 1), sizeof *plan);
    int nplan = 0;
    if (!nd || !ns || !np) {
        cli_error("--durations, --sizes and --patterns need at least one item");
        goto out;
    }
    for (int si = 0; si < ns; si++) {
        int w, h;
        if (!geninputs_parse_size(sl[si], &w, &h)) {
            cli_error("invalid size '%s' in --sizes: expected WxH with even numbers from 16 to "
                      "7680, like 854x480",
                      sl[si]);
            goto out;
        }
        for (int di = 0; di < nd; di++) {
            double secs;
            if (!parse_double(dl[di], 0.1, 86400, &secs)) {
                cli_error("invalid duration '%s' in --durations: expected seconds from 0.1 to "
                          "86400",
                          dl[di]);
                goto out;
            }
            for (int pi = 0; pi < np; pi++) {
                const struct geninputs_pattern *p = geninputs_pattern_find(pl[pi]);
                if (!p) {
                    cli_error("unknown pattern '%s' in --patterns (see 'tracekit gen-inputs "
                              "--help')",
                              pl[pi]);
                    goto out;
                }
                plan[nplan++] = (struct plan){w, h, secs, p};
            }
        }
    }

    rc = TK_EXIT_FAIL;
    if (mkdir_p(outdir, 0755) < 0) {
        log_error("cannot create %s: %s", outdir, strerror(errno));
        goto out;
    }
    int made = 0, kept = 0, failed = 0;
    double total_mb = 0;
    for (int i = 0; i < nplan; i++) {
        const struct plan *x = &plan[i];
        char *name = geninputs_name(x->w, x->h, x->secs, x->pat->name);
        char *path = path_join(outdir, name);
        struct stat st;
        if (!force && stat(path, &st) == 0 &&
            probe_ok(ffprobe, path, x->w, x->h, x->secs, (int)fps)) {
            kept++;
            total_mb += (double)st.st_size / 1e6;
            if (!quiet)
                printf("kept       %s (%.2f MB, valid; --force regenerates)\n", path,
                       (double)st.st_size / 1e6);
        } else {
            /* Encode to a hidden temporary name: an interrupted run never
             * leaves a partial file under the real name. */
            char *tmp = xasprintf("%s/.%s.part", outdir, name);
            char **av = geninputs_ffmpeg_argv(ffmpeg, x->pat, x->w, x->h, (int)fps, x->secs, preset,
                                       bps, tmp);
            int64_t t0 = now_mono_ns();
            int s = launch_command(av, NULL, 0);
            double took = (double)(now_mono_ns() - t0) / 1e9;
            if (s == 0 && rename(tmp, path) == 0 && stat(path, &st) == 0) {
                made++;
                total_mb += (double)st.st_size / 1e6;
                if (!quiet)
                    printf("generated  %s (%.2f MB, %s, %.1f s to encode)\n", path,
                           (double)st.st_size / 1e6, x->pat->name, took);
            } else {
                failed++;
                unlink(tmp);
                if (s == 127)
                    log_error("cannot run '%s' (is ffmpeg installed? see --ffmpeg)", ffmpeg);
                else
                    log_error("ffmpeg failed for %s (status %d)", path, s);
            }
            argv_free(av);
            free(tmp);
        }
        fflush(stdout);
        free(name);
        free(path);
    }
    printf("gen-inputs: %d generated, %d kept, %d failed; %.2f MB in %s\n", made, kept, failed,
           total_mb, outdir);
    rc = failed ? TK_EXIT_FAIL : TK_EXIT_OK;
out:
    free(plan);
    free_list(dl, nd);
    free_list(sl, ns);
    free_list(pl, np);
    return rc;
}
