#!/usr/bin/env python3
"""Labeled documents for measuring classification and field extraction.

Writes JSON lines {"id", "text", "sector", "procedure", "fields"}: synthetic Vietnamese
administrative documents (decisions, official letters, reports, notices, submissions,
plans, permits) across every sector of the taxonomy, with their true sector, procedure
(when the document names one) and fields. `--noise` passes each text through an OCR
error model (dropped and wrong tone marks, đ→d, confused letters and digits, merged
header columns, "Sô:" for "Số:", spaces before slashes) while the labels stay true.

Procedures are drawn from the taxonomy (catalog names); everything else — agencies,
body sentences, people — comes from the tables below, which the classifier never sees.

Usage: scripts/labeled.py OUT.jsonl [--count N] [--seed S] [--noise]
"""

import argparse
import json
import random
import re
import unicodedata

PLACES = ["Nghệ An", "Vinh", "Nam Đàn", "Diễn Châu", "Quỳnh Lưu", "Lạng Sơn", "Hà Tĩnh", "Thanh Chương"]
PROVINCE = ["NGHỆ AN", "LẠNG SƠN", "HÀ TĨNH"]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Hữu", "Thanh", "Ngọc", "Quang"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hoa", "Lan", "Mai", "Nam", "Phúc", "Quyên", "Sơn", "Tâm", "Vinh", "Yến"]
COMMUNES = ["Hưng Bình", "Nghi Phú", "Xuân Hòa", "Nam Giang", "Diễn Kỷ", "Quỳnh Bảng", "Thanh Ngọc"]

# Per sector: issuing bodies (upper line, lower line, issuer code) and sentences of the
# body in that sector's own vocabulary. {person}, {cid}, {commune}, {n} are filled in.
SECTORS = {
    "dat-dai": {
        "agencies": [("UBND TỈNH {P}", "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG", "STNMT"), ("UBND HUYỆN NAM ĐÀN", "PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG", "TNMT")],
        "subjects": ["thu hồi đất để thực hiện dự án mở rộng đường tỉnh", "giải quyết tranh chấp đất đai tại xã {commune}", "chuyển mục đích sử dụng đất trồng lúa sang đất ở"],
        "body": [
            "Hộ ông (bà) {person}, số định danh cá nhân {cid}, đang sử dụng thửa đất số {n}, tờ bản đồ số {m} tại xã {commune}.",
            "Diện tích đất thu hồi là {n} m2 đất nông nghiệp, giá đất bồi thường theo bảng giá đất của UBND tỉnh.",
            "Văn phòng đăng ký đất đai có trách nhiệm chỉnh lý hồ sơ địa chính và cập nhật biến động vào cơ sở dữ liệu đất đai.",
            "Người sử dụng đất nộp tiền sử dụng đất và lệ phí trước bạ theo quy định trước khi nhận Giấy chứng nhận.",
            "Phòng Tài nguyên và Môi trường thẩm tra nguồn gốc sử dụng đất, trích lục bản đồ địa chính khu đất.",
        ],
        "personal": True,
    },
    "xay-dung": {
        "agencies": [("UBND TỈNH {P}", "SỞ XÂY DỰNG", "SXD"), ("UBND THÀNH PHỐ VINH", "PHÒNG QUẢN LÝ ĐÔ THỊ", "QLĐT")],
        "subjects": ["kiểm tra công tác nghiệm thu công trình nhà văn hóa xã {commune}", "thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở", "xử lý vi phạm trật tự xây dựng tại phường {commune}"],
        "body": [
            "Chủ đầu tư đề nghị cấp phép cho công trình nhà ở riêng lẻ {n} tầng, chiều cao {m} m, mật độ xây dựng 70%.",
            "Bản vẽ thiết kế mặt bằng, mặt cắt, móng công trình phải phù hợp quy hoạch chi tiết tỷ lệ 1/500 đã được phê duyệt.",
            "Nhà thầu thi công phải bảo đảm an toàn lao động, che chắn công trình và không lấn chiếm vỉa hè.",
            "Đoàn kiểm tra phát hiện công trình xây dựng sai giấy phép, vượt chỉ giới xây dựng {m} m.",
            "Hồ sơ nghiệm thu hoàn thành hạng mục kết cấu bê tông cốt thép đã đầy đủ theo quy định về quản lý chất lượng.",
        ],
        "personal": True,
    },
    "dau-tu": {
        "agencies": [("UBND TỈNH {P}", "SỞ KẾ HOẠCH VÀ ĐẦU TƯ", "SKHĐT"), ("UBND TỈNH {P}", "BAN QUẢN LÝ KKT ĐÔNG NAM", "BQL")],
        "subjects": ["chấp thuận chủ trương đầu tư dự án nhà máy may mặc", "điều chỉnh tiến độ thực hiện dự án đầu tư", "giám sát, đánh giá đầu tư năm {y}"],
        "body": [
            "Nhà đầu tư Công ty cổ phần Đầu tư Phát triển {commune} đề xuất dự án với tổng vốn đầu tư {n} tỷ đồng.",
            "Dự án được hưởng ưu đãi đầu tư về thuế thu nhập doanh nghiệp và miễn tiền thuê đất trong thời gian xây dựng cơ bản.",
            "Tiến độ góp vốn, huy động vốn và tiến độ thực hiện các mục tiêu hoạt động của dự án được điều chỉnh đến quý {q}.",
            "Nhà đầu tư phải ký quỹ bảo đảm thực hiện dự án theo quy định của Luật Đầu tư.",
            "Ban quản lý khu kinh tế cấp Giấy chứng nhận đăng ký đầu tư cho dự án tại khu công nghiệp.",
        ],
        "personal": False,
    },
    "doanh-nghiep": {
        "agencies": [("UBND TỈNH {P}", "SỞ KẾ HOẠCH VÀ ĐẦU TƯ", "ĐKKD"), ("UBND HUYỆN DIỄN CHÂU", "PHÒNG TÀI CHÍNH - KẾ HOẠCH", "TCKH")],
        "subjects": ["đăng ký thay đổi người đại diện theo pháp luật của công ty", "tạm ngừng kinh doanh của hộ kinh doanh", "giải thể hợp tác xã nông nghiệp {commune}"],
        "body": [
            "Công ty TNHH Thương mại {commune} có mã số doanh nghiệp 29{n}, vốn điều lệ {m} tỷ đồng.",
            "Doanh nghiệp đề nghị đăng ký thay đổi nội dung đăng ký doanh nghiệp: ngành nghề kinh doanh và địa chỉ trụ sở chính.",
            "Hộ kinh doanh do ông (bà) {person} làm chủ thông báo tạm ngừng kinh doanh từ ngày 01 tháng {q} năm {y}.",
            "Hợp tác xã gửi báo cáo tình hình hoạt động, danh sách thành viên và điều lệ sửa đổi.",
            "Phòng Đăng ký kinh doanh cập nhật thông tin trên Cổng thông tin quốc gia về đăng ký doanh nghiệp.",
        ],
        "personal": True,
    },
    "ho-tich": {
        "agencies": [("UBND HUYỆN QUỲNH LƯU", "UBND XÃ QUỲNH BẢNG", "UBND"), ("UBND TỈNH {P}", "SỞ TƯ PHÁP", "STP")],
        "subjects": ["cấp bản sao trích lục hộ tịch", "xác nhận tình trạng hôn nhân cho công dân", "cải chính hộ tịch cho công dân {person}"],
        "body": [
            "Công chức tư pháp - hộ tịch đã kiểm tra tờ khai của ông (bà) {person}, số định danh cá nhân {cid}.",
            "Cháu sinh ngày {d} tháng {q} năm {y} tại Bệnh viện Sản Nhi, cha là {person}, mẹ là {person2}.",
            "Hai bên nam, nữ tự nguyện kết hôn, đủ tuổi kết hôn và không thuộc trường hợp cấm kết hôn.",
            "Ghi vào Sổ đăng ký khai tử việc ông {person} chết ngày {d} tháng {q} năm {y}.",
            "Người yêu cầu xuất trình giấy tờ tùy thân và nộp lệ phí hộ tịch theo quy định.",
        ],
        "personal": True,
    },
    "tu-phap": {
        "agencies": [("UBND TỈNH {P}", "SỞ TƯ PHÁP", "STP"), ("SỞ TƯ PHÁP TỈNH {P}", "PHÒNG CÔNG CHỨNG SỐ 1", "PCC1")],
        "subjects": ["kiểm tra hoạt động công chứng, chứng thực năm {y}", "trợ giúp pháp lý cho người thuộc hộ nghèo", "phổ biến văn bản pháp luật mới cho cán bộ cấp xã"],
        "body": [
            "Công chứng viên chứng nhận hợp đồng chuyển nhượng, hợp đồng ủy quyền và văn bản thỏa thuận phân chia di sản.",
            "Ông (bà) {person}, CCCD số {cid}, yêu cầu chứng thực bản sao từ bản chính và chứng thực chữ ký.",
            "Trung tâm Trợ giúp pháp lý cử trợ giúp viên pháp lý tham gia tố tụng bào chữa cho người được trợ giúp.",
            "Văn phòng luật sư, tổ chức hành nghề công chứng báo cáo số liệu hoạt động về Sở Tư pháp.",
            "Tổ chức đấu giá tài sản niêm yết việc đấu giá và công khai quy chế cuộc đấu giá.",
        ],
        "personal": True,
    },
    "giao-thong": {
        "agencies": [("UBND TỈNH {P}", "SỞ GIAO THÔNG VẬN TẢI", "SGTVT"), ("SỞ GIAO THÔNG VẬN TẢI", "TRUNG TÂM ĐĂNG KIỂM 37-01D", "TTĐK")],
        "subjects": ["tổ chức sát hạch lái xe hạng B2", "cấp phù hiệu xe tải cho doanh nghiệp vận tải", "sửa chữa mặt đường quốc lộ 46 đoạn qua xã {commune}"],
        "body": [
            "Xe ô tô biển kiểm soát 37C-{n} đã được kiểm định an toàn kỹ thuật và bảo vệ môi trường.",
            "Doanh nghiệp kinh doanh vận tải hành khách tuyến cố định phải lắp thiết bị giám sát hành trình.",
            "Học viên {person} đạt kết quả sát hạch lý thuyết và thực hành lái xe trên đường.",
            "Đơn vị quản lý đường bộ cắm biển báo hiệu, rào chắn tại vị trí sạt lở taluy.",
            "Phương tiện vận chuyển hàng siêu trường, siêu trọng phải có giấy phép lưu hành xe quá tải.",
        ],
        "personal": True,
    },
    "bao-hiem-xa-hoi": {
        "agencies": [("BẢO HIỂM XÃ HỘI VIỆT NAM", "BẢO HIỂM XÃ HỘI TỈNH {P}", "BHXH"), ("BẢO HIỂM XÃ HỘI TỈNH {P}", "BẢO HIỂM XÃ HỘI HUYỆN NAM ĐÀN", "BHXH")],
        "subjects": ["thu hồi nợ đóng bảo hiểm xã hội, bảo hiểm y tế", "giải quyết chế độ hưu trí cho người lao động", "cấp lại sổ bảo hiểm xã hội"],
        "body": [
            "Người lao động {person}, mã số bảo hiểm xã hội 40{n}, đã đóng bảo hiểm xã hội bắt buộc đủ {m} năm.",
            "Đơn vị sử dụng lao động nợ tiền đóng bảo hiểm xã hội, bảo hiểm thất nghiệp {n} triệu đồng.",
            "Mức lương hưu hằng tháng được tính theo tỷ lệ hưởng và mức bình quân tiền lương tháng đóng bảo hiểm xã hội.",
            "Chế độ ốm đau, thai sản được chi trả qua tài khoản cá nhân của người lao động.",
            "Trung tâm Dịch vụ việc làm chuyển quyết định hưởng trợ cấp thất nghiệp sang cơ quan bảo hiểm xã hội để chi trả.",
        ],
        "personal": True,
    },
    "lao-dong": {
        "agencies": [("UBND TỈNH {P}", "SỞ LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI", "SLĐTBXH"), ("UBND HUYỆN THANH CHƯƠNG", "PHÒNG LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI", "LĐTBXH")],
        "subjects": ["trợ cấp xã hội hằng tháng cho người cao tuổi", "xác nhận liệt sĩ và giải quyết chế độ thờ cúng", "thăm, tặng quà gia đình chính sách dịp Tết"],
        "body": [
            "Ông (bà) {person} là thân nhân liệt sĩ, được hưởng trợ cấp tuất hằng tháng theo Pháp lệnh ưu đãi người có công với cách mạng.",
            "Đối tượng bảo trợ xã hội được hưởng trợ cấp xã hội hằng tháng và cấp thẻ bảo hiểm y tế.",
            "Cơ sở cai nghiện ma túy tiếp nhận người nghiện theo quyết định của Tòa án.",
            "Danh sách hộ nghèo, hộ cận nghèo được rà soát theo chuẩn nghèo đa chiều giai đoạn mới.",
            "Doanh nghiệp đăng ký nội quy lao động, thỏa ước lao động tập thể và thang lương, bảng lương.",
        ],
        "personal": True,
    },
    "tai-nguyen-moi-truong": {
        "agencies": [("UBND TỈNH {P}", "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG", "STNMT"), ("UBND TỈNH {P}", "CHI CỤC BẢO VỆ MÔI TRƯỜNG", "CCBVMT")],
        "subjects": ["cấp giấy phép môi trường cho cơ sở sản xuất", "xử lý ô nhiễm nước thải tại cụm công nghiệp", "khai thác cát, sỏi lòng sông trái phép"],
        "body": [
            "Cơ sở phải vận hành hệ thống xử lý nước thải, quan trắc nước thải tự động và truyền số liệu về Sở.",
            "Mỏ đá vôi tại xã {commune} có trữ lượng {n} nghìn m3, thời hạn khai thác khoáng sản {m} năm.",
            "Báo cáo đánh giá tác động môi trường của dự án đã được hội đồng thẩm định thông qua.",
            "Tổ chức, cá nhân xả thải vào nguồn nước phải có giấy phép xả nước thải và nộp phí bảo vệ môi trường.",
            "Chất thải rắn sinh hoạt, chất thải nguy hại phải được phân loại, thu gom và xử lý đúng quy định.",
        ],
        "personal": False,
    },
    "nong-nghiep": {
        "agencies": [("UBND TỈNH {P}", "SỞ NÔNG NGHIỆP VÀ PTNT", "SNN"), ("SỞ NÔNG NGHIỆP VÀ PTNT", "CHI CỤC CHĂN NUÔI VÀ THÚ Y", "CNTY")],
        "subjects": ["phòng, chống bệnh dịch tả lợn châu Phi", "hỗ trợ giống cây trồng sau bão lụt", "kiểm tra bảo vệ và phát triển rừng năm {y}"],
        "body": [
            "Chi cục Chăn nuôi và Thú y tổ chức tiêm phòng vắc xin lở mồm long móng cho đàn gia súc.",
            "Diện tích lúa vụ xuân bị sâu cuốn lá, rầy nâu gây hại {n} ha, cần phun thuốc bảo vệ thực vật kịp thời.",
            "Hạt Kiểm lâm lập biên bản vụ chặt phá rừng phòng hộ tại tiểu khu {n}.",
            "Công ty thủy lợi điều tiết nước tưới cho diện tích gieo cấy vụ hè thu.",
            "Cơ sở nuôi trồng thủy sản được cấp giấy chứng nhận đủ điều kiện nuôi tôm thâm canh.",
        ],
        "personal": False,
    },
    "cong-thuong": {
        "agencies": [("UBND TỈNH {P}", "SỞ CÔNG THƯƠNG", "SCT"), ("SỞ CÔNG THƯƠNG", "CHI CỤC QUẢN LÝ THỊ TRƯỜNG", "QLTT")],
        "subjects": ["kiểm tra cửa hàng bán lẻ xăng dầu", "bình ổn giá hàng hóa dịp Tết Nguyên đán", "an toàn hồ đập thủy điện mùa mưa bão"],
        "body": [
            "Cửa hàng xăng dầu {commune} được cấp giấy chứng nhận đủ điều kiện bán lẻ xăng dầu.",
            "Thương nhân kinh doanh khí dầu mỏ hóa lỏng phải có trạm nạp LPG vào chai đạt chuẩn.",
            "Nhà máy thủy điện xây dựng quy trình vận hành hồ chứa và phương án ứng phó tình huống khẩn cấp.",
            "Đoàn kiểm tra của Quản lý thị trường thu giữ {n} sản phẩm hàng giả, hàng không rõ nguồn gốc xuất xứ.",
            "Chương trình xúc tiến thương mại đưa hàng Việt về nông thôn, hỗ trợ doanh nghiệp xuất khẩu.",
        ],
        "personal": False,
    },
    "y-te": {
        "agencies": [("UBND TỈNH {P}", "SỞ Y TẾ", "SYT"), ("SỞ Y TẾ", "TRUNG TÂM KIỂM SOÁT BỆNH TẬT", "CDC")],
        "subjects": ["cấp chứng chỉ hành nghề dược", "phòng, chống dịch sốt xuất huyết", "thanh tra an toàn vệ sinh thực phẩm bếp ăn tập thể"],
        "body": [
            "Phòng khám đa khoa tư nhân đáp ứng điều kiện khám bệnh, chữa bệnh về nhân sự và trang thiết bị y tế.",
            "Nhà thuốc {commune} do dược sĩ {person} phụ trách chuyên môn được cấp giấy chứng nhận đủ điều kiện kinh doanh dược.",
            "Trung tâm Y tế huyện giám sát ca bệnh, phun hóa chất diệt muỗi tại ổ dịch.",
            "Cơ sở sản xuất thực phẩm phải có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm.",
            "Hội đồng giám định y khoa kết luận tỷ lệ tổn thương cơ thể của ông (bà) {person} là {m}%.",
        ],
        "personal": True,
    },
    "giao-duc": {
        "agencies": [("UBND TỈNH {P}", "SỞ GIÁO DỤC VÀ ĐÀO TẠO", "SGDĐT"), ("UBND HUYỆN NAM ĐÀN", "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "PGDĐT")],
        "subjects": ["tổ chức kỳ thi tốt nghiệp trung học phổ thông năm {y}", "tuyển sinh vào lớp 10 năm học {y}-{y2}", "công nhận trường mầm non đạt chuẩn quốc gia"],
        "body": [
            "Các trường trung học phổ thông rà soát danh sách học sinh dự thi, bố trí phòng thi và cán bộ coi thi.",
            "Trường tiểu học {commune} đạt chuẩn quốc gia mức độ 1 về cơ sở vật chất và đội ngũ giáo viên.",
            "Giáo viên tham gia bồi dưỡng thường xuyên, đánh giá chuẩn nghề nghiệp giáo viên cuối năm học.",
            "Học sinh {person} được cấp bằng tốt nghiệp trung học cơ sở.",
            "Trung tâm giáo dục thường xuyên tổ chức dạy văn hóa kết hợp giáo dục nghề nghiệp.",
        ],
        "personal": True,
    },
    "van-hoa": {
        "agencies": [("UBND TỈNH {P}", "SỞ VĂN HÓA VÀ THỂ THAO", "SVHTT"), ("UBND TỈNH {P}", "SỞ DU LỊCH", "SDL")],
        "subjects": ["tổ chức Lễ hội đền Cuông năm {y}", "cấp thẻ hướng dẫn viên du lịch nội địa", "xếp hạng di tích lịch sử văn hóa cấp tỉnh"],
        "body": [
            "Di tích đình làng {commune} được xếp hạng di tích lịch sử - văn hóa cấp tỉnh.",
            "Doanh nghiệp kinh doanh dịch vụ lữ hành nội địa phải ký quỹ và có người phụ trách kinh doanh lữ hành.",
            "Câu lạc bộ thể dục thể thao đủ điều kiện kinh doanh hoạt động thể thao môn bơi, lặn.",
            "Chương trình nghệ thuật biểu diễn phục vụ nhân dân dịp lễ hội, triển lãm ảnh nghệ thuật.",
            "Thư viện tỉnh luân chuyển sách về thư viện cơ sở, xây dựng gia đình văn hóa.",
        ],
        "personal": False,
    },
    "thong-tin": {
        "agencies": [("UBND TỈNH {P}", "SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "STTTT"), ("UBND TỈNH {P}", "ĐÀI PHÁT THANH VÀ TRUYỀN HÌNH", "PTTH")],
        "subjects": ["cấp giấy phép xuất bản bản tin", "quản lý trang thông tin điện tử tổng hợp", "bảo đảm an toàn thông tin mạng"],
        "body": [
            "Cơ quan báo chí phải thực hiện đúng tôn chỉ, mục đích và giấy phép hoạt động báo chí.",
            "Doanh nghiệp cung cấp dịch vụ trò chơi điện tử G1 trên mạng và điểm truy nhập internet công cộng.",
            "Cơ sở in được cấp giấy phép hoạt động in xuất bản phẩm, ấn phẩm báo chí.",
            "Dịch vụ bưu chính công ích, chuyển phát hồ sơ thủ tục hành chính qua bưu điện.",
            "Đài truyền thanh xã {commune} phát sóng chương trình phát thanh về cải cách hành chính.",
        ],
        "personal": False,
    },
    "khoa-hoc": {
        "agencies": [("UBND TỈNH {P}", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "SKHCN"), ("SỞ KHOA HỌC VÀ CÔNG NGHỆ", "CHI CỤC TIÊU CHUẨN ĐO LƯỜNG CHẤT LƯỢNG", "TĐC")],
        "subjects": ["nghiệm thu nhiệm vụ khoa học và công nghệ cấp tỉnh", "kiểm định phương tiện đo cân thương mại", "cấp giấy phép tiến hành công việc bức xạ"],
        "body": [
            "Đề tài nghiên cứu ứng dụng tiến bộ kỹ thuật được hội đồng khoa học đánh giá nghiệm thu xếp loại đạt.",
            "Cơ sở y tế sử dụng thiết bị X-quang chẩn đoán y tế phải có giấy phép an toàn bức xạ.",
            "Phương tiện đo nhóm 2 phải được kiểm định, hiệu chuẩn và dán tem kiểm định.",
            "Doanh nghiệp công bố hợp chuẩn, hợp quy sản phẩm theo tiêu chuẩn quốc gia TCVN.",
            "Hỗ trợ doanh nghiệp đăng ký bảo hộ sở hữu trí tuệ, nhãn hiệu tập thể cho sản phẩm địa phương.",
        ],
        "personal": False,
    },
    "noi-vu": {
        "agencies": [("UBND TỈNH {P}", "SỞ NỘI VỤ", "SNV"), ("UBND TỈNH {P}", "BAN THI ĐUA - KHEN THƯỞNG", "BTĐKT")],
        "subjects": ["khen thưởng thành tích xuất sắc trong phong trào thi đua", "tuyển dụng viên chức ngành giáo dục năm {y}", "công nhận ban đại diện cộng đồng tôn giáo"],
        "body": [
            "Tặng Bằng khen của Chủ tịch UBND tỉnh cho {n} tập thể và cá nhân có thành tích xuất sắc.",
            "Sắp xếp tổ chức bộ máy, tinh giản biên chế các đơn vị sự nghiệp công lập.",
            "Ông {person} được bổ nhiệm giữ chức vụ Trưởng phòng, thời hạn giữ chức vụ 5 năm.",
            "Cơ sở tín ngưỡng tổ chức lễ hội và hoạt động tôn giáo tập trung phải đăng ký với chính quyền địa phương.",
            "Các cơ quan thực hiện chỉnh lý tài liệu, nộp hồ sơ vào lưu trữ lịch sử theo quy định về văn thư, lưu trữ.",
        ],
        "personal": True,
    },
    "tai-chinh": {
        "agencies": [("UBND TỈNH {P}", "SỞ TÀI CHÍNH", "STC"), ("UBND HUYỆN DIỄN CHÂU", "PHÒNG TÀI CHÍNH - KẾ HOẠCH", "TCKH")],
        "subjects": ["quyết toán ngân sách địa phương năm {y}", "thanh lý tài sản công là xe ô tô", "điều chỉnh giá dịch vụ thu gom rác thải"],
        "body": [
            "Tổng thu ngân sách nhà nước trên địa bàn đạt {n} tỷ đồng, chi thường xuyên bảo đảm dự toán.",
            "Tài sản công được bán đấu giá, số tiền thu được nộp vào tài khoản tạm giữ tại Kho bạc Nhà nước.",
            "Đơn vị lập dự toán, chấp hành và quyết toán kinh phí theo Luật Ngân sách nhà nước.",
            "Phương án giá và mức giá tối đa dịch vụ được Sở Tài chính thẩm định.",
            "Hạch toán, kế toán, kiểm kê tài sản kết cấu hạ tầng và báo cáo kê khai tài sản công.",
        ],
        "personal": False,
    },
    "thanh-tra": {
        "agencies": [("UBND TỈNH {P}", "THANH TRA TỈNH", "TTr"), ("UBND HUYỆN QUỲNH LƯU", "THANH TRA HUYỆN", "TTr")],
        "subjects": ["giải quyết đơn khiếu nại của công dân {person}", "kết luận thanh tra việc quản lý thu chi tại xã {commune}", "tiếp công dân định kỳ tháng {q}"],
        "body": [
            "Ông (bà) {person}, CCCD số {cid}, khiếu nại quyết định hành chính về việc thu hồi đất ở.",
            "Đoàn thanh tra kiến nghị thu hồi {n} triệu đồng chi sai quy định, xử lý trách nhiệm cá nhân.",
            "Đơn tố cáo có nội dung trùng lặp, đã được giải quyết đúng pháp luật nên không thụ lý.",
            "Chủ tịch UBND trực tiếp tiếp công dân, đối thoại với người khiếu nại.",
            "Kê khai tài sản, thu nhập và công tác phòng, chống tham nhũng được thực hiện nghiêm túc.",
        ],
        "personal": True,
    },
    "ngoai-vu": {
        "agencies": [("UBND TỈNH {P}", "SỞ NGOẠI VỤ", "SNgV"), ("UBND TỈNH {P}", "VĂN PHÒNG UBND TỈNH", "VP")],
        "subjects": ["tổ chức hội thảo quốc tế về phát triển du lịch", "tiếp nhận khoản viện trợ phi chính phủ nước ngoài", "đón đoàn khách nước ngoài thăm và làm việc"],
        "body": [
            "Tổ chức phi chính phủ nước ngoài tài trợ dự án nước sạch cho xã {commune} với tổng kinh phí {n} nghìn USD.",
            "Hội nghị, hội thảo quốc tế có sự tham gia của đại biểu nước ngoài phải được cấp có thẩm quyền cho phép.",
            "Đoàn công tác của tỉnh bạn thuộc nước Cộng hòa Dân chủ Nhân dân Lào đến thăm và ký kết biên bản hợp tác.",
            "Công tác lãnh sự, bảo hộ công dân và người Việt Nam ở nước ngoài được quan tâm.",
            "Sở Ngoại vụ thẩm định nội dung thỏa thuận quốc tế trước khi ký kết.",
        ],
        "personal": False,
    },
}

# Document types: code, title, whether the number carries the code, and how the
# subject line reads.
TYPES = [
    ("QĐ", "QUYẾT ĐỊNH", "Về việc"),
    ("CV", None, "V/v"),
    ("BC", "BÁO CÁO", "Về việc"),
    ("TB", "THÔNG BÁO", "Về việc"),
    ("TTr", "TỜ TRÌNH", "Về việc"),
    ("KH", "KẾ HOẠCH", "Về việc"),
    ("GP", "GIẤY PHÉP", "Về việc"),
]
# Issuers that say nothing about the sector: the province's or a district's people's
# committee itself, or its office.
GENERIC_AGENCIES = [
    ("UBND TỈNH {P}", "VĂN PHÒNG UBND TỈNH", "VP"),
    ("ỦY BAN NHÂN DÂN", "TỈNH {P}", "UBND"),
    ("UBND HUYỆN NAM ĐÀN", "UBND XÃ NAM GIANG", "UBND"),
    ("ỦY BAN NHÂN DÂN", "HUYỆN DIỄN CHÂU", "UBND"),
]
# Sentences of any sector's documents; several name other sectors' bodies in passing.
GENERIC_BODY = [
    "Giao Sở Tài chính, Sở Kế hoạch và Đầu tư, Kho bạc Nhà nước tỉnh phối hợp thực hiện.",
    "UBND các huyện, thành phố, thị xã tổ chức triển khai trên địa bàn.",
    "Kinh phí thực hiện từ nguồn ngân sách nhà nước và nguồn xã hội hóa.",
    "Văn phòng UBND tỉnh theo dõi, đôn đốc, tổng hợp báo cáo Chủ tịch UBND tỉnh.",
    "Thời gian thực hiện từ tháng {q} năm {y} đến hết năm {y2}.",
    "Sở Nội vụ, Sở Tư pháp và các cơ quan liên quan kiểm tra việc thực hiện.",
    "Hồ sơ được tiếp nhận tại Trung tâm Phục vụ hành chính công tỉnh và trả kết quả qua dịch vụ bưu chính công ích.",
    "Kết quả giải quyết được công khai trên Cổng dịch vụ công quốc gia.",
]
GENERIC_OPENING = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05/3/2020 của Chính phủ về công tác văn thư;",
    "Xét đề nghị của Trưởng phòng chuyên môn,",
]
GENERIC_CLOSING = [
    "Các cơ quan, đơn vị và cá nhân có liên quan chịu trách nhiệm thi hành./.",
    "Đề nghị các đơn vị nghiêm túc triển khai thực hiện, báo cáo kết quả trước ngày 30 hằng tháng./.",
    "Trong quá trình thực hiện, nếu có vướng mắc, phản ánh về cơ quan thường trực để tổng hợp./.",
]


def person(rng):
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def citizen_id(rng):
    if rng.random() < 0.8:
        return "0" + "".join(rng.choice("0123456789") for _ in range(11))
    return "1" + "".join(rng.choice("0123456789") for _ in range(8))


def subject_from_procedure(name):
    """The procedure name as a subject line: up to its first bracket, first letter low."""
    head = re.split(r"[(]", name)[0].strip().rstrip(",;:")
    return head[0].lower() + head[1:]


def distinct_procedures(sector):
    """Procedures a subject line can name unambiguously: no other procedure of the
    sector has the same name up to its first bracket (the part a subject quotes)."""
    heads = {}
    for p in sector["procedures"]:
        heads.setdefault(strip_all(subject_from_procedure(p["name"])).lower(), []).append(p)
    return [ps[0] for ps in heads.values() if len(ps) == 1]


def document(rng, taxonomy_sectors, index):
    sector = rng.choice(taxonomy_sectors)
    spec = SECTORS[sector["id"]]
    province = rng.choice(PROVINCE)
    generic_agency = rng.random() < 0.35
    upper, lower, issuer = rng.choice(GENERIC_AGENCIES if generic_agency else spec["agencies"])
    upper, lower = upper.replace("{P}", province), lower.replace("{P}", province)
    code, title, subject_label = rng.choice(TYPES)
    year = rng.randint(2015, 2025)
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    slots = {
        "person": person(rng), "person2": person(rng), "cid": citizen_id(rng),
        "commune": rng.choice(COMMUNES), "n": rng.randint(10, 999), "m": rng.randint(2, 40),
        "q": rng.randint(1, 12), "d": rng.randint(1, 28), "y": year, "y2": year + 1,
    }
    procedure = None
    if rng.random() < 0.6 and sector["procedures"]:
        p = rng.choice(distinct_procedures(sector))
        procedure = p["code"]
        verb = rng.choice(["giải quyết thủ tục ", "hồ sơ ", "", "đề nghị "])
        subject = verb + subject_from_procedure(p["name"])
    else:
        subject = rng.choice(spec["subjects"]).format(**slots)
    serial = rng.randint(1, 2999)
    if code == "CV":
        # Official letters carry no type code: serial/issuer-unit (Nghị định 30/2020).
        unit = rng.choice(["VP", "KT", "NC", "TH", "QLCL", "KHTC"])
        number = f"{serial}/{issuer}-{unit}"
        type_code = "CV"
    elif rng.random() < 0.15:
        number = f"{serial:02d}-{code}/{issuer}"
        type_code = code
    else:
        number = f"{serial}/{code}-{issuer}"
        type_code = code
    place = rng.choice(PLACES)
    month_text = f"{month:02d}" if rng.random() < 0.5 else str(month)
    date_line = f"{place}, ngày {day} tháng {month_text} năm {year}"
    body = rng.sample(spec["body"], rng.randint(1, 3)) + rng.sample(GENERIC_BODY, rng.randint(1, 2))
    if rng.random() < 0.25:
        # Documents touch other sectors in passing: one sentence from another.
        other = rng.choice([k for k in SECTORS if k != sector["id"]])
        body.append(rng.choice(SECTORS[other]["body"]))
    rng.shuffle(body)
    body = [s.format(**slots) for s in body]
    ids = sorted({m for s in body for m in re.findall(r"\b\d{12}\b|\b\d{9}\b", s)},
                 key=lambda x: "".join(body).index(x))
    parcels = [[a, b] for s in body for a, b in re.findall(r"thửa đất số (\d+), tờ bản đồ số (\d+)", s)]
    lines = [upper, lower, f"Số: {number}"]
    if title is None:
        lines.append(f"{subject_label} {subject}")
    lines += ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", date_line]
    if title is not None:
        lines += [title, f"{subject_label} {subject}"]
    else:
        lines.append("Kính gửi: " + rng.choice(["UBND các huyện, thành phố, thị xã;", "Các sở, ban, ngành cấp tỉnh;"]))
    if code == "QĐ":
        lines += rng.sample(GENERIC_OPENING, 2)
        lines.append("QUYẾT ĐỊNH:")
        lines += [f"Điều {i + 1}. {s}" for i, s in enumerate(body)]
    else:
        lines += [f"{i + 1}. {s}" for i, s in enumerate(body)]
    lines.append(rng.choice(GENERIC_CLOSING))
    lines += ["Nơi nhận:", "- Như trên;", "- Lưu: VT.", rng.choice(["GIÁM ĐỐC", "CHỦ TỊCH", "TRƯỞNG PHÒNG"]), person(rng)]
    fields = {
        "number": number, "type": type_code, "date": f"{year:04d}-{month:02d}-{day:02d}",
        "place": place, "agency": f"{upper} / {lower}", "subject": subject,
        "citizen_ids": ids, "land_parcels": parcels,
    }
    return {"id": f"doc-{index:04d}", "text": "\n".join(lines), "sector": sector["id"],
            "procedure": procedure, "fields": fields}


# --- OCR error model -------------------------------------------------------------

TONES = ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # huyền sắc ngã hỏi nặng
CONFUSIONS = [("rn", "m"), ("m", "rn"), ("l", "1"), ("I", "l"), ("c", "e"), ("n", "ri"), ("h", "b"), ("u", "ll")]


def retone(syllable, rng):
    """Drops or swaps the tone mark of one syllable, keeping its other marks."""
    d = unicodedata.normalize("NFD", syllable)
    tones = [c for c in d if c in TONES]
    if not tones:
        return syllable
    rest = "".join(c for c in d if c not in TONES)
    if rng.random() < 0.5:
        return unicodedata.normalize("NFC", rest)
    # Put a different tone after the first vowel-ish letter.
    new = rng.choice([t for t in TONES if t != tones[0]])
    i = next((k for k, c in enumerate(rest) if c.lower() in "aeiouy"), 0) + 1
    while i < len(rest) and unicodedata.combining(rest[i]):
        i += 1  # after the vowel's own circumflex, breve or horn
    return unicodedata.normalize("NFC", rest[:i] + new + rest[i:])


def strip_all(syllable):
    d = unicodedata.normalize("NFD", syllable)
    return "".join(c for c in d if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")


def noisy_word(word, rng):
    if re.fullmatch(r"[\d/.-]+", word):
        return word  # numbers and dates are read well by Tesseract on clean scans
    r = rng.random()
    if r < 0.12:
        word = retone(word, rng)
    elif r < 0.16:
        word = strip_all(word)
    if "đ" in word and rng.random() < 0.1:
        word = word.replace("đ", "d")
    if rng.random() < 0.03:
        a, b = rng.choice(CONFUSIONS)
        if a in word:
            word = word.replace(a, b, 1)
    return word


def add_noise(text, rng):
    lines = text.split("\n")
    # Tesseract often reads the two header columns as one line.
    motto = next(i for i, l in enumerate(lines) if l.startswith("CỘNG HÒA"))
    if rng.random() < 0.4:
        lines[0] = lines[0] + " " + lines.pop(motto)
    out = []
    for line in lines:
        if line.startswith("Số:"):
            line = rng.choice(["Số:", "Sô:", "S6:", "Sỏ:", "Số :"]) + line[3:]
            if rng.random() < 0.3:
                line = line.replace("/", " /", 1)
            out.append(line)
            continue
        words = line.split(" ")
        out.append(" ".join(noisy_word(w, rng) for w in words))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", action="store_true")
    ap.add_argument("--taxonomy", default="src/classify/taxonomy.json")
    args = ap.parse_args()
    taxonomy = json.load(open(args.taxonomy, encoding="utf-8"))
    sectors = [s for s in taxonomy["sectors"] if s["id"] in SECTORS]
    missing = {s["id"] for s in taxonomy["sectors"]} - set(SECTORS)
    if missing:
        raise SystemExit(f"no document tables for sectors: {sorted(missing)}")
    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for i in range(args.count):
            doc = document(rng, sectors, i)
            if args.noise:
                doc["text"] = add_noise(doc["text"], random.Random(f"{args.seed}-{i}"))
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    print(f"{args.out}: {args.count} documents{' with OCR noise' if args.noise else ''}")


if __name__ == "__main__":
    main()
