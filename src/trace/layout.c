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

char **layout_run_dirs(const char *dir, size_t *n)
{
    if (layout_is_run_dir(dir))
        return single(dir, n);
    return layout_node_dirs(dir, NULL, n);
}
