/* jsonl.h -- JSON Lines: a fast object builder for hot paths, an append-only
 * writer that flushes and fsyncs at safe points, and a tolerant reader that
 * skips (and counts) malformed lines and a torn last line.
 *
 * Output uses Python's json.dumps spacing (", " and ": ") so lines look like
 * the ones the original tools wrote. */
#ifndef TK_JSONL_H
#define TK_JSONL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- building one line ---- */

/* The deepest nesting of containers the builder writes (the outermost
 * object or array is level 1).  An open beyond it is refused: nothing is
 * written for it nor for anything inside it until its close, and the
 * builder remembers it (jb_ok is false until jb_reset).  The text stays
 * well-formed; the caller decides whether a cut value is acceptable. */
#define JB_MAX_DEPTH 32

struct jbuf {
    char *p;
    size_t len, cap;
    int depth;                  /* may exceed JB_MAX_DEPTH while refusing */
    bool too_deep;              /* something was refused since jb_reset */
    bool first[JB_MAX_DEPTH];
};

void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
static inline void jb_reset(struct jbuf *b)
{
    b->len = 0;
    b->depth = 0;
    b->too_deep = false;
}
/* False when a container was refused for its depth since jb_reset. */
static inline bool jb_ok(const struct jbuf *b) { return !b->too_deep; }

/* Objects and arrays; `key` is NULL inside arrays and for the outermost value. */
void jb_obj_open(struct jbuf *b, const char *key);
void jb_obj_close(struct jbuf *b);
void jb_arr_open(struct jbuf *b, const char *key);
void jb_arr_close(struct jbuf *b);

void jb_int(struct jbuf *b, const char *key, int64_t v);
void jb_uint(struct jbuf *b, const char *key, uint64_t v);
/* Shortest text that reads back as the same double (like Python's repr);
 * NaN and infinities are written as null (JSON has no such numbers). */
void jb_double(struct jbuf *b, const char *key, double v);
/* Fixed number of decimals, trailing zeros kept (fast, for hot paths). */
void jb_fixed(struct jbuf *b, const char *key, double v, int decimals);
void jb_str(struct jbuf *b, const char *key, const char *s);
void jb_strn(struct jbuf *b, const char *key, const char *s, size_t n);
void jb_bool(struct jbuf *b, const char *key, bool v);
void jb_null(struct jbuf *b, const char *key);
/* v when has, else null (jb_str already writes null for a NULL string). */
void jb_opt_int(struct jbuf *b, const char *key, bool has, int64_t v);
/* Insert already-encoded JSON text as a value. */
void jb_raw(struct jbuf *b, const char *key, const char *json);
/* Append a jansson value (used when re-emitting records read from disk).
 * 0, or -1 when part of it lay deeper than JB_MAX_DEPTH: that part was
 * left out (see JB_MAX_DEPTH).  The recursion is bounded by the same limit. */
int jb_json(struct jbuf *b, const char *key, const json_t *v);
void jb_newline(struct jbuf *b);
/* Raw bytes (no separators). */
void jb_append(struct jbuf *b, const char *s, size_t n);
/* Formatted raw text (no separators): for building Markdown and HTML. */
void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- appending lines to a file ---- */

struct jsonl_writer {
    int fd;
    char *path;
    struct jbuf pending;        /* lines not yet written */
    int64_t sync_every_ns;      /* fsync at most this often from jsonl_flush */
    int64_t last_sync_ns;
    uint64_t lines, bytes;      /* totals written by this writer */
    uint64_t write_errors;
};

/* Open for append (create if missing, TK_FILE_MODE; a symlink at path is
 * refused with ELOOP, never followed).  A previous torn last line is closed
 * with a newline first so new records are never glued onto it.
 * sync_every_ms: 0 = fsync on every flush. Returns 0 or -1 with errno. */
int jsonl_open(struct jsonl_writer *w, const char *path, int sync_every_ms);
/* Queue one line (the builder's content plus '\n'). */
void jsonl_add(struct jsonl_writer *w, const struct jbuf *line);
/* Write queued lines with one write(2); fsync when due. 0 or -1. */
int jsonl_flush(struct jsonl_writer *w);
/* Write queued lines and fsync now. */
int jsonl_sync(struct jsonl_writer *w);
int jsonl_close(struct jsonl_writer *w);
/* One-shot: append one line to a file and fsync (for rare records such as
 * task events written by many processes: a single O_APPEND write each). */
int jsonl_append_line(const char *path, const struct jbuf *line);

/* ---- reading ---- */

/* The deepest value accepted from input (files, Redis, other nodes): a
 * line nested deeper is malformed.  Below JB_MAX_DEPTH, so that a value
 * read can be written back inside a few levels of our own records. */
#define JSONL_MAX_DEPTH 16

/* The nesting depth of JSON text (brackets outside strings), counting
 * stops at limit + 1.  Not a validator: for text that is not JSON the
 * figure means nothing, and the parser has the last word. */
int jsonl_text_depth(const char *s, size_t n, int limit);
/* json_loadb and json_loads refusing text nested deeper than
 * JSONL_MAX_DEPTH (NULL; je->text says "nested deeper than 16 levels" and
 * je->position where).  Every parse of hostile text goes through these. */
json_t *jsonl_loadb(const char *s, size_t n, size_t flags, json_error_t *je);
json_t *jsonl_loads(const char *s, size_t flags, json_error_t *je);

/* The longest line a reader takes (bytes, without '\n').  A longer one is
 * never held whole: it comes back from jsonl_next_line as the one byte
 * 0x01, which no parser accepts (so it is counted as malformed), and is
 * counted in `oversized`. */
#define JSONL_MAX_LINE ((size_t)64 << 20)

struct jsonl_reader {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    char *buf;           /* read-ahead: buf[bpos..blen) not yet returned */
    size_t bpos, blen;
    uint64_t oversized;  /* lines longer than JSONL_MAX_LINE */
    uint64_t lineno;     /* lines seen */
    uint64_t good;       /* objects returned */
    uint64_t malformed;  /* complete lines that were not a JSON object (or too deep) */
    uint64_t torn;       /* unterminated last line that did not parse */
    uint64_t blank;
};

/* Open path for reading: a regular file only (open_regular: a FIFO or a
 * symlink is refused, -1 with errno, never waited on). */
int jsonl_reader_open(struct jsonl_reader *r, const char *path);
/* json_load_file, but only of a regular file (open_regular) and through
 * jsonl_loadb (its depth limit); NULL with je->text saying why (je may be
 * NULL). */
json_t *jsonl_load_file(const char *path, size_t flags, json_error_t *je);
/* Next line as raw text (without '\n'; at most JSONL_MAX_LINE bytes, see
 * there); 1 = line, 0 = EOF, -1 = error.  *complete says whether it ended
 * with '\n'.  The text is valid until the next call. */
int jsonl_next_line(struct jsonl_reader *r, const char **line, size_t *len, bool *complete);
/* Next JSON object; malformed/torn lines are counted and skipped.
 * 1 = *obj set (caller json_decref), 0 = EOF, -1 = I/O error. */
int jsonl_next(struct jsonl_reader *r, json_t **obj);
/* The same counting around another decoder: the next non-blank line that
 * take(line, len, ctx) accepts (returns true for); lines it refuses are
 * counted as malformed (or torn, the last unterminated one) and skipped.
 * 1 = taken, 0 = EOF, -1 = I/O error. */
int jsonl_next_with(struct jsonl_reader *r, bool (*take)(const char *line, size_t len, void *ctx),
                    void *ctx);
void jsonl_reader_close(struct jsonl_reader *r);

/* ---- fields of a parsed object ----
 * One reading rule everywhere: an integer field may also be written as a
 * real with an integral value (some writers emit 1.0e3) below 2^53; a
 * number must be finite.  A missing field or another type is "absent". */
bool jsonl_int(const json_t *o, const char *key, int64_t *out);  /* false: absent */
bool jsonl_num(const json_t *o, const char *key, double *out);   /* false: absent */
double jsonl_num_or(const json_t *o, const char *key, double absent);
const char *jsonl_str(const json_t *o, const char *key);         /* NULL: absent */

/* Plausible wall-clock times in ms since the epoch: 1970-01-01 up to
 * 2200-01-01.  Anything else in input is an error, not a time: refusing it
 * where it is read keeps every sum and difference of times in range. */
#define JSONL_TS_MIN_MS 0
#define JSONL_TS_MAX_MS INT64_C(7258118400000)
static inline bool jsonl_ts_valid(int64_t ms) { return ms >= JSONL_TS_MIN_MS && ms <= JSONL_TS_MAX_MS; }
/* jsonl_int of a timestamp; *bad (may be NULL) is set when the field is an
 * integer outside the plausible range, which also returns false. */
bool jsonl_ts(const json_t *o, const char *key, int64_t *out, bool *bad);

#endif
