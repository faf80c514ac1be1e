#!/usr/bin/env python3
"""Generate sohoa's synthetic sample scans and their ground-truth text.

Every document is rendered from text written here, so the ground truth is exact. The
same generator is meant to grow into the evaluation sets of later work (classification,
search relevance, page preparation): it renders text to page images and wraps them in
the containers real scanners produce (PNG, JPEG, multi-page CCITT G4 TIFF, PDFs with
DCTDecode and CCITTFaxDecode images, and a born-digital PDF with a text layer).

Usage: scripts/samples.py OUT_DIR   (normally run through scripts/make-samples)
"""

import io
import os
import struct
import sys

from PIL import Image, ImageDraw, ImageFont

DPI = 300
# A4 at 300 dpi is 2480 x 3508; the samples use the full width but a shorter page so
# the committed set stays small and the test suite OCRs it quickly.
PAGE_W = 2480
PAGE_H = 2000
MARGIN_X = 230
FONT_DIR = "/usr/share/fonts/truetype/liberation2"
FONT_REGULAR = os.path.join(FONT_DIR, "LiberationSerif-Regular.ttf")
FONT_BOLD = os.path.join(FONT_DIR, "LiberationSerif-Bold.ttf")
FONT_PT = 13
FONT_PX = FONT_PT * DPI // 72
LINE_GAP = int(FONT_PX * 1.45)

LEFT_HEADER = ["ỦY BAN NHÂN DÂN", "TỈNH NGHỆ AN"]
RIGHT_HEADER = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]

DOCUMENTS = [
    {
        "name": "quyet-dinh-dat-dai",
        "format": "png",
        "header": (["ỦY BAN NHÂN DÂN", "TỈNH NGHỆ AN", "Số: 1234/QĐ-UBND"],
                   RIGHT_HEADER + ["Nghệ An, ngày 15 tháng 3 năm 2024"]),
        "pages": [[
            ("b", "QUYẾT ĐỊNH"),
            ("b", "Về việc thu hồi đất và giao đất để thực hiện dự án"),
            ("b", "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH NGHỆ AN"),
            ("r", "Căn cứ Luật Đất đai ngày 18 tháng 01 năm 2024;"),
            ("r", "Căn cứ Nghị định số 102/2024/NĐ-CP của Chính phủ quy định chi tiết"),
            ("r", "thi hành một số điều của Luật Đất đai;"),
            ("r", "Xét đề nghị của Giám đốc Sở Tài nguyên và Môi trường."),
            ("b", "QUYẾT ĐỊNH:"),
            ("r", "Điều 1. Thu hồi 2.450 m² đất nông nghiệp tại xã Nghi Phú, thành phố Vinh"),
            ("r", "để giao cho Công ty Cổ phần Đầu tư Xây dựng Hồng Lam thực hiện dự án."),
            ("r", "Điều 2. Giao Sở Tài nguyên và Môi trường cấp Giấy chứng nhận quyền sử"),
            ("r", "dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất."),
            ("r", "Điều 3. Quyết định này có hiệu lực kể từ ngày ký."),
        ]],
    },
    {
        "name": "cong-van-bao-hiem",
        "format": "jpeg",
        "header": (["SỞ LAO ĐỘNG - THƯƠNG BINH", "VÀ XÃ HỘI", "Số: 567/SLĐTBXH-BHXH"],
                   RIGHT_HEADER + ["Nghệ An, ngày 02 tháng 6 năm 2023"]),
        "pages": [[
            ("r", "V/v hướng dẫn thủ tục giải quyết chế độ bảo hiểm xã hội một lần"),
            ("r", "Kính gửi: Ủy ban nhân dân các huyện, thành phố, thị xã."),
            ("r", "Thực hiện Luật Bảo hiểm xã hội năm 2014 và Nghị định số 115/2015/NĐ-CP,"),
            ("r", "Sở Lao động - Thương binh và Xã hội hướng dẫn như sau:"),
            ("r", "1. Người lao động nộp hồ sơ đề nghị hưởng bảo hiểm xã hội một lần tại"),
            ("r", "cơ quan bảo hiểm xã hội cấp huyện nơi cư trú."),
            ("r", "2. Hồ sơ gồm sổ bảo hiểm xã hội, đơn đề nghị và bản sao căn cước công dân"),
            ("r", "số 040085012345 của người lao động."),
            ("r", "3. Thời hạn giải quyết không quá 05 ngày làm việc kể từ ngày nhận đủ hồ sơ."),
            ("r", "Đề nghị các đơn vị triển khai thực hiện. Trân trọng./."),
        ]],
    },
    {
        "name": "don-dang-ky-dat",
        "format": "tiff-g4",
        "header": (["ỦY BAN NHÂN DÂN", "XÃ NGHI PHÚ"], RIGHT_HEADER),
        "pages": [[
            ("b", "ĐƠN ĐĂNG KÝ ĐẤT ĐAI, TÀI SẢN GẮN LIỀN VỚI ĐẤT"),
            ("r", "Kính gửi: Văn phòng đăng ký đất đai tỉnh Nghệ An"),
            ("r", "1. Người sử dụng đất: Nguyễn Văn Hùng, sinh năm 1978"),
            ("r", "Số căn cước công dân: 040078001122, cấp ngày 10 tháng 5 năm 2021"),
            ("r", "Địa chỉ thường trú: xóm 3, xã Nghi Phú, thành phố Vinh, tỉnh Nghệ An"),
            ("r", "2. Đề nghị: Cấp Giấy chứng nhận quyền sử dụng đất lần đầu"),
            ("r", "3. Thửa đất số 125, tờ bản đồ số 14, diện tích 320,5 m²"),
            ("r", "Mục đích sử dụng: đất ở tại nông thôn, thời hạn lâu dài"),
        ], [
            ("b", "CAM ĐOAN CỦA NGƯỜI VIẾT ĐƠN"),
            ("r", "Tôi xin cam đoan nội dung kê khai trên đơn là đúng sự thật,"),
            ("r", "nếu sai tôi hoàn toàn chịu trách nhiệm trước pháp luật."),
            ("r", "Hồ sơ kèm theo gồm: bản sao giấy tờ về quyền sử dụng đất,"),
            ("r", "sơ đồ thửa đất và giấy nộp tiền vào ngân sách nhà nước."),
            ("r", "Nghi Phú, ngày 20 tháng 8 năm 2024"),
            ("b", "Người viết đơn"),
            ("r", "Nguyễn Văn Hùng"),
        ]],
    },
    {
        "name": "bao-cao-xay-dung",
        "format": "pdf-dct",
        "header": (["SỞ XÂY DỰNG", "TỈNH NGHỆ AN", "Số: 89/BC-SXD"],
                   RIGHT_HEADER + ["Nghệ An, ngày 30 tháng 11 năm 2023"]),
        "pages": [[
            ("b", "BÁO CÁO"),
            ("b", "Tình hình cấp giấy phép xây dựng năm 2023"),
            ("r", "Thực hiện chỉ đạo của Ủy ban nhân dân tỉnh về cải cách thủ tục hành chính,"),
            ("r", "Sở Xây dựng báo cáo kết quả cấp giấy phép xây dựng như sau:"),
            ("r", "1. Tổng số hồ sơ tiếp nhận: 1.286 hồ sơ, trong đó 1.197 hồ sơ được cấp"),
            ("r", "giấy phép xây dựng đúng hạn, đạt tỷ lệ 93,1%."),
            ("r", "2. Số hồ sơ nộp trực tuyến qua Cổng dịch vụ công: 742 hồ sơ."),
        ], [
            ("r", "3. Khó khăn, vướng mắc: một số hồ sơ thiếu bản vẽ thiết kế,"),
            ("r", "chưa có văn bản thẩm định của cơ quan chuyên môn."),
            ("b", "Kiến nghị"),
            ("r", "Đề nghị Ủy ban nhân dân tỉnh chỉ đạo số hóa hồ sơ cấp phép xây dựng"),
            ("r", "và kết nối cơ sở dữ liệu đất đai với cơ sở dữ liệu xây dựng."),
            ("r", "Nơi nhận: Như trên; Lưu: VT, QLXD."),
        ]],
    },
    {
        "name": "to-trinh-dau-tu",
        "format": "pdf-ccitt",
        "header": (["SỞ KẾ HOẠCH VÀ ĐẦU TƯ", "Số: 45/TTr-SKHĐT"],
                   RIGHT_HEADER + ["Nghệ An, ngày 12 tháng 4 năm 2024"]),
        "pages": [[
            ("b", "TỜ TRÌNH"),
            ("b", "Về việc chấp thuận chủ trương đầu tư dự án nhà máy may mặc"),
            ("r", "Kính gửi: Ủy ban nhân dân tỉnh Nghệ An"),
            ("r", "Căn cứ Luật Đầu tư ngày 17 tháng 6 năm 2020;"),
            ("r", "Xét hồ sơ đề nghị thực hiện dự án đầu tư của Công ty TNHH May Hoàng Mai,"),
            ("r", "mã số doanh nghiệp 2901234567, Sở Kế hoạch và Đầu tư kính trình:"),
            ("r", "1. Tên dự án: Nhà máy may mặc xuất khẩu Hoàng Mai."),
            ("r", "2. Tổng vốn đầu tư: 350 tỷ đồng; tiến độ thực hiện 24 tháng."),
            ("r", "3. Địa điểm: Khu công nghiệp Hoàng Mai, thị xã Hoàng Mai."),
        ]],
    },
]

TEXT_LAYER_DOCUMENT = {
    "name": "thong-bao-ho-tich",
    "lines": [
        ("b", "THÔNG BÁO"),
        ("b", "Về việc tiếp nhận hồ sơ đăng ký khai sinh trực tuyến"),
        ("r", "Ủy ban nhân dân phường Hưng Dũng thông báo: từ ngày 01 tháng 7 năm 2024,"),
        ("r", "công dân có thể nộp hồ sơ đăng ký khai sinh, đăng ký kết hôn và"),
        ("r", "cấp bản sao trích lục hộ tịch qua Cổng dịch vụ công quốc gia."),
        ("r", "Kết quả được trả qua dịch vụ bưu chính công ích hoặc tại bộ phận một cửa."),
    ],
}


def font(kind, px=FONT_PX):
    return ImageFont.truetype(FONT_BOLD if kind == "b" else FONT_REGULAR, px)


def render_page(header, lines, bilevel=False):
    """Draw one page; return (gray image, ground-truth lines in reading order).

    A bilevel scanner sees solid ink, not anti-aliased edges: thresholding an
    anti-aliased render would thin strokes and erase tone marks no real scan loses, so
    bilevel pages are drawn without anti-aliasing."""
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    draw = ImageDraw.Draw(page)
    if bilevel:
        draw.fontmode = "1"
    truth = []
    y = 200
    left, right = header if header else ([], [])
    # Two header blocks, as every Vietnamese administrative document has: the issuing
    # agency on the left, the national motto on the right. Their lines share baselines;
    # they are read block by block (agency, number, then motto, place and date), so the
    # ground truth has the left block's lines, then the right one's.
    f = font("b")
    for i, text in enumerate(left):
        w = draw.textlength(text, font=f)
        draw.text((MARGIN_X + 380 - w / 2, y + i * LINE_GAP), text, font=f, fill=0)
    for i, text in enumerate(right):
        w = draw.textlength(text, font=f)
        draw.text((PAGE_W - MARGIN_X - 620 - w / 2, y + i * LINE_GAP), text, font=f, fill=0)
    truth += list(left) + list(right)
    y += (max(len(left), len(right)) + 1) * LINE_GAP if header else 0
    for kind, text in lines:
        f = font(kind)
        if kind == "b":
            w = draw.textlength(text, font=f)
            x = (PAGE_W - w) / 2
        else:
            x = MARGIN_X
        draw.text((x, y), text, font=f, fill=0)
        truth.append(text)
        y += LINE_GAP
    assert y < PAGE_H - 100, "page overflow"
    return page, truth


def g4_strip(bilevel):
    """Return the raw CCITT G4 bytes of a 1-bit image (via a single-strip TIFF)."""
    buf = io.BytesIO()
    bilevel.save(buf, format="TIFF", compression="group4", dpi=(DPI, DPI), strip_size=1 << 30)
    data = buf.getvalue()
    # Read the (single) strip back out of the TIFF written by libtiff.
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    (count,) = struct.unpack(endian + "H", data[ifd:ifd + 2])
    offsets = counts = None
    for i in range(count):
        entry = data[ifd + 2 + 12 * i: ifd + 14 + 12 * i]
        tag, typ, n, value = struct.unpack(endian + "HHII", entry)
        if typ == 3 and n == 1:
            value = struct.unpack(endian + "H", entry[8:10])[0]
        if tag == 273:
            offsets = value
        elif tag == 279:
            counts = value
    return data[offsets:offsets + counts]


class PdfWriter:
    """Just enough PDF to wrap scanned page images, like a scanner's firmware does."""

    def __init__(self):
        self.objects = []

    def add(self, body):
        self.objects.append(body)
        return len(self.objects)

    def stream(self, dictionary, data):
        return self.add(b"<<" + dictionary + b" /Length %d>>\nstream\n" % len(data)
                        + data + b"\nendstream")

    def write(self, path, page_ids):
        pages_id = len(self.objects) + 1
        kids = b" ".join(b"%d 0 R" % p for p in page_ids)
        self.add(b"<</Type /Pages /Kids [" + kids + b"] /Count %d>>" % len(page_ids))
        catalog = self.add(b"<</Type /Catalog /Pages %d 0 R>>" % pages_id)
        out = io.BytesIO()
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(self.objects, start=1):
            body = body.replace(b"PAGES_PARENT", b"%d 0 R" % pages_id)
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1))
        for off in offsets:
            out.write(b"%010d 00000 n \n" % off)
        out.write(b"trailer\n<</Size %d /Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n"
                  % (len(self.objects) + 1, catalog, xref))
        with open(path, "wb") as f:
            f.write(out.getvalue())


def scanned_pdf(path, pages, encoding):
    pdf = PdfWriter()
    page_ids = []
    for page in pages:
        w, h = page.size
        if encoding == "dct":
            buf = io.BytesIO()
            page.save(buf, format="JPEG", quality=80)
            image = pdf.stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d "
                               b"/ColorSpace /DeviceGray /BitsPerComponent 8 "
                               b"/Filter /DCTDecode" % (w, h), buf.getvalue())
        else:
            # libtiff codes a MinIsBlack image, whose runs come out inverted under PDF's
            # CCITT convention (BlackIs1 false); invert first so the page reads right.
            data = g4_strip(page.point(lambda v: 0 if v > 128 else 255).convert("1"))
            image = pdf.stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d "
                               b"/ColorSpace /DeviceGray /BitsPerComponent 1 "
                               b"/Filter /CCITTFaxDecode /DecodeParms <</K -1 /Columns %d "
                               b"/Rows %d /BlackIs1 false>>" % (w, h, w, h), data)
        pw, ph = w * 72 / DPI, h * 72 / DPI
        content = pdf.stream(b"", b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (pw, ph))
        page_ids.append(pdf.add(
            b"<</Type /Page /Parent PAGES_PARENT /MediaBox [0 0 %.2f %.2f] "
            b"/Resources <</XObject <</Im0 %d 0 R>>>> /Contents %d 0 R>>"
            % (pw, ph, image, content)))
    pdf.write(path, page_ids)


def text_layer_pdf(path, doc):
    """A born-digital PDF: real text in an embedded font, no image at all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Serif", FONT_REGULAR))
    pdfmetrics.registerFont(TTFont("Serif-Bold", FONT_BOLD))
    c = canvas.Canvas(path, pagesize=A4, invariant=1)
    width, height = A4
    y = height - 72
    truth = []
    for text in LEFT_HEADER:
        c.setFont("Serif-Bold", 12)
        c.drawString(72, y, text)
        truth.append(text)
        y -= 16
    for kind, text in doc["lines"]:
        y -= 6
        c.setFont("Serif-Bold" if kind == "b" else "Serif", 12)
        c.drawString(72, y, text)
        truth.append(text)
        y -= 16
    c.showPage()
    c.save()
    return truth


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "samples"
    os.makedirs(out, exist_ok=True)
    for doc in DOCUMENTS:
        images, truths = [], []
        for lines in doc["pages"]:
            bilevel = doc["format"] in ("tiff-g4", "pdf-ccitt")
            image, truth = render_page(doc["header"] if not images else None, lines, bilevel)
            images.append(image)
            truths.append("\n".join(truth) + "\n")
        name, fmt = doc["name"], doc["format"]
        if fmt == "png":
            images[0].save(os.path.join(out, name + ".png"), dpi=(DPI, DPI), optimize=True)
        elif fmt == "jpeg":
            images[0].save(os.path.join(out, name + ".jpg"), dpi=(DPI, DPI), quality=80)
        elif fmt == "tiff-g4":
            bilevel = [im.point(lambda v: 255 if v > 128 else 0).convert("1") for im in images]
            bilevel[0].save(os.path.join(out, name + ".tif"), compression="group4",
                            dpi=(DPI, DPI), save_all=True, append_images=bilevel[1:])
        elif fmt == "pdf-dct":
            scanned_pdf(os.path.join(out, name + ".pdf"), images, "dct")
        elif fmt == "pdf-ccitt":
            scanned_pdf(os.path.join(out, name + ".pdf"), images, "ccitt")
        # Pages are separated by a form feed, as pdftotext separates them.
        with open(os.path.join(out, name + ".gt.txt"), "w", encoding="utf-8") as f:
            f.write("\f".join(truths))
    truth = text_layer_pdf(os.path.join(out, TEXT_LAYER_DOCUMENT["name"] + ".pdf"),
                           TEXT_LAYER_DOCUMENT)
    with open(os.path.join(out, TEXT_LAYER_DOCUMENT["name"] + ".gt.txt"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(truth) + "\n")


if __name__ == "__main__":
    main()
