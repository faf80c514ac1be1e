#!/usr/bin/env python3
"""Generate the layout evaluation set: page images with ground truth in reading order.

Kinds of page (each drawn from a seed, so the set is reproducible):
- `columns-2`, `columns-3`, `columns-4`: a full-width title over 2-4 columns of body text;
  read column by column.
- `table-ruled`, `table-unruled`: a title, a sentence, and a table (households, parcels,
  fees) with or without rules; read row by row, each cell apart.
- `admin`: a page laid out as Decree 30/2020 asks, its header and foot blocks varying in
  width and position: agency, number | motto, place and date; title, body; `Nơi nhận`
  | signature block.

Every page gets `NAME.png` (300 dpi, gray; some JPEG-compressed, noisy or slightly
skewed, as scans are), `NAME.gt.txt` (the text in reading order) and `NAME.json` (kind,
split, header lines, table cells). Every fourth page is `held-out`: it is not looked at
while tuning, and the bench reports it apart.

Body text is cut from the procedure names of the shipped taxonomy (real Vietnamese
administrative vocabulary, not lorem ipsum).

Usage: scripts/layout_set.py OUT_DIR [--count N] [--seed S]   (through scripts/bench-layout)
"""

import argparse
import io
import json
import os
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

DPI = 300
PAGE_W = 2480
MARGIN = 200
FONTS = {
    "liberation": ("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
                   "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"),
    "dejavu": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"),
}
KINDS = ["columns-2", "columns-3", "columns-4", "table-ruled", "table-unruled", "admin", "admin"]
HELD_OUT_EVERY = 4

AGENCIES = [
    ("ỦY BAN NHÂN DÂN", "TỈNH NGHỆ AN", "UBND"),
    ("ỦY BAN NHÂN DÂN", "HUYỆN NGHI LỘC", "UBND"),
    ("SỞ TƯ PHÁP", "TỈNH NGHỆ AN", "STP"),
    ("SỞ XÂY DỰNG", "TỈNH NGHỆ AN", "SXD"),
    ("BẢO HIỂM XÃ HỘI", "TỈNH NGHỆ AN", "BHXH"),
    ("SỞ KẾ HOẠCH VÀ ĐẦU TƯ", "TỈNH NGHỆ AN", "SKHĐT"),
]
TYPES = [("QUYẾT ĐỊNH", "QĐ"), ("THÔNG BÁO", "TB"), ("BÁO CÁO", "BC"), ("TỜ TRÌNH", "TTr")]
PLACES = ["Nghệ An", "Vinh", "Nghi Lộc", "Cửa Lò"]
NAMES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Minh Tuấn", "Phạm Thị Hoa", "Hoàng Văn Nam",
         "Võ Thị Mai", "Đặng Quốc Bảo", "Bùi Thị Thu", "Đỗ Văn Long", "Hồ Thị Hằng"]


def vocabulary():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "src", "classify", "taxonomy.json"), encoding="utf-8") as f:
        taxonomy = json.load(f)
    names = [p["name"] for s in taxonomy["sectors"] for p in s["procedures"]]
    return [w for name in names for w in name.replace("(", "").replace(")", "").split()]


def sentence(rng, words, lo=8, hi=22):
    start = rng.randrange(len(words) - hi)
    text = " ".join(words[start:start + rng.randint(lo, hi)])
    return text[0].upper() + text[1:] + rng.choice([".", ";", ","])


def wrap(draw, text, font, width):
    lines, line = [], ""
    for word in text.split():
        trial = (line + " " + word).strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


class Page:
    def __init__(self, rng, height):
        self.image = Image.new("L", (PAGE_W, height), 255)
        self.draw = ImageDraw.Draw(self.image)
        family = rng.choice(sorted(FONTS))
        self.pt = rng.choice([12, 13, 14])
        self.regular_path, self.bold_path = FONTS[family]
        self.truth = []

    def font(self, bold=False, pt=None):
        px = round((pt or self.pt) * DPI / 72)
        return ImageFont.truetype(self.bold_path if bold else self.regular_path, px)

    def line_gap(self, pt=None):
        return round((pt or self.pt) * DPI / 72 * 1.45)

    def centered(self, text, cx, y, font):
        w = self.draw.textlength(text, font=font)
        self.draw.text((cx - w / 2, y), text, font=font, fill=0)
        return w


def columns_page(rng, words, n):
    page = Page(rng, 3508)
    d = page.draw
    title_font = page.font(bold=True, pt=page.pt + 2)
    title = sentence(rng, words, 5, 9).rstrip(".;,").upper()
    title_lines = wrap(d, title, title_font, PAGE_W - 2 * MARGIN)
    y = 220
    for line in title_lines:
        page.centered(line, PAGE_W / 2, y, title_font)
        page.truth.append(line)
        y += page.line_gap(page.pt + 2)
    y += page.line_gap()
    gap = rng.choice([70, 90, 120])
    col_w = (PAGE_W - 2 * MARGIN - gap * (n - 1)) / n
    f = page.font()
    bottom = 3508 - 250
    rows = (bottom - y) // page.line_gap()
    for c in range(n):
        x = MARGIN + c * (col_w + gap)
        lines = []
        while len(lines) < rows:
            lines += wrap(d, sentence(rng, words, 10, 30), f, col_w)
        for i, line in enumerate(lines[:rows]):
            d.text((x, y + i * page.line_gap()), line, font=f, fill=0)
            page.truth.append(line)
    return page, {"kind": f"columns-{n}"}


def table_page(rng, words, ruled):
    kind = rng.choice(["households", "parcels", "fees"])
    if kind == "households":
        head = ["STT", "Họ và tên", "Số CCCD", "Địa chỉ"]
        def row(i):
            return [str(i), rng.choice(NAMES), "0400%08d" % rng.randrange(10**8),
                    "Xóm %d, xã Nghi %s" % (rng.randint(1, 12), rng.choice(["Phú", "Kim", "Ân", "Đức"]))]
    elif kind == "parcels":
        head = ["STT", "Thửa đất số", "Tờ bản đồ", "Diện tích (m²)", "Mục đích"]
        def row(i):
            return [str(i), str(rng.randint(10, 999)), str(rng.randint(1, 40)),
                    "%d,%d" % (rng.randint(50, 2000), rng.randint(0, 9)),
                    rng.choice(["Đất ở", "Đất trồng lúa", "Đất rừng", "Đất thương mại"])]
    else:
        head = ["STT", "Nội dung", "Mức thu (đồng)"]
        def row(i):
            return [str(i), " ".join(words[(s := rng.randrange(len(words) - 5)):s + rng.randint(2, 4)]),
                    "{:,}".format(rng.randint(1, 500) * 1000).replace(",", ".")]
    rows = [head] + [row(i) for i in range(1, rng.randint(6, 10))]
    page = Page(rng, 2300)
    d = page.draw
    title_font = page.font(bold=True)
    title = "DANH SÁCH " + sentence(rng, words, 3, 6).rstrip(".;,").upper()
    page.centered(title, PAGE_W / 2, 200, title_font)
    page.truth.append(title)
    f = page.font()
    intro = wrap(d, sentence(rng, words, 10, 16), f, PAGE_W - 2 * MARGIN)[0]
    d.text((MARGIN, 200 + 2 * page.line_gap()), intro, font=f, fill=0)
    page.truth.append(intro)
    y = 200 + 4 * page.line_gap()
    pad = 30
    # Cells never overlap: a wide table is set in a smaller font (as offices do), and the
    # random slack between columns shrinks to what the page has room for.
    avail = PAGE_W - 2 * MARGIN
    tpt = page.pt
    def base_widths(pt):
        return [max(d.textlength(r[c], font=page.font(bold=(i == 0), pt=pt)) for i, r in enumerate(rows))
                + 2 * pad for c in range(len(head))]
    while sum(base_widths(tpt)) > avail - 40 * len(head) and tpt > 9:
        tpt -= 1
    base = base_widths(tpt)
    extra = [rng.randint(20, 120) for _ in head]
    room = max(0, avail - sum(base))
    shrink = min(1.0, room / sum(extra))
    widths = [b + e * shrink for b, e in zip(base, extra)]
    x0 = MARGIN + (avail - sum(widths)) / 2
    row_h = page.line_gap(tpt) + 24
    for r, cells in enumerate(rows):
        x = x0
        ff = page.font(bold=(r == 0), pt=tpt)
        for c, cell in enumerate(cells):
            d.text((x + pad, y + 12), cell, font=ff, fill=0)
            if ruled:
                d.rectangle([x, y, x + widths[c], y + row_h], outline=0, width=3)
            x += widths[c]
        page.truth.append("\t".join(cells))
        y += row_h
    return page, {"kind": "table-ruled" if ruled else "table-unruled", "cells": rows}


def admin_page(rng, words):
    page = Page(rng, 3508)
    d = page.draw
    agency1, agency2, code = rng.choice(AGENCIES)
    typ, typ_code = rng.choice(TYPES)
    number = "Số: %d/%s-%s" % (rng.randint(1, 3999), typ_code, code)
    place = "%s, ngày %d tháng %d năm %d" % (rng.choice(PLACES), rng.randint(1, 28),
                                             rng.randint(1, 12), rng.randint(2019, 2025))
    motto1 = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    motto2 = "Độc lập - Tự do - Hạnh phúc"
    hpt = rng.choice([12, 13])
    bold, regular = page.font(True, hpt), page.font(False, hpt)
    gap = page.line_gap(hpt)
    # Block centres vary from scan to scan and agency to agency.
    left_cx = rng.randint(480, 720)
    right_cx = rng.randint(1650, 1850)
    y = rng.randint(160, 260)
    left = [(agency1, regular), (agency2, bold), (number, regular)]
    right = [(motto1, bold), (motto2, bold), (place, page.font(False, hpt))]
    # The number sits one line below the underline, like the place and date.
    for i, (text, f) in enumerate(left):
        yy = y + i * gap + (gap // 3 if i == 2 else 0)
        w = page.centered(text, left_cx, yy, f)
        if i == 1:
            d.line([left_cx - w / 4, yy + gap - 8, left_cx + w / 4, yy + gap - 8], fill=0, width=3)
    for i, (text, f) in enumerate(right):
        yy = y + i * gap + (gap // 3 if i == 2 else 0)
        w = page.centered(text, right_cx, yy, f)
        if i == 1:
            d.line([right_cx - w / 2, yy + gap - 8, right_cx + w / 2, yy + gap - 8], fill=0, width=3)
    header = [agency1, agency2, number, motto1, motto2, place]
    page.truth += header
    y += 4 * gap + gap
    tf = page.font(True, page.pt + 1)
    page.centered(typ, PAGE_W / 2, y, tf)
    page.truth.append(typ)
    y += page.line_gap(page.pt + 1)
    about = sentence(rng, words, 6, 12).rstrip(".;,")
    about = "Về việc " + about[0].lower() + about[1:]
    for line in wrap(d, about, page.font(True), PAGE_W - 2 * MARGIN - 300):
        page.centered(line, PAGE_W / 2, y, page.font(True))
        page.truth.append(line)
        y += page.line_gap()
    y += page.line_gap() // 2
    f = page.font()
    for _ in range(rng.randint(3, 6)):
        for line in wrap(d, sentence(rng, words, 15, 40), f, PAGE_W - 2 * MARGIN):
            d.text((MARGIN, y), line, font=f, fill=0)
            page.truth.append(line)
            y += page.line_gap()
    y += page.line_gap()
    # Foot: recipients on the left in a smaller font, the signature block on the right.
    small = page.font(False, 11)
    small_b = page.font(True, 11)
    recipients = [("Nơi nhận:", small_b)] + [("- " + t, small) for t in rng.sample(
        ["Như Điều 3;", "Chủ tịch UBND tỉnh;", "Sở Tài chính;", "Kho bạc Nhà nước;",
         "Lưu: VT, TH.", "Các phòng chuyên môn;", "Cổng thông tin điện tử;"], rng.randint(3, 5))]
    signer = rng.choice(NAMES)
    sign = [("TM. " + agency1, page.font(True)), (rng.choice(["CHỦ TỊCH", "GIÁM ĐỐC", "KT. GIÁM ĐỐC"]),
                                                   page.font(True))]
    sx = rng.randint(1650, 1850)
    left_x = MARGIN + rng.randint(0, 60)
    rg = page.line_gap(11)
    for i, (text, ff) in enumerate(recipients):
        d.text((left_x, y + i * rg), text, font=ff, fill=0)
    for i, (text, ff) in enumerate(sign):
        page.centered(text, sx, y + i * page.line_gap(), ff)
    name_y = y + 2 * page.line_gap() + 260
    page.centered(signer, sx, name_y, page.font(True))
    page.truth += [t for t, _ in recipients] + [t for t, _ in sign] + [signer]
    bottom = max(y + len(recipients) * rg, name_y + page.line_gap()) + 150
    page.image = page.image.crop((0, 0, PAGE_W, min(3508, bottom)))
    meta = {"kind": "admin", "header": header, "recipients": [t for t, _ in recipients],
            "signature": [t for t, _ in sign] + [signer]}
    return page, meta


def degrade(rng, image):
    """What a scanner does: a little blur, noise, a slight skew, JPEG."""
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    if rng.random() < 0.4:
        angle = rng.uniform(-0.8, 0.8)
        image = image.rotate(angle, resample=Image.BILINEAR, fillcolor=255, expand=False)
    if rng.random() < 0.4:
        noise = Image.effect_noise(image.size, rng.choice([12, 20]))
        image = Image.blend(image, noise, 0.12)
    return image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=42)
    ap.add_argument("--seed", type=int, default=20)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    words = vocabulary()
    for i in range(args.count):
        rng = random.Random(args.seed * 100003 + i)
        kind = KINDS[i % len(KINDS)]
        if kind.startswith("columns"):
            page, meta = columns_page(rng, words, int(kind[-1]))
        elif kind.startswith("table"):
            page, meta = table_page(rng, words, kind == "table-ruled")
        else:
            page, meta = admin_page(rng, words)
        meta["split"] = "held-out" if i % HELD_OUT_EVERY == 0 else "tune"
        name = "%03d-%s" % (i, meta["kind"])
        image = degrade(rng, page.image)
        if rng.random() < 0.3:
            buf = io.BytesIO()
            image.save(buf, format="JPEG", quality=rng.randint(60, 90))
            image = Image.open(io.BytesIO(buf.getvalue()))
        image.save(os.path.join(args.out, name + ".png"), dpi=(DPI, DPI), optimize=False)
        with open(os.path.join(args.out, name + ".gt.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(page.truth) + "\n")
        with open(os.path.join(args.out, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
