/* opt.h -- the command-line layer every command uses, in the spirit of git's
 * parse-options: a command declares its options as a table, and this
 * module parses argv against it (getopt_long underneath), checks values
 * and ranges, prints every usage error in one style (with a "did you
 * mean" suggestion), and writes --help from the same table, so the help
 * can never list an option the command does not take, or miss one.
 *
 *     int64_t batch = 64;
 *     const char *policy = NULL;
 *     struct opt opts[] = {
 *         OPT_GROUP("Loop:"),
 *         OPT_INT(0, "batch", &batch, "N", 1, 1024, "placements per round trip (default 64)"),
 *         OPT_STRING(0, "policy", &policy, "NAME", "an OpenDC policy"),
 *         OPT_END(),
 *     };
 *     int n = opt_parse(&cmd, opts, argc, argv);
 *     if (n < 0)
 *         return opt_exit_code(n);
 *
 * Option groups that several commands share (cmd/options.h) are tables of
 * their own whose entries hold offsets into a struct; a command includes
 * one with OPT_INCLUDE(table, &its_struct, bits), taking the entries whose
 * bit is in `bits` (entries without a bit always come).
 *
 * Every command also takes the hidden --list-options: it prints each long
 * option the parser accepts ("--name", or "--name=" when it takes a value)
 * and exits 0.  Tests compare it with --help. */
#ifndef TK_OPT_H
#define TK_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
    OPT_T_END,      /* end of a table */
    OPT_T_GROUP,    /* a heading line in --help ("Run:"); "" for a blank line */
    OPT_T_INCLUDE,  /* the entries of another table (value = the struct they fill) */
    OPT_T_FLAG,     /* bool *: set to true */
    OPT_T_STRING,   /* const char **: the argument as given (points into argv) */
    OPT_T_INT,      /* int64_t *: an integer in [min, max] */
    OPT_T_DOUBLE,   /* double *: a number in [dmin, dmax] */
    OPT_T_SECONDS,  /* int64_t *: seconds (fractions allowed, 0 to 7 days) as ms */
    OPT_T_LIST,     /* struct opt_list *: every occurrence appended (repeatable) */
    OPT_T_CALLBACK, /* cb(opt, arg, value) decides; arg is NULL when argh is */
};

struct opt;
/* 0, or -1 after a cli_error() naming the option and the value. */
typedef int (*opt_cb)(const struct opt *o, const char *arg, void *value);

struct opt {
    enum opt_type type;
    int short_name;           /* 'v', or 0 */
    const char *long_name;    /* "run-id" (without dashes) */
    void *value;              /* destination (an offset inside an included table) */
    const char *argh;         /* the value's name in --help ("ID"); NULL: takes none */
    const char *help;         /* wrapped to the terminal width; '\n' breaks a line */
    int64_t min, max;         /* OPT_T_INT */
    double dmin, dmax;        /* OPT_T_DOUBLE */
    opt_cb cb;                /* OPT_T_CALLBACK */
    const struct opt *sub;    /* OPT_T_INCLUDE */
    unsigned bits;            /* an entry of a shared table: its bit; an include: the bits taken */
    unsigned flags;           /* OPT_F_* */
};

enum {
    OPT_F_REL = 1,            /* value is an offset into the included struct */
};

/* Repeated options: every argument given, in order (pointing into argv).
 * The caller frees v with opt_list_free. */
struct opt_list {
    const char **v;
    size_t n;
};
void opt_list_free(struct opt_list *l);

/* Compile-time check that a destination has the type its kind writes. */
#define OPT_TYPED_(T, p) ((void *)(1 ? (p) : (T *)0))

#define OPT_END() {.type = OPT_T_END}
#define OPT_GROUP(title) {.type = OPT_T_GROUP, .help = (title)}
#define OPT_FLAG(s, l, v, h) \
    {.type = OPT_T_FLAG, .short_name = (s), .long_name = (l), .value = OPT_TYPED_(bool, v), .help = (h)}
#define OPT_STRING(s, l, v, a, h)                                                       \
    {.type = OPT_T_STRING, .short_name = (s), .long_name = (l),                          \
     .value = OPT_TYPED_(const char *, v), .argh = (a), .help = (h)}
#define OPT_INT(s, l, v, a, lo, hi, h)                                                  \
    {.type = OPT_T_INT, .short_name = (s), .long_name = (l), .value = OPT_TYPED_(int64_t, v), \
     .argh = (a), .help = (h), .min = (lo), .max = (hi)}
#define OPT_DOUBLE(s, l, v, a, lo, hi, h)                                               \
    {.type = OPT_T_DOUBLE, .short_name = (s), .long_name = (l), .value = OPT_TYPED_(double, v), \
     .argh = (a), .help = (h), .dmin = (lo), .dmax = (hi)}
#define OPT_SECONDS(s, l, v, a, h)                                                      \
    {.type = OPT_T_SECONDS, .short_name = (s), .long_name = (l),                         \
     .value = OPT_TYPED_(int64_t, v), .argh = (a), .help = (h)}
#define OPT_LIST(s, l, v, a, h)                                                         \
    {.type = OPT_T_LIST, .short_name = (s), .long_name = (l),                            \
     .value = OPT_TYPED_(struct opt_list, v), .argh = (a), .help = (h)}
#define OPT_CALLBACK(s, l, v, a, h, fn)                                                 \
    {.type = OPT_T_CALLBACK, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
     .help = (h), .cb = (fn)}
#define OPT_INCLUDE(table, base, b) {.type = OPT_T_INCLUDE, .sub = (table), .value = (base), .bits = (b)}

/* Entries of a shared table: the destination is field f of struct type T
 * (checked at compile time), b the entry's bit (0: always included). */
#define OPT_REL_(T, f, FT) \
    ((void *)(offsetof(T, f) + 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *)0)->f), FT) ? 1 : -1])))
#define OPT_FLAG_AT(b, l, T, f, h) \
    {.type = OPT_T_FLAG, .long_name = (l), .value = OPT_REL_(T, f, bool), .help = (h), .bits = (b), .flags = OPT_F_REL}
#define OPT_STRING_AT(b, l, T, f, a, h)                                                 \
    {.type = OPT_T_STRING, .long_name = (l), .value = OPT_REL_(T, f, const char *), .argh = (a), \
     .help = (h), .bits = (b), .flags = OPT_F_REL}
#define OPT_INT_AT(b, l, T, f, a, lo, hi, h)                                            \
    {.type = OPT_T_INT, .long_name = (l), .value = OPT_REL_(T, f, int64_t), .argh = (a),  \
     .help = (h), .min = (lo), .max = (hi), .bits = (b), .flags = OPT_F_REL}
#define OPT_DOUBLE_AT(b, l, T, f, a, lo, hi, h)                                         \
    {.type = OPT_T_DOUBLE, .long_name = (l), .value = OPT_REL_(T, f, double), .argh = (a), \
     .help = (h), .dmin = (lo), .dmax = (hi), .bits = (b), .flags = OPT_F_REL}
#define OPT_SECONDS_AT(b, l, T, f, a, h)                                                \
    {.type = OPT_T_SECONDS, .long_name = (l), .value = OPT_REL_(T, f, int64_t), .argh = (a), \
     .help = (h), .bits = (b), .flags = OPT_F_REL}
#define OPT_CALLBACK_AT(b, l, T, f, FT, a, h, fn)                                       \
    {.type = OPT_T_CALLBACK, .long_name = (l), .value = OPT_REL_(T, f, FT), .argh = (a),  \
     .help = (h), .cb = (fn), .bits = (b), .flags = OPT_F_REL}

/* A command's first word, for commands that have them (collect start). */
struct opt_verb {
    const char *name;
    const char *help;
};

/* What --help shows around the options, and how arguments are taken. */
struct opt_cmd {
    const char *name;                 /* "scheduler": messages say "tracekit scheduler" */
    const char *const *usage;         /* synopsis lines, NULL-terminated, without "usage: " */
    const char *description;          /* printed as written, after the synopsis; or NULL */
    const struct opt_verb *verbs;     /* {NULL} terminated; the first argument must be one */
    const char *verb_noun;            /* what a verb is called in messages (default "action") */
    const char *epilogue;             /* printed as written, after the options; or NULL */
    unsigned flags;                   /* OPT_ARGS, OPT_STOP_AT_ARG */
};

enum {
    OPT_ARGS = 1,          /* arguments that are not options are the command's */
    OPT_STOP_AT_ARG = 2,   /* options end at the first argument (tracekit exec -- CMD) */
};

/* Results of opt_parse below 0. */
enum { OPT_DONE_HELP = -1, OPT_DONE_ERROR = -2 };

/* Parse argv (argv[0] is the command's name) against opts.  Returns the
 * index of the first argument that is not an option (argc when there are
 * none; arguments are an error unless cmd->flags has OPT_ARGS); with verbs,
 * *verb (if not NULL) gets the index of the verb given and the returned
 * index is past it.  OPT_DONE_HELP: --help (or -h) was printed on stdout;
 * OPT_DONE_ERROR: a usage error was printed on stderr. */
int opt_parse(const struct opt_cmd *cmd, const struct opt *opts, int argc, char **argv, int *verb);

/* The exit code for an opt_parse result below 0: 0 after help, 2 after an
 * error. */
int opt_exit_code(int result);

/* Write the whole --help text (what -h prints) to out. */
void opt_usage(const struct opt_cmd *cmd, const struct opt *opts, FILE *out);

/* How far apart two words are: insertions, deletions, substitutions and
 * swaps of neighbours (Damerau-Levenshtein, optimal string alignment). */
size_t opt_distance(const char *a, const char *b);
/* The word of words[] closest to w when it is near enough to be a typo (at
 * most one edit in four letters, at least one), else NULL ("did you mean"). */
const char *opt_closest(const char *w, const char *const *words, size_t n);

#endif
