/* profiles.h -- the ffmpeg transcoding profiles of the original workload
 * (one table, used by `tracekit exec --profile`, the worker and the embedded
 * mode) and the ffmpeg argument rules: how a command line is built from
 * profile parameters, and which files a command reads and writes. */
#ifndef TK_PROFILES_H
#define TK_PROFILES_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* What the worker's task message can carry (original §7.3/§7.4). */
struct ffmpeg_params {
    const char *scale;     /* "W:H" */
    const char *vcodec;    /* "h264" or "hevc"/"h265" (-> libx265) */
    const char *preset;
    int crf;
    int vthreads;          /* -threads:v N, or 0 = not given */
    int fthreads;          /* -filter_threads N, or 0 = not given */
};

struct ffmpeg_profile {
    const char *name;
    struct ffmpeg_params p;
    int cpu_units;
};

/* The four named profiles and "default" (the dispatcher's non-mix CLI
 * defaults: 1280:720 veryfast crf 28, no thread hints, 1 unit).  Names match
 * case-insensitively after trimming; aliases light480p1c and light_1c give
 * light1c.  NULL if unknown. */
const struct ffmpeg_profile *profile_find(const char *name);
/* The original's --mix rule: unknown names get 1280:720 veryfast crf 28
 * with 2/2 threads and 1 unit. */
const struct ffmpeg_profile *profile_for_mix_name(const char *name);
/* All profiles (not the mix fallback), NULL-terminated by name. */
const struct ffmpeg_profile *profile_table(size_t *n);
/* The table as `tracekit exec --list-profiles` shows it. */
void profile_print(FILE *out);

/* libx265 for hevc/h265 (any case), else libx264. */
const char *ffmpeg_encoder(const char *vcodec);

/* Full argv (NULL-terminated, malloc'd strings; free with argv_free):
 *   FFMPEG -y -nostdin -i IN -vf scale=S -c:v ENC -preset P -crf N
 *   [-threads:v V] [-filter_threads F] -c:a copy OUT
 * -y and -nostdin always (original bug B33). */
char **ffmpeg_argv(const char *ffmpeg, const struct ffmpeg_params *p, const char *in,
                   const char *out);

/* True if argv[0] names ffmpeg (base name "ffmpeg"). */
int is_ffmpeg_command(const char *argv0);

/* Files of an ffmpeg command line (argv[0] included): inputs are the values
 * of every -i; the output is the last argument when it is not an option
 * and not "-" (stdout).  inputs[] gets pointers into argv (at most max);
 * returns the number of inputs, *output NULL when there is none. */
size_t ffmpeg_files(char *const *argv, const char **inputs, size_t max, const char **output);

#endif
