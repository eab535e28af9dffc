/* power.c -- power sources of the node: energy counters (uJ), power inputs
 * (uW) and the powercap zones, read each host interval (see power.h). */
#include "collect/power.h"

#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POWERCAP_ROOT "/sys/class/powercap"

/* ---------------------------------------------------------------- pure */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

int power_spec_split(const char *arg, char *name, size_t nlen, const char **path, char *err,
                     size_t errlen)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : 0;
    if (!eq || n == 0 || !eq[1])
        return errf(err, errlen, "'%s' is not NAME=PATH", arg);
    if (n >= nlen || n > 63)
        return errf(err, errlen, "'%s': the name is longer than 63 characters", arg);
    for (size_t i = 0; i < n; i++)
        if (!name_char(arg[i]))
            return errf(err, errlen, "'%s': a name is letters, digits and _ . : - only", arg);
    memcpy(name, arg, n);
    name[n] = 0;
    *path = eq + 1;
    return 0;
}

bool power_parse_u64(const char *text, uint64_t *v)
{
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(text, &end, 10);
    if (errno)
        return false;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end)
        return false;
    *v = x;
    return true;
}

enum power_step power_counter_delta(uint64_t prev, uint64_t cur, uint64_t max_range,
                                    uint64_t *delta_uj)
{
    if (cur >= prev) {
        *delta_uj = cur - prev;
        return POWER_OK;
    }
    /* Back: a wrap only if the counter can wrap there and the step it
     * implies is small next to the range (prev was near the top). */
    if (max_range > 0 && prev <= max_range) {
        uint64_t d = (max_range - prev) + cur;
        if (d < max_range / 2) {
            *delta_uj = d;
            return POWER_WRAP;
        }
    }
    *delta_uj = 0;
    return POWER_RESET;
}

void power_src_feed(struct power_src *s, uint64_t value, int64_t mono_us)
{
    s->has_w = false;
    s->step = POWER_FIRST;
    if (s->have_prev && mono_us > s->prev_us) {
        double dt_s = (double)(mono_us - s->prev_us) / 1e6;
        if (s->kind == POWER_INPUT_UW) {
            s->w = ((double)s->prev + (double)value) / 2e6;
            s->has_w = true;
            s->step = POWER_OK;
            s->joules += s->w * dt_s;
        } else {
            uint64_t d;
            s->step = power_counter_delta(s->prev, value, s->max_range_uj, &d);
            if (s->step == POWER_RESET) {
                s->resets++;
            } else {
                s->wraps += s->step == POWER_WRAP;
                s->w = (double)d / 1e6 / dt_s;
                s->has_w = true;
                s->joules += (double)d / 1e6;
            }
        }
    }
    s->have_prev = true;
    s->prev = value;
    s->prev_us = mono_us;
}

/* ---------------------------------------------------------------- reading */

/* A small file's number.  0, or -1 with a reason in err. */
static int read_u64(const char *path, uint64_t *v, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errf(err, errlen, "%s", strerror(errno));
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return errf(err, errlen, "%s", strerror(e));
    buf[n] = 0;
    if (!power_parse_u64(buf, v))
        return errf(err, errlen, "not a whole number");
    return 0;
}

static struct power_src *find(struct power_set *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->v[i].name, name))
            return &ps->v[i];
    return NULL;
}

void power_set_add(struct power_set *ps, enum power_kind kind, const char *name, const char *path,
                   const char *origin)
{
    ARRAY_GROW(ps->v, ps->n + 1, ps->cap, 8);
    struct power_src *s = &ps->v[ps->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%.63s", name);
    s->path = xstrdup(path);
    s->kind = kind;
    s->origin = origin;
    uint64_t v;
    char why[128];
    if (read_u64(path, &v, why, sizeof why) < 0) {
        snprintf(s->error, sizeof s->error, "%s", why);
        log_warn("power source %s (%s): cannot read it: %s; not measured", name, path, why);
        return;
    }
    s->readable = true;
    if (kind == POWER_ENERGY_UJ) {
        /* powercap's range sits beside energy_uj */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? xasprintf("%.*s", (int)(slash - path), path) : xstrdup(".");
        char *range = path_join(dir, "max_energy_range_uj");
        uint64_t r;
        if (read_u64(range, &r, why, sizeof why) == 0 && r > 0)
            s->max_range_uj = r;
        free(range);
        free(dir);
    }
}

/* Every powercap zone with an energy counter, named by its zone name
 * (package-0, dram, psys; a repeated name gets the zone's folder name).
 * The MMIO duplicates of the package zones are left out. */
static void discover(struct power_set *ps, const char *root)
{
    struct dirent **ents = NULL;
    int n = scandir(root, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *d = ents[i]->d_name;
        char *zone = path_join(root, d);
        char *energy = path_join(zone, "energy_uj");
        if (d[0] != '.' && !strstr(d, "mmio") && file_exists(energy)) {
            char *namep = path_join(zone, "name");
            char *text = read_file(namep, NULL);
            char name[64];
            snprintf(name, sizeof name, "%.63s", text ? str_trim(text) : d);
            if (find(ps, name) || !*name)
                snprintf(name, sizeof name, "%.63s", d);
            power_set_add(ps, POWER_ENERGY_UJ, name, energy, "powercap");
            free(text);
            free(namep);
        }
        free(energy);
        free(zone);
        free(ents[i]);
    }
    free(ents);
}

static void mark_total(struct power_set *ps)
{
    bool named = false, psys = false;
    for (int i = 0; i < ps->n; i++) {
        named |= ps->v[i].readable && !strcmp(ps->v[i].origin, "option");
        psys |= ps->v[i].readable && !strcmp(ps->v[i].name, "psys");
    }
    for (int i = 0; i < ps->n; i++) {
        struct power_src *s = &ps->v[i];
        bool cap = !strcmp(s->origin, "powercap");
        if (named)
            s->in_total = !cap;
        else if (psys)
            s->in_total = !strcmp(s->name, "psys");
        else
            s->in_total = cap && (str_starts(s->name, "package") || str_starts(s->name, "dram"));
        s->in_total &= s->readable;
    }
}

static int add_specs(struct power_set *ps, const char *const *v, int n, enum power_kind kind,
                     const char *opt, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        char name[64], why[160];
        const char *path;
        if (power_spec_split(v[i], name, sizeof name, &path, why, sizeof why) < 0)
            return errf(err, errlen, "invalid %s %s", opt, why);
        if (find(ps, name))
            return errf(err, errlen, "invalid %s '%s': the name %s is given twice", opt, v[i],
                        name);
        power_set_add(ps, kind, name, path, "option");
    }
    return 0;
}

int power_set_open(struct power_set *ps, const struct power_conf *conf, char *err, size_t errlen)
{
    memset(ps, 0, sizeof *ps);
    if (add_specs(ps, conf->counters, conf->ncounters, POWER_ENERGY_UJ, "--energy-counter", err,
                  errlen) < 0 ||
        add_specs(ps, conf->inputs, conf->ninputs, POWER_INPUT_UW, "--power-input", err,
                  errlen) < 0) {
        power_set_free(ps);
        return -1;
    }
    if (!conf->no_energy)
        discover(ps, conf->powercap_root ? conf->powercap_root : POWERCAP_ROOT);
    mark_total(ps);
    if (power_set_readable(ps) == 0)
        log_info("no power source on this node (%s): host_metrics.jsonl has no power and the "
                 "traces no energy", conf->no_energy ? "--no-energy, no readable "
                 "--energy-counter or --power-input" : "no readable powercap zone, "
                 "--energy-counter or --power-input");
    return 0;
}

void power_set_free(struct power_set *ps)
{
    if (!ps)
        return;
    for (int i = 0; i < ps->n; i++)
        free(ps->v[i].path);
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

int power_set_readable(const struct power_set *ps)
{
    int n = 0;
    for (int i = 0; ps && i < ps->n; i++)
        n += ps->v[i].readable;
    return n;
}

void power_set_sample(struct power_set *ps, int64_t mono_us)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct power_src *s = &ps->v[i];
        if (!s->readable)
            continue;
        uint64_t v;
        char why[128];
        if (read_u64(s->path, &v, why, sizeof why) < 0) {
            s->has_w = false;
            s->step = POWER_FIRST;
            s->read_errors++;
            if (!s->warned)
                log_warn("power source %s (%s): cannot read it: %s; its intervals are missing "
                         "until it reads again", s->name, s->path, why);
            s->warned = true;
            continue;
        }
        power_src_feed(s, v, mono_us);
    }
}

static void names_with(const struct power_set *ps, struct jbuf *b, const char *key,
                       enum power_step step)
{
    bool any = false;
    for (int i = 0; i < ps->n; i++)
        any |= ps->v[i].readable && ps->v[i].step == step;
    if (!any)
        return;
    jb_arr_open(b, key);
    for (int i = 0; i < ps->n; i++)
        if (ps->v[i].readable && ps->v[i].step == step)
            jb_str(b, NULL, ps->v[i].name);
    jb_arr_close(b);
}

void power_set_json(const struct power_set *ps, struct jbuf *b)
{
    if (power_set_readable(ps) == 0)
        return;
    jb_obj_open(b, "power_w");
    for (int i = 0; i < ps->n; i++)
        if (ps->v[i].readable && ps->v[i].has_w)
            jb_fixed(b, ps->v[i].name, ps->v[i].w, 3);
    jb_obj_close(b);
    jb_obj_open(b, "energy_j");
    for (int i = 0; i < ps->n; i++)
        if (ps->v[i].readable)
            jb_fixed(b, ps->v[i].name, ps->v[i].joules, 3);
    jb_obj_close(b);
    names_with(ps, b, "power_reset", POWER_RESET);
    names_with(ps, b, "power_wrap", POWER_WRAP);
}

void power_set_meta_json(const struct power_set *ps, struct jbuf *b)
{
    jb_arr_open(b, "power_sources");
    for (int i = 0; ps && i < ps->n; i++) {
        const struct power_src *s = &ps->v[i];
        jb_obj_open(b, NULL);
        jb_str(b, "name", s->name);
        jb_str(b, "kind", s->kind == POWER_ENERGY_UJ ? "energy_uj" : "power_uw");
        jb_str(b, "path", s->path);
        jb_str(b, "origin", s->origin);
        jb_bool(b, "readable", s->readable);
        jb_bool(b, "in_total", s->in_total);
        if (s->max_range_uj)
            jb_uint(b, "max_energy_range_uj", s->max_range_uj);
        if (!s->readable)
            jb_str(b, "error", s->error);
        jb_obj_close(b);
    }
    jb_arr_close(b);
}
