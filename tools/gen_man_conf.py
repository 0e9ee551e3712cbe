#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_man_conf.py: write docs/man/ringmta.conf.5 from src/config_keys.c
and docs/CONFIG.md.

The sections and keys come from config_keys.c's tables (config_sections[]
and the key tables it names), so a key added there is never missing from
the page.  Each key's type, default and meaning come from its row in the
table of its section in docs/CONFIG.md; a key without a row is still
listed, with the type and default of its C table entry and a note, and
reported on stderr.  The prose of CONFIG.md (syntax, value types, reload,
the example) is converted as it stands.

  tools/gen_man_conf.py [-o docs/man/ringmta.conf.5]   write the page
  tools/gen_man_conf.py --keys                         print SECTION KEY lines
  tools/gen_man_conf.py --check                        exit 1 if the page is
      stale, a key has no row in CONFIG.md, or a row's default does not show
      the C table's default

Reads files only; the output is the same for the same inputs (no dates).
"""
import argparse
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS_C = os.path.join(TOP, "src", "config_keys.c")
CONFIG_MD = os.path.join(TOP, "docs", "CONFIG.md")
OUT = os.path.join(TOP, "docs", "man", "ringmta.conf.5")

# ---- config_keys.c ---------------------------------------------------------

# For each key macro: (index of the type argument or a fixed type,
#                      index of the default argument or None).
MACROS = {
    "CONFIG_PK": (2, 7),
    "CONFIG_PT": ("DURATION", 3),
    "CONFIG_KE": ("ENUM", 3),
    "CONFIG_K": (2, 7),
    "CONFIG_SK": (1, 6),
    "CONFIG_LK": (1, 6),
    "CONFIG_QK": (1, 6),
    "CONFIG_RK": (1, 6),
    "CONFIG_DK": (1, 6),
    "CONFIG_TK": (1, 6),
    "CONFIG_BK": (1, None),
}


def strip_c_comments(s):
    return re.sub(r"/\*.*?\*/", "", s, flags=re.S)


def split_args(s):
    """Split a macro's argument text at top-level commas."""
    out, depth, cur, instr = [], 0, "", False
    for i, ch in enumerate(s):
        if instr:
            cur += ch
            if ch == '"' and s[i - 1] != "\\":
                instr = False
            continue
        if ch == '"':
            instr = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def macro_calls(body):
    """Yield (macro, args) for each key macro at the top of a table body."""
    for m in re.finditer(r"\b(CONFIG_[A-Z]+)\s*\(", body):
        name = m.group(1)
        if name not in MACROS:
            continue
        # skip a macro nested in another's arguments (CONFIG_PT -> PK)
        depth, i = 1, m.end()
        while depth and i < len(body):
            if body[i] == "(":
                depth += 1
            elif body[i] == ")":
                depth -= 1
            i += 1
        yield name, split_args(body[m.end():i - 1]), m.start(), i


def parse_tables(src):
    """{table name: [(key, type, default or None)]} from the key tables."""
    tables = {}
    for m in re.finditer(
            r"(?:static\s+)?const\s+struct\s+config_key\s+(\w+)\[\]\s*=\s*"
            r"\{(.*?)\n\};", src, flags=re.S):
        keys, end = [], -1
        for name, args, start, stop in macro_calls(m.group(2)):
            if start < end:
                continue
            end = stop
            tix, dix = MACROS[name]
            names = [a for a in args if a.startswith('"')]
            if not names:
                raise SystemExit("%s: no key name in %s(%s)" %
                                 (m.group(1), name, ", ".join(args)))
            key = names[0].strip('"')
            ktype = tix if isinstance(tix, str) else args[tix]
            dflt = None
            if dix is not None and dix < len(args) and \
                    args[dix].startswith('"'):
                dflt = args[dix].strip('"')
            keys.append((key, ktype, dflt))
        tables[m.group(1)] = keys
    return tables


def parse_sections(src):
    """[(header such as "[server]", [table names])] in config_sections order."""
    m = re.search(r"config_sections\[\]\s*=\s*\{(.*?)\n\};", src, flags=re.S)
    if m is None:
        raise SystemExit("config_keys.c: no config_sections[] table")
    out = []
    for e in re.finditer(r"\[CONFIG_SEC_\w+\]\s*=\s*\{(.*?)\}\s*\}\s*,?",
                         m.group(1), flags=re.S):
        body = e.group(1)
        strs = re.findall(r'"([^"]*)"', body)
        tabs = re.search(r"\{\s*([\w\s,]+?)\s*\}", body.split('",', 2)[-1])
        names = [t.strip() for t in tabs.group(1).split(",")] if tabs else []
        out.append((strs[1], names))
    return out


def c_keys():
    """[(section header, [(key, type, default)])] from config_keys.c."""
    src = strip_c_comments(open(KEYS_C, encoding="utf-8").read())
    tables = parse_tables(src)
    out = []
    for header, names in parse_sections(src):
        keys = []
        for n in names:
            if n not in tables:
                raise SystemExit("config_keys.c: table %s not found" % n)
            keys.extend(tables[n])
        out.append((header, keys))
    return out


# ---- markdown to roff --------------------------------------------------------


def esc(s):
    """Backslashes and non-ASCII characters for roff."""
    s = s.replace("\\", "\\e")
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in s)


def inline(s):
    """Markdown inline markup to roff font escapes."""
    s = esc(s)
    s = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1", s)  # links: their text
    s = re.sub(r"`([^`]+)`",
               lambda m: "\\fB" + m.group(1).replace("-", "\\-") + "\\fR", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", s)
    s = s.replace("\\fB\\fB", "\\fB").replace("\\fR\\fR", "\\fR")
    return s


def line_out(s):
    """A text line, safe from roff's control characters at its start."""
    s = s.strip()
    if s[:1] in (".", "'"):
        s = "\\&" + s
    return s


def row_cells(line):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return cells


class Doc:
    """CONFIG.md split into level-2 sections: [(title, [lines])]."""

    def __init__(self, text):
        self.intro, self.sections = [], []
        cur, code, contents = self.intro, False, False
        for ln in text.split("\n"):
            if ln.startswith("```"):
                code = not code
            if code or ln.startswith("```"):
                cur.append(ln)
            elif ln.startswith("## "):
                cur = []
                self.sections.append((ln[3:].strip(), cur))
            elif ln.startswith("Contents:"):
                contents = True  # the table of contents: not in a man page
            elif contents and (ln.startswith("- ") or not ln.strip()):
                pass
            elif not ln.startswith("# "):
                contents = False
                cur.append(ln)

    def rows(self, header):
        """{key: (type, default, meaning)} of the section naming header."""
        out = {}
        for title, lines in self.sections:
            if "`%s`" % header not in title:
                continue
            for ln in lines:
                c = row_cells(ln) if ln.startswith("| `") else None
                if c and len(c) >= 4:
                    out[c[0].strip("`")] = (c[1], c[2], " | ".join(c[3:]))
        return out


def blocks_to_roff(lines, keyrows=None, emit_keys=None):
    """Convert a run of markdown lines; tables of keys go to emit_keys."""
    out, para, i = [], [], 0

    def flush():
        if para:
            out.append(".PP")
            out.extend(line_out(inline(p)) for p in para)
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            flush()
            out.append(".PP")
            out.append(".RS 4")
            out.append(".nf")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_out(esc(lines[i])) if lines[i].strip()
                           else "")
                i += 1
            out.append(".fi")
            out.append(".RE")
            i += 1
            continue
        if ln.startswith("|"):
            flush()
            tab = []
            while i < len(lines) and lines[i].startswith("|"):
                tab.append(lines[i])
                i += 1
            if emit_keys is not None:
                out.extend(emit_keys(tab))
            continue
        m = re.match(r"^(\s*)(-|\d+\.)\s+(.*)$", ln)
        if m:
            flush()
            level = len(m.group(1)) // 2
            text = [m.group(3)]
            i += 1
            while i < len(lines) and lines[i].strip() and \
                    not re.match(r"^\s*(-|\d+\.)\s+", lines[i]) and \
                    not lines[i].startswith("```"):
                text.append(lines[i].strip())
                i += 1
            mark = "\\(bu" if m.group(2) == "-" else m.group(2)
            if level:
                out.append(".RS 4")
            out.append('.IP "%s" 4' % mark)
            out.extend(line_out(inline(t)) for t in text)
            if level:
                out.append(".RE")
            continue
        if not ln.strip():
            flush()
            i += 1
            continue
        if ln.startswith("### "):
            flush()
            out.append(".SS " + inline(ln[4:].strip()))
            i += 1
            continue
        para.append(ln.strip())
        i += 1
    flush()
    return out


def key_entry(key, ktype, dflt, meaning):
    return [".TP", "\\fB%s\\fR (%s; default: %s)" % (esc(key), inline(ktype),
                                                       inline(dflt)),
            line_out(inline(meaning))]


def title_header(title):
    """The section header(s) a CONFIG.md title names, e.g. "[server]"."""
    return re.findall(r"`(\[[^`]+\])`", title)


def generate():
    doc = Doc(open(CONFIG_MD, encoding="utf-8").read())
    sections = c_keys()
    missing = []
    by_header = dict(sections)
    out = [
        '.\\" Generated by tools/gen_man_conf.py from src/config_keys.c and',
        '.\\" docs/CONFIG.md: edit those, then run the script again.',
        '.TH RINGMTA.CONF 5 "" "ringmta" "File Formats"',
        ".SH NAME",
        "ringmta.conf \\- ringmta configuration file",
        ".SH SYNOPSIS",
        "\\fBringmta\\fR \\fB\\-c\\fR \\fIFILE\\fR",
        ".br",
        "\\fBringctl\\fR \\fB\\-c\\fR \\fIFILE\\fR \\fICOMMAND\\fR",
        ".SH DESCRIPTION",
    ]
    out.extend(blocks_to_roff(doc.intro))
    done = set()
    for title, lines in doc.sections:
        headers = [h for h in title_header(title) if h in by_header]
        if title.lower().startswith("contents"):
            continue
        out.append(".SH " + (esc(", ".join(title_header(title)))
                             if headers else inline(title)).upper())
        if not headers:
            lines = [ln for ln in lines if not ln.startswith("Contents")]
            out.extend(blocks_to_roff(lines))
            continue

        def emit(tab, headers=headers):
            res = []
            rows = [row_cells(r) for r in tab if r.startswith("| `")]
            for c in rows:
                key = c[0].strip("`")
                res.extend(key_entry(key, c[1], c[2], " | ".join(c[3:])))
            return res

        out.extend(blocks_to_roff(lines, emit_keys=emit))
        # keys of these sections in config_keys.c without a row in CONFIG.md
        documented = set()
        for h in headers:
            documented |= set(doc.rows(h))
        extra = []
        for h in headers:
            for key, ktype, dflt in by_header[h]:
                if key in documented or (h, key) in done:
                    continue
                done.add((h, key))
                missing.append("%s %s" % (h, key))
                extra.extend(key_entry(
                    key, ktype.lower(),
                    "`%s`" % dflt if dflt else "none",
                    "Not yet described in docs/CONFIG.md (%s)." % h))
        if extra:
            out.append(".PP")
            out.append("Also in " + esc(", ".join(headers)) + ":")
            out.extend(extra)
        for h in headers:
            done.update((h, k) for k, _, _ in by_header[h])
    for h, keys in sections:
        if any((h, k) not in done for k, _, _ in keys):
            out.append(".SH " + esc(h).upper())
            for key, ktype, dflt in keys:
                missing.append("%s %s" % (h, key))
                out.extend(key_entry(
                    key, ktype.lower(), "`%s`" % dflt if dflt else "none",
                    "Not yet described in docs/CONFIG.md (%s)." % h))
    out += [
        ".SH FILES",
        ".TP",
        "\\fI./var\\fR",
        "The default \\fB[server] state_dir\\fR: spool, delivery log and the "
        "private Redis live under it unless configured elsewhere.",
        ".SH SEE ALSO",
        "\\fBringmta\\fR(8), \\fBringctl\\fR(8);",
        "docs/CONFIG.md in the source tree, from which this page is made.",
    ]
    for m in missing:
        print("gen_man_conf: %s has no row in docs/CONFIG.md" % m,
              file=sys.stderr)
    return "\n".join(out) + "\n"


def check():
    """Problems between config_keys.c, CONFIG.md and the page, one a line."""
    doc = Doc(open(CONFIG_MD, encoding="utf-8").read())
    bad = []
    for h, keys in c_keys():
        rows = doc.rows(h)
        for k, _, d in keys:
            if k not in rows:
                bad.append("%s %s: no row in docs/CONFIG.md" % (h, k))
            elif d and d not in rows[k][1]:
                bad.append("%s %s: default %r in config_keys.c, %r in "
                           "docs/CONFIG.md" % (h, k, d, rows[k][1]))
    try:
        page = open(OUT, encoding="utf-8").read()
    except OSError as e:
        page = None
        bad.append("%s: %s" % (OUT, e.strerror))
    if page is not None and page != generate():
        bad.append("%s is stale: run tools/gen_man_conf.py" %
                   os.path.relpath(OUT, TOP))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default=OUT,
                    help="where to write the page ('-' for stdout)")
    ap.add_argument("--keys", action="store_true",
                    help="print the SECTION KEY pairs of config_keys.c")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the page or CONFIG.md is out of date")
    a = ap.parse_args()
    if a.check:
        bad = check()
        for b in bad:
            print("gen_man_conf: " + b, file=sys.stderr)
        return 1 if bad else 0
    if a.keys:
        for h, keys in c_keys():
            for k, _, _ in keys:
                print(h, k)
        return 0
    text = generate()
    if a.output == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(a.output), exist_ok=True)
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
