/* ship.c -- a node's run files through Redis; see ship.h. */
#include "trace/ship.h"

#include <dirent.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/redis.h"
#include "common/run.h"
#include "common/sha256.h"
#include "common/util.h"
#include "trace/layout.h"

/* ---- pure ---- */

static bool plain_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 200 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '(' || c == ')'))
            return false;
    }
    return true;
}

bool ship_name_ok(const char *name)
{
    if (!name)
        return false;
    if (str_starts(name, "CTS/"))
        name += 4;
    return !strchr(name, '/') && plain_name_ok(name, strlen(name));
}

uint64_t ship_chunks(uint64_t size, uint64_t chunk_size)
{
    return chunk_size ? (size + chunk_size - 1) / chunk_size : 0;
}

char *ship_manifest_json(const struct ship_manifest *m)
{
    json_t *o = json_object(), *files = json_array();
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "node", json_string(m->node));
    json_object_set_new(o, "upload", json_string(m->upload));
    json_object_set_new(o, "chunk_size", json_integer((json_int_t)m->chunk_size));
    json_object_set_new(o, "shipped_ms", json_integer(m->shipped_ms));
    for (size_t i = 0; i < m->nfiles; i++) {
        const struct ship_file *f = &m->files[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(f->name));
        json_object_set_new(j, "size", json_integer((json_int_t)f->size));
        json_object_set_new(j, "chunks", json_integer((json_int_t)f->chunks));
        json_object_set_new(j, "sha256", json_string(f->sha256));
        json_array_append_new(files, j);
    }
    json_object_set_new(o, "files", files);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static bool hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int ship_manifest_parse(const char *json, struct ship_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    json_t *files = json_object_get(o, "files");
    json_t *cs = json_object_get(o, "chunk_size");
    const char *node = json_string_value(json_object_get(o, "node"));
    const char *up = json_string_value(json_object_get(o, "upload"));
    if (!json_is_object(o) || !json_is_array(files) || !json_is_integer(cs) ||
        json_integer_value(cs) <= 0 || !node || !up) {
        snprintf(err, errlen, "malformed manifest: expected a JSON object with node, upload, "
                 "chunk_size > 0 and files");
        json_decref(o);
        return -1;
    }
    /* the node becomes a folder name and the upload part of a key */
    if (!run_id_valid(node) || !plain_name_ok(up, strlen(up))) {
        bool bad_node = !run_id_valid(node);
        snprintf(err, errlen, "manifest names an unsafe %s '%.200s' (expected " RUN_ID_RULE ")",
                 bad_node ? "node" : "upload id", bad_node ? node : up);
        json_decref(o);
        return -1;
    }
    m->node = xstrdup(node);
    m->upload = xstrdup(up);
    m->chunk_size = (uint64_t)json_integer_value(cs);
    m->shipped_ms = json_integer_value(json_object_get(o, "shipped_ms"));
    m->files = xcalloc(json_array_size(files) + 1, sizeof *m->files);
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_t *size = json_object_get(f, "size"), *chunks = json_object_get(f, "chunks");
        if (!ship_name_ok(name)) {
            snprintf(err, errlen, "manifest names an unsafe file '%.200s' (expected a plain "
                     "name or CTS/NAME: no '/' elsewhere, no '..', not hidden)",
                     name ? name : "");
            goto bad;
        }
        if (!hex64(sha) || !json_is_integer(size) || json_integer_value(size) < 0 ||
            !json_is_integer(chunks) ||
            (uint64_t)json_integer_value(chunks) !=
                ship_chunks((uint64_t)json_integer_value(size), m->chunk_size)) {
            snprintf(err, errlen, "manifest entry of %s is malformed", name);
            goto bad;
        }
        for (size_t k = 0; k < m->nfiles; k++)
            if (!strcmp(m->files[k].name, name)) {
                snprintf(err, errlen, "manifest lists %s twice", name);
                goto bad;
            }
        struct ship_file *sf = &m->files[m->nfiles++];
        sf->name = xstrdup(name);
        sf->size = (uint64_t)json_integer_value(size);
        sf->chunks = (uint64_t)json_integer_value(chunks);
        memcpy(sf->sha256, sha, 65);
    }
    json_decref(o);
    return 0;
bad:
    json_decref(o);
    ship_manifest_free(m);
    return -1;
}

void ship_manifest_free(struct ship_manifest *m)
{
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].name);
    free(m->files);
    free(m->node);
    free(m->upload);
    memset(m, 0, sizeof *m);
}

/* ---- keys ---- */

static char *key_nodes(const struct ship *q) { return xasprintf("%sship:nodes", q->prefix); }
static char *key_manifest(const struct ship *q, const char *node)
{
    return xasprintf("%sship:m:%s", q->prefix, node);
}
static char *key_chunk(const struct ship *q, const char *upload, size_t f, uint64_t c)
{
    return xasprintf("%sship:c:%s:%zu:%llu", q->prefix, upload, f, (unsigned long long)c);
}

/* A reply that is an error: message in err, reply freed.  true if so. */
static bool reply_failed(struct ship *q, redisReply *r, int rc, const char *what, char *err,
                         size_t errlen)
{
    if (!r) {
        snprintf(err, errlen, "%s", redis_error(q->c));
        (void)rc;
        return true;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis: %s failed: %s", what, r->str);
        freeReplyObject(r);
        return true;
    }
    return false;
}

struct ship *ship_connect(const struct redis_url *u, const char *run_id, char *err,
                          size_t errlen)
{
    char *prefix = redis_run_prefix(run_id);
    if (!prefix) {
        errf(err, errlen, "invalid run id for Redis keys: '%s'", run_id ? run_id : "");
        return NULL;
    }
    /* fail fast on a refused connection; ride out short blips later */
    struct redis_conn_opts o = {.retry_ms = 10000};
    struct redis_conn *c;
    if (redis_open(u, &o, &c, err, errlen) != 0) {
        free(prefix);
        return NULL;
    }
    struct ship *q = xcalloc(1, sizeof *q);
    q->c = c;
    q->prefix = prefix;
    return q;
}

void ship_close(struct ship *q)
{
    if (!q)
        return;
    redis_close(q->c);
    free(q->prefix);
    free(q);
}

/* ---- upload ---- */

bool ship_controller_file(const char *name)
{
    static const char *const names[] = {SHIP_CONTROLLER_FILES};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

/* The files one node ships, relative to run_dir, sorted; with
 * controller_only, only the controller's records. */
static char **upload_list(const char *run_dir, bool controller_only, size_t *n)
{
    char **v = NULL;
    size_t k = 0;
    char *meta = path_join(run_dir, "node_meta.json");
    struct stat msb;
    if (!controller_only && lstat(meta, &msb) == 0 && S_ISREG(msb.st_mode)) {
        v = xrealloc(v, (k + 1) * sizeof *v);
        v[k++] = xstrdup("node_meta.json");
    }
    free(meta);
    const char *sub[2] = {"", "CTS"};
    for (int s = 0; s < (controller_only ? 1 : 2); s++) {
        char *d = *sub[s] ? path_join(run_dir, sub[s]) : xstrdup(run_dir);
        DIR *dir = opendir(d);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            char *rel = *sub[s] ? xasprintf("CTS/%s", e->d_name) : xstrdup(e->d_name);
            char *full = path_join(d, e->d_name);
            struct stat sb;
            /* lstat: a symlink planted in the run folder is not shipped */
            bool want = ship_name_ok(rel) && lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) &&
                        (*sub[s] || ship_controller_file(e->d_name) ||
                         (!controller_only && layout_is_event_file(e->d_name)));
            free(full);
            if (want) {
                v = xrealloc(v, (k + 1) * sizeof *v);
                v[k++] = rel;
            } else {
                free(rel);
            }
        }
        if (dir)
            closedir(dir);
        free(d);
    }
    size_t first = !controller_only && k && !strcmp(v[0], "node_meta.json");
    if (k > first + 1)
        qsort(v + first, k - first, sizeof *v, cmp_str); /* node_meta.json first */
    *n = k;
    return v;
}

enum { UNLINK_BATCH = 256 };

static void unlink_keys(struct ship *q, const char **argv, char **keys, int *nk)
{
    int rc;
    redisReply *r = redis_command(q->c, *nk + 1, argv, NULL, &rc);
    if (r)
        freeReplyObject(r);
    for (int i = 0; i < *nk; i++)
        free(keys[i]);
    *nk = 0;
}

/* UNLINK every chunk of manifest m (best effort: keys of a dead upload). */
static void delete_chunks(struct ship *q, const struct ship_manifest *m)
{
    const char *argv[UNLINK_BATCH + 1];
    char *keys[UNLINK_BATCH];
    int nk = 0;
    argv[0] = "UNLINK";
    for (size_t f = 0; f < m->nfiles; f++)
        for (uint64_t c = 0; c < m->files[f].chunks; c++) {
            keys[nk] = key_chunk(q, m->upload, f, c);
            argv[1 + nk] = keys[nk];
            if (++nk == UNLINK_BATCH)
                unlink_keys(q, argv, keys, &nk);
        }
    if (nk)
        unlink_keys(q, argv, keys, &nk);
}

static int upload(struct ship *q, const char *node, const char *run_dir, bool controller_only,
                  uint64_t chunk_size, struct ship_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)now_mono_ns();
    /* unique across nodes and retries: time, pid, randomness */
    snprintf(st->upload, sizeof st->upload, "%llx-%x-%08x", (unsigned long long)now_wall_ms(),
             (unsigned)getpid(), rnd);
    struct ship_manifest m = {
        .node = (char *)node, .upload = st->upload, .chunk_size = chunk_size,
        .shipped_ms = now_wall_ms(),
    };
    size_t n;
    char **names = upload_list(run_dir, controller_only, &n);
    m.files = xcalloc(n + 1, sizeof *m.files);
    uint8_t *buf = xmalloc(chunk_size);
    int ret = -1;
    for (size_t i = 0; i < n; i++) {
        char *path = path_join(run_dir, names[i]);
        int fd = open_regular(path);  /* swapped for a link or a FIFO since the listing? */
        FILE *fp = fd >= 0 ? fdopen(fd, "rb") : NULL;
        if (!fp) {
            snprintf(err, errlen, "cannot read %s: %s", path, open_strerror(errno));
            if (fd >= 0)
                close(fd);
            free(path);
            goto out;
        }
        struct ship_file *f = &m.files[m.nfiles++];
        f->name = names[i];
        struct sha256 h;
        sha256_init(&h);
        for (;;) {
            size_t got = fread(buf, 1, chunk_size, fp);
            if (got == 0)
                break;
            sha256_update(&h, buf, got);
            char *key = key_chunk(q, st->upload, i, f->chunks);
            const char *argv[3] = {"SET", key, (const char *)buf};
            size_t lens[3] = {3, strlen(key), got};
            int rc;
            redisReply *r = redis_command(q->c, 3, argv, lens, &rc);
            free(key);
            if (reply_failed(q, r, rc, "SET", err, errlen)) {
                fclose(fp);
                free(path);
                goto out;
            }
            freeReplyObject(r);
            f->size += got;
            f->chunks++;
            st->chunks++;
        }
        bool rerr = ferror(fp);
        fclose(fp);
        if (rerr) {
            snprintf(err, errlen, "error reading %s", path);
            free(path);
            goto out;
        }
        free(path);
        sha256_hex(&h, f->sha256);
        st->files++;
        st->bytes += f->size;
    }
    /* the switch: one command replaces the manifest and returns the old one */
    char *json = ship_manifest_json(&m);
    char *mkey = key_manifest(q, node);
    const char *argv[4] = {"SET", mkey, json, "GET"};
    int rc;
    redisReply *r = redis_command(q->c, 4, argv, NULL, &rc);
    free(json);
    free(mkey);
    if (reply_failed(q, r, rc, "SET manifest", err, errlen))
        goto out;
    if (r->type == REDIS_REPLY_STRING) {
        struct ship_manifest old;
        char perr[256];
        /* a retried SET returns our own manifest: keep those chunks */
        if (ship_manifest_parse(r->str, &old, perr, sizeof perr) == 0) {
            if (strcmp(old.upload, st->upload) != 0)
                delete_chunks(q, &old);
            ship_manifest_free(&old);
        }
    }
    freeReplyObject(r);
    char *nkey = key_nodes(q);
    const char *sadd[3] = {"SADD", nkey, node};
    r = redis_command(q->c, 3, sadd, NULL, &rc);
    free(nkey);
    if (reply_failed(q, r, rc, "SADD", err, errlen))
        goto out;
    freeReplyObject(r);
    ret = 0;
out:
    if (ret < 0) {
        /* drop what this upload wrote; the previous manifest stays valid */
        delete_chunks(q, &m);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(m.files);
    free(buf);
    return ret;
}

int ship_upload(struct ship *q, const char *node, const char *run_dir, uint64_t chunk_size,
                struct ship_stats *st, char *err, size_t errlen)
{
    return upload(q, node, run_dir, false, chunk_size, st, err, errlen);
}

int ship_controller(const struct redis_url *u, const char *run_id, const char *run_dir,
                    struct ship_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    struct ship *q = ship_connect(u, run_id, err, errlen);
    if (!q)
        return -1;
    int rc = upload(q, SHIP_CONTROLLER_NODE, run_dir, true, SHIP_CHUNK_DEFAULT, st, err, errlen);
    ship_close(q);
    return rc;
}

/* ---- list and download ---- */

/* A set member as a C string (malloc'd); a NUL inside becomes '?', so the
 * name is refused by the caller instead of silently cut short. */
static char *member_dup(const char *s, size_t len)
{
    char *v = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++)
        v[i] = s[i] ? s[i] : '?';
    v[len] = '\0';
    return v;
}

int ship_list(struct ship *q, char ***nodes, size_t *n, char *err, size_t errlen)
{
    char *key = key_nodes(q);
    const char *argv[2] = {"SMEMBERS", key};
    int rc;
    redisReply *r = redis_command(q->c, 2, argv, NULL, &rc);
    free(key);
    if (reply_failed(q, r, rc, "SMEMBERS", err, errlen))
        return -1;
    if (!redis_reply_array(r, 0)) {
        snprintf(err, errlen, "Redis: unexpected reply to SMEMBERS");
        freeReplyObject(r);
        return -1;
    }
    /* every member, as hostile as the server: the caller checks each */
    size_t k = 0;
    char **v = xcalloc(r->elements + 1, sizeof *v);
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            v[k++] = member_dup(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    qsort(v, k, sizeof *v, cmp_str);
    *nodes = v;
    *n = k;
    return 0;
}

/* Fetch file i of manifest m into a fresh O_EXCL|O_NOFOLLOW temporary file
 * next to DST/NAME, and rename it into place only once its size and SHA-256
 * match: nothing unverified is ever left under its final name.  0 or -1
 * with err naming the node and the file. */
static int download_file(struct ship *q, const char *node, const struct ship_manifest *m,
                         size_t i, const char *dst, char *err, size_t errlen)
{
    const struct ship_file *f = &m->files[i];
    char *path = path_join(dst, f->name), *tmp = NULL;
    int fd = open_tmp_excl(path, TK_FILE_MODE, &tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file for %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    struct sha256 h;
    sha256_init(&h);
    uint64_t size = 0;
    bool ok = true;
    for (uint64_t c = 0; c < f->chunks && ok; c++) {
        char *key = key_chunk(q, m->upload, i, c);
        const char *g[2] = {"GET", key};
        int rc;
        redisReply *r = redis_command(q->c, 2, g, NULL, &rc);
        free(key);
        if (reply_failed(q, r, rc, "GET chunk", err, errlen)) {
            ok = false;
            break;
        }
        if (r->type != REDIS_REPLY_STRING) {
            snprintf(err, errlen,
                     "node %s: %s: chunk %llu of %llu is missing (shipped again meanwhile? "
                     "gather again)",
                     node, f->name, (unsigned long long)c + 1, (unsigned long long)f->chunks);
            ok = false;
        } else if (r->len > f->size - size) {
            /* more than the manifest promised: stop before writing it */
            snprintf(err, errlen, "node %s: %s: got more than the %llu bytes the manifest says",
                     node, f->name, (unsigned long long)f->size);
            ok = false;
        } else {
            sha256_update(&h, r->str, r->len);
            size += r->len;
            if (write_all(fd, r->str, r->len) < 0) {
                snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
                ok = false;
            }
        }
        freeReplyObject(r);
    }
    char hex[65];
    sha256_hex(&h, hex);
    if (ok && size != f->size) {
        snprintf(err, errlen, "node %s: %s: got %llu bytes, the manifest says %llu", node,
                 f->name, (unsigned long long)size, (unsigned long long)f->size);
        ok = false;
    } else if (ok && strcmp(hex, f->sha256) != 0) {
        snprintf(err, errlen, "node %s: %s: SHA-256 mismatch (got %.12s..., the manifest "
                 "says %.12s...)", node, f->name, hex, f->sha256);
        ok = false;
    }
    if (close(fd) < 0 && ok) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    free(path);
    return ok ? 0 : -1;
}

int ship_download(struct ship *q, const char *node, const char *dst, struct ship_stats *st,
                  char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (!run_id_valid(node))
        return errf(err, errlen, "refusing node '%.200s': not a valid node name (expected "
                    RUN_ID_RULE ")", node);
    char *mkey = key_manifest(q, node);
    const char *argv[2] = {"GET", mkey};
    int rc;
    redisReply *r = redis_command(q->c, 2, argv, NULL, &rc);
    free(mkey);
    if (reply_failed(q, r, rc, "GET manifest", err, errlen))
        return -1;
    if (r->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "node %s: listed as shipped but has no manifest", node);
        freeReplyObject(r);
        return -1;
    }
    struct ship_manifest m;
    char perr[512];
    int prc = ship_manifest_parse(r->str, &m, perr, sizeof perr);
    freeReplyObject(r);
    if (prc < 0)
        return errf(err, errlen, "node %s: %s", node, perr);
    int ret = -1;
    if (strcmp(m.node, node) != 0) {
        snprintf(err, errlen, "node %s: its manifest names node '%.200s': refused", node, m.node);
        goto out;
    }
    snprintf(st->upload, sizeof st->upload, "%s", m.upload);
    /* dst is the caller's fresh folder: created here, never an existing one */
    char *cts = path_join(dst, "CTS");
    if (mkdir(dst, TK_DIR_MODE) < 0 || mkdir(cts, TK_DIR_MODE) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", cts, strerror(errno));
        free(cts);
        goto out;
    }
    free(cts);
    for (size_t i = 0; i < m.nfiles; i++) {
        if (download_file(q, node, &m, i, dst, err, errlen) < 0)
            goto out;
        st->files++;
        st->bytes += m.files[i].size;
        st->chunks += m.files[i].chunks;
    }
    ret = 0;
out:
    ship_manifest_free(&m);
    return ret;
}
