/* cts.c -- raw records to CTS records (see cts.h for the rules). */
#include "trace/cts.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cts_opts_default(struct cts_opts *o)
{
    o->clk_tck = 100;
    o->gap_ms = 2000;
    o->step_ms = 100;
}

void cts_init(struct cts *c, const struct cts_opts *o)
{
    memset(c, 0, sizeof *c);
    c->o = *o;
    if (!(c->o.clk_tck > 0))
        c->o.clk_tck = 100;
    pairmap_init(&c->by_key);
}

void cts_free(struct cts *c)
{
    for (size_t i = 0; i < c->nids; i++) {
        free(c->ids[i].cgroup);
        free(c->ids[i].container_id);
        free(c->ids[i].container_runtime);
        free(c->ids[i].pod_uid);
    }
    free(c->ids);
    pairmap_free(&c->by_key);
    memset(c, 0, sizeof *c);
}

static size_t new_ident(struct cts *c, const struct raw_sample *s)
{
    if (c->nids == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->ids = xrealloc(c->ids, c->cap * sizeof *c->ids);
    }
    struct cts_ident *id = &c->ids[c->nids];
    memset(id, 0, sizeof *id);
    id->pid = s->pid;
    id->has_start = s->has_start;
    id->start_ticks = s->has_start ? s->start_ticks : 0;
    return c->nids++;
}

/* Differences and sums of raw integers in double: the values come from
 * files and must not overflow int64 (exact for any real clock or counter). */
static inline double diff(int64_t a, int64_t b)
{
    return (double)a - (double)b;
}

static inline double ticks_of(const struct raw_sample *s)
{
    return (double)s->utime + (double)s->stime;
}

/* Cumulative CPU of a sample in ms: cpu_ms when the collector wrote it,
 * else the tick counters. */
static bool sample_cpu(const struct cts *c, const struct raw_sample *s, double *cum)
{
    if (s->has_cpu_ms) {
        *cum = s->cpu_ms;
        return true;
    }
    if (s->has_ticks) {
        *cum = ticks_of(s) * 1000.0 / c->o.clk_tck;
        return true;
    }
    return false;
}

static bool is_tick(enum raw_ev ev)
{
    return ev == RAW_EV_TICK || ev == RAW_EV_NONE;
}

/* Without start_ticks a PID can only be told apart by its counters and
 * name: counters that go backwards, or another comm after a pause, mean
 * the PID now belongs to another process. */
static bool reused_pid(const struct cts *c, const struct cts_ident *id, const struct raw_sample *s,
                       bool has_cum, double cum)
{
    if (s->has_ticks && id->seen_has_ticks) {
        if (ticks_of(s) < id->seen_ticks)
            return true;
    } else if (has_cum && id->seen_has_cum && cum < id->seen_cum - 1000.0 / c->o.clk_tck) {
        return true;
    }
    if (s->has_comm && id->comm[0] && strcmp(s->comm, id->comm) != 0) {
        double pause = s->has_mono && id->seen_has_mono
                           ? diff(s->mono_us, id->seen_mono_us) / 1000.0
                           : diff(s->ts_ms, id->seen_ts_ms);
        if (pause > c->o.gap_ms)
            return true;
    }
    return false;
}

static void remember_seen(struct cts_ident *id, const struct raw_sample *s, bool has_cum, double cum)
{
    id->seen_ts_ms = s->ts_ms;
    id->seen_mono_us = s->mono_us;
    id->seen_has_mono = s->has_mono;
    id->seen_has_ticks = s->has_ticks;
    id->seen_ticks = s->has_ticks ? ticks_of(s) : 0;
    id->seen_has_cum = has_cum;
    id->seen_cum = has_cum ? cum : 0;
    if (s->has_comm)
        memcpy(id->comm, s->comm, sizeof id->comm);
}

static void set_time(struct cts_ident *id, const struct raw_sample *s)
{
    id->last_ts_ms = s->ts_ms;
    id->last_mono_us = s->mono_us;
    id->last_has_mono = s->has_mono;
}

static void note_rss(struct cts_ident *id, int64_t kb)
{
    if (!id->has_rss || kb > id->max_rss_kb) {
        id->max_rss_kb = kb;
        id->has_rss = true;
    }
}

static void account(struct cts *c, struct cts_ident *id, const struct cts_rec *r, double cum)
{
    c->emitted++;
    if (!r->has_dt)
        return;
    if (id->records == 0) {
        id->first_ts_ms = r->ts_ms;
        id->cum_first = cum;
    }
    id->records++;
    id->end_ts_ms = r->ts_ms;
    id->cpu_sum_ms += r->cpu_ms;
    id->cum_last = cum;
    if (r->has_rss)
        note_rss(id, r->rss_kb);
    if (r->has_delay && !r->baseline) {
        id->delay_records++;
        id->delay_sum_ms += r->delay_ms;
        id->delay_cpu_ms += r->cpu_ms;
    }
}

static void set_text(char **dst, const struct raw_text *t)
{
    free(*dst);
    *dst = NULL;
    if (t->p) {
        *dst = xmalloc(t->n + 1);
        memcpy(*dst, t->p, t->n);
        (*dst)[t->n] = '\0';
    }
}

/* The identity a sample belongs to, made when new; SIZE_MAX when the
 * sample comes after the identity's taskstats exit record (ignored). */
static size_t ident_of(struct cts *c, const struct raw_sample *s, bool has_cum, double cum)
{
    bool added;
    int64_t *slot = pairmap_put(&c->by_key, s->pid, s->has_start ? s->start_ticks : CTS_NO_START,
                                -1, &added);
    if (added) {
        *slot = (int64_t)new_ident(c, s);
    } else if (!s->has_start &&
               (c->ids[*slot].closed || reused_pid(c, &c->ids[*slot], s, has_cum, cum))) {
        /* without start ticks, a line after the exit is another process */
        c->splits++;
        *slot = (int64_t)new_ident(c, s);
    } else if (c->ids[*slot].closed) {
        c->after_exit++;
        return SIZE_MAX;
    }
    return (size_t)*slot;
}

/* The run delay of an interval ending at s: the delta from the interval's
 * start when both ends have it, held at the high-water mark like CPU. */
static void delay_step(struct cts *c, struct cts_ident *id, const struct raw_sample *s,
                       struct cts_rec *out)
{
    if (s->has_run_delay && id->delay_ok) {
        double d = s->run_delay_ms - id->delay_base;
        if (d < 0) {
            c->delay_dips++;
            d = 0;
        } else {
            id->delay_base = s->run_delay_ms;
        }
        out->has_delay = true;
        out->delay_ms = d;
    } else {
        id->delay_ok = s->has_run_delay;
        id->delay_base = s->run_delay_ms;
    }
}

/* The first sample with CPU counters: the identity's baseline. */
static void baseline(struct cts_ident *id, const struct raw_sample *s, double cum,
                     struct cts_rec *out)
{
    id->started = true;
    set_time(id, s);
    id->cpu_base = cum;
    id->delay_ok = s->has_run_delay;
    id->delay_base = s->run_delay_ms;
    id->last_on_grid = is_tick(s->ev);
    out->baseline = true;
    out->has_dt = true;
    out->has_delay = s->has_run_delay;
    /* the counter at the first sample: CPU used before it, since the
     * process started (the export uses it when no exact total exists) */
    out->has_before = true;
    out->cpu_before_ms = cum > 0 ? cum : 0;
}

/* A later sample: one interval record (true), or folded into the next one. */
static bool interval(struct cts *c, struct cts_ident *id, const struct raw_sample *s, double cum,
                     struct cts_rec *out)
{
    double dt = s->has_mono && id->last_has_mono ? diff(s->mono_us, id->last_mono_us) / 1000.0
                                                 : diff(s->ts_ms, id->last_ts_ms);
    if (s->has_mono && id->last_has_mono && fabs(diff(s->ts_ms, id->last_ts_ms) - dt) > c->o.step_ms)
        c->wall_steps++;
    if (dt < 0) {
        /* The clock stepped back: the length of this interval is unknown.
         * Restart the interval here and keep the CPU base, so the CPU
         * lands in the next record instead of being lost. */
        c->steps_back++;
        set_time(id, s);
        id->last_on_grid = false;
        return false;
    }
    if (dt == 0) {
        c->merged++;
        return false;
    }
    double cpu = cum - id->cpu_base;
    if (cpu < 0) {
        c->cpu_dips++;
        cpu = 0;
    } else {
        id->cpu_base = cum;
    }
    out->has_dt = true;
    out->dt_ms = dt;
    out->cpu_ms = cpu;
    delay_step(c, id, s, out);
    out->on_grid = id->last_on_grid && is_tick(s->ev);
    id->last_on_grid = is_tick(s->ev);
    set_time(id, s);
    return true;
}

/* The exit record of a process never seen before: a baseline at its start
 * (out[0]) and the whole life as one interval (out[1]).  false (nothing
 * written) when the record does not say when the process started. */
static bool exit_only(struct cts_ident *id, const struct raw_sample *s, double cum,
                      struct cts_rec out[static 2])
{
    if (!s->taskstats || s->ev != RAW_EV_EXIT || !s->has_elapsed || !isfinite(s->elapsed_ms))
        return false;
    double el_us = round(s->elapsed_ms * 1000.0);
    /* at least 1 ms earlier, so that a PID's times stay strictly increasing */
    double start_ms = (double)s->ts_ms - fmax(1.0, round(s->elapsed_ms));
    if (!(el_us >= 1 && el_us < 1e15) || !(start_ms >= (double)JSONL_TS_MIN_MS) ||
        !(start_ms <= (double)JSONL_TS_MAX_MS))
        return false;
    out[1] = out[0];
    out[0].ts_ms = (int64_t)start_ms;
    out[0].baseline = true;
    out[0].has_dt = true;
    out[0].has_delay = s->has_run_delay;
    out[1].has_dt = true;
    out[1].dt_ms = el_us / 1000.0;
    out[1].cpu_ms = cum > 0 ? cum : 0;
    out[1].has_delay = s->has_run_delay;
    out[1].delay_ms = s->run_delay_ms > 0 ? s->run_delay_ms : 0;
    id->started = true;
    id->exit_only = true;
    set_time(id, s);
    id->cpu_base = cum;
    id->delay_ok = s->has_run_delay;
    id->delay_base = s->run_delay_ms;
    id->last_on_grid = false;
    return true;
}

size_t cts_feed(struct cts *c, const struct raw_sample *s, struct cts_rec out[static CTS_FEED_MAX])
{
    c->raw++;
    double cum = 0;
    bool has_cum = sample_cpu(c, s, &cum);
    size_t idx = ident_of(c, s, has_cum, cum);
    if (idx == SIZE_MAX)
        return 0;
    struct cts_ident *id = &c->ids[idx];
    bool first_line = id->lines++ == 0;

    memset(out, 0, sizeof *out);
    out->ts_ms = s->ts_ms;
    out->pid = s->pid;
    out->has_rss = s->has_rss;
    out->rss_kb = s->rss_kb;
    out->has_start = s->has_start;
    out->start_ticks = s->start_ticks;
    out->comm = s->has_comm ? s->comm : NULL;
    out->ident = idx;

    size_t n = 1;
    if (!has_cum) {
        /* No counters: the record says the process was there, nothing more
         * (the original wrote it without dt_ms/cpu_ms too). */
        c->no_cpu++;
    } else if (!id->started && first_line && exit_only(id, s, cum, out)) {
        c->exit_only++;
        n = 2;
    } else if (!id->started) {
        baseline(id, s, cum, out);
    } else if (!interval(c, id, s, cum, out)) {
        n = 0;
    }
    if (s->taskstats && s->ev == RAW_EV_EXIT) {
        c->exit_records++;
        id->closed = true;
    }
    if (s->has_rss_peak)
        note_rss(id, s->rss_peak_kb);
    remember_seen(id, s, has_cum, cum);
    if (s->cgroup.p) {
        set_text(&id->cgroup, &s->cgroup);
        set_text(&id->container_id, &s->container_id);
        set_text(&id->container_runtime, &s->container_runtime);
        set_text(&id->pod_uid, &s->pod_uid);
        id->meta_pending = true;
    }
    if (n && id->meta_pending) {
        /* a folded first sample hands its fields to the next record */
        out->meta = id;
        id->meta_pending = false;
    }
    for (size_t i = 0; i < n; i++)
        account(c, id, &out[i], i + 1 < n ? 0 : cum);
    return n;
}

void cts_finish(struct cts *c)
{
    c->cpu_carried_ms = 0;
    for (size_t i = 0; i < c->nids; i++) {
        const struct cts_ident *id = &c->ids[i];
        if (id->started && id->seen_has_cum && id->seen_cum > id->cpu_base)
            c->cpu_carried_ms += id->seen_cum - id->cpu_base;
    }
}

size_t cts_fmt_ms(char *buf, double v)
{
    if (!isfinite(v) || fabs(v) > 9e15)  /* absurd values: still a JSON number, fits 32 bytes */
        return (size_t)snprintf(buf, 32, "%.17g", isfinite(v) ? v : 0.0);
    /* by hand: this runs once per CTS record, twice */
    long long q = llround(v * 1000.0);
    char tmp[32];
    size_t n = 0;
    unsigned long long a = q < 0 ? 0ULL - (unsigned long long)q : (unsigned long long)q;
    unsigned frac = (unsigned)(a % 1000);
    a /= 1000;
    if (frac) {
        int digits = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        while (digits--) {
            tmp[n++] = (char)('0' + frac % 10);
            frac /= 10;
        }
        tmp[n++] = '.';
    }
    do {
        tmp[n++] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (q < 0)
        tmp[n++] = '-';
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

void cts_put_ms(struct jbuf *b, const char *key, double v)
{
    char tmp[32];
    cts_fmt_ms(tmp, v);
    jb_raw(b, key, tmp);
}

void cts_rec_json(struct jbuf *b, const struct cts_rec *r)
{
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", r->ts_ms);
    jb_int(b, "pid", r->pid);
    if (r->has_dt) {
        cts_put_ms(b, "dt_ms", r->dt_ms);
        cts_put_ms(b, "cpu_ms", r->cpu_ms);
        if (r->has_delay)
            cts_put_ms(b, "run_delay_ms", r->delay_ms);
        if (r->baseline && r->has_before && r->cpu_before_ms > 0)
            cts_put_ms(b, "cpu_before_ms", r->cpu_before_ms);
    } else {
        jb_null(b, "dt_ms");
        jb_null(b, "cpu_ms");
    }
    jb_opt_int(b, "rss_kb", r->has_rss, r->rss_kb);
    jb_opt_int(b, "start_ticks", r->has_start, r->start_ticks);
    if (r->comm)
        jb_str(b, "comm", r->comm);
    if (r->meta) {
        jb_str(b, "cgroup", r->meta->cgroup);
        if (r->meta->container_id)
            jb_str(b, "container_id", r->meta->container_id);
        if (r->meta->container_runtime)
            jb_str(b, "container_runtime", r->meta->container_runtime);
        if (r->meta->pod_uid)
            jb_str(b, "pod_uid", r->meta->pod_uid);
    }
    jb_obj_close(b);
}

/* ---- events ---- */

/* Python truthiness of a JSON value, as the original's `or` chain used it. */
static bool truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_TRUE:
        return true;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    default:
        return false;
    }
}

static double num_or(const json_t *v, double dflt)
{
    return json_is_number(v) ? json_number_value(v) : dflt;
}

struct ev_key {
    double t, pid;
    size_t pos;
    json_t *ev;
};

static int cmp_ev(const void *pa, const void *pb)
{
    const struct ev_key *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->pid != b->pid)
        return a->pid < b->pid ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;  /* stable */
}

void cts_events_sort(json_t **evs, size_t n)
{
    struct ev_key *k = xcalloc(n, sizeof *k);
    static const char *const tkeys[] = {"ts_ms", "ts_enqueue", "ts_start"};
    for (size_t i = 0; i < n; i++) {
        k[i].pos = i;
        k[i].ev = evs[i];
        k[i].t = 0;
        for (size_t j = 0; j < ARRAY_LEN(tkeys); j++) {
            json_t *v = json_object_get(evs[i], tkeys[j]);
            if (truthy(v)) {
                /* a truthy non-number (a string) sorts as 0 here */
                k[i].t = num_or(v, 0);
                break;
            }
        }
        json_t *pid = json_object_get(evs[i], "pid");
        k[i].pid = truthy(pid) ? num_or(pid, 0) : 0;
    }
    qsort(k, n, sizeof *k, cmp_ev);
    for (size_t i = 0; i < n; i++)
        evs[i] = k[i].ev;
    free(k);
}

void cts_event_defaults(json_t *ev, const char *node, const char *stage)
{
    if (!json_object_get(ev, "node") && node)
        json_object_set_new(ev, "node", json_string(node));
    if (!json_object_get(ev, "stage") && stage)
        json_object_set_new(ev, "stage", json_string(stage));
}

static bool get_int(const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
        *out = (int64_t)json_real_value(v);  /* truncation, like Python's int() */
        return true;
    }
    return false;
}

/* get_int of a time: false also when implausible, so that no sum or
 * difference of two times can overflow. */
static bool get_ts(const json_t *o, const char *key, int64_t *out)
{
    int64_t v;
    if (!get_int(o, key, &v) || !jsonl_ts_valid(v))
        return false;
    *out = v;
    return true;
}

bool cts_event_times_ok(const json_t *ev)
{
    static const char *const keys[] = {"ts_ms", "ts_enqueue", "ts_start", "ts_end"};
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(ev, keys[i]);
        if (!json_is_number(v))
            continue;
        double d = json_number_value(v);
        if (!(d >= (double)JSONL_TS_MIN_MS && d <= (double)JSONL_TS_MAX_MS))
            return false;
    }
    return true;
}

static bool missing(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return !v || json_is_null(v);
}

void cts_inv_from_event(const json_t *ev, struct cts_inv *inv)
{
    memset(inv, 0, sizeof *inv);
    json_t *v = json_object_get(ev, "trace_id");
    if (json_is_string(v))
        inv->trace_id = xstrdup(json_string_value(v));
    inv->miss_trace_id = missing(ev, "trace_id");
    inv->miss_enqueue = missing(ev, "ts_enqueue");
    inv->miss_start = missing(ev, "ts_start");
    inv->miss_end = missing(ev, "ts_end");
    inv->miss_pid = missing(ev, "pid");
    /* PIDs must be JSON integers (the original counted only those) */
    v = json_object_get(ev, "pid");
    if (json_is_integer(v)) {
        inv->has_pid = true;
        inv->pid = json_integer_value(v);
    }
    inv->has_enqueue = get_ts(ev, "ts_enqueue", &inv->ts_enqueue);
    inv->has_start = get_ts(ev, "ts_start", &inv->ts_start);
    inv->has_end = get_ts(ev, "ts_end", &inv->ts_end);
    inv->has_start_ticks = json_is_integer(json_object_get(ev, "start_ticks"));
    if (inv->has_start_ticks)
        inv->start_ticks = json_integer_value(json_object_get(ev, "start_ticks"));
    inv->has_status = get_int(ev, "status", &inv->status);
    inv->has_signal = get_int(ev, "signal", &inv->signal);
    v = json_object_get(ev, "error");
    if (v && !json_is_null(v)) {
        if (json_is_string(v)) {
            inv->error = xstrdup(json_string_value(v));
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            inv->error = xstrdup(s ? s : "?");
            free(s);
        }
    }
    json_t *u = json_object_get(ev, "cpu_user_ms"), *sy = json_object_get(ev, "cpu_sys_ms");
    if (json_is_number(u) && json_is_number(sy)) {
        inv->has_cpu = true;
        inv->cpu_exact_ms = json_number_value(u) + json_number_value(sy);
    }
    inv->has_max_rss = get_int(ev, "max_rss_kb", &inv->max_rss_kb);
    v = json_object_get(ev, "kind");
    inv->http = json_is_string(v) && !strcmp(json_string_value(v), "http");
}

void cts_inv_free(struct cts_inv *inv)
{
    free(inv->trace_id);
    free(inv->error);
    memset(inv, 0, sizeof *inv);
}

bool cts_inv_failed(const struct cts_inv *inv)
{
    if (inv->http)
        return (inv->has_status && inv->status >= 500) || inv->error;
    return (inv->has_status && inv->status != 0) || inv->has_signal || inv->error;
}

/* Copy one field of the event (null when absent). */
static void copy_field(struct jbuf *b, const char *key, const json_t *v)
{
    if (v)
        jb_json(b, key, v);
    else
        jb_null(b, key);
}

/* First present, non-null value among keys. */
static const json_t *first_of(const json_t *ev, const char *a, const char *b)
{
    const json_t *v = json_object_get(ev, a);
    if (v && !json_is_null(v))
        return v;
    return json_object_get(ev, b);
}

void cts_inv_json(struct jbuf *b, const json_t *ev, double energy_j)
{
    static const char *const direct[] = {
        "trace_id", "pid", "ts_enqueue", "ts_start", "ts_end", "node", "stage", "status",
        "signal", "start_ticks", "attempt", "cpu_user_ms", "cpu_sys_ms", "max_rss_kb",
        "cpu_units",
    };
    jb_obj_open(b, NULL);
    for (size_t i = 0; i < ARRAY_LEN(direct); i++)
        copy_field(b, direct[i], json_object_get(ev, direct[i]));
    /* the worker's execution id: only where recorded (issue 21) */
    if (json_is_string(json_object_get(ev, "exec_id")))
        jb_json(b, "exec_id", json_object_get(ev, "exec_id"));
    /* placement as applied when exec recorded it, else as requested */
    copy_field(b, "cpuset", first_of(ev, "cpuset_applied", "cpuset"));
    copy_field(b, "cpu_weight", first_of(ev, "cpu_weight_applied", "cpu_weight"));
    copy_field(b, "cpu_binding", json_object_get(ev, "cpu_binding"));
    copy_field(b, "app", first_of(ev, "app", "module_id"));
    copy_field(b, "error", json_object_get(ev, "error"));
    const json_t *kind = json_object_get(ev, "kind");
    if (json_is_string(kind) && !strcmp(json_string_value(kind), "http")) {
        /* requests through tracekit proxy: what the request was */
        static const char *const http[] = {"kind", "method", "path", "bytes_in", "bytes_out", "dur_us"};
        for (size_t i = 0; i < ARRAY_LEN(http); i++)
            copy_field(b, http[i], json_object_get(ev, http[i]));
    }
    if (isfinite(energy_j))
        jb_fixed(b, "energy_j", energy_j, 3);
    jb_obj_close(b);
}

/* ---- nodes.json ---- */

json_t *cts_node_entry(const json_t *meta, const char *node, const char *stage)
{
    json_t *e = json_object();
    json_t *v;
    v = json_object_get(meta, "node");
    json_object_set_new(e, "node_id", json_is_string(v) && json_string_length(v)
                                          ? json_copy(v)
                                          : node ? json_string(node) : json_null());
    v = json_object_get(meta, "stage");
    json_object_set_new(e, "stage", json_is_string(v) && json_string_length(v)
                                        ? json_copy(v)
                                        : stage ? json_string(stage) : json_null());
    static const char *const orig[] = {"cpu_cores", "mem_mb", "cpu_model", "cpu_freq_mhz"};
    for (size_t i = 0; i < ARRAY_LEN(orig); i++) {
        v = json_object_get(meta, orig[i]);
        json_object_set_new(e, orig[i], v ? json_deep_copy(v) : json_null());
    }
    /* ours, when the collector wrote them */
    static const char *const extra[] = {
        "host", "cpu_cores_online", "cpu_allowed", "cpu_freq_source", "mem_total_kb",
        "kernel", "boot_id", "page_size", "clk_tck", "btime", "run_id", "tracekit_version",
    };
    for (size_t i = 0; i < ARRAY_LEN(extra); i++) {
        v = json_object_get(meta, extra[i]);
        if (v)
            json_object_set_new(e, extra[i], json_deep_copy(v));
    }
    double off;
    if (cts_meta_clock_offset(meta, &off))
        json_object_set_new(e, "clock_offset_ms", json_real(off));
    return e;
}

bool cts_meta_clock_offset(const json_t *meta, double *ms)
{
    json_t *v = json_object_get(meta, "clock_offset_ms");
    if (json_is_number(v)) {
        *ms = json_number_value(v);
        return true;
    }
    v = json_object_get(meta, "clock_offset_us");
    if (json_is_number(v)) {
        *ms = json_number_value(v) / 1000.0;
        return true;
    }
    return false;
}

bool cts_clock_latest(json_t *const *recs, size_t n, const char *node, double *offset_ms,
                      double *rtt_ms)
{
    const char *only = NULL;  /* the one node of the file, if it is one */
    bool several = false, mine = false;
    for (size_t i = 0; i < n; i++) {
        const char *nd = json_string_value(json_object_get(recs[i], "node"));
        if (!nd || !json_is_number(json_object_get(recs[i], "offset_ms")))
            continue;
        if (node && !strcmp(nd, node))
            mine = true;
        if (!only)
            only = nd;
        else if (strcmp(only, nd) != 0)
            several = true;
    }
    const char *want = mine ? node : !several ? only : NULL;
    if (!want)
        return false;
    const json_t *best = NULL;
    int64_t best_ts = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const char *nd = json_string_value(json_object_get(recs[i], "node"));
        if (!nd || strcmp(nd, want) != 0 || !json_is_number(json_object_get(recs[i], "offset_ms")))
            continue;
        json_t *ts = json_object_get(recs[i], "ts_ms");
        int64_t t = json_is_integer(ts) ? json_integer_value(ts) : INT64_MIN;
        if (!best || t >= best_ts) {
            best = recs[i];
            best_ts = t;
        }
    }
    *offset_ms = json_number_value(json_object_get(best, "offset_ms"));
    json_t *r = json_object_get(best, "rtt_ms");
    *rtt_ms = json_is_number(r) ? json_number_value(r) : NAN;
    return true;
}

static void indent(struct jbuf *b, int level)
{
    jb_append(b, "\n", 1);
    for (int i = 0; i < level; i++)
        jb_append(b, "  ", 2);
}

static void pretty(struct jbuf *b, const json_t *v, int level)
{
    if (json_is_object(v) && json_object_size(v)) {
        jb_append(b, "{", 1);
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x) {
            if (!first)
                jb_append(b, ",", 1);
            first = false;
            indent(b, level + 1);
            struct jbuf kb;
            jb_init(&kb);
            jb_str(&kb, NULL, k);
            jb_append(b, kb.p, kb.len);
            jb_free(&kb);
            jb_append(b, ": ", 2);
            pretty(b, x, level + 1);
        }
        indent(b, level);
        jb_append(b, "}", 1);
    } else if (json_is_array(v) && json_array_size(v)) {
        jb_append(b, "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i)
                jb_append(b, ",", 1);
            indent(b, level + 1);
            pretty(b, x, level + 1);
        }
        indent(b, level);
        jb_append(b, "]", 1);
    } else {
        /* scalars and empty containers: the one-line writer */
        struct jbuf s;
        jb_init(&s);
        jb_json(&s, NULL, v);
        jb_append(b, s.p, s.len);
        jb_free(&s);
    }
}

void cts_pretty_json(struct jbuf *b, const json_t *v)
{
    pretty(b, v, 0);
}

/* ---- reading CTS samples ---- */

enum sfield { SF_OTHER, SF_TS, SF_PID, SF_DT, SF_CPU, SF_RSS, SF_START, SF_DELAY, SF_BEFORE };

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && !memcmp(key, lit, sizeof(lit) - 1))

static enum sfield sfield_of(const char *key, size_t klen)
{
    if (KEY_IS("ts_ms"))
        return SF_TS;
    if (KEY_IS("pid"))
        return SF_PID;
    if (KEY_IS("dt_ms"))
        return SF_DT;
    if (KEY_IS("cpu_ms"))
        return SF_CPU;
    if (KEY_IS("rss_kb"))
        return SF_RSS;
    if (KEY_IS("start_ticks"))
        return SF_START;
    if (KEY_IS("run_delay_ms"))
        return SF_DELAY;
    if (KEY_IS("cpu_before_ms"))
        return SF_BEFORE;
    return SF_OTHER;
}

#undef KEY_IS

/* jsonl_int's rule: an integer, or an integral real below 2^53. */
static bool as_int(const struct raw_value *v, int64_t *out)
{
    *out = 0;
    if (v->type == RAW_V_INT) {
        *out = v->i;
        return true;
    }
    if (v->type == RAW_V_REAL && isfinite(v->d) && v->d == floor(v->d) && fabs(v->d) < 9007199254740992.0) {
        *out = (int64_t)v->d;
        return true;
    }
    return false;
}

/* jsonl_num's rule: any finite number. */
static bool as_num(const struct raw_value *v, double *out)
{
    *out = 0;
    if (v->type == RAW_V_INT)
        *out = (double)v->i;
    else if (v->type == RAW_V_REAL && isfinite(v->d))
        *out = v->d;
    else
        return false;
    return true;
}

/* One field; both paths end here, so they agree (a later key overwrites). */
static void sample_field(void *ctx, const char *key, size_t klen, const struct raw_value *v)
{
    struct cts_sample *s = ctx;
    switch (sfield_of(key, klen)) {
    case SF_TS:
        s->has_ts = as_int(v, &s->ts_ms);
        s->bad_ts = s->has_ts && !jsonl_ts_valid(s->ts_ms);
        if (s->bad_ts) {
            s->has_ts = false;
            s->ts_ms = 0;
        }
        break;
    case SF_PID: s->has_pid = as_int(v, &s->pid); break;
    case SF_DT: s->has_dt = as_num(v, &s->dt_ms); break;
    case SF_CPU: s->has_cpu = as_num(v, &s->cpu_ms); break;
    case SF_RSS: s->has_rss = as_int(v, &s->rss_kb); break;
    case SF_START: s->has_start = as_int(v, &s->start_ticks); break;
    case SF_DELAY: s->has_delay = as_num(v, &s->delay_ms); break;
    case SF_BEFORE: s->has_before = as_num(v, &s->cpu_before_ms); break;
    case SF_OTHER: break;
    }
}

/* The slow path: a decoded object's fields through sample_field. */
static void sample_from_json(const json_t *o, struct cts_sample *out)
{
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)o, key, x) {
        struct raw_value v = {.type = RAW_V_NULL};
        if (json_is_integer(x)) {
            v.type = RAW_V_INT;
            v.i = json_integer_value(x);
        } else if (json_is_real(x)) {
            v.type = RAW_V_REAL;
            v.d = json_real_value(x);
        } else if (!json_is_null(x)) {
            v.type = RAW_V_BOOL;   /* strings, booleans, objects, arrays: no field takes them */
        }
        sample_field(out, key, strlen(key), &v);
    }
}

bool cts_sample_scan(const char *line, size_t len, struct cts_sample *out)
{
    memset(out, 0, sizeof *out);
    if (raw_scan_flat(line, len, sample_field, out))
        return true;
    memset(out, 0, sizeof *out);
    json_t *o = jsonl_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool ok = json_is_object(o);
    if (ok)
        sample_from_json(o, out);
    json_decref(o);
    return ok;
}

static bool take_sample(const char *line, size_t len, void *ctx)
{
    return cts_sample_scan(line, len, ctx);
}

int cts_sample_next(struct jsonl_reader *r, struct cts_sample *out)
{
    return jsonl_next_with(r, take_sample, out);
}

bool cts_host_busy(const json_t *line, double *busy)
{
    json_t *idle = json_object_get(line, "cpu_idle"), *iow = json_object_get(line, "cpu_iowait");
    json_t *util = json_object_get(line, "cpu_util");
    double b;
    if (json_is_number(idle) && json_is_number(iow))
        b = 1.0 - json_number_value(idle) - json_number_value(iow);
    else if (json_is_number(util))
        b = json_number_value(util) / 100.0;
    else
        return false;
    if (!isfinite(b))
        return false;
    *busy = b < 0 ? 0 : b > 1 ? 1 : b;
    return true;
}
