/* profiles.c -- the ffmpeg profile table and ffmpeg argument rules (see profiles.h). */
#include "task/profiles.h"
#include "common/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Original §7.5: the dispatcher's profiles and the worker's arguments. */
static const struct ffmpeg_profile profiles[] = {
    {"medium480p", {"854:480", "h264", "medium", 28, 2, 2}, 2},
    {"fast1080p", {"1920:1080", "h264", "fast", 28, 2, 2}, 2},
    {"hevc1080p", {"1920:1080", "hevc", "medium", 28, 4, 4}, 4},
    {"light1c", {"854:480", "h264", "veryfast", 28, 1, 1}, 1},
    {"default", {"1280:720", "h264", "veryfast", 28, 0, 0}, 1},
};

static const struct ffmpeg_profile mix_fallback = {
    "other", {"1280:720", "h264", "veryfast", 28, 2, 2}, 1};

static const struct {
    const char *alias, *name;
} aliases[] = {
    {"light480p1c", "light1c"},
    {"light_1c", "light1c"},
};

const struct ffmpeg_profile *profile_table(size_t *n)
{
    *n = ARRAY_LEN(profiles);
    return profiles;
}

void profile_print(FILE *out)
{
    fprintf(out, "%-12s %-10s %-8s %-9s %4s %8s %8s %9s\n", "profile", "scale", "vcodec",
            "preset", "crf", "vthreads", "fthreads", "cpu_units");
    for (size_t i = 0; i < ARRAY_LEN(profiles); i++) {
        const struct ffmpeg_profile *t = &profiles[i];
        fprintf(out, "%-12s %-10s %-8s %-9s %4d %8d %8d %9d\n", t->name, t->p.scale,
                t->p.vcodec, t->p.preset, t->p.crf, t->p.vthreads, t->p.fthreads, t->cpu_units);
    }
    fprintf(out, "aliases: light480p1c, light_1c -> light1c; every command has -y -nostdin\n");
}

/* Compare after trimming blanks, ignoring case. */
static int name_eq(const char *given, const char *name)
{
    while (isspace((unsigned char)*given))
        given++;
    size_t n = strlen(given);
    while (n > 0 && isspace((unsigned char)given[n - 1]))
        n--;
    return n == strlen(name) && strncasecmp(given, name, n) == 0;
}

const struct ffmpeg_profile *profile_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < ARRAY_LEN(aliases); i++)
        if (name_eq(name, aliases[i].alias))
            name = aliases[i].name;
    for (size_t i = 0; i < ARRAY_LEN(profiles); i++)
        if (name_eq(name, profiles[i].name))
            return &profiles[i];
    return NULL;
}

const struct ffmpeg_profile *profile_for_mix_name(const char *name)
{
    const struct ffmpeg_profile *p = profile_find(name);
    /* "default" is not a mix name in the original: it falls back too. */
    return p && strcmp(p->name, "default") ? p : &mix_fallback;
}

const char *ffmpeg_encoder(const char *vcodec)
{
    if (vcodec && (!strcasecmp(vcodec, "hevc") || !strcasecmp(vcodec, "h265")))
        return "libx265";
    return "libx264";
}

char **ffmpeg_argv(const char *ffmpeg, const struct ffmpeg_params *p, const char *in,
                   const char *out)
{
    char **v = xcalloc(24, sizeof *v);
    size_t n = 0;
    v[n++] = xstrdup(ffmpeg ? ffmpeg : "ffmpeg");
    v[n++] = xstrdup("-y");
    v[n++] = xstrdup("-nostdin");
    v[n++] = xstrdup("-i");
    v[n++] = xstrdup(in);
    v[n++] = xstrdup("-vf");
    v[n++] = xasprintf("scale=%s", p->scale);
    v[n++] = xstrdup("-c:v");
    v[n++] = xstrdup(ffmpeg_encoder(p->vcodec));
    v[n++] = xstrdup("-preset");
    v[n++] = xstrdup(p->preset);
    v[n++] = xstrdup("-crf");
    v[n++] = xasprintf("%d", p->crf);
    if (p->vthreads > 0) {
        v[n++] = xstrdup("-threads:v");
        v[n++] = xasprintf("%d", p->vthreads);
    }
    if (p->fthreads > 0) {
        v[n++] = xstrdup("-filter_threads");
        v[n++] = xasprintf("%d", p->fthreads);
    }
    v[n++] = xstrdup("-c:a");
    v[n++] = xstrdup("copy");
    v[n++] = xstrdup(out);
    v[n] = NULL;
    return v;
}

int is_ffmpeg_command(const char *argv0)
{
    if (!argv0)
        return 0;
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return strcmp(base, "ffmpeg") == 0;
}

size_t ffmpeg_files(char *const *argv, const char **inputs, size_t max, const char **output)
{
    size_t n = argv_len(argv), k = 0;
    *output = NULL;
    for (size_t i = 1; i + 1 < n; i++) {
        if (strcmp(argv[i], "-i") == 0) {
            if (k < max)
                inputs[k++] = argv[i + 1];
            i++;
        }
    }
    /* ffmpeg takes the output last; "-x" is a (trailing) option and the
     * value of a final -i is an input, not an output. */
    if (n >= 2) {
        const char *last = argv[n - 1];
        bool after_i = n >= 3 && strcmp(argv[n - 2], "-i") == 0;
        if (last[0] != '-' && !after_i)
            *output = last;
    }
    return k;
}
