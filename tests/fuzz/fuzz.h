/* fuzz.h -- what the libFuzzer harnesses of tests/fuzz/ share.
 *
 * A harness is tests/fuzz/fuzz_<name>.c: it defines LLVMFuzzerTestOneInput,
 * feeds the bytes to one parser (or one round trip) of the library and
 * checks what must hold (TK_BUG-style aborts count as findings).  Its seed
 * inputs live in tests/fuzz/corpus/<name>/, inputs that once crashed it in
 * tests/fuzz/crashes/<name>/ (replayed by `make test` forever after).
 * docs/security.md says what is fuzzed and how to run it. */
#ifndef TK_FUZZ_H
#define TK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A malloc'd NUL-terminated copy of the input (which may hold NULs). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Write the input to a private temporary file and return its path
 * (malloc'd); the caller unlinks and frees it.  For parsers that read files. */
static inline char *fuzz_tmpfile(const uint8_t *data, size_t size, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    if (!path)
        abort();
    snprintf(path, 4096, "%s/tkfuzz.XXXXXX%s", dir && *dir ? dir : "/tmp", suffix ? suffix : "");
    int fd = mkstemps(path, suffix ? (int)strlen(suffix) : 0);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    close(fd);
    return path;
}

#endif
