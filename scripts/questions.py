#!/usr/bin/env python3
"""Writes the question set: questions about administrative procedures, written the way
people write to a public-service portal, each labeled with the procedures that answer it.

Source: the procedures of sohoa's taxonomy (src/classify/taxonomy.json, itself derived
from the official catalog in ../shared/data/procedures/lang-son.csv by taxonomy.py).
For each sampled procedure, a span of its name is the need ("đăng ký khai sinh cho
con", "cấp giấy phép xây dựng"), grown until at most MAX_ANSWERS procedures' names hold
it; the procedures whose names hold it are the answers. The span goes into a question
from one of the templates below (first person, a situation, a place, a name; 3 to 60
words), then is roughened as people type: marks dropped (all, or a word's), letters
swapped, stray quotes, dashes, stars and colons.

Every third question (by id) is held out: tuning looks only at the others, and the
held-out third is phrased with templates of its own (numbered from 100) that tuning
never saw.
Usage: scripts/questions.py [TAXONOMY.json] [OUT.jsonl] [COUNT]
"""

import json
import random
import re
import sys
import unicodedata

TAXONOMY = sys.argv[1] if len(sys.argv) > 1 else "src/classify/taxonomy.json"
OUT = sys.argv[2] if len(sys.argv) > 2 else "samples/questions/questions.jsonl"
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 360
MAX_ANSWERS = 5

PLACES = ["Nghi Lộc", "Diễn Châu", "Quỳnh Lưu", "Yên Thành", "Đô Lương", "Thanh Chương",
          "Hưng Nguyên", "Nam Đàn", "Con Cuông", "Tân Kỳ", "Quế Phong", "Anh Sơn"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em",
         "Võ Thị Hoa", "Đặng Văn Hùng", "Bùi Thị Lan"]
TEMPLATES = [
    "Tôi muốn {s} thì cần làm những thủ tục gì?",
    "Cho tôi hỏi {s} cần chuẩn bị hồ sơ gồm những gì và nộp ở đâu ạ?",
    "Gia đình tôi ở huyện {place}, nay có nhu cầu {s}. Xin hỏi thủ tục như thế nào, mất bao lâu thì có kết quả?",
    "{s} ở đâu",
    "Anh {name} làm hồ sơ {s}, anh có thể tự mình nộp trực tuyến không hay phải đến Bộ phận một cửa?",
    "Xin hỏi: công ty chúng tôi cần {s}. Vậy phải làm thủ tục gì với cơ quan nhà nước?",
    "{s}",
    "thủ tục {s} cần giấy tờ gì",
    "Kính gửi quý cơ quan. Tôi là {name}, đang sống ở huyện {place}. Tôi cần {s} nhưng không "
    "biết bắt đầu từ đâu. Tôi đã hỏi ở xã nhưng cán bộ bảo phải lên huyện, vậy có đúng không? "
    "Lệ phí bao nhiêu? Mong được hướng dẫn, xin cảm ơn.",
    "mình cần {s} gấp, làm online được ko",
]
# More phrasings for tuning, whose asking words the index's QUESTION_WORDS list does not
# hold (numbered from 50): what tuning measures beyond the list.
DEV_TEMPLATES = [
    "Nhờ cán bộ tư vấn giúp: nhà em định {s}, cần đem theo bản gốc hay bản sao công chứng?",
    "Xã viên chúng tôi thắc mắc về việc {s}; thời gian xử lý là bao nhiêu ngày làm việc?",
    "{s} mất mấy ngày",
    "Bố mẹ tôi già yếu, tôi có thể thay mặt bố mẹ {s} được không, có cần giấy ủy quyền không?",
    "Quy định mới nhất về {s} là gì vậy mọi người",
]
# Phrasings of the held-out third only: nothing in tuning saw them.
HELD_OUT_TEMPLATES = [
    "Em chào anh chị, em đang tìm hiểu về việc {s}, anh chị cho em xin danh mục giấy tờ với ạ",
    "Ông {name} (trú tại {place}) hỏi: muốn {s} thì nộp hồ sơ ở cơ quan nào, thời hạn giải quyết bao nhiêu ngày?",
    "{s} có mất phí không",
    "Trường hợp của tôi là {s}. Tôi phải đi những đâu và gặp ai? Có cần ủy quyền cho người khác làm thay được không?",
    "hướng dẫn {s}",
    "Bà {name} ở {place} đề nghị được biết quy trình {s} và các mẫu đơn kèm theo.",
]


def fold(text):
    """Marks and đ folded, lower case: how sohoa's index compares words."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower()


def words(text):
    return re.findall(r"\w+", fold(text))


def contains(haystack, needle):
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def need_of(name):
    """The name without its bracketed details and trailing qualifiers, lower-cased first."""
    name = re.sub(r"\([^)]*\)", " ", name)
    name = re.split(r"[;:]", name)[0]
    name = re.sub(r"\s+", " ", name).strip(" ,.-")
    return name[:1].lower() + name[1:]


def misspell(rng, text):
    """One slip: two letters swapped, or one word's marks lost."""
    tokens = text.split(" ")
    long = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    t = tokens[i]
    if rng.random() < 0.5:
        j = rng.randrange(1, len(t) - 2)
        t = t[:j] + t[j + 1] + t[j] + t[j + 2:]
    else:
        t = unicodedata.normalize("NFC", "".join(
            c for c in unicodedata.normalize("NFD", t) if unicodedata.category(c) != "Mn"))
    tokens[i] = t
    return " ".join(tokens)


def main():
    taxonomy = json.load(open(TAXONOMY, encoding="utf-8"))
    procedures = [(p["code"], p["name"]) for s in taxonomy["sectors"] for p in s["procedures"]]
    folded = [(code, words(name)) for code, name in procedures]
    rng = random.Random(21)
    sample = rng.sample(procedures, min(COUNT, len(procedures)))
    out = []
    for code, name in sample:
        need = need_of(name).split(" ")
        start = 0 if rng.random() < 0.7 else rng.randrange(0, max(1, len(need) - 3))
        length = rng.randint(3, 6)
        while True:
            span = " ".join(need[start:start + length])
            answers = [c for c, w in folded if contains(w, words(span))]
            if len(answers) <= MAX_ANSWERS or start + length >= len(need) or length >= 12:
                break
            length += 1
        if len(answers) > MAX_ANSWERS or code not in answers:
            # The whole name is shared by too many procedures to tell apart, or the
            # span was cut across a bracket the name's words do not show.
            continue
        held_out = len(out) % 3 == 0
        if held_out:
            number, template = rng.choice(list(enumerate(HELD_OUT_TEMPLATES, 100)))
        elif rng.random() < 0.4:
            number, template = rng.choice(list(enumerate(DEV_TEMPLATES, 50)))
        else:
            number, template = rng.choice(list(enumerate(TEMPLATES)))
        question = template.format(s=span, place=rng.choice(PLACES), name=rng.choice(NAMES))
        roughened = []
        r = rng.random()
        if r < 0.35:
            question = unicodedata.normalize("NFC", "".join(
                c for c in unicodedata.normalize("NFD", question.replace("đ", "d").replace("Đ", "D"))
                if unicodedata.category(c) != "Mn"))
            roughened.append("no marks")
        if rng.random() < 0.25:
            question = misspell(rng, question)
            roughened.append("a slip")
        if rng.random() < 0.15:
            question = rng.choice(['"', "- ", "* ", "Hỏi: ", "Re: "]) + question
            roughened.append("stray punctuation")
        if rng.random() < 0.1:
            question = question.lower()
        out.append({
            "id": len(out),
            "question": question,
            "answers": answers,
            "procedure": code,
            "template": number,
            "roughened": roughened,
            "held_out": held_out,
        })
    with open(OUT, "w", encoding="utf-8") as f:
        for q in out:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    lengths = sorted(len(q["question"].split()) for q in out)
    print(f"{len(out)} questions ({sum(q['held_out'] for q in out)} held out), "
          f"{lengths[0]}-{lengths[-1]} words, median {lengths[len(lengths) // 2]}")


main()
