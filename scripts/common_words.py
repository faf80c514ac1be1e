#!/usr/bin/env python3
"""Derives the search index's list of common words from real administrative text.

Input: a province's catalog of administrative procedures (CSV; its "TÊN TTHC" and
"LĨNH VỰC" columns), e.g. ../shared/data/procedures/lang-son.csv, and real letters'
ground-truth text (*.gt.txt in ../shared/data/scans/).
Output: src/store/common_words.txt, the 256 most frequent folded syllables (numbers
left out), most frequent first, ties in alphabetical order.

The index keeps pairs of adjacent words only when both are on this list (see
src/store/tokenize.rs): a phrase of common words is matched on those pairs, any other
on word positions. The list is part of the index format: when it changes, rename
`PAIRS` in src/store/index.rs so that existing indexes are rebuilt.

Usage: scripts/common_words.py [CATALOG.csv] [SCANS_DIR] [OUT.txt]
"""

import collections
import csv
import pathlib
import re
import sys
import textwrap
import unicodedata

COUNT = 256
# The catalog's first two rows after the header are the source system's test entries.
TEST_ROWS = 2


def fold(text):
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text):
    return [w for w in re.findall(r"\w+", fold(text)) if not w.isdigit()]


def main():
    catalog = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/procedures/lang-son.csv"
    scans = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/scans"
    out = sys.argv[3] if len(sys.argv) > 3 else "src/store/common_words.txt"
    counts = collections.Counter()
    with open(catalog, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[TEST_ROWS:]
    for row in rows:
        counts.update(words(row["TÊN TTHC"]))
        counts.update(words(row["LĨNH VỰC"]))
    for letter in sorted(pathlib.Path(scans).glob("*.gt.txt")):
        counts.update(words(letter.read_text(encoding="utf-8")))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:COUNT]
    listed = [word for word, _ in ranked]
    unexpected = [w for w in listed if not re.fullmatch(r"[a-z]+", w)]
    if unexpected:
        sys.exit(f"not folded ASCII words: {unexpected}")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(textwrap.wrap(" ".join(listed), 88)) + "\n")
    print(f"{out}: {len(listed)} words from {len(rows)} procedures and the letters in {scans}")


if __name__ == "__main__":
    main()
