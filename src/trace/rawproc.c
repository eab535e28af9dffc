/* rawproc.c -- raw proc_metrics lines (see rawproc.h). */
#include "trace/rawproc.h"

#include "common/jsonl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which of the fields we know were seen with a usable type. */
struct seen {
    bool ts, pid, utime, stime, utime_us, stime_us;
};

static void set_comm(struct raw_sample *out, const char *s, size_t n)
{
    if (n >= RAW_COMM_MAX)
        n = RAW_COMM_MAX - 1;
    memcpy(out->comm, s, n);
    out->comm[n] = '\0';
    out->has_comm = true;
}

static enum raw_ev ev_kind(const char *s, size_t n)
{
    if (n == 4 && !memcmp(s, "tick", 4))
        return RAW_EV_TICK;
    if (n == 3 && !memcmp(s, "new", 3))
        return RAW_EV_NEW;
    if (n == 4 && !memcmp(s, "exit", 4))
        return RAW_EV_EXIT;
    return RAW_EV_OTHER;
}

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && !memcmp(key, lit, sizeof(lit) - 1))

/* The keys of issue #14: run delay in every sample, the rest in the
 * kernel's exit records.  Numbers in ms take integers and reals, like cpu_ms. */
static void assign_exit(struct raw_sample *out, struct seen *seen, const char *key, size_t klen,
                        const struct raw_value *v)
{
    bool is_int = v->type == RAW_V_INT, is_num = is_int || v->type == RAW_V_REAL;
    double num = is_int ? (double)v->i : v->d;
    if (KEY_IS("run_delay_ms")) {
        out->has_run_delay = is_num;
        out->run_delay_ms = is_num ? num : 0;
    } else if (KEY_IS("src")) {
        out->taskstats = v->type == RAW_V_STR && v->slen == 9 && !memcmp(v->s, "taskstats", 9);
    } else if (KEY_IS("elapsed_ms")) {
        out->has_elapsed = is_num;
        out->elapsed_ms = is_num ? num : 0;
    } else if (KEY_IS("time_err_ms")) {
        out->has_time_err = is_num && num >= 0;
        out->time_err_ms = out->has_time_err ? num : 0;
    } else if (KEY_IS("rss_peak_kb")) {
        out->has_rss_peak = is_int;
        out->rss_peak_kb = v->i;
    } else if (KEY_IS("utime_us")) {
        seen->utime_us = is_int;
        out->utime_us = v->i;
    } else if (KEY_IS("stime_us")) {
        seen->stime_us = is_int;
        out->stime_us = v->i;
    } else if (KEY_IS("exit_code")) {
        out->has_exit_code = is_int;
        out->exit_code = v->i;
    }
}

/* Store one key/value pair.  Both parsers end up here, so they agree on
 * types: a later duplicate key wins, like jansson. */
static void assign(struct raw_sample *out, struct seen *seen, const char *key, size_t klen,
                   const struct raw_value *v)
{
    bool is_int = v->type == RAW_V_INT;
    if (KEY_IS("ts_ms")) {
        seen->ts = is_int;
        out->ts_ms = v->i;
    } else if (KEY_IS("pid")) {
        seen->pid = is_int;
        out->pid = v->i;
    } else if (KEY_IS("rss_kb")) {
        out->has_rss = is_int;
        out->rss_kb = v->i;
    } else if (KEY_IS("utime")) {
        seen->utime = is_int;
        out->utime = v->i;
    } else if (KEY_IS("stime")) {
        seen->stime = is_int;
        out->stime = v->i;
    } else if (KEY_IS("start_ticks")) {
        out->has_start = is_int;
        out->start_ticks = v->i;
    } else if (KEY_IS("cpu_ms")) {
        out->has_cpu_ms = is_int || v->type == RAW_V_REAL;
        out->cpu_ms = is_int ? (double)v->i : v->d;
    } else if (KEY_IS("mono_us")) {
        out->has_mono = is_int;
        out->mono_us = v->i;
    } else if (KEY_IS("comm")) {
        out->has_comm = false;
        out->comm[0] = '\0';
        if (v->type == RAW_V_STR)
            set_comm(out, v->s, v->slen);
    } else if (KEY_IS("cgroup")) {
        out->cgroup = v->type == RAW_V_STR ? (struct raw_text){v->s, v->slen} : (struct raw_text){0};
    } else if (KEY_IS("container_id")) {
        out->container_id = v->type == RAW_V_STR ? (struct raw_text){v->s, v->slen} : (struct raw_text){0};
    } else if (KEY_IS("container_runtime")) {
        out->container_runtime = v->type == RAW_V_STR ? (struct raw_text){v->s, v->slen} : (struct raw_text){0};
    } else if (KEY_IS("pod_uid")) {
        out->pod_uid = v->type == RAW_V_STR ? (struct raw_text){v->s, v->slen} : (struct raw_text){0};
    } else if (KEY_IS("ev")) {
        out->ev = v->type == RAW_V_STR ? ev_kind(v->s, v->slen) : RAW_EV_NONE;
    } else {
        assign_exit(out, seen, key, klen, v);
    }
}

static enum raw_result finish(struct raw_sample *out, const struct seen *seen)
{
    out->has_ticks = seen->utime && seen->stime;
    out->has_us = seen->utime_us && seen->stime_us;
    /* An implausible time is no time: every later difference stays in range. */
    return seen->ts && seen->pid && jsonl_ts_valid(out->ts_ms) ? RAW_OK : RAW_INVALID;
}

/* ---- fast path ---- */

static inline const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* A plain string: no escapes, no control or non-ASCII bytes (those go to
 * jansson, which validates UTF-8).  Returns the byte after the closing quote. */
static const char *scan_string(const char *p, const char *e, const char **s, size_t *n)
{
    if (p >= e || *p != '"')
        return NULL;
    const char *start = ++p;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *s = start;
            *n = (size_t)(p - start);
            return p + 1;
        }
        if (c == '\\' || c < 0x20 || c >= 0x80)
            return NULL;
        p++;
    }
    return NULL;
}

/* A JSON number.  Integers are accumulated exactly; reals go to strtod. */
static const char *scan_number(const char *p, const char *e, struct raw_value *v)
{
    const char *start = p;
    bool neg = false;
    if (p < e && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= e || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9')
        return NULL;  /* leading zero */
    uint64_t acc = 0;
    bool overflow = false;
    while (p < e && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            overflow = true;
        acc = acc * 10 + d;
        p++;
    }
    bool real = false;
    uint64_t mant = acc;
    int int_digits = (int)(p - start) - (neg ? 1 : 0), frac_digits = 0;
    if (p < e && *p == '.') {
        real = true;
        p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9') {
            if (frac_digits < 19)
                mant = mant * 10 + (unsigned)(*p - '0');
            frac_digits++;
            p++;
        }
    }
    bool exp = false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = true;
        exp = true;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (real && !exp && !overflow && int_digits + frac_digits <= 15) {
        /* Both the mantissa (< 10^15 < 2^53) and the power of ten are exact
         * doubles, so one division is correctly rounded: the same value
         * strtod gives, several times faster ("1970.125"). */
        static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        double d = (double)mant / pow10[frac_digits];
        v->type = RAW_V_REAL;
        v->d = neg ? -d : d;
        return p;
    }
    if (real) {
        char buf[64];
        size_t n = (size_t)(p - start);
        if (n >= sizeof buf)
            return NULL;
        memcpy(buf, start, n);
        buf[n] = '\0';
        v->type = RAW_V_REAL;
        v->d = strtod(buf, NULL);
        if (!isfinite(v->d))
            return NULL;  /* jansson rejects overflowing reals */
        return p;
    }
    /* Out of int64 range: leave it to jansson. */
    if (overflow || acc > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return NULL;
    v->type = RAW_V_INT;
    v->i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return p;
}

static const char *scan_literal(const char *p, const char *e, const char *lit, size_t n)
{
    if ((size_t)(e - p) < n || memcmp(p, lit, n))
        return NULL;
    return p + n;
}

bool raw_scan_flat(const char *line, size_t len, raw_field_fn *fn, void *ctx)
{
    const char *p = line, *e = line + len;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return false;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') {
        p++;
    } else {
        for (;;) {
            const char *key;
            size_t klen;
            p = scan_string(p, e, &key, &klen);
            if (!p)
                return false;
            p = skip_ws(p, e);
            if (p >= e || *p != ':')
                return false;
            p = skip_ws(p + 1, e);
            if (p >= e)
                return false;
            struct raw_value v = {.type = RAW_V_NULL};
            switch (*p) {
            case '"':
                v.type = RAW_V_STR;
                p = scan_string(p, e, &v.s, &v.slen);
                break;
            case 't':
                v.type = RAW_V_BOOL;
                p = scan_literal(p, e, "true", 4);
                break;
            case 'f':
                v.type = RAW_V_BOOL;
                p = scan_literal(p, e, "false", 5);
                break;
            case 'n':
                p = scan_literal(p, e, "null", 4);
                break;
            default:
                p = scan_number(p, e, &v);  /* NULL for '{', '[' and garbage */
            }
            if (!p)
                return false;
            fn(ctx, key, klen, &v);
            p = skip_ws(p, e);
            if (p < e && *p == ',') {
                p = skip_ws(p + 1, e);
                continue;
            }
            if (p < e && *p == '}') {
                p++;
                break;
            }
            return false;
        }
    }
    return skip_ws(p, e) == e;
}

struct fast_ctx {
    struct raw_sample *out;
    struct seen seen;
};

static void fast_field(void *ctx, const char *key, size_t klen, const struct raw_value *v)
{
    struct fast_ctx *c = ctx;
    assign(c->out, &c->seen, key, klen, v);
}

enum raw_result raw_parse_fast(const char *line, size_t len, struct raw_sample *out)
{
    memset(out, 0, sizeof *out);
    struct fast_ctx c = {.out = out};
    if (!raw_scan_flat(line, len, fast_field, &c))
        return RAW_FALLBACK;
    return finish(out, &c.seen);
}

/* ---- slow path ---- */

enum raw_result raw_from_json(const json_t *obj, struct raw_sample *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj))
        return RAW_MALFORMED;
    struct seen seen = {0};
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)obj, key, x) {
        struct raw_value v = {.type = RAW_V_NULL};
        switch (json_typeof(x)) {
        case JSON_INTEGER:
            v.type = RAW_V_INT;
            v.i = json_integer_value(x);
            break;
        case JSON_REAL:
            v.type = RAW_V_REAL;
            v.d = json_real_value(x);
            break;
        case JSON_STRING:
            v.type = RAW_V_STR;
            v.s = json_string_value(x);
            v.slen = json_string_length(x);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            v.type = RAW_V_BOOL;
            break;
        case JSON_NULL:
            break;
        default:
            v.type = RAW_V_BOOL;  /* objects/arrays: a type no field accepts */
        }
        assign(out, &seen, key, strlen(key), &v);
    }
    return finish(out, &seen);
}

enum raw_result raw_parse_line(const char *line, size_t len, struct raw_sample *out)
{
    enum raw_result r = raw_parse_fast(line, len, out);
    if (r != RAW_FALLBACK)
        return r;
    json_t *obj = jsonl_loadb(line, len, JSON_ALLOW_NUL, NULL);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        memset(out, 0, sizeof *out);
        return RAW_MALFORMED;
    }
    r = raw_from_json(obj, out);
    /* The texts point into obj: keep a copy past its release. */
    static __thread char keep[2048];
    size_t used = 0;
    struct raw_text *texts[] = {&out->cgroup, &out->container_id, &out->container_runtime, &out->pod_uid};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct raw_text *t = texts[i];
        if (!t->p)
            continue;
        if (t->n > sizeof keep - used) {
            *t = (struct raw_text){0};  /* absurdly long: dropped rather than cut */
            continue;
        }
        memcpy(keep + used, t->p, t->n);
        t->p = keep + used;
        used += t->n;
    }
    json_decref(obj);
    return r;
}
