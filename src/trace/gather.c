/* gather.c -- finding the nodes' runs, naming them, and copying them into
 * one experiment folder (see gather.h). */
#include "trace/gather.h"
#include "common/fstree.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/redisurl.h"
#include "common/run.h"
#include "common/util.h"
#include "trace/cts.h"
#include "trace/layout.h"
#include "trace/parse_run.h"
#include "trace/ship.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- where a node's run is ---- */

char **gather_find_runs(const char *from, const char *run_id, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!is_dir(from)) {
        snprintf(err, errlen, "'%s' is not a folder", from);
        return NULL;
    }
    if (layout_is_run_dir(from))
        return layout_run_dirs(from, n);   /* itself */
    char **list = NULL;
    if (run_id) {
        const char *subs[] = {"", "logs/"};
        for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
            char *rel = xasprintf("%s%s", subs[i], run_id);
            char *p = path_join(from, rel);
            free(rel);
            if (layout_is_run_dir(p)) {
                list = layout_run_dirs(p, n);
                free(p);
                return list;
            }
            free(p);
        }
        if ((list = layout_node_dirs(from, run_id, n)))
            return list;
    }
    if ((list = layout_node_dirs(from, NULL, n)))
        return list;
    snprintf(err, errlen,
             "no run folder in '%s': expected node_meta.json or raw files there, or %s%s%s%s, "
             "or node sub-folders",
             from, run_id ? "a sub-folder " : "", run_id ? run_id : "",
             run_id ? ", logs/" : "", run_id ? run_id : "");
    return NULL;
}

/* ---- names (pure) ---- */

char *gather_safe_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 100)
        n = 100;
    char *out = xmalloc(n + 5);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '(' || c == ')' || c == '+';
        out[i] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "node");
    else if (out[0] == '.')
        out[0] = '_';  /* no hidden folders, no "." or ".." */
    return out;
}

struct slot {
    struct gather_name *node;
    char *base;
};

static int str0cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_slot(const void *pa, const void *pb)
{
    const struct slot *a = pa, *b = pb;
    int c = strcmp(a->base, b->base);
    if (!c)
        c = str0cmp(a->node->host, b->node->host);
    if (!c)
        c = str0cmp(a->node->source, b->node->source);
    return c;
}

static const char *base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

void gather_assign_names(struct gather_name *nodes, size_t n)
{
    struct slot *s = xcalloc(n ? n : 1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        s[i].node = &nodes[i];
        const char *id = nodes[i].node_id && *nodes[i].node_id ? nodes[i].node_id
                                                                : base_name(nodes[i].source);
        s[i].base = gather_safe_name(id);
    }
    qsort(s, n, sizeof *s, cmp_slot);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(s[j].base, s[i].base))
            j++;
        bool hosts_distinct = j - i > 1;
        for (size_t k = i; k < j && hosts_distinct; k++)
            if (!s[k].node->host || !*s[k].node->host ||
                (k > i && !str0cmp(s[k].node->host, s[k - 1].node->host)))
                hosts_distinct = false;  /* sorted, so equal hosts are adjacent */
        for (size_t k = i; k < j; k++) {
            if (j - i == 1) {
                s[k].node->name = xstrdup(s[k].base);
            } else if (hosts_distinct) {
                char *h = gather_safe_name(s[k].node->host);
                s[k].node->name = xasprintf("%s-%s", s[k].base, h);
                free(h);
            } else {
                s[k].node->name = xasprintf("%s-%zu", s[k].base, k - i + 1);
            }
        }
        i = j;
    }
    /* A made-up name ("n-1") can still equal another node's real id: the
     * real id keeps it, the made-up one numbers on. */
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s[i].node->name, s[i].base))
            continue;
        char *orig = xstrdup(s[i].node->name);
        for (unsigned sfx = 2;; sfx++) {
            bool clash = false;
            for (size_t m = 0; m < n && !clash; m++) {
                bool settled = !strcmp(s[m].node->name, s[m].base) || m < i;
                clash = m != i && settled && !strcmp(s[m].node->name, s[i].node->name);
            }
            if (!clash)
                break;
            free(s[i].node->name);
            s[i].node->name = xasprintf("%s-%u", orig, sfx);
        }
        free(orig);
    }
    for (size_t i = 0; i < n; i++)
        free(s[i].base);
    free(s);
}

/* ---- the nodes of one gather ---- */

struct node {
    char *source;       /* real path of the node's run folder (for Redis: the download) */
    char *shipped;      /* Redis: "URL (redacted) node N"; NULL for --from */
    json_t *meta;
    bool has_offset;
    double offset_ms;
    bool reparsed;
    size_t files;
};

enum { NCTL = 4 };
static const char *const ctl_names[NCTL] = {SHIP_CONTROLLER_FILES};

struct gather {
    const struct gather_opts *o;
    char *ctl[NCTL];    /* where each controller record comes from (malloc'd), or NULL */
    char *ctl_desc[NCTL];
    char *out_real;     /* the experiment folder's real path */
    bool created;       /* ... made by this gather */
    struct node *nodes;
    size_t nn, cap;
    struct gather_name *names;
    char *staging;      /* downloads from Redis, inside the experiment */
    size_t refused;     /* nodes from Redis refused or failed */
    struct ship *q;
};

/* Transient things a run folder may hold: sentinels and half-written CTS. */
static bool skip_entry(const char *rel)
{
    return !strcmp(rel, "pids") || str_starts(rel, "CTS.tmp.") || str_starts(rel, "CTS.old.");
}

/* Is `inner` the folder `outer` or below it (both real paths)? */
static bool within(const char *inner, const char *outer)
{
    size_t n = strlen(outer);
    return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/' || !strcmp(outer, "/"));
}

static json_t *load_meta(const char *dir)
{
    char *p = path_join(dir, "node_meta.json");
    json_t *m = file_exists(p) ? jsonl_load_file(p, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    if (m && !json_is_object(m)) {
        json_decref(m);
        m = NULL;
    }
    free(p);
    return m;
}

static const char *str_of(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static bool same_content(const char *a, const char *b)
{
    size_t la, lb;
    char *da = read_file(a, &la), *db = read_file(b, &lb);
    bool same = da && db && la == lb && !memcmp(da, db, la);
    free(da);
    free(db);
    return same;
}

/* The controller's records dir holds, noted as the ones to put at the top
 * of the experiment (the first of each name wins; a second is said).
 * desc says where dir is from (a path, or Redis).  Returns how many it has. */
static int note_controller(struct gather *g, const char *dir, const char *desc)
{
    int found = 0;
    for (size_t i = 0; i < NCTL; i++) {
        char *p = path_join(dir, ctl_names[i]);
        struct stat sb;
        if (lstat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            free(p);
            continue;
        }
        found++;
        if (g->ctl[i]) {
            if (strcmp(g->ctl[i], p) != 0 && !same_content(g->ctl[i], p))
                log_warn("%s is also in %s: the one from %s is kept", ctl_names[i], desc,
                         g->ctl_desc[i]);
            free(p);
            continue;
        }
        g->ctl[i] = p;
        g->ctl_desc[i] = xstrdup(desc);
    }
    return found;
}

/* The folder of --from that holds the controller's records of the run:
 * FROM, FROM/RUN_ID or FROM/logs/RUN_ID (malloc'd), or NULL. */
static char *controller_dir(const char *from, const char *run_id)
{
    const char *subs[] = {"", "", "logs/"};
    for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
        char *p = i == 0 ? xstrdup(from) : xasprintf("%s/%s%s", from, subs[i], run_id);
        for (size_t k = 0; k < NCTL; k++) {
            char *f = path_join(p, ctl_names[k]);
            bool yes = file_exists(f);
            free(f);
            if (yes)
                return p;
        }
        free(p);
    }
    return NULL;
}

/* A node whose run is at source (taken, malloc'd); shipped likewise or NULL. */
static struct node *add_node(struct gather *g, char *source, char *shipped)
{
    ARRAY_GROW(g->nodes, g->nn + 1, g->cap, 8);
    struct node *n = &g->nodes[g->nn++];
    memset(n, 0, sizeof *n);
    n->source = source;
    n->shipped = shipped;
    n->meta = load_meta(source);
    n->has_offset = n->meta && cts_meta_clock_offset(n->meta, &n->offset_ms);
    return n;
}

/* The runs one --from folder names.  0, or -1 (said). */
static int add_from(struct gather *g, const char *from)
{
    char err[1024];
    size_t k;
    /* the controller's folder: its records, and a node only if it is one too */
    char *ctl = is_dir(from) ? controller_dir(from, g->o->run_id) : NULL;
    if (ctl && !layout_is_run_dir(ctl)) {
        char *real = realpath(ctl, NULL);
        note_controller(g, real ? real : ctl, real ? real : ctl);
        if (g->o->out)
            fprintf(g->o->out, "[gather] the controller's records <- %s\n", real ? real : ctl);
        free(real);
        free(ctl);
        return 0;
    }
    free(ctl);
    char **runs = gather_find_runs(from, g->o->run_id, &k, err, sizeof err);
    if (!runs) {
        log_error("--from %s", err);
        return -1;
    }
    int rc = 0;
    for (size_t j = 0; j < k && rc == 0; j++) {
        char *real = realpath(runs[j], NULL);
        if (!real) {
            log_error("%s: %s", runs[j], strerror(errno));
            rc = -1;
        } else if (within(real, g->out_real) || within(g->out_real, real)) {
            log_error("%s and the experiment folder %s overlap: give a separate --output",
                      runs[j], g->o->output);
            if (g->created)
                rmdir(g->out_real);  /* leave the source as it was */
            free(real);
            rc = -1;
        } else {
            bool dup = false;
            for (size_t m = 0; m < g->nn && !dup; m++)
                dup = !strcmp(g->nodes[m].source, real);
            if (dup) {
                log_warn("%s named twice; copied once", runs[j]);
                free(real);
                continue;
            }
            note_controller(g, real, real);
            const char *mrun = str_of(add_node(g, real, NULL)->meta, "run_id");
            if (mrun && strcmp(mrun, g->o->run_id) != 0)
                log_warn("%s: node_meta.json says run %s, not %s", real, mrun, g->o->run_id);
        }
    }
    layout_free_list(runs);
    return rc;
}

/* Download every node that shipped the run into a private folder of the
 * experiment, named by its index (never by what Redis says); the usual copy
 * then puts each in place, so a failed download never replaces a node.  A
 * node whose name or manifest is refused, or whose download fails, is said
 * and counted in g->refused; the others go on.  0, or -1 (said) when the
 * staging folder cannot be made. */
static int download_nodes(struct gather *g, const char *desc, char **shipped, size_t ns)
{
    char err[1024];
    fstree_clean_stale(g->out_real, ".redis.tmp.");
    g->staging = xasprintf("%s/.redis.tmp.%d", g->out_real, (int)getpid());
    fstree_rm_rf(g->staging);
    if (mkdir_p(g->staging, 0700) < 0) {
        log_error("cannot create %s: %s", g->staging, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < ns; i++) {
        if (!run_id_valid(shipped[i])) {
            log_error("refusing node '%.200s' listed in Redis at %s: not a valid node name "
                      "(expected " RUN_ID_RULE ")",
                      shipped[i], desc);
            g->refused++;
            continue;
        }
        char *dst = xasprintf("%s/%zu", g->staging, i);
        struct ship_stats st;
        int64_t t0 = now_mono_ns();
        if (ship_download(g->q, shipped[i], dst, &st, err, sizeof err) < 0) {
            log_error("downloading from Redis at %s: %s; node skipped", desc, err);
            fstree_rm_rf(dst);
            free(dst);
            g->refused++;
            continue;
        }
        if (g->o->out)
            fprintf(g->o->out,
                    "[gather] downloaded node %s from Redis: %zu file(s), %llu byte(s), "
                    "checksums ok, %.2f s\n",
                    shipped[i], st.files, (unsigned long long)st.bytes,
                    (double)(now_mono_ns() - t0) / 1e9);
        char *from = xasprintf("%s node %s", desc, shipped[i]);
        note_controller(g, dst, from);
        char *cts = path_join(dst, "CTS");
        rmdir(cts);  /* made by every download; empty for the controller's records alone */
        free(cts);
        if (layout_is_run_dir(dst)) {
            add_node(g, dst, from);
        } else {  /* the controller's records only (dispatch --wait) */
            if (g->o->out)
                fprintf(g->o->out, "[gather] the controller's records <- %s\n", from);
            free(dst);
            free(from);
        }
    }
    return 0;
}

static int add_shipped(struct gather *g)
{
    char err[1024];
    g->q = ship_connect(g->o->redis, g->o->run_id, err, sizeof err);
    if (!g->q) {
        log_error("%s", err);
        return -1;
    }
    char *desc = redisurl_describe(g->o->redis);
    char **shipped = NULL;
    size_t ns = 0;
    int rc = -1;
    if (ship_list(g->q, &shipped, &ns, err, sizeof err) < 0)
        log_error("%s", err);
    else if (ns == 0)
        log_error("no node shipped run %s to Redis at %s (run 'tracekit parse --ship' on "
                  "the nodes, with the same run id and Redis)",
                  g->o->run_id, desc);
    else if ((rc = download_nodes(g, desc, shipped, ns)) == 0 && g->refused == ns)
        rc = -1;  /* nothing to gather: said node by node */
    for (size_t i = 0; i < ns; i++)
        free(shipped[i]);
    free(shipped);
    free(desc);
    return rc;
}

/* ---- staging one node ---- */

/* Parse a copied node folder in place (raw files but no CTS/).  0 or -1 (said). */
static int parse_in_place(struct gather *g, struct node *n, const char *final, const char *name)
{
    struct parse_opts po = {
        .run_dir = final,
        .run_id = g->o->run_id,
        .node_default = name,
        .stage_default = "cloud",
    };
    audit_limits_default(&po.limits);
    /* The same progress line as `tracekit parse` ("parse NODE: ..."). */
    char label[300];
    snprintf(label, sizeof label, "parse %s", name);
    po.progress = progress_begin(label, g->o->out == NULL);
    struct parse_result pr;
    char perr[1024];
    int rc = parse_run(&po, &pr, perr, sizeof perr);
    progress_end(po.progress);
    if (rc < 0) {
        log_error("parsing %s: %s", final, perr);
        rc = -1;
    } else {
        rc = 0;
        n->reparsed = true;
        if (g->o->out)
            fprintf(g->o->out,
                    "[gather]   parsed: %llu task(s), %llu record(s), %zu without samples -> %s\n",
                    (unsigned long long)pr.events, (unsigned long long)pr.records, pr.unsampled,
                    pr.cts_dir);
    }
    parse_result_free(&pr);
    return rc;
}

/* The clock offset parse worked out for the node (CTS/nodes.json: the
 * worker's measurement against the Redis clock from clock.jsonl, else
 * node_meta's), which node_meta alone lacks for a Redis run. */
static void offset_from_cts(struct node *n, const char *final)
{
    char *p = path_join(final, "CTS/nodes.json");
    json_t *a = file_exists(p) ? jsonl_load_file(p, 0, NULL) : NULL;
    free(p);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        json_t *v = json_object_get(e, "clock_offset_ms");
        if (json_is_number(v) && isfinite(json_number_value(v))) {
            n->offset_ms = json_number_value(v);
            n->has_offset = true;
            break;
        }
    }
    json_decref(a);
}

/* Copy a node's run to OUT/.NAME.tmp.PID, swap it in as OUT/NAME, and
 * parse it there if it has no CTS/.  0 or -1 (said). */
static int stage_node(struct gather *g, struct node *n, const char *name)
{
    char *final = path_join(g->out_real, name);
    char *prefix = xasprintf(".%s.tmp.", name);
    fstree_clean_stale(g->out_real, prefix);
    char *tmp = xasprintf("%s/%s%d", g->out_real, prefix, (int)getpid());
    free(prefix);
    fstree_rm_rf(tmp);
    int rc = -1;
    char err[PATH_MAX + 64];
    if (fstree_copy(n->source, tmp, skip_entry, &n->files, err, sizeof err) < 0) {
        log_error("copying %s to %s failed at %s: %s", n->source, final, err, strerror(errno));
        fstree_rm_rf(tmp);
    } else if (fstree_sync_dir(tmp) < 0 || fstree_replace(tmp, final) < 0) {
        log_error("cannot put %s in place of %s: %s", tmp, final, strerror(errno));
        fstree_rm_rf(tmp);
    } else {
        char *cts = path_join(final, "CTS");
        bool need_parse = !is_dir(cts) && layout_has_raw(final);
        free(cts);
        rc = need_parse ? parse_in_place(g, n, final, name) : 0;
        if (rc == 0)
            offset_from_cts(n, final);
    }
    free(tmp);
    free(final);
    return rc;
}

/* ---- gather.json: what came from where, and the clocks ---- */

static int write_manifest(struct gather *g)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "run_id", g->o->run_id);
    jb_arr_open(&b, "nodes");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < g->nn; i++) {
        const struct node *n = &g->nodes[i];
        jb_obj_open(&b, NULL);
        jb_str(&b, "folder", g->names[i].name);
        jb_str(&b, "node_id", g->names[i].node_id);
        jb_str(&b, "host", g->names[i].host);
        jb_str(&b, "source", n->shipped ? n->shipped : n->source);
        jb_str(&b, "via", n->shipped ? "redis" : "folder");
        jb_uint(&b, "files", n->files);
        jb_bool(&b, "parsed_here", n->reparsed);
        if (n->has_offset) {
            cts_put_ms(&b, "clock_offset_ms", n->offset_ms);
            lo = fmin(lo, n->offset_ms);
            hi = fmax(hi, n->offset_ms);
        } else {
            jb_null(&b, "clock_offset_ms");
        }
        jb_obj_close(&b);
    }
    jb_arr_close(&b);
    jb_obj_open(&b, "controller");   /* each record: where it came from, or null */
    for (size_t i = 0; i < NCTL; i++) {
        if (g->ctl[i])
            jb_str(&b, ctl_names[i], g->ctl_desc[i]);
        else
            jb_null(&b, ctl_names[i]);
    }
    jb_obj_close(&b);
    if (hi >= lo)
        cts_put_ms(&b, "clock_offset_spread_ms", hi - lo);
    else
        jb_null(&b, "clock_offset_spread_ms");
    jb_obj_close(&b);
    jb_newline(&b);
    char *manifest = path_join(g->out_real, "gather.json");
    int rc = write_file_atomic(manifest, b.p, b.len);
    if (rc < 0)
        log_error("cannot write %s: %s", manifest, strerror(errno));
    if (g->o->out) {
        if (hi >= lo)
            fprintf(g->o->out, "[gather] clock offsets recorded by the nodes differ by up to %.3f ms\n",
                    hi - lo);
        fprintf(g->o->out, "[gather] %zu node(s) in %s (see gather.json)\n", g->nn, g->o->output);
    }
    free(manifest);
    jb_free(&b);
    return rc;
}

/* The controller's records to the top of the experiment folder.  0 or -1 (said). */
static int put_controller(struct gather *g)
{
    int rc = 0;
    for (size_t i = 0; i < NCTL; i++) {
        if (!g->ctl[i])
            continue;
        size_t len;
        char *data = read_file(g->ctl[i], &len);
        char *dst = path_join(g->out_real, ctl_names[i]);
        if (!data || write_file_atomic(dst, data, len) < 0) {
            log_error("cannot copy %s to %s: %s", g->ctl[i], dst, strerror(errno));
            rc = -1;
        } else if (g->o->out) {
            fprintf(g->o->out, "[gather] %s <- %s\n", ctl_names[i], g->ctl_desc[i]);
        }
        free(data);
        free(dst);
    }
    return rc;
}

/* Name every node, copy each into place, write gather.json.  0 or -1. */
static int stage_all(struct gather *g)
{
    g->names = xcalloc(g->nn ? g->nn : 1, sizeof *g->names);
    for (size_t i = 0; i < g->nn; i++) {
        g->names[i].node_id = str_of(g->nodes[i].meta, "node");
        g->names[i].host = str_of(g->nodes[i].meta, "host");
        g->names[i].source = g->nodes[i].source;
    }
    gather_assign_names(g->names, g->nn);
    int rc = 0;
    for (size_t i = 0; i < g->nn; i++) {
        const struct node *n = &g->nodes[i];
        if (g->o->out)
            fprintf(g->o->out, "[gather] %s <- %s\n", g->names[i].name,
                    n->shipped ? n->shipped : n->source);
        if (stage_node(g, &g->nodes[i], g->names[i].name) < 0)
            rc = -1;
    }
    if (put_controller(g) < 0)
        rc = -1;
    if (write_manifest(g) < 0)
        rc = -1;
    return rc;
}

static void gather_free(struct gather *g)
{
    for (size_t i = 0; i < NCTL; i++) {
        free(g->ctl[i]);
        free(g->ctl_desc[i]);
    }
    for (size_t i = 0; i < g->nn; i++) {
        free(g->nodes[i].source);
        free(g->nodes[i].shipped);
        json_decref(g->nodes[i].meta);
        if (g->names)
            free(g->names[i].name);
    }
    free(g->nodes);
    free(g->names);
    if (g->staging)
        fstree_rm_rf(g->staging);
    free(g->staging);
    if (g->q)
        ship_close(g->q);
    free(g->out_real);
}

int gather_run(const struct gather_opts *o, struct gather_result *r)
{
    memset(r, 0, sizeof *r);
    struct gather g = {.o = o, .created = !is_dir(o->output)};
    int rc = -1;
    if (mkdir_p(o->output, TK_DIR_MODE) < 0 || !(g.out_real = realpath(o->output, NULL))) {
        log_error("cannot create the experiment folder %s: %s", o->output, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < o->nfrom; i++)
        if (add_from(&g, o->from[i]) < 0)
            goto done;
    if (o->redis && add_shipped(&g) < 0)
        goto done;
    if (g.nn == 0) {
        log_error("only the controller's records were found for run %s: give the nodes' run "
                  "folders too (--from), or --redis where they shipped them", o->run_id);
        goto done;
    }
    rc = stage_all(&g);
    r->nodes = g.nn;
    r->refused = g.refused;
    if (g.refused) {
        log_error("%zu node(s) from Redis refused or not downloaded (see above); the %zu "
                  "other(s) are in %s", g.refused, g.nn, o->output);
        rc = -1;
    }
done:
    gather_free(&g);
    return rc;
}
