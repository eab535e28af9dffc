/* parquet_format.h -- Parquet's footer (FileMetaData) and page headers as C
 * structs, and their Thrift compact encoding and decoding.  Pure: no I/O.
 *
 * Field ids and enum values are those of apache/parquet-format
 * src/main/thrift/parquet.thrift.  Only the fields a flat-column reader and
 * writer need are kept; every other field is skipped when decoding, and
 * required fields that are missing are reported as corruption. */
#ifndef TK_PARQUET_FORMAT_H
#define TK_PARQUET_FORMAT_H

#include "parquet/thrift.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pq_type {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

/* ConvertedType values we write or interpret. */
enum {
    PQ_CT_UTF8 = 0,
    PQ_CT_TIMESTAMP_MILLIS = 9,
    PQ_CT_TIMESTAMP_MICROS = 10,
};

enum pq_encoding {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

enum pq_codec {
    PQ_CODEC_UNCOMPRESSED = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7,
};

enum pq_page_type {
    PQ_PAGE_DATA = 0,
    PQ_PAGE_INDEX = 1,
    PQ_PAGE_DICTIONARY = 2,
    PQ_PAGE_DATA_V2 = 3,
};

/* The LogicalType union: kind is the union's field id (0 = no annotation). */
enum pq_logical_kind {
    PQ_LT_NONE = 0,
    PQ_LT_STRING = 1,
    PQ_LT_MAP = 2,
    PQ_LT_LIST = 3,
    PQ_LT_ENUM = 4,
    PQ_LT_DECIMAL = 5,
    PQ_LT_DATE = 6,
    PQ_LT_TIME = 7,
    PQ_LT_TIMESTAMP = 8,
    PQ_LT_INTEGER = 10,
    PQ_LT_UNKNOWN = 11,   /* the "always null" type */
    PQ_LT_JSON = 12,
    PQ_LT_BSON = 13,
    PQ_LT_UUID = 14,
    PQ_LT_FLOAT16 = 15,
};

enum pq_time_unit { PQ_UNIT_NONE = 0, PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

struct pq_logical {
    int kind;                 /* enum pq_logical_kind, or another union id */
    bool utc;                 /* TIME, TIMESTAMP */
    int unit;                 /* TIME, TIMESTAMP: enum pq_time_unit */
    int bit_width;            /* INTEGER */
    bool is_signed;           /* INTEGER */
    int32_t scale, precision; /* DECIMAL */
};

/* A byte string inside a decoded structure. */
struct pq_bytes {
    const uint8_t *p;
    size_t n;
    bool set;
};

struct pq_stats {
    struct pq_bytes max, min;              /* deprecated, signed order */
    struct pq_bytes max_value, min_value;  /* column order (TYPE_ORDER) */
    bool has_null_count, has_distinct_count, has_nan_count;
    int64_t null_count, distinct_count, nan_count;
    bool has_max_exact, max_exact, has_min_exact, min_exact;
};

struct pq_schema_elem {
    const char *name;
    bool has_type;
    int type;                 /* enum pq_type */
    int32_t type_length;      /* FIXED_LEN_BYTE_ARRAY */
    bool has_repetition;
    int repetition;           /* enum pq_repetition */
    int32_t num_children;     /* 0 = leaf */
    bool has_converted;
    int converted;
    bool has_scale, has_precision, has_field_id;
    int32_t scale, precision, field_id;
    struct pq_logical logical;
};

struct pq_encoding_stats {
    int page_type;
    int encoding;
    int32_t count;
};

struct pq_column_meta {
    int type;
    int *encodings;
    uint32_t n_encodings;
    const char **path;
    uint32_t n_path;
    int codec;
    int64_t num_values;
    int64_t total_uncompressed_size, total_compressed_size;
    int64_t data_page_offset;
    bool has_index_page_offset, has_dictionary_page_offset;
    int64_t index_page_offset, dictionary_page_offset;
    bool has_stats;
    struct pq_stats stats;
    struct pq_encoding_stats *enc_stats;
    uint32_t n_enc_stats;
};

struct pq_column_chunk {
    const char *file_path;    /* NULL: this file */
    int64_t file_offset;
    bool has_meta;
    struct pq_column_meta meta;
};

struct pq_row_group {
    struct pq_column_chunk *columns;
    uint32_t n_columns;
    int64_t total_byte_size;
    int64_t num_rows;
    bool has_file_offset, has_total_compressed_size, has_ordinal;
    int64_t file_offset, total_compressed_size;
    int16_t ordinal;
};

struct pq_kv {
    const char *key, *value;  /* value may be NULL */
};

struct pq_arena;

struct pq_file_meta {
    int32_t version;
    struct pq_schema_elem *schema;   /* [0] is the root */
    uint32_t n_schema;
    int64_t num_rows;
    struct pq_row_group *row_groups;
    uint32_t n_row_groups;
    struct pq_kv *kv;
    uint32_t n_kv;
    const char *created_by;
    int *column_orders;              /* ColumnOrder union id per leaf (1 = TYPE_ORDER) */
    uint32_t n_column_orders;
    struct pq_arena *arena;          /* owns decoded memory (NULL when built by a writer) */
};

struct pq_page_header {
    int type;                        /* enum pq_page_type */
    int32_t uncompressed_page_size;
    int32_t compressed_page_size;
    bool has_crc;
    int32_t crc;
    bool has_v1, has_dict, has_v2;
    struct {
        int32_t num_values;
        int encoding, def_encoding, rep_encoding;
        bool has_stats;
        struct pq_stats stats;
    } v1;
    struct {
        int32_t num_values;
        int encoding;
        bool has_sorted, is_sorted;
    } dict;
    struct {
        int32_t num_values, num_nulls, num_rows;
        int encoding;
        int32_t def_len, rep_len;
        bool is_compressed;          /* default true */
        bool has_stats;
        struct pq_stats stats;
    } v2;
};

/* A decoded footer takes at most this many times its encoded size (plus
 * 64 KiB): pqf_decode_file_meta fails on a footer that would expand more.
 * A plain number: list_alloc's message is made from it. */
#define PQF_FOOTER_EXPANSION 16

/* Decode a footer.  All memory hangs off m->arena; free with
 * pqf_file_meta_free.  Returns 0, or -1 with a message in err. */
int pqf_decode_file_meta(const void *p, size_t n, struct pq_file_meta *m, char *err, size_t errlen);
/* The same, its decoded lists held to 'max' bytes when that is less than
 * the expansion limit (a reader's budget left; 0: no such limit). */
int pqf_decode_file_meta_max(const void *p, size_t n, size_t max, struct pq_file_meta *m, char *err,
                             size_t errlen);
/* Bytes the decoded footer's lists and strings take (its arena). */
size_t pqf_file_meta_bytes(const struct pq_file_meta *m);
void pqf_file_meta_free(struct pq_file_meta *m);
void pqf_encode_file_meta(struct bbuf *b, const struct pq_file_meta *m);

/* Decode a page header at p (at most n bytes); *hdr_len gets its size.
 * Statistics point into p.  Returns 0, or -1 with a message in err. */
int pqf_decode_page_header(const void *p, size_t n, struct pq_page_header *h, size_t *hdr_len,
                           char *err, size_t errlen);
void pqf_encode_page_header(struct bbuf *b, const struct pq_page_header *h);

/* Names for messages and tools. */
const char *pq_type_name(int type);
const char *pq_encoding_name(int enc);
const char *pq_codec_name(int codec);
const char *pq_repetition_name(int rep);

#endif
