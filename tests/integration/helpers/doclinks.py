#!/usr/bin/env python3
"""doclinks.py FILE.md... -- check every relative link [text](path#anchor)
in the given Markdown files: the path must exist (relative to the file that
links) and the anchor must be a heading of the target, slugged the way
GitHub does (lowercase, punctuation dropped, spaces to hyphens, -1, -2 for
repeats).  Links inside code (fenced blocks, `spans`) are not links.
Prints one line per broken link; exit status 1 if there is any."""
import os
import re
import sys

LINK = re.compile(r'\[([^\]]*)\]\(([^)\s]+)\)')


def prose_lines(path):
    """(number, text) of the lines outside fenced code, code spans removed."""
    fence = None
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            m = re.match(r'^\s*(`{3,}|~{3,})', line)
            if m:
                if fence is None:
                    fence = m.group(1)[0] * len(m.group(1))
                elif m.group(1).startswith(fence):
                    fence = None
                continue
            if fence is None:
                yield n, re.sub(r'`[^`]*`', lambda c: c.group(0).replace('[', '').replace('(', ''), line)


def slugs(path):
    out, seen = set(), {}
    fence = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            m = re.match(r'^\s*(`{3,}|~{3,})', line)
            if m:
                fence = None if fence else m.group(1)
                continue
            m = None if fence else re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
            if not m:
                continue
            text = LINK.sub(r'\1', m.group(1))
            s = re.sub(r'[^\w\- ]', '', text.lower()).replace(' ', '-')
            k = seen.get(s, 0)
            seen[s] = k + 1
            out.add(s if k == 0 else '%s-%d' % (s, k))
    return out


def main(files):
    bad = 0
    cache = {}
    for md in files:
        for n, line in prose_lines(md):
            for m in LINK.finditer(line):
                target = m.group(2)
                if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # http:, mailto:, ...
                    continue
                path, _, anchor = target.partition('#')
                dest = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
                where = '%s:%d: (%s)' % (md, n, target)
                if not os.path.exists(dest):
                    print('%s no file %s' % (where, dest))
                    bad += 1
                    continue
                if anchor:
                    if not dest.endswith('.md'):
                        print('%s an anchor into a file that is not Markdown' % where)
                        bad += 1
                        continue
                    if dest not in cache:
                        cache[dest] = slugs(dest)
                    if anchor not in cache[dest]:
                        print('%s no heading #%s in %s' % (where, anchor, dest))
                        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
