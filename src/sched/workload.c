/* workload.c -- the dispatcher's task list and pacing (see workload.h). */
#include "sched/workload.h"

#include "common/run.h"
#include "common/util.h"
#include "sched/mix.h"
#include "sched/pyrand.h"
#include "task/profiles.h"
#include "task/task.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void workload_free(struct workload *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->t[i].fields);
    free(w->t);
    for (size_t i = 0; i < w->nnodes; i++)
        free(w->nodes[i]);
    free(w->nodes);
    free(w->mix_counts);
    free(w->mix_skipped_text);
    memset(w, 0, sizeof *w);
}

bool workload_policy_parse(const char *s, enum workload_policy *p)
{
    if (!strcmp(s, "rr3"))
        *p = WORKLOAD_RR3;
    else if (!strcmp(s, "duration-greedy") || !strcmp(s, "lpt-duration"))
        *p = WORKLOAD_GREEDY;
    else if (!strcmp(s, "duration-online") || !strcmp(s, "online-duration"))
        *p = WORKLOAD_ONLINE;
    else
        return false;
    return true;
}

static void add_task(struct workload *w, size_t *cap, char *fields, int node, double dur)
{
    if (w->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        w->t = xrealloc(w->t, *cap * sizeof *w->t);
    }
    w->t[w->n++] = (struct workload_task){fields, node, dur};
}

static int node_index(struct workload *w, const char *name)
{
    for (size_t i = 0; i < w->nnodes; i++)
        if (!strcmp(w->nodes[i], name))
            return (int)i;
    w->nodes = xrealloc(w->nodes, (w->nnodes + 1) * sizeof *w->nodes);
    w->nodes[w->nnodes] = xstrdup(name);
    return (int)w->nnodes++;
}

/* ---- tasks over input files ---- */

/* Path.stem of a path's base name: without its last suffix. */
static char *stem(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    char *s = xmalloc(n + 1);
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

static char *scale_x(const char *scale)
{
    char *s = xstrdup(scale);
    for (char *p = s; *p; p++)
        if (*p == ':')
            *p = 'x';
    return s;
}

/* mix names: aliases of the profile table (light_1c -> light1c) */
static const char *mix_canon(const char *name)
{
    const struct ffmpeg_profile *p = profile_find(name);
    return p && strcmp(p->name, "default") ? p->name : NULL;
}

static char *mix_fields(const struct workload_files *o, size_t idx, const char *name, bool numbered,
                        const char *node)
{
    const struct ffmpeg_profile *prof = profile_for_mix_name(name);
    const struct ffmpeg_params *p = &prof->p;
    const char *in = o->files[idx % o->nfiles];
    char *st = stem(in), *sx = scale_x(p->scale), *base;
    if (numbered)
        base = xasprintf("%s_%s_%s_%s_n%04zu.mp4", st, sx, p->vcodec, p->preset, idx);
    else
        base = xasprintf("%s_%s_%s_%s.mp4", st, sx, p->vcodec, p->preset);
    char *out = path_join(o->outputs, base);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "input", in);
    jb_str(&b, "output", out);
    jb_int(&b, "_seq", (int64_t)idx);
    jb_str(&b, "scale", p->scale);
    jb_str(&b, "vcodec", p->vcodec);
    jb_str(&b, "preset", p->preset);
    jb_int(&b, "crf", p->crf);
    jb_int(&b, "vthreads", p->vthreads);
    jb_int(&b, "fthreads", p->fthreads);
    jb_int(&b, "cpu_units", prof->cpu_units);
    jb_str(&b, "profile", name);
    if (node)
        jb_str(&b, "node", node);
    jb_obj_close(&b);
    char *s = xstrdup(b.p);
    jb_free(&b);
    free(st);
    free(sx);
    free(base);
    free(out);
    return s;
}

static int build_mix(struct workload *w, const struct workload_files *o, char *err, size_t errlen)
{
    struct mix m;
    size_t np;
    const struct ffmpeg_profile *pt = profile_table(&np);
    const char *known[np];
    size_t nk = 0;
    for (size_t i = 0; i < np; i++)
        if (strcmp(pt[i].name, "default"))   /* not a mix name: see mix_canon */
            known[nk++] = pt[i].name;
    struct mix_names names = {.canon = mix_canon, .known = known, .nknown = nk,
                              .lenient = o->allow_unknown};
    if (mix_parse_names(o->mix, &names, &m, err, errlen) < 0)
        return -1;
    w->mix_skipped = m.skipped;
    w->mix_skipped_text = m.skipped_text ? xstrdup(m.skipped_text) : NULL;
    w->mix_duplicates = m.duplicates;
    int64_t *counts = xcalloc(m.n, sizeof *counts);
    size_t cap = 0;
    int rc = -1;
    if (o->total > 0) {
        size_t *seq = mix_sequence(&m, o->total, o->seed, err, errlen);
        if (!seq)
            goto out;
        for (size_t idx = 0; idx < (size_t)o->total; idx++) {
            int node = o->pin ? (int)(idx % o->nnodes) : -1;
            counts[seq[idx]]++;
            add_task(w, &cap,
                     mix_fields(o, idx, m.e[seq[idx]].name, true, node >= 0 ? o->nodes[node] : NULL),
                     node, 0);
        }
        free(seq);
    } else {
        if (mix_weight_sum(&m) <= 0) {
            errf(err, errlen, "every --mix weight is 0 or less: nothing can be drawn");
            goto out;
        }
        struct pyrand r;
        pyrand_seed(&r, o->seed);
        for (size_t idx = 0; idx < o->nfiles; idx++) {
            long k = mix_draw(&m, &r);
            int node = o->pin ? (int)(idx % o->nnodes) : -1;
            counts[k]++;
            add_task(w, &cap,
                     mix_fields(o, idx, m.e[k].name, false, node >= 0 ? o->nodes[node] : NULL),
                     node, 0);
        }
    }
    struct jbuf b;
    jb_init(&b);
    for (size_t i = 0; i < m.n; i++)
        jb_printf(&b, "%s%s=%lld", i ? " " : "", m.e[i].name, (long long)counts[i]);
    w->mix_counts = xstrdup(b.p ? b.p : "");
    jb_free(&b);
    rc = 0;
out:
    free(counts);
    mix_free(&m);
    return rc;
}

static char *plain_fields(const struct workload_files *o, const char *in, const char *node)
{
    char *st = stem(in), *sx = scale_x(o->scale);
    char *base = xasprintf("%s_%s_crf%d.mp4", st, sx, o->crf);
    char *out = path_join(o->outputs, base);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "input", in);
    jb_str(&b, "output", out);
    jb_str(&b, "scale", o->scale);
    jb_str(&b, "preset", o->preset);
    jb_int(&b, "crf", o->crf);
    if (node)
        jb_str(&b, "node", node);
    jb_obj_close(&b);
    char *s = xstrdup(b.p);
    jb_free(&b);
    free(st);
    free(sx);
    free(base);
    free(out);
    return s;
}

static const double *sort_dur;

/* longest first, equal durations in file order */
static int cmp_dur_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (sort_dur[x] != sort_dur[y])
        return sort_dur[x] > sort_dur[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

int workload_from_files(struct workload *w, const struct workload_files *o, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (o->nnodes == 0)
        return errf(err, errlen, "no nodes given (--nodes a,b,c)");
    if (o->nfiles == 0)
        return errf(err, errlen, "no input files");
    bool mix = o->mix && *o->mix;
    if (!mix && o->policy != WORKLOAD_RR3 && !o->durations)
        return errf(err, errlen, "duration policies need the files' durations");
    for (size_t i = 0; i < o->nnodes; i++)
        node_index(w, o->nodes[i]);
    if (mix) {
        if (build_mix(w, o, err, errlen) < 0) {
            workload_free(w);
            return -1;
        }
        return 0;
    }
    size_t *order = xmalloc(o->nfiles * sizeof *order);
    for (size_t i = 0; i < o->nfiles; i++)
        order[i] = i;
    double *acc = NULL;
    if (o->policy != WORKLOAD_RR3) {
        sort_dur = o->durations;
        qsort(order, o->nfiles, sizeof *order, cmp_dur_desc);
        acc = xcalloc(o->nnodes, sizeof *acc);
    }
    size_t cap = 0;
    for (size_t k = 0; k < o->nfiles; k++) {
        size_t f = order[k];
        double dur = o->durations ? o->durations[f] : 0;
        int node = -1;
        if (o->policy == WORKLOAD_RR3) {
            node = (int)(f % o->nnodes);
        } else if (o->policy == WORKLOAD_GREEDY) {
            node = 0;
            for (size_t i = 1; i < o->nnodes; i++)
                if (acc[i] < acc[node])
                    node = (int)i;
            acc[node] += dur;
        }
        if (!o->pin)
            node = -1;
        add_task(w, &cap, plain_fields(o, o->files[f], node >= 0 ? o->nodes[node] : NULL), node,
                 dur);
    }
    free(acc);
    free(order);
    return 0;
}

/* ---- generic tasks ---- */

int workload_split_words(const char *s, char ***argv, size_t *argc, char *err, size_t errlen)
{
    size_t n = 0, cap = 8, len = 0;
    char **v = xmalloc(cap * sizeof *v);
    char *word = xmalloc(strlen(s) + 1);
    bool in_word = false;
    const char *p = s;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                word[len] = '\0';
                if (n + 2 > cap)
                    v = xrealloc(v, (cap *= 2) * sizeof *v);
                v[n++] = xstrdup(word);
                len = 0;
                in_word = false;
            }
            p++;
            continue;
        }
        in_word = true;
        if (c == '\\') {
            if (!p[1]) {
                errf(err, errlen, "trailing backslash at the end of '%s'", s);
                goto bad;
            }
            if (p[1] != '\n') /* backslash-newline: a continuation */
                word[len++] = p[1];
            p += 2;
        } else if (c == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (!q) {
                errf(err, errlen, "unbalanced single quote (at offset %zu) in '%s'",
                     (size_t)(p - s), s);
                goto bad;
            }
            memcpy(word + len, p + 1, (size_t)(q - p - 1));
            len += (size_t)(q - p - 1);
            p = q + 1;
        } else if (c == '"') {
            const char *start = p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                    if (p[1] != '\n')
                        word[len++] = p[1];
                    p += 2;
                } else {
                    word[len++] = *p++;
                }
            }
            if (!*p) {
                errf(err, errlen, "unbalanced double quote (at offset %zu) in '%s'",
                     (size_t)(start - s), s);
                goto bad;
            }
            p++;
        } else {
            word[len++] = c;
            p++;
        }
    }
    if (in_word) {
        word[len] = '\0';
        v[n++] = xstrdup(word);
    }
    free(word);
    if (n == 0) {
        free(v);
        return errf(err, errlen, "no command: '%s' has no words", s);
    }
    v[n] = NULL;
    *argv = v;
    *argc = n;
    return 0;
bad:
    free(word);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return -1;
}

int workload_from_command(struct workload *w, const char *command, int64_t total, int64_t cpu_units,
                    int64_t mem_mb, const char *app, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    char **argv;
    size_t argc;
    if (workload_split_words(command, &argv, &argc, err, errlen) < 0)
        return -1;
    if (total < 1)
        total = 1;
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_arr_open(&b, "argv");
    for (size_t i = 0; i < argc; i++)
        jb_str(&b, NULL, argv[i]);
    jb_arr_close(&b);
    jb_int(&b, "cpu_units", cpu_units);
    if (mem_mb > 0)
        jb_int(&b, "mem_mb", mem_mb);
    if (app)
        jb_str(&b, "app", app);
    jb_obj_close(&b);
    size_t cap = 0;
    for (int64_t i = 0; i < total; i++)
        add_task(w, &cap, xstrdup(b.p), -1, 0);
    jb_free(&b);
    argv_free(argv);
    return 0;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Check one parsed line; fills *node_name.  0 or -1 with err. */
static int check_line(json_t *o, const char **node_name, char *err, size_t errlen)
{
    static const char *reserved[] = {"task_id", "ts_enqueue", "attempt"};
    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (json_object_get(o, reserved[i]))
            return errf(err, errlen, "\"%s\" is set by the dispatcher; remove it", reserved[i]);
    json_t *a = json_object_get(o, "argv");
    if (!a)
        return errf(err, errlen, "no \"argv\" (the command, a non-empty array of strings)");
    if (!json_is_array(a) || json_array_size(a) == 0)
        return errf(err, errlen, "\"argv\" must be a non-empty array of strings, got %s",
                    json_is_array(a) ? "an empty array" : type_name(a));
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (!json_is_string(x))
            return errf(err, errlen, "\"argv\" element %zu is %s, expected a string", i,
                        type_name(x));
    }
    if (!*json_string_value(json_array_get(a, 0)))
        return errf(err, errlen, "\"argv\" starts with an empty string (no program)");
    static const char *counts[] = {"cpu_units", "mem_mb"};
    for (size_t k = 0; k < ARRAY_LEN(counts); k++) {
        json_t *v = json_object_get(o, counts[k]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
            return errf(err, errlen, "\"%s\" must be an integer >= 0, got %s", counts[k],
                        json_is_integer(v) ? "a negative integer" : type_name(v));
    }
    static const char *names[] = {"app", "node"};
    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        json_t *v = json_object_get(o, names[k]);
        if (v && (!json_is_string(v) || !run_id_valid(json_string_value(v))))
            return errf(err, errlen,
                        "\"%s\" must be a name of " RUN_ID_RULE " (got %s)",
                        names[k], json_is_string(v) ? json_string_value(v) : type_name(v));
    }
    json_t *t = json_object_get(o, "trace_id");
    /* The worker's rule (task_trace_id_valid): a file dispatch accepts must
     * not hold tasks every worker refuses. */
    if (t && (!json_is_string(t) || json_string_length(t) != strlen(json_string_value(t)) ||
              !task_trace_id_valid(json_string_value(t))))
        return errf(err, errlen, "\"trace_id\" must be 1-128 printable characters without "
                                 "blanks");
    json_t *n = json_object_get(o, "node");
    *node_name = n ? json_string_value(n) : NULL;
    return 0;
}

int workload_from_jsonl(struct workload *w, const char *buf, size_t len, int64_t def_cpu,
                  int64_t def_mem, const char *def_app, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    size_t cap = 0, lineno = 0;
    char why[400];
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t';
        if (!blank) {
            json_error_t je;
            json_t *o = n > WORKLOAD_LINE_MAX ? NULL
                                              : jsonl_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
            const char *node = NULL;
            int bad = 0;
            if (n > WORKLOAD_LINE_MAX) {
                bad = snprintf(why, sizeof why, "%zu bytes, more than the %d a task line may "
                               "hold", n, WORKLOAD_LINE_MAX);
            } else if (!o && jsonl_text_depth(p, n, JSONL_MAX_DEPTH) > JSONL_MAX_DEPTH) {
                bad = snprintf(why, sizeof why, "nested deeper than %d levels (the limit for "
                               "a task line)", JSONL_MAX_DEPTH);
            } else if (!o) {
                bad = snprintf(why, sizeof why, "not valid JSON (%s, column %d)", je.text,
                               je.column);
            } else if (!json_is_object(o)) {
                bad = snprintf(why, sizeof why, "expected a JSON object, got %s", type_name(o));
            } else if (check_line(o, &node, why, sizeof why) < 0) {
                bad = 1;
            }
            if (bad) {
                json_decref(o);
                workload_free(w);
                return errf(err, errlen, "line %zu: %s", lineno, why);
            }
            struct jbuf b;
            jb_init(&b);
            jb_obj_open(&b, NULL);
            const char *k;
            json_t *v;
            json_object_foreach(o, k, v)
                jb_json(&b, k, v);  /* cannot be cut: JSONL_MAX_DEPTH < JB_MAX_DEPTH */
            if (!json_object_get(o, "cpu_units"))
                jb_int(&b, "cpu_units", def_cpu);
            if (!json_object_get(o, "mem_mb") && def_mem > 0)
                jb_int(&b, "mem_mb", def_mem);
            if (!json_object_get(o, "app") && def_app)
                jb_str(&b, "app", def_app);
            jb_obj_close(&b);
            add_task(w, &cap, xstrdup(b.p), node ? node_index(w, node) : -1, 0);
            jb_free(&b);
            json_decref(o);
        }
        p = nl ? nl + 1 : end;
    }
    if (w->n == 0) {
        workload_free(w);
        return errf(err, errlen, "no tasks (%zu blank line%s)", lineno, lineno == 1 ? "" : "s");
    }
    return 0;
}

/* ---- bodies ---- */

static char *reemit(json_t *o)
{
    struct jbuf b;
    jb_init(&b);
    jb_json(&b, NULL, o);
    char *s = xstrdup(b.p);
    jb_free(&b);
    return s;
}

char *workload_with_node(const char *fields, const char *node)
{
    json_t *o = jsonl_loads(fields, 0, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "node", json_string(node));
    char *s = reemit(o);
    json_decref(o);
    return s;
}

char *workload_enqueue_fields(const char *fields, const char *trace_id, int64_t ts_enqueue)
{
    json_t *o = jsonl_loads(fields, 0, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    if (!json_object_get(o, "trace_id") && trace_id)
        json_object_set_new(o, "trace_id", json_string(trace_id));
    if (ts_enqueue >= 0)
        json_object_set_new(o, "ts_enqueue", json_integer(ts_enqueue));
    char *s = reemit(o);
    json_decref(o);
    return s;
}

char *workload_release(const struct workload *w, size_t task, int node, const char *trace_id,
                       int64_t ts_enqueue)
{
    const struct workload_task *t = &w->t[task];
    char *pinned = node >= 0 && t->node < 0 ? workload_with_node(t->fields, w->nodes[node]) : NULL;
    char *s = workload_enqueue_fields(pinned ? pinned : t->fields, trace_id, ts_enqueue);
    free(pinned);
    return s;
}

/* The same layout as rq's prepare_task. */
int workload_body(struct jbuf *b, int64_t task_id, const char *fields)
{
    json_t *o = jsonl_loads(fields, 0, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    jb_obj_open(b, NULL);
    jb_int(b, "task_id", task_id);
    jb_str(b, "trace_id", json_string_value(json_object_get(o, "trace_id")));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "task_id") && strcmp(k, "trace_id") && strcmp(k, "ts_enqueue") &&
            strcmp(k, "attempt"))
            jb_json(b, k, v);
    }
    jb_int(b, "ts_enqueue", json_integer_value(json_object_get(o, "ts_enqueue")));
    jb_obj_close(b);
    json_decref(o);
    return 0;
}
