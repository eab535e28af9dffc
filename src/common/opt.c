/* opt.c -- option tables to getopt_long, values, one error style, --help
 * (see opt.h). */
#include "common/opt.h"
#include "common/log.h"
#include "common/util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { CODE_BASE = 1000, CODE_LIST_OPTIONS = 999 };
enum { HELP_WIDTH = 80, TERM_MAX = 24 };

void opt_list_free(struct opt_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- the table, with includes resolved ---- */

struct flat {
    struct opt *v;
    size_t n, cap;
};

static bool is_option(const struct opt *o)
{
    return o->type != OPT_T_END && o->type != OPT_T_GROUP && o->type != OPT_T_INCLUDE;
}

static void flatten(struct flat *f, const struct opt *t, char *base, unsigned bits, bool top)
{
    for (; t->type != OPT_T_END; t++) {
        if (t->type == OPT_T_INCLUDE) {
            flatten(f, t->sub, t->value, t->bits, false);
            continue;
        }
        if (!top && t->bits && !(t->bits & bits))
            continue;
        struct opt o = *t;
        if (o.flags & OPT_F_REL) {
            if (!base)
                TK_BUG("option --%s is relative but its table was not included", o.long_name);
            o.value = base + (uintptr_t)o.value;
            o.flags &= ~(unsigned)OPT_F_REL;
        }
        ARRAY_GROW(f->v, f->n + 1, f->cap, 32);
        f->v[f->n++] = o;
    }
}

/* ---- --help ---- */

static size_t term(const struct opt *o, char *buf, size_t len)
{
    char sh[8] = "";
    if (o->short_name)
        snprintf(sh, sizeof sh, "-%c, ", o->short_name);
    int n = snprintf(buf, len, "%s--%s%s%s", sh, o->long_name, o->argh ? " " : "",
                     o->argh ? o->argh : "");
    return n < 0 ? 0 : (size_t)n;
}

/* Print text from column col, the cursor being at column at (on the next
 * line when fewer than two columns are left), wrapped at HELP_WIDTH; a
 * '\n' in text starts a new line. */
static void wrapped(FILE *out, const char *text, size_t col, size_t at)
{
    if (at + 2 > col) {
        fputc('\n', out);
        at = 0;
    }
    size_t room = HELP_WIDTH > col + 20 ? HELP_WIDTH - col : 20;
    const char *p = text;
    do {
        size_t line = strcspn(p, "\n"), take = line;
        if (take > room) {
            take = room;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0) /* one word longer than the room: let it overflow */
                take = strcspn(p, " \n");
        }
        if (take > 0)
            fprintf(out, "%*s%.*s", (int)(col - at), "", (int)take, p);
        fputc('\n', out);
        at = 0;
        p += take;
        if (take < line)
            while (*p == ' ')
                p++;
        else if (*p == '\n')
            p++;
    } while (*p);
}

static void print_options(FILE *out, const struct flat *f)
{
    char buf[256];
    size_t col = 0;
    for (size_t i = 0; i < f->n; i++) {
        size_t n = is_option(&f->v[i]) ? term(&f->v[i], buf, sizeof buf) : 0;
        if (n <= TERM_MAX && n > col)
            col = n;
    }
    col += 4; /* two spaces before the term, two after */
    for (size_t i = 0; i < f->n; i++) {
        const struct opt *o = &f->v[i];
        if (o->type == OPT_T_GROUP) {
            fprintf(out, "%s\n", o->help ? o->help : "");
            continue;
        }
        size_t n = term(o, buf, sizeof buf);
        fprintf(out, "  %s", buf);
        if (o->help && *o->help)
            wrapped(out, o->help, col, n + 2);
        else
            fputc('\n', out);
    }
    fprintf(out, "  -h, --help");
    wrapped(out, "this text", col, 12);
}

static void print_text(FILE *out, const char *s)
{
    fputs(s, out);
    if (*s && s[strlen(s) - 1] != '\n')
        fputc('\n', out);
}

static void usage_flat(const struct opt_cmd *cmd, const struct flat *f, FILE *out)
{
    for (const char *const *u = cmd->usage; u && *u; u++)
        fprintf(out, "%s%s\n", u == cmd->usage ? "usage: " : "       ", *u);
    if (cmd->description) {
        fputc('\n', out);
        print_text(out, cmd->description);
    }
    if (cmd->verbs) {
        size_t w = 0;
        for (const struct opt_verb *v = cmd->verbs; v->name; v++)
            w = strlen(v->name) > w ? strlen(v->name) : w;
        fputc('\n', out);
        for (const struct opt_verb *v = cmd->verbs; v->name; v++) {
            fprintf(out, "  %s", v->name);
            wrapped(out, v->help, w + 4, strlen(v->name) + 2);
        }
    }
    if (f->n) {
        fputc('\n', out);
        print_options(out, f);
    }
    if (cmd->epilogue) {
        fputc('\n', out);
        print_text(out, cmd->epilogue);
    }
}

void opt_usage(const struct opt_cmd *cmd, const struct opt *opts, FILE *out)
{
    struct flat f = {0};
    flatten(&f, opts, NULL, 0, true);
    usage_flat(cmd, &f, out);
    free(f.v);
}

/* ---- errors ---- */

size_t opt_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return n > m ? n : m;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *opt_closest(const char *w, const char *const *words, size_t n)
{
    const char *best = NULL;
    size_t bestd = strlen(w) / 4 > 1 ? strlen(w) / 4 : 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = opt_distance(w, words[i]);
        if (d <= bestd && (!best || d < opt_distance(w, best)))
            best = words[i];
    }
    return best;
}

static void unknown_option(const struct opt_cmd *cmd, const struct flat *f, const char *given)
{
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(given, "="), given);
    const char *words[f->n + 1];
    size_t nw = 0, nprefix = 0;
    char could[256] = "";
    for (size_t i = 0; i < f->n; i++) {
        if (!is_option(&f->v[i]) || !f->v[i].long_name)
            continue;
        words[nw++] = f->v[i].long_name;
        if (!strncmp(name, "--", 2) && name[2] &&
            !strncmp(f->v[i].long_name, name + 2, strlen(name + 2)) && nprefix++ < 4) {
            size_t used = strlen(could);
            snprintf(could + used, sizeof could - used, "%s--%s", used ? ", " : "",
                     f->v[i].long_name);
        }
    }
    if (nprefix > 1) {
        cli_error("ambiguous option '%s': could be %s%s (see 'tracekit %s --help')", name, could,
                  nprefix > 4 ? ", ..." : "", cmd->name);
        return;
    }
    const char *near = !strncmp(name, "--", 2) ? opt_closest(name + 2, words, nw) : NULL;
    if (near)
        cli_error("unknown option '%s'; did you mean '--%s'? (see 'tracekit %s --help')", name,
                  near, cmd->name);
    else
        cli_error("unknown option '%s' (see 'tracekit %s --help')", name, cmd->name);
}

/* "start, stop, status or run" */
static void verb_list(const struct opt_verb *v, char *buf, size_t len)
{
    size_t n = 0;
    while (v[n].name)
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                 v[i].name);
    }
}

static int take_verb(const struct opt_cmd *cmd, int argc, char **argv, int *at, int *verb)
{
    char list[256];
    verb_list(cmd->verbs, list, sizeof list);
    const char *noun = cmd->verb_noun ? cmd->verb_noun : "action";
    if (*at >= argc) {
        cli_error("expected %s %s: %s (see 'tracekit %s --help')",
                  strchr("aeiou", noun[0]) ? "an" : "a", noun, list, cmd->name);
        return OPT_DONE_ERROR;
    }
    const char *w = argv[*at];
    const char *words[32];
    size_t n = 0;
    for (const struct opt_verb *v = cmd->verbs; v->name && n < 32; v++, n++) {
        words[n] = v->name;
        if (!strcmp(v->name, w)) {
            if (verb)
                *verb = (int)n;
            (*at)++;
            return 0;
        }
    }
    const char *near = opt_closest(w, words, n);
    if (near)
        cli_error("unknown %s '%s'; did you mean '%s'? (expected %s)", noun, w, near, list);
    else
        cli_error("unknown %s '%s' (expected %s)", noun, w, list);
    return OPT_DONE_ERROR;
}

/* ---- values ---- */

static int set_value(const struct opt *o, const char *arg)
{
    char name[96];
    snprintf(name, sizeof name, "--%s", o->long_name);
    switch (o->type) {
    case OPT_T_FLAG:
        *(bool *)o->value = true;
        return 0;
    case OPT_T_STRING:
        *(const char **)o->value = arg;
        return 0;
    case OPT_T_INT:
        return cli_int(name, arg, o->min, o->max, o->value) ? 0 : -1;
    case OPT_T_DOUBLE:
        return cli_double(name, arg, o->dmin, o->dmax, o->value) ? 0 : -1;
    case OPT_T_SECONDS:
        return cli_seconds(name, arg, o->value) ? 0 : -1;
    case OPT_T_LIST: {
        struct opt_list *l = o->value;
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = arg;
        return 0;
    }
    case OPT_T_CALLBACK:
        return o->cb(o, arg, o->value);
    default:
        TK_BUG("option --%s has no value kind", o->long_name);
    }
}

/* ---- parsing ---- */

static void list_options(const struct flat *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (is_option(&f->v[i]) && f->v[i].long_name)
            printf("--%s%s\n", f->v[i].long_name, f->v[i].argh ? "=" : "");
    printf("--help\n");
}

static void build_getopt(const struct flat *f, const struct opt_cmd *cmd, struct option *lo,
                         char *shorts, size_t slen)
{
    size_t k = 0, s = 0;
    if (cmd->flags & OPT_STOP_AT_ARG)
        shorts[s++] = '+';
    shorts[s++] = ':';
    shorts[s++] = 'h';
    for (size_t i = 0; i < f->n; i++) {
        const struct opt *o = &f->v[i];
        if (!is_option(o))
            continue;
        if (o->long_name)
            lo[k++] = (struct option){o->long_name, o->argh ? required_argument : no_argument,
                                      NULL, CODE_BASE + (int)i};
        if (o->short_name && s + 3 < slen) {
            shorts[s++] = (char)o->short_name;
            if (o->argh)
                shorts[s++] = ':';
        }
    }
    lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[k++] = (struct option){"list-options", no_argument, NULL, CODE_LIST_OPTIONS};
    lo[k] = (struct option){NULL, 0, NULL, 0};
    shorts[s] = '\0';
}

static const struct opt *by_short(const struct flat *f, int c)
{
    for (size_t i = 0; i < f->n; i++)
        if (is_option(&f->v[i]) && f->v[i].short_name == c)
            return &f->v[i];
    return NULL;
}

/* getopt's complaint about the option just read, in our words. */
static void bad_option(const struct opt_cmd *cmd, const struct flat *f, int c, char **argv)
{
    const struct opt *o = optopt >= CODE_BASE ? &f->v[optopt - CODE_BASE]
                          : optopt ? by_short(f, optopt) : NULL;
    if (c == ':') {
        if (o && optopt >= CODE_BASE)
            cli_error("option '--%s' needs a value (see 'tracekit %s --help')", o->long_name,
                      cmd->name);
        else
            cli_error("option '-%c' needs a value (see 'tracekit %s --help')", optopt, cmd->name);
    } else if (o && optopt >= CODE_BASE) {
        cli_error("option '--%s' takes no value (see 'tracekit %s --help')", o->long_name,
                  cmd->name);
    } else if (optopt) {
        char given[3] = {'-', (char)optopt, '\0'};
        unknown_option(cmd, f, given);
    } else {
        unknown_option(cmd, f, argv[optind - 1]);
    }
}

static int parse_flat(const struct opt_cmd *cmd, const struct flat *f, int argc, char **argv,
                      int *verb)
{
    struct option lo[f->n + 3];
    char shorts[2 * f->n + 8];
    build_getopt(f, cmd, lo, shorts, sizeof shorts);
    optind = 0; /* glibc: start afresh (the caller may have parsed before) */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == 'h') {
            usage_flat(cmd, f, stdout);
            return OPT_DONE_HELP;
        }
        if (c == CODE_LIST_OPTIONS) {
            list_options(f);
            return OPT_DONE_HELP;
        }
        if (c == '?' || c == ':') {
            bad_option(cmd, f, c, argv);
            return OPT_DONE_ERROR;
        }
        const struct opt *o = c >= CODE_BASE ? &f->v[c - CODE_BASE] : by_short(f, c);
        if (!o)
            TK_BUG("getopt returned %d, which no option has", c);
        if (set_value(o, o->argh ? optarg : NULL) < 0)
            return OPT_DONE_ERROR;
    }
    int at = optind;
    if (cmd->verbs && take_verb(cmd, argc, argv, &at, verb) < 0)
        return OPT_DONE_ERROR;
    if (!(cmd->flags & OPT_ARGS) && at < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit %s --help')", argv[at], cmd->name);
        return OPT_DONE_ERROR;
    }
    return at;
}

int opt_parse(const struct opt_cmd *cmd, const struct opt *opts, int argc, char **argv, int *verb)
{
    struct flat f = {0};
    flatten(&f, opts, NULL, 0, true);
    int rc = parse_flat(cmd, &f, argc, argv, verb);
    free(f.v);
    return rc;
}

int opt_exit_code(int result)
{
    return result == OPT_DONE_HELP ? TK_EXIT_OK : TK_EXIT_USAGE;
}
