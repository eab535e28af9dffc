/* geninputs.h -- test videos from ffmpeg's built-in sources (no downloads),
 * like the original generate_test_videos.py (`tracekit gen-inputs`): the
 * pure parts (the plan, names, filter graphs, ffmpeg arguments, checking an
 * existing file's ffprobe output), and geninputs_run, which runs ffprobe
 * and ffmpeg. */
#ifndef TK_GENINPUTS_H
#define TK_GENINPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A pattern: name, lavfi source and temporal noise strength. */
struct geninputs_pattern {
    const char *name;
    const char *alias;    /* the original's name, or NULL */
    const char *what;
};

const struct geninputs_pattern *geninputs_pattern_find(const char *name);
const struct geninputs_pattern *geninputs_patterns(int *n);
#define GENINPUTS_DEFAULT_PATTERN "testsrc2"

/* "WxH": both even (yuv420p), 16..7680.  false if not. */
bool geninputs_parse_size(const char *s, int *w, int *h);
/* "2M", "800k", "1500000": bits per second, 10k..1G.  false if not. */
bool geninputs_parse_bitrate(const char *s, int64_t *bps);

/* lavfi graph for a pattern at WxH and fps (malloc'd). */
char *geninputs_filter(const struct geninputs_pattern *p, int w, int h, int fps);
/* "gen_854x480_10s.mp4"; other patterns add "_NAME" (malloc'd). */
char *geninputs_name(int w, int h, double seconds, const char *pattern);
/* The ffmpeg argv to encode one file (NULL-terminated; free with argv_free). */
char **geninputs_ffmpeg_argv(const char *ffmpeg, const struct geninputs_pattern *p, int w, int h, int fps,
                      double seconds, const char *preset, int64_t bps, const char *out);

struct geninputs_probe {
    char codec[32];
    int width, height;
    double duration;
};
/* Parse `ffprobe -of default=noprint_wrappers=1` key=value lines.  false if
 * a field is missing. */
bool geninputs_probe_parse(const char *text, struct geninputs_probe *out);
/* An existing file is kept if it is H.264 of the asked size and duration
 * (within max(0.5 s, 2 frames)). */
bool geninputs_probe_matches(const struct geninputs_probe *p, int w, int h, double seconds, int fps);

/* ---- what to make, and making it ---- */

/* One file. */
struct geninputs_item {
    int w, h;
    double secs;
    const struct geninputs_pattern *pat;
};

/* Every size x duration x pattern of three comma lists, in that order.
 * Returns the count (> 0) and a malloc'd array in *out, or -1 with err
 * naming the bad item ("invalid size '853x480' in --sizes: ..."). */
int geninputs_plan(const char *durations, const char *sizes, const char *patterns,
                   struct geninputs_item **out, char *err, size_t errlen);

struct geninputs_job {
    const char *outdir;                  /* created */
    const struct geninputs_item *items;
    int nitems;
    int fps;
    const char *preset;
    int64_t bps;
    bool force;                          /* make files again that exist and match */
    bool quiet;                          /* no line per file */
    const char *ffmpeg, *ffprobe;
};

struct geninputs_summary {
    int made, kept, failed;
    double total_mb;                     /* of the files made and kept */
};

/* Make the job's files: an existing file is kept when ffprobe says it
 * matches (unless force); a new one is encoded under a hidden name and
 * renamed.  A line per file on out (unless quiet), errors logged.  Returns
 * 0, or -1 (after a log_error) when the folder cannot be created. */
int geninputs_run(const struct geninputs_job *j, FILE *out, struct geninputs_summary *sum);

#endif
