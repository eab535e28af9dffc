/* fuzz_manifest.c -- the ship manifest parser (ship_manifest_parse), which
 * reads what `gather --redis` finds in Redis: anyone who can write there
 * writes it.  What must hold for every accepted manifest: the node is a safe
 * folder name, every file name is relative and stays inside the node folder
 * (no leading '/', no '..' component, no '/' but the one after CTS), sizes
 * fit an int64 and the chunk counts match them, and writing it back and
 * parsing again gives the same manifest (round trip). */
#include "fuzz.h"

#include "common/run.h"
#include "trace/ship.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* The name cannot leave a folder it is joined to. */
static bool name_stays_inside(const char *name)
{
    if (!*name || name[0] == '/')
        return false;
    const char *slash = strchr(name, '/');
    if (slash && (strncmp(name, "CTS/", 4) != 0 || strchr(slash + 1, '/')))
        return false;
    for (const char *c = name; c; c = strchr(c, '/')) {
        if (*c == '/')
            c++;
        if (!strncmp(c, "..", 2) && (c[2] == '/' || c[2] == '\0'))
            return false;
        if (!strncmp(c, ".", 1) && (c[1] == '/' || c[1] == '\0'))
            return false;
        if (!*c)
            return false;  /* "CTS/": no file name */
    }
    return true;
}

static void check(const struct ship_manifest *m)
{
    if (!run_id_valid(m->node) || !m->upload || !*m->upload || strchr(m->upload, '/') ||
        m->chunk_size == 0 || m->chunk_size > INT64_MAX)
        abort();
    for (size_t i = 0; i < m->nfiles; i++) {
        const struct ship_file *f = &m->files[i];
        if (!name_stays_inside(f->name) || !ship_name_ok(f->name) || f->size > INT64_MAX ||
            f->chunks != ship_chunks(f->size, m->chunk_size) || strlen(f->sha256) != 64)
            abort();
        for (size_t k = 0; k < i; k++)
            if (!strcmp(m->files[k].name, f->name))
                abort();
    }
}

static bool same(const struct ship_manifest *a, const struct ship_manifest *b)
{
    if (strcmp(a->node, b->node) || strcmp(a->upload, b->upload) ||
        a->chunk_size != b->chunk_size || a->shipped_ms != b->shipped_ms || a->nfiles != b->nfiles)
        return false;
    for (size_t i = 0; i < a->nfiles; i++)
        if (strcmp(a->files[i].name, b->files[i].name) || a->files[i].size != b->files[i].size ||
            a->files[i].chunks != b->files[i].chunks ||
            strcmp(a->files[i].sha256, b->files[i].sha256))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct ship_manifest m, again;
    char err[512];
    if (ship_manifest_parse(text, &m, err, sizeof err) == 0) {
        check(&m);
        char *json = ship_manifest_json(&m);
        if (!json || ship_manifest_parse(json, &again, err, sizeof err) != 0)
            abort();
        if (!same(&m, &again))
            abort();
        ship_manifest_free(&again);
        free(json);
        ship_manifest_free(&m);
    }
    free(text);
    return 0;
}
