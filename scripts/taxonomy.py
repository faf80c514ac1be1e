#!/usr/bin/env python3
"""Derives sohoa's default procedure taxonomy from an official procedure catalog.

Input: a province's catalog of administrative procedures (CSV with the columns
"Mã TTHC", "TÊN TTHC", "LĨNH VỰC"), e.g. ../shared/data/procedures/lang-son.csv.
Output: src/classify/taxonomy.json, which sohoa embeds as its default taxonomy.

The catalog has 183 sector ("lĩnh vực") spellings, many of them one ministry's
sub-fields ("Chăn nuôi", "Thú y", "Trồng trọt"). Records staff file by the broader
sector, so SECTORS below groups every catalog spelling under one of ~20 sectors;
an unmapped spelling stops the script, so a new catalog cannot be half-mapped.
The procedures come from the catalog's rows, each sector's key phrases from the
catalog's own sector names; nothing else is typed in by hand.

Usage: scripts/taxonomy.py [CATALOG.csv] [OUT.json]
"""

import collections
import csv
import json
import re
import sys
import unicodedata

# (id, display name, catalog sector spellings, folded and without "[SVH] - " prefixes).
SECTORS = [
    ("dat-dai", "Đất đai", ["dat dai", "do dac va ban do"]),
    ("xay-dung", "Xây dựng", [
        "hoat dong xay dung", "quy hoach xay dung, kien truc", "quy hoach - kien truc",
        "quy hoach xay dung", "quan ly chat luong cong trinh xay dung", "nha o",
        "kinh doanh bat dong san", "ha tang ky thuat", "ha tang ky thuat sxd",
        "vat lieu xay dung", "thi nghiem chuyen nganh xay dung", "giam dinh tu phap xay dung",
    ]),
    ("dau-tu", "Đầu tư", [
        "dau tu tai viet nam", "dau tu theo hinh thuc doi tac cong tu (ppp)",
        "von ho tro phat trien chinh thuc (oda) va von vay uu dai cua cac nha tai tro nuoc ngoai",
        "dau thau lua chon nha dau tu", "khu cong nghiep, khu kinh te",
        "dau tu vao nong nghiep nong thon", "thanh lap va hoat dong quy dau tu khoi nghiep sang tao",
        "cum cong nghiep", "tai chinh dau tu va tin hoc",
    ]),
    ("doanh-nghiep", "Đăng ký doanh nghiệp", [
        "thanh lap va hoat dong cua doanh nghiep",
        "thanh lap va hoat dong cua ho kinh doanh",
        "thanh lap va hoat dong cua to hop tac, hop tac xa, lien hiep hop tac xa",
        "ho tro to hop tac, hop tac xa, lien hiep hop tac xa",
        "thanh lap va sap sep lai doanh nghiep do nha nuoc nam giu 100% von dieu le",
        "chuyen doi cong ty nha nuoc duoc thanh lap va hoat dong theo luat doanh nghiep nha nuoc thanh cong ty trach nhiem huu han mot thanh vien to chuc va hoat dong theo quy dinh tai luat doanh nghiep",
        "ho tro doanh nghiep nho va vua", "tai chinh doanh nghiep",
        "kinh te hop tac va phat trien nong thon",
    ]),
    ("ho-tich", "Hộ tịch", ["ho tich", "nuoi con nuoi", "quoc tich"]),
    ("tu-phap", "Tư pháp - Chứng thực", [
        "chung thuc", "cong chung", "luat su", "thua phat lai", "dau gia tai san",
        "giam dinh tu phap", "tro giup phap ly", "boi thuong nha nuoc", "hoa giai co so",
        "hoa giai thuong mai", "trong tai thuong mai",
        "quan tai vien va hanh nghe quan ly, thanh ly tai san", "tu van phap luat",
        "dang ky bien phap bao dam", "pho bien giao duc phap luat",
    ]),
    ("giao-thong", "Giao thông vận tải", ["duong bo", "dang kiem"]),
    # The provincial catalog holds no procedures of the social-insurance agency itself;
    # this sector takes the catalog's insurance procedures by name (INSURANCE below).
    ("bao-hiem-xa-hoi", "Bảo hiểm xã hội", []),
    ("lao-dong", "Lao động - Người có công - Xã hội", [
        "nguoi co cong", "bao tro xa hoi", "viec lam", "lao dong, tien luong",
        "lao dong, tien luong, quan he lao dong", "quan ly lao dong ngoai nuoc", "tre em",
        "phong, chong te nan xa hoi", "giao duc nghe nghiep", "dam bao xa hoi",
    ]),
    ("tai-nguyen-moi-truong", "Tài nguyên và Môi trường", [
        "moi truong", "tai nguyen nuoc", "dia chat va khoang san", "khi tuong, thuy van",
    ]),
    ("nong-nghiep", "Nông nghiệp và Phát triển nông thôn", [
        "chan nuoi", "trong trot", "thu y", "lam nghiep", "kiem lam", "thuy loi", "thuy san",
        "bao ve thuc vat", "phong chong thien tai", "nong nghiep",
        "quan ly chat luong nong lam san va thuy san", "nghe thu cong my nghe",
    ]),
    ("cong-thuong", "Công thương", [
        "luu thong hang hoa trong nuoc", "kinh doanh khi", "thuong mai quoc te",
        "xuc tien thuong mai", "dien", "dien luc", "dich vu cung cap dien moi",
        "dich vu trong qua trinh thuc hien hop dong mua ban dien", "hoa chat",
        "vat lieu no cong nghiep", "an toan dap, ho chua thuy dien", "quan ly ban hang da cap",
        "cong nghiep dia phuong", "cong nghiep nang", "cong nghiep tieu dung",
        "giam dinh thuong mai", "xuat nhap khau", "bao ve quyen loi nguoi tieu dung",
    ]),
    ("y-te", "Y tế", [
        "duoc pham", "kham, chua benh", "y te du phong", "giam dinh y khoa", "my pham",
        "y duoc co truyen", "tai chinh y te", "an toan thuc pham va dinh duong",
        "an toan thuc pham", "dan so", "quan ly trang thiet bi y te",
    ]),
    ("giao-duc", "Giáo dục và Đào tạo", [
        "cac co so giao duc khac", "giao duc trung hoc",
        "giao duc va dao tao thuoc he thong giao duc quoc dan",
        "giao duc va dao tao thuoc he thong giao duc quoc dan va co so giao duc khac",
        "giao duc thuong xuyen", "dao tao voi nuoc ngoai", "thi, tuyen sinh", "giao duc tieu hoc",
        "giao duc mam non", "he thong van bang, chung chi", "kiem dinh chat luong giao duc",
        "quy che tuyen sinh",
    ]),
    ("van-hoa", "Văn hóa, Thể thao và Du lịch", [
        "the duc the thao", "du lich", "di san van hoa", "my thuat, nhiep anh va trien lam",
        "thu vien", "van hoa co so", "gia dinh",
        "hoat dong mua ban hang hoa quoc te chuyen nganh van hoa", "nghe thuat bieu dien",
        "dien anh", "quan ly su dung vu khi, sung san, vat lieu no, cong cu ho tro", "quang cao",
    ]),
    ("thong-tin", "Thông tin và Truyền thông", [
        "phat thanh, truyen hinh va thong tin dien tu",
        "phat thanh truyen hinh va thong tin dien tu", "xuat ban, in va phat hanh", "bao chi",
        "buu chinh", "thong tin doi ngoai",
    ]),
    ("khoa-hoc", "Khoa học và Công nghệ", [
        "hoat dong khoa hoc va cong nghe", "khoa hoc cong nghe",
        "tieu chuan - do luong - chat luong", "an toan buc xa hat nhan", "so huu tri tue",
    ]),
    ("noi-vu", "Nội vụ", [
        "tin nguong, ton giao", "quan ly nha nuoc ve hoi, quy", "thi dua - khen thuong",
        "thi dua, khen thuong", "to chuc hanh chinh, don vi su nghiep cong lap",
        "cong chuc, vien chuc", "cong chuc", "vien chuc", "cong chuc cap xa", "van thu, luu tru",
        "van thu - luu tru", "chinh quyen dia phuong", "quan ly nha nuoc ve cong tac thanh nien",
        "cai cach hanh chinh", "to chuc bo may", "to chuc bien che", "to chuc can bo",
        "quy che lam viec", "dan toc", "tong hop",
    ]),
    ("tai-chinh", "Tài chính", [
        "quan ly cong san", "quan ly gia", "chinh sach thue",
        "tai san ket cau ha tang cho do nha nuoc dau tu, quan ly",
    ]),
    ("thanh-tra", "Thanh tra - Khiếu nại, tố cáo", [
        "giai quyet khieu nai", "giai quyet to cao", "tiep cong dan", "xu ly don thu",
        "phong, chong tham nhung",
    ]),
    ("ngoai-vu", "Ngoại vụ", [
        "hoi nghi, hoi thao quoc te", "hop tac quoc te", "vien tro phi chinh phu nuoc ngoai",
    ]),
]

# The national motto heads every document: no phrase inside it says anything.
MOTTO = "cong hoa xa hoi chu nghia viet nam doc lap tu do hanh phuc"
# Catalog entries of the source system's own tests, not procedures.
TEST_CODES = {"2.000815", "TEST_MOT_CAP"}
# Procedure names that belong to social insurance, whatever catalog sector lists them.
INSURANCE = re.compile(r"bảo hiểm xã hội|thất nghiệp|hưu trí", re.IGNORECASE)


def fold(text):
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.replace("đ", "d").replace("Đ", "D").lower()


def syllables(text):
    return re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())


def catalog_sector_key(name):
    name = re.sub(r"^\[[A-Z]+\]\s*-\s*", "", name.strip())
    return re.sub(r"\s+", " ", fold(name))


def phrase_share(phrase, sector, names_by_sector):
    """Of the catalog's procedure names containing `phrase`, the share in `sector`."""
    key = fold(phrase)
    hits = {s: sum(key in fold(n) for n in names) for s, names in names_by_sector.items()}
    total = sum(hits.values())
    return 1.0 if total == 0 else hits.get(sector, 0) / total


def sector_phrases(sector_id, name, catalog_names, names_by_sector):
    """The sector's own name and its catalog sub-sectors' names, split into parts.

    The sector's name always counts; a catalog part that mostly names other sectors' procedures ("thành lập", "quản lý") is
    no evidence for this one, and parts longer than six syllables are never written
    out whole in a document: both are left out.
    """
    out = []
    for text in [name] + sorted(catalog_names):
        text = re.sub(r"^\[[A-Z]+\]\s*-\s*", "", text)
        for part in re.split(r",| - | và |\(|\)", text):
            part = " ".join(syllables(part))
            if not 2 <= len(part.split()) <= 6 or fold(part) in {fold(p) for p in out}:
                continue
            if fold(part) in MOTTO:
                continue  # "xã hội": in every document's heading, evidence of nothing
            if text == name or phrase_share(part, sector_id, names_by_sector) >= 0.5:
                out.append(part)
    return out


def main():
    catalog = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/procedures/lang-son.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else "src/classify/taxonomy.json"
    by_catalog_name = {}
    for sector_id, _, spellings in SECTORS:
        for s in spellings:
            by_catalog_name[s] = sector_id
    procedures = collections.defaultdict(list)
    seen = set()
    catalog_names = collections.defaultdict(set)
    unmapped = set()
    with open(catalog, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["Mã TTHC"].strip()
            name = re.sub(r"\s+", " ", row["TÊN TTHC"]).strip()
            if code in TEST_CODES or not name:
                continue
            key = catalog_sector_key(row["LĨNH VỰC"])
            sector = "bao-hiem-xa-hoi" if INSURANCE.search(name) else by_catalog_name.get(key)
            if sector is not None and sector != "bao-hiem-xa-hoi":
                catalog_names[sector].add(row["LĨNH VỰC"].strip())
            if sector is None:
                unmapped.add(row["LĨNH VỰC"])
                continue
            # Levels of the same national procedure repeat its name: keep one.
            if (sector, fold(name)) in seen:
                continue
            seen.add((sector, fold(name)))
            procedures[sector].append({"code": code, "name": name})
    if unmapped:
        sys.exit("catalog sectors not mapped in SECTORS: " + "; ".join(sorted(unmapped)))
    names_by_sector = {s: [p["name"] for p in ps] for s, ps in procedures.items()}
    taxonomy = {
        "about": "sohoa default taxonomy, generated by scripts/taxonomy.py from "
        + catalog.rsplit("/", 1)[-1]
        + "; edit freely or pass your own with --taxonomy",
        "other": {"id": "khac", "name": "Khác"},
        "sectors": [
            {
                "id": sector_id,
                "name": name,
                "catalog_sectors": spellings,
                "phrases": sector_phrases(
                    sector_id, name, catalog_names[sector_id], names_by_sector
                ),
                "procedures": procedures[sector_id],
            }
            for sector_id, name, spellings in SECTORS
        ],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(taxonomy, f, ensure_ascii=False, indent=1)
        f.write("\n")
    total = sum(len(p) for p in procedures.values())
    print(f"{out}: {len(SECTORS)} sectors, {total} procedures")
    for sector in taxonomy["sectors"]:
        print(f"  {sector['id']:22} {len(sector['procedures']):4}  {'; '.join(sector['phrases'])}")


if __name__ == "__main__":
    main()
