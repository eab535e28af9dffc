#!/usr/bin/env python3
"""funclen.py DIR... -- every C function of the .c files under DIR, longest
first: "LINES FILE:LINE NAME".  A function runs from the first line of its
signature to its closing brace; the project's style puts both braces of a
function at column 0, which is what this relies on."""
import os
import re
import sys

SIG = re.compile(r'(\w+)\s*\(')


def functions(path):
    lines = open(path, errors='replace').read().split('\n')
    out = []
    i = 0
    while i < len(lines):
        if lines[i].startswith('{'):
            j = i - 1  # back over the signature, not over comments or blank lines
            while j >= 0 and lines[j].strip() and not lines[j].startswith(('}', '#', '/*', ' *')) \
                    and not lines[j].rstrip().endswith(('*/', ';')):
                j -= 1
            head = ' '.join(lines[j + 1:i])
            k = i
            while k < len(lines) and not lines[k].startswith('}'):
                k += 1
            m = SIG.search(head)
            if m and '=' not in head.split('(')[0]:
                out.append((k - j, f'{path}:{j + 2}', m.group(1)))
            i = k
        i += 1
    return out


res = []
for d in sys.argv[1:]:
    for root, _, files in os.walk(d):
        for f in sorted(files):
            if f.endswith('.c'):
                res.extend(functions(os.path.join(root, f)))
res.sort(key=lambda r: -r[0])
for n, where, name in res:
    print(n, where, name)
