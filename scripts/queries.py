#!/usr/bin/env python3
"""A labeled query set for measuring search relevance.

The archive is samples/labeled/eval-noisy.jsonl (240 documents read through an OCR
error model); a document is relevant to a query when its TRUE text
(eval-clean.jsonl) contains what the query asks for, whatever OCR did to it. Queries
cover rare and common words, phrases, document numbers, citizen IDs, people's names,
subjects, with and without diacritics, with an OCR slip typed in, and with filters.

Usage: scripts/queries.py [OUT.jsonl] [--seed S]
"""

import json
import random
import re
import sys
import unicodedata


def fold(text):
    d = unicodedata.normalize("NFD", text)
    s = "".join(c for c in d if not unicodedata.combining(c))
    return s.replace("đ", "d").replace("Đ", "D").lower()


def words(text):
    return re.findall(r"\w+", fold(text))


def contains_phrase(text, phrase):
    """Phrase match on folded words, as search without marks sees text."""
    t, p = words(text), words(phrase)
    return any(t[i:i + len(p)] == p for i in range(len(t) - len(p) + 1))


def contains_all(text, query_words):
    t = set(words(text))
    return all(w in t for w in words(" ".join(query_words)))


def slip(word, rng):
    """One OCR-like slip inside a word of 5+ letters (a letter confused)."""
    swaps = {"g": "q", "n": "ri", "m": "rn", "c": "e", "h": "b", "l": "1", "i": "l", "u": "v"}
    positions = [i for i, c in enumerate(word) if c in swaps and 0 < i < len(word) - 1]
    if not positions:
        return None
    i = rng.choice(positions)
    return word[:i] + swaps[word[i]] + word[i + 1:]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "samples/labeled/queries.jsonl"
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 11
    rng = random.Random(seed)
    docs = [json.loads(l) for l in open("samples/labeled/eval-clean.jsonl", encoding="utf-8")]
    queries = []

    def add(kind, query, test):
        relevant = [d["id"] for d in docs if test(d)]
        if relevant and all(q["query"] != query for q in queries):
            queries.append({"kind": kind, "query": query, "relevant": relevant})

    by_subject = [d for d in docs if d["fields"]["subject"]]
    for d in rng.sample(by_subject, 14):
        subject = d["fields"]["subject"]
        phrase = " ".join(subject.split()[:6])
        add("subject, marks", phrase, lambda x, p=phrase: contains_all(x["text"], [p]))
        add("subject, no marks", fold(phrase), lambda x, p=phrase: contains_all(x["text"], [p]))
    for d in rng.sample(docs, 10):
        number = d["fields"]["number"]
        add("document number", number, lambda x, n=number: x["fields"]["number"] == n)
    with_ids = [d for d in docs if d["fields"]["citizen_ids"]]
    for d in rng.sample(with_ids, min(8, len(with_ids))):
        cid = d["fields"]["citizen_ids"][0]
        add("citizen ID", cid, lambda x, c=cid: c in x["text"])
    names = sorted({m for d in docs for m in re.findall(r"(?:Nguyễn|Trần|Lê|Phạm|Hoàng|Phan|Võ|Đặng|Bùi|Đỗ|Hồ|Ngô) \w+ \w+", d["text"])})
    for name in rng.sample(names, 8):
        add("person, phrase", f'"{name}"', lambda x, n=name: contains_phrase(x["text"], n))
    for phrase in ["giấy phép môi trường", "trợ cấp thất nghiệp", "thủ tục hành chính", "đăng ký khai sinh",
                   "bảo hiểm xã hội", "quyền sử dụng đất", "khai thác khoáng sản", "an toàn thực phẩm",
                   "di tích lịch sử", "hợp tác xã"]:
        add("phrase", f'"{phrase}"', lambda x, p=phrase: contains_phrase(x["text"], p))
    for rare in ["Lào", "taluy", "LPG", "vắc xin", "siêu trọng", "X-quang", "tượng đài"]:
        add("rare word", rare, lambda x, r=rare: contains_all(x["text"], [r]))
    for common in ["ủy ban nhân dân", "kinh phí", "quy định"]:
        add("common words", common, lambda x, c=common: contains_all(x["text"], [c]))
    # OCR slips typed by the user (or read by OCR in the archive): one letter off.
    slipped = 0
    for d in rng.sample(by_subject, 40):
        ws = [w for w in d["fields"]["subject"].split() if len(w) >= 5]
        if not ws:
            continue
        w = rng.choice(ws)
        s = slip(w, rng)
        if s is None or fold(s) == fold(w):
            continue
        add("OCR slip", s, lambda x, o=w: contains_all(x["text"], [o]))
        slipped += 1
        if slipped == 6:
            break
    for d in rng.sample(docs, 6):
        sector = d["sector"]
        year = d["fields"]["date"][:4]
        add("filters and words", f"sector:{sector} date:{year} {d['fields']['type'] == 'CV' and 'V/v' or ''}".strip(),
            lambda x, s=sector, y=year: x["sector"] == s and x["fields"]["date"].startswith(y))
    with open(out, "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    kinds = {}
    for q in queries:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    print(f"{out}: {len(queries)} queries: {kinds}")


if __name__ == "__main__":
    main()
