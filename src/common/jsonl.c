/* jsonl.c -- the JSON builder, the append-only JSONL writer and the tolerant
 * reader (see jsonl.h). */
#include "common/jsonl.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void jb_init(struct jbuf *b)
{
    memset(b, 0, sizeof *b);
    b->cap = 256;
    b->p = xmalloc(b->cap);
}

void jb_free(struct jbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void reserve(struct jbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = xrealloc(b->p, b->cap);
    }
}

void jb_append(struct jbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        jb_append(b, small, (size_t)n);
        return;
    }
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* A JSON string of any bytes: control characters escaped, well-formed
 * UTF-8 kept, any other byte written as U+FFFD, so the line is always
 * valid JSON (a process name from /proc, or a string cut at a byte limit,
 * may hold a broken sequence that every JSON reader would refuse). */
static void put_escaped(struct jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Fast path: nothing to escape (keys, names, most values). */
    size_t k = 0;
    while (k < n && (unsigned char)s[k] >= 0x20 && (unsigned char)s[k] < 0x7f && s[k] != '"' &&
           s[k] != '\\')
        k++;
    if (k == n) {
        reserve(b, n + 2);
        char *o = b->p + b->len;
        *o++ = '"';
        memcpy(o, s, n);
        o[n] = '"';
        b->len += n + 2;
        b->p[b->len] = '\0';
        return;
    }
    reserve(b, n * 6 + 2);
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            } else if (c < 0x80) {
                *o++ = (char)c;
            } else {
                size_t u = utf8_len((const unsigned char *)s + i, n - i);
                if (u) {
                    memcpy(o, s + i, u);
                    o += u;
                    i += u - 1;
                } else {
                    memcpy(o, "\\ufffd", 6);
                    o += 6;
                }
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* Separator and key before a value.  False (nothing written) inside a
 * refused container. */
static bool prefix(struct jbuf *b, const char *key)
{
    if (b->depth > JB_MAX_DEPTH)
        return false;
    if (b->depth > 0) {
        if (!b->first[b->depth - 1])
            jb_append(b, ", ", 2);
        b->first[b->depth - 1] = false;
    }
    if (key) {
        put_escaped(b, key, strlen(key));
        jb_append(b, ": ", 2);
    }
    return true;
}

static void open_container(struct jbuf *b, const char *key, char c)
{
    if (b->depth >= JB_MAX_DEPTH) {
        /* Counted, not written, so that the matching close is dropped too. */
        b->too_deep = true;
        if (b->depth < INT_MAX)
            b->depth++;
        return;
    }
    prefix(b, key);
    jb_append(b, &c, 1);
    b->first[b->depth] = true;
    b->depth++;
}

static void close_container(struct jbuf *b, char c)
{
    if (b->depth > JB_MAX_DEPTH) {
        b->depth--;
        return;
    }
    if (b->depth > 0)
        b->depth--;
    jb_append(b, &c, 1);
}

void jb_obj_open(struct jbuf *b, const char *key) { open_container(b, key, '{'); }
void jb_obj_close(struct jbuf *b) { close_container(b, '}'); }
void jb_arr_open(struct jbuf *b, const char *key) { open_container(b, key, '['); }
void jb_arr_close(struct jbuf *b) { close_container(b, ']'); }

/* Integer to text without printf: this is on the sampler's hot path. */
static size_t u64_text(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void jb_uint(struct jbuf *b, const char *key, uint64_t v)
{
    if (!prefix(b, key))
        return;
    reserve(b, 24);
    b->len += u64_text(b->p + b->len, v);
    b->p[b->len] = '\0';
}

void jb_int(struct jbuf *b, const char *key, int64_t v)
{
    if (!prefix(b, key))
        return;
    reserve(b, 24);
    if (v < 0) {
        b->p[b->len++] = '-';
        b->len += u64_text(b->p + b->len, (uint64_t)0 - (uint64_t)v);
    } else {
        b->len += u64_text(b->p + b->len, (uint64_t)v);
    }
    b->p[b->len] = '\0';
}

void jb_double(struct jbuf *b, const char *key, double v)
{
    if (!isfinite(v)) {
        jb_null(b, key);
        return;
    }
    if (!prefix(b, key))
        return;
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* Keep it recognisably a float, like Python (1.0, not 1). */
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    jb_append(b, tmp, strlen(tmp));
}

void jb_fixed(struct jbuf *b, const char *key, double v, int decimals)
{
    if (!isfinite(v)) {
        jb_null(b, key);
        return;
    }
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (!prefix(b, key))
        return;
    if (decimals < 0 || decimals > 6 || fabs(v) > 9e12) {
        char tmp[48];
        int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
        jb_append(b, tmp, (size_t)n);
        return;
    }
    reserve(b, 40);
    bool neg = v < 0;
    uint64_t q = (uint64_t)llround(fabs(v) * scale[decimals]);
    uint64_t ip = q / (uint64_t)scale[decimals], fp = q % (uint64_t)scale[decimals];
    if (neg && q)
        b->p[b->len++] = '-';
    b->len += u64_text(b->p + b->len, ip);
    if (decimals > 0) {
        b->p[b->len++] = '.';
        for (int i = decimals - 1; i >= 0; i--) {
            b->p[b->len + (size_t)i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        b->len += (size_t)decimals;
    }
    b->p[b->len] = '\0';
}

void jb_str(struct jbuf *b, const char *key, const char *s)
{
    if (!s) {
        jb_null(b, key);
        return;
    }
    jb_strn(b, key, s, strlen(s));
}

void jb_strn(struct jbuf *b, const char *key, const char *s, size_t n)
{
    if (prefix(b, key))
        put_escaped(b, s, n);
}

void jb_bool(struct jbuf *b, const char *key, bool v)
{
    if (prefix(b, key))
        jb_append(b, v ? "true" : "false", v ? 4 : 5);
}

void jb_null(struct jbuf *b, const char *key)
{
    if (prefix(b, key))
        jb_append(b, "null", 4);
}

void jb_opt_int(struct jbuf *b, const char *key, bool has, int64_t v)
{
    if (has)
        jb_int(b, key, v);
    else
        jb_null(b, key);
}

void jb_raw(struct jbuf *b, const char *key, const char *json)
{
    if (prefix(b, key))
        jb_append(b, json, strlen(json));
}

int jb_json(struct jbuf *b, const char *key, const json_t *v)
{
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (b->depth >= JB_MAX_DEPTH) {  /* refused whole: no recursion past the limit */
            b->too_deep = true;
            return -1;
        }
        jb_obj_open(b, key);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
            rc |= jb_json(b, k, x);
        jb_obj_close(b);
        break;
    }
    case JSON_ARRAY: {
        if (b->depth >= JB_MAX_DEPTH) {
            b->too_deep = true;
            return -1;
        }
        jb_arr_open(b, key);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            rc |= jb_json(b, NULL, x);
        jb_arr_close(b);
        break;
    }
    case JSON_STRING:
        jb_strn(b, key, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jb_int(b, key, json_integer_value(v));
        break;
    case JSON_REAL:
        jb_double(b, key, json_real_value(v));
        break;
    case JSON_TRUE:
        jb_bool(b, key, true);
        break;
    case JSON_FALSE:
        jb_bool(b, key, false);
        break;
    default:
        jb_null(b, key);
    }
    return rc;
}

void jb_newline(struct jbuf *b) { jb_append(b, "\n", 1); }

/* ---- writer ---- */

/* If the file's last byte is not '\n', a previous writer died mid-line. */
static int close_torn_line(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return 0;
    char c;
    if (pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n')
        return write_all(fd, "\n", 1);
    return 0;
}

int jsonl_open(struct jsonl_writer *w, const char *path, int sync_every_ms)
{
    memset(w, 0, sizeof *w);
    w->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    if (w->fd < 0)
        return -1;
    if (close_torn_line(w->fd) < 0) {
        int e = errno;
        close(w->fd);
        errno = e;
        return -1;
    }
    w->path = xstrdup(path);
    jb_init(&w->pending);
    w->sync_every_ns = (int64_t)sync_every_ms * 1000000;
    w->last_sync_ns = now_mono_ns();
    return 0;
}

void jsonl_add(struct jsonl_writer *w, const struct jbuf *line)
{
    jb_append(&w->pending, line->p, line->len);
    jb_append(&w->pending, "\n", 1);
    w->lines++;
}

int jsonl_flush(struct jsonl_writer *w)
{
    if (w->fd < 0)
        return -1;
    int rc = 0;
    if (w->pending.len) {
        if (write_all(w->fd, w->pending.p, w->pending.len) < 0) {
            w->write_errors++;
            rc = -1;
        } else {
            w->bytes += w->pending.len;
        }
        w->pending.len = 0;
    }
    int64_t now = now_mono_ns();
    if (now - w->last_sync_ns >= w->sync_every_ns) {
        if (fdatasync(w->fd) < 0)
            rc = -1;
        w->last_sync_ns = now;
    }
    return rc;
}

int jsonl_sync(struct jsonl_writer *w)
{
    w->last_sync_ns = INT64_MIN / 2;
    return jsonl_flush(w);
}

int jsonl_close(struct jsonl_writer *w)
{
    int rc = 0;
    if (w->fd >= 0) {
        rc = jsonl_sync(w);
        if (close(w->fd) < 0)
            rc = -1;
    }
    w->fd = -1;
    free(w->path);
    w->path = NULL;
    jb_free(&w->pending);
    return rc;
}

int jsonl_append_line(const char *path, const struct jbuf *line)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    if (fd < 0)
        return -1;
    char *buf = xmalloc(line->len + 2);
    memcpy(buf, line->p, line->len);
    buf[line->len] = '\n';
    /* A lone record may follow a torn line: start it on its own line.  The
     * lock keeps other appenders (a worker's tasks share events.APP.jsonl)
     * from looking at the last byte while a record is half written: the
     * size grows page by page, and they would add a needless newline.  Best
     * effort: where flock is refused the worst case is that blank line. */
    (void)flock(fd, LOCK_EX);
    int rc = close_torn_line(fd);
    if (rc == 0)
        rc = write_all(fd, buf, line->len + 1);
    int e = errno;
    flock(fd, LOCK_UN);
    if (rc == 0) {
        rc = fdatasync(fd);
        e = errno;
    }
    free(buf);
    close(fd);
    errno = e;
    return rc;
}

/* ---- reader ---- */

/* The depth of s[0, n) up to limit + 1, and in *at the offset where it
 * first went past limit (n when it did not). */
static int scan_depth(const char *s, size_t n, int limit, size_t *at)
{
    int depth = 0, max = 0;
    bool in_str = false;
    size_t i = 0;
    for (; i < n && max <= limit; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    *at = max > limit ? i : n;
    return max;
}

/* Whether s[0, n) holds at most limit '[' and '{' together: then it cannot
 * nest deeper than limit, and the byte-by-byte scan is not needed.  memchr
 * makes this a small part of parsing a line (scan_depth alone was 6% of an
 * export, which parses every line with jansson). */
static bool few_openers(const char *s, size_t n, int limit)
{
    int count = 0;
    for (const char *open = "[{"; *open; open++)
        for (const char *p = s, *e = s + n; (p = memchr(p, *open, (size_t)(e - p))); p++)
            if (++count > limit)
                return false;
    return true;
}

int jsonl_text_depth(const char *s, size_t n, int limit)
{
    size_t at;
    return scan_depth(s, n, limit, &at);
}

json_t *jsonl_loadb(const char *s, size_t n, size_t flags, json_error_t *je)
{
    size_t at;
    if (!few_openers(s, n, JSONL_MAX_DEPTH) && scan_depth(s, n, JSONL_MAX_DEPTH, &at) > JSONL_MAX_DEPTH) {
        if (je) {
            memset(je, 0, sizeof *je);
            je->line = 1;
            je->column = je->position = at < INT_MAX ? (int)at : INT_MAX;
            snprintf(je->text, sizeof je->text, "nested deeper than %d levels",
                     JSONL_MAX_DEPTH);
            snprintf(je->source, sizeof je->source, "<string>");
        }
        return NULL;
    }
    return json_loadb(s, n, flags, je);
}

json_t *jsonl_loads(const char *s, size_t flags, json_error_t *je)
{
    return jsonl_loadb(s, strlen(s), flags, je);
}

int jsonl_reader_open(struct jsonl_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    int fd = open_regular(path);
    if (fd < 0)
        return -1;
    r->f = fdopen(fd, "r");
    if (!r->f) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    r->path = xstrdup(path);
    return 0;
}

json_t *jsonl_load_file(const char *path, size_t flags, json_error_t *je)
{
    json_error_t dummy;
    if (!je)
        je = &dummy;
    int fd = open_regular(path);
    size_t n = 0;
    char *text = fd < 0 ? NULL : read_fd(fd, &n);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (!text) {
        memset(je, 0, sizeof *je);
        snprintf(je->text, sizeof je->text, "%s", open_strerror(e));
        snprintf(je->source, sizeof je->source, "%.*s", (int)sizeof je->source - 1, path);
        return NULL;
    }
    /* through jsonl_loadb: the files of a run folder are input like its lines */
    json_t *j = jsonl_loadb(text, n, flags, je);
    free(text);
    return j;
}

/* Append b[0..n) to r->line (length *have), unless the line is already
 * over JSONL_MAX_LINE (*over). */
static void line_add(struct jsonl_reader *r, const char *b, size_t n, size_t *have, bool *over)
{
    if (*over || *have + n > JSONL_MAX_LINE) {
        *over = true;
        return;
    }
    if (*have + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < *have + n + 1)
            cap *= 2;
        cap = cap > JSONL_MAX_LINE + 1 ? JSONL_MAX_LINE + 1 : cap;
        r->line = xrealloc(r->line, cap);
        r->cap = cap;
    }
    memcpy(r->line + *have, b, n);
    *have += n;
}

int jsonl_next_line(struct jsonl_reader *r, const char **line, size_t *len, bool *complete)
{
    enum { CHUNK = 64 << 10 };
    if (!r->buf)
        r->buf = xmalloc(CHUNK);
    size_t n = 0;
    bool nl = false, over = false, any = false;
    for (;;) {
        if (r->bpos == r->blen) {
            r->bpos = 0;
            r->blen = fread(r->buf, 1, CHUNK, r->f);
            if (r->blen == 0) {
                if (ferror(r->f))
                    return -1;
                break;
            }
        }
        any = true;
        const char *p = r->buf + r->bpos, *e = memchr(p, '\n', r->blen - r->bpos);
        size_t take = e ? (size_t)(e - p) : r->blen - r->bpos;
        line_add(r, p, take, &n, &over);
        r->bpos += take + (e != NULL);
        if (e) {
            nl = true;
            break;
        }
    }
    if (!any)
        return 0;
    r->lineno++;
    if (over) {   /* never held whole: one byte no parser takes */
        r->oversized++;
        n = 0;
        line_add(r, "\x01", 1, &n, &(bool){false});
    } else if (!r->line) {
        line_add(r, "", 0, &n, &(bool){false});
    }
    if (n > 0 && r->line[n - 1] == '\r')
        n--;
    r->line[n] = '\0';
    *line = r->line;
    *len = n;
    if (complete)
        *complete = nl;
    return 1;
}

int jsonl_next_with(struct jsonl_reader *r, bool (*take)(const char *line, size_t len, void *ctx),
                    void *ctx)
{
    const char *line;
    size_t len;
    bool complete;
    int rc;
    while ((rc = jsonl_next_line(r, &line, &len, &complete)) == 1) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len) {
            r->blank++;
            continue;
        }
        if (!take(line, len, ctx)) {
            if (complete)
                r->malformed++;
            else
                r->torn++;
            continue;
        }
        r->good++;
        return 1;
    }
    return rc;
}

/* jsonl_next's decoder: an object, or refused. */
static bool take_object(const char *line, size_t len, void *ctx)
{
    json_t *v = jsonl_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return false;
    }
    *(json_t **)ctx = v;
    return true;
}

int jsonl_next(struct jsonl_reader *r, json_t **obj)
{
    return jsonl_next_with(r, take_object, obj);
}

void jsonl_reader_close(struct jsonl_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r->line);
    free(r->path);
    memset(r, 0, sizeof *r);
}

bool jsonl_int(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

bool jsonl_num(const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return false;
    *out = json_number_value(v);
    return true;
}

double jsonl_num_or(const json_t *o, const char *key, double absent)
{
    double d;
    return jsonl_num(o, key, &d) ? d : absent;
}

bool jsonl_ts(const json_t *o, const char *key, int64_t *out, bool *bad)
{
    int64_t v;
    if (bad)
        *bad = false;
    if (!jsonl_int(o, key, &v))
        return false;
    if (!jsonl_ts_valid(v)) {
        if (bad)
            *bad = true;
        return false;
    }
    *out = v;
    return true;
}

const char *jsonl_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
