/* fuzz_parquet.c -- the Parquet reader on any file: open it, then decode
 * every leaf column of every row group.  Besides "no crash, no leak, no
 * OOM under -rss_limit_mb" it checks what a decoded column promises: as
 * many values as the row group has rows, nulls only where the column can
 * hold them and counted right, byte-array offsets rising within the data. */
#include "fuzz.h"
#include "parquet/parquet.h"

static void check_column(const struct pq_reader *r, int g, int k, const struct pq_column *c)
{
    const struct pq_leaf *l = pq_reader_leaf(r, k);
    if ((int64_t)c->n != pq_reader_row_group_rows(r, g))
        abort();   /* a column must hold exactly its row group's rows */
    if (c->nulls > c->n || (!c->valid && c->nulls) || (c->valid && l->max_def == 0))
        abort();
    size_t nulls = 0;
    for (size_t i = 0; c->valid && i < c->n; i++)
        nulls += !c->valid[i];
    if (nulls != c->nulls)
        abort();
    if (c->off) {
        if (c->off[0] != 0)
            abort();
        for (size_t i = 0; i < c->n; i++) {
            if (c->off[i + 1] < c->off[i])
                abort();
            size_t len;
            const uint8_t *p = pq_column_bytes(c, i, &len);
            volatile uint8_t sink = 0;
            if (len)   /* touch both ends: ASan sees any offset past the data */
                sink ^= p[0] ^ p[len - 1];
            (void)sink;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_tmpfile(data, size, ".parquet");
    char err[512];
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    if (r) {
        /* The default budget (512 MiB) would let one input fill libFuzzer's
         * 512 MB limit; a quarter of it still decodes every real seed. */
        pq_reader_set_budget(r, (uint64_t)128 << 20);
        for (int g = 0; g < pq_reader_num_row_groups(r); g++)
            for (int k = 0; k < pq_reader_nleaves(r); k++) {
                struct pq_column c;
                if (pq_read_column(r, g, k, &c, err, sizeof err) < 0) {
                    if (!err[0])
                        abort();   /* a failure always says why */
                    continue;
                }
                check_column(r, g, k, &c);
                pq_column_free(&c);
            }
        pq_reader_close(r);
    } else if (!err[0]) {
        abort();
    }
    unlink(path);
    free(path);
    return 0;
}
