/* geninputs.h -- test videos from ffmpeg's built-in sources (no downloads),
 * like the original generate_test_videos.py: the pure parts (names, filter
 * graphs, ffmpeg arguments, checking an existing file's ffprobe output). */
#ifndef TK_GENINPUTS_H
#define TK_GENINPUTS_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
