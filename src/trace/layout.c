/* layout.c -- finding run folders, CTS folders and node folders (see layout.h). */
#include "trace/layout.h"
#include "common/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_file(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    bool ok = file_exists(p);
    free(p);
    return ok;
}

static bool has_dir(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    bool ok = is_dir(p);
    free(p);
    return ok;
}

/* events.APP.jsonl: "events." + something + ".jsonl" (not events.jsonl). */
bool layout_is_event_file(const char *n)
{
    size_t l = strlen(n);
    return l > strlen("events..jsonl") && str_starts(n, "events.") &&
           !strcmp(n + l - 6, ".jsonl");
}

static bool has_event_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        found = layout_is_event_file(e->d_name);
    closedir(d);
    return found;
}

bool layout_has_raw(const char *dir)
{
    return has_file(dir, "proc_metrics.jsonl") || has_file(dir, "events.jsonl") ||
           has_file(dir, "host_metrics.jsonl") || has_event_files(dir);
}

bool layout_is_run_dir(const char *dir)
{
    return is_dir(dir) && (has_file(dir, "node_meta.json") || layout_has_raw(dir) ||
                           has_dir(dir, "CTS") || has_dir(dir, "cctf"));
}

char *layout_cts_dir(const char *run_dir)
{
    static const char *const names[] = {"CTS", "cctf"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *p = path_join(run_dir, names[i]);
        if (is_dir(p))
            return p;
        free(p);
    }
    return NULL;
}

/* "PREFIX(cN)": the number N, or -1. */
static long cn_number(const char *name, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    if (prefix && strncmp(name, prefix, pl) != 0)
        return -1;
    const char *p = prefix ? name + pl : strrchr(name, '(');
    if (!p || strncmp(p, "(c", 2) != 0)
        return -1;
    char *end;
    long n = strtol(p + 2, &end, 10);
    if (end == p + 2 || strcmp(end, ")") != 0 || n < 0)
        return -1;
    return n;
}

static int cmp_node_dir(const void *pa, const void *pb)
{
    const char *a = strrchr(*(char *const *)pa, '/') + 1, *b = strrchr(*(char *const *)pb, '/') + 1;
    long na = cn_number(a, NULL), nb = cn_number(b, NULL);
    if (na >= 0 && nb >= 0) {
        /* same prefix: by number, so c10 comes after c9 */
        size_t la = (size_t)(strrchr(a, '(') - a), lb = (size_t)(strrchr(b, '(') - b);
        if (la == lb && !strncmp(a, b, la) && na != nb)
            return na < nb ? -1 : 1;
    }
    return strcmp(a, b);
}

char **layout_node_dirs(const char *dir, const char *run_id, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 8;
    char **list = xcalloc(cap, sizeof *list);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = path_join(dir, e->d_name);
        bool ok = run_id ? cn_number(e->d_name, run_id) >= 0 && is_dir(p) : layout_is_run_dir(p);
        if (!ok) {
            free(p);
            continue;
        }
        if (*n + 1 >= cap) {
            cap *= 2;
            list = xrealloc(list, cap * sizeof *list);
        }
        list[(*n)++] = p;
    }
    closedir(d);
    list[*n] = NULL;
    if (*n == 0) {
        free(list);
        return NULL;
    }
    qsort(list, *n, sizeof *list, cmp_node_dir);
    return list;
}

void layout_free_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

static char **single(const char *path, size_t *n)
{
    char **list = xcalloc(2, sizeof *list);
    list[0] = xstrdup(path);
    *n = 1;
    return list;
}

char **layout_find_runs(const char *from, const char *run_id, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!is_dir(from)) {
        snprintf(err, errlen, "'%s' is not a folder", from);
        return NULL;
    }
    if (layout_is_run_dir(from))
        return single(from, n);
    char **list = NULL;
    if (run_id) {
        const char *subs[] = {"", "logs/"};
        for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
            char *rel = xasprintf("%s%s", subs[i], run_id);
            char *p = path_join(from, rel);
            free(rel);
            if (layout_is_run_dir(p)) {
                list = single(p, n);
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

/* ---- names ---- */

char *layout_safe_name(const char *s)
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
    struct layout_node *node;
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

void layout_assign_names(struct layout_node *nodes, size_t n)
{
    struct slot *s = xcalloc(n ? n : 1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        s[i].node = &nodes[i];
        const char *id = nodes[i].node_id && *nodes[i].node_id ? nodes[i].node_id
                                                                : base_name(nodes[i].source);
        s[i].base = layout_safe_name(id);
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
                char *h = layout_safe_name(s[k].node->host);
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
