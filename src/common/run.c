/* run.c -- resolving RUN_ID, NODE_ID, STAGE and the logs folder once for
 * every command (see run.h). */
#include "common/run.h"
#include "common/jsonl.h"
#include "common/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool run_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '(' || c == ')' || c == ':' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

char *run_id_from_env_file(const char *path)
{
    char *text = read_file(path, NULL);
    if (!text)
        return NULL;
    char *result = NULL, *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = str_trim(line);
        if (str_starts(l, "export "))
            l = str_trim(l + 7);
        if (!str_starts(l, "RUN_ID="))
            continue;
        char *v = str_trim(l + 7);
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        if (*v)
            result = xstrdup(v);
        break;
    }
    free(text);
    return result;
}

char *run_id_new(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return xstrdup(buf);
}

char *host_name(void)
{
    char buf[256];
    if (gethostname(buf, sizeof buf) < 0)
        return xstrdup("localhost");
    buf[sizeof buf - 1] = '\0';
    return xstrdup(buf);
}

static char *newest_run(const char *logs)
{
    DIR *d = opendir(logs);
    if (!d)
        return NULL;
    char *best = NULL;
    struct timespec best_t = {0, 0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !run_id_valid(e->d_name))
            continue;
        char *p = path_join(logs, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            bool newer = !best || st.st_mtim.tv_sec > best_t.tv_sec ||
                         (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec) ||
                         (st.st_mtim.tv_sec == best_t.tv_sec &&
                          st.st_mtim.tv_nsec == best_t.tv_nsec && strcmp(e->d_name, best) > 0);
            if (newer) {
                free(best);
                best = xstrdup(e->d_name);
                best_t = st.st_mtim;
            }
        }
        free(p);
    }
    closedir(d);
    return best;
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int run_ctx_resolve(struct run_ctx *c, const char *run_id_opt, const char *node_opt,
                    const char *stage_opt, const char *logs_opt, enum run_id_fallback fb,
                    char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->logs = xstrdup(logs_opt && *logs_opt ? logs_opt : "logs");

    const char *env;
    if (run_id_opt) {
        c->run_id = xstrdup(run_id_opt);
        c->run_id_source = "--run-id";
    } else if ((env = nonempty_env("RUN_ID"))) {
        c->run_id = xstrdup(env);
        c->run_id_source = "RUN_ID";
    } else if ((c->run_id = run_id_from_env_file("run_id.env"))) {
        c->run_id_source = "run_id.env";
    } else if (fb == RUNID_NEW) {
        c->run_id = run_id_new();
        c->run_id_source = "new";
    } else if (fb == RUNID_NEWEST && (c->run_id = newest_run(c->logs))) {
        c->run_id_source = "newest";
    } else {
        snprintf(err, errlen,
                 "no run id: give --run-id, set RUN_ID, or write RUN_ID=... to run_id.env%s",
                 fb == RUNID_NEWEST ? " (and no run folder was found under the logs folder)" : "");
        run_ctx_free(c);
        return -1;
    }
    if (!run_id_valid(c->run_id)) {
        snprintf(err, errlen,
                 "invalid run id '%s' (from %s): expected " RUN_ID_RULE,
                 c->run_id, c->run_id_source);
        run_ctx_free(c);
        return -1;
    }

    if (node_opt)
        c->node_id = xstrdup(node_opt);
    else if ((env = nonempty_env("NODE_ID")))
        c->node_id = xstrdup(env);
    else
        c->node_id = host_name();
    if (!run_id_valid(c->node_id)) {
        snprintf(err, errlen, "invalid node id '%s': expected letters, digits and ._-()+:",
                 c->node_id);
        run_ctx_free(c);
        return -1;
    }

    if (stage_opt)
        c->stage = xstrdup(stage_opt);
    else if ((env = nonempty_env("STAGE")))
        c->stage = xstrdup(env);
    else
        c->stage = xstrdup("cloud");

    c->run_dir = path_join(c->logs, c->run_id);
    return 0;
}

void run_ctx_free(struct run_ctx *c)
{
    free(c->run_id);
    free(c->node_id);
    free(c->stage);
    free(c->logs);
    free(c->run_dir);
    memset(c, 0, sizeof *c);
}

json_t *run_ledger_execs(const char *run_dir)
{
    char *path = path_join(run_dir, "ledger.jsonl");
    struct jsonl_reader r;
    json_t *m = NULL, *o;
    if (file_exists(path) && jsonl_reader_open(&r, path) == 0) {
        m = json_object();
        while (jsonl_next(&r, &o) == 1) {
            const char *t = jsonl_str(o, "trace_id"), *x = jsonl_str(o, "exec_id");
            if (t && x)
                json_object_set_new(m, t, json_string(x));
            json_decref(o);
        }
        jsonl_reader_close(&r);
    }
    free(path);
    return m;
}
