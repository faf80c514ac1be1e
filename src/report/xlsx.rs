//! The report as a workbook (rust_xlsxwriter): the same tables as the PDF, numbers as
//! numbers so that a unit can sum and chart them, and a chart of pages per month.

use super::{RenderError, Report, ReportRow};
use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, Worksheet, XlsxError};

fn failed(e: XlsxError) -> RenderError {
    RenderError::Write(format!("xlsx: {e}"))
}

enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

fn number(value: i64) -> Cell {
    Cell::Number(value as f64)
}

fn optional(value: Option<f64>) -> Cell {
    value.map_or(Cell::Empty, Cell::Number)
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[Cell],
    format: Option<&Format>,
) -> Result<(), XlsxError> {
    for (col, cell) in cells.iter().enumerate() {
        let col = col as u16;
        match (cell, format) {
            (Cell::Text(t), Some(f)) => sheet.write_string_with_format(row, col, t, f)?,
            (Cell::Text(t), None) => sheet.write_string(row, col, t)?,
            (Cell::Number(n), Some(f)) => sheet.write_number_with_format(row, col, *n, f)?,
            (Cell::Number(n), None) => sheet.write_number(row, col, *n)?,
            (Cell::Empty, _) => sheet,
        };
    }
    Ok(())
}

const OVERVIEW_HEADER: [&str; 22] = [
    "Mã",
    "Tên",
    "Văn bản số hóa",
    "Số trang",
    "Văn bản kỳ trước",
    "Số trang kỳ trước",
    "Ban hành trong kỳ (văn bản)",
    "Ban hành trong kỳ (trang)",
    "Đủ siêu dữ liệu (tỷ lệ)",
    "Có số, ký hiệu",
    "Có ngày",
    "Có cơ quan",
    "Có trích yếu",
    "Độ tin cậy OCR",
    "Trang chất lượng thấp",
    "Trang chờ quét lại",
    "Tệp lỗi",
    "Tệp thiếu trang",
    "Tệp trống",
    "Chờ duyệt phân loại",
    "Bản ghi đã ký",
    "Tra cứu xác thực",
];

fn overview_cells(row: &ReportRow) -> Vec<Cell> {
    let f = &row.figures;
    vec![
        Cell::Text(row.key.clone()),
        Cell::Text(row.label.clone()),
        number(f.documents),
        number(f.pages),
        number(row.previous.documents),
        number(row.previous.pages),
        number(f.issued_documents),
        number(f.issued_pages),
        optional(f.complete_metadata),
        optional(f.with_number),
        optional(f.with_date),
        optional(f.with_agency),
        optional(f.with_subject),
        optional(f.mean_confidence),
        number(f.low_confidence_pages),
        number(f.rescan_pending),
        number(f.failed_files),
        number(f.partial_files),
        number(f.empty_files),
        number(f.reviews_pending),
        number(f.records_signed),
        number(f.verifications_answered),
    ]
}

pub fn write(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let title = format!(
        "Báo cáo kết quả số hóa – kỳ {} ({} – {}), so với kỳ {}",
        report.period, report.first_day, report.last_day, report.previous_period
    );

    let sheet = workbook.add_worksheet();
    sheet.set_name("Tổng hợp").map_err(failed)?;
    sheet
        .write_string_with_format(0, 0, &title, &bold)
        .map_err(failed)?;
    let header: Vec<Cell> = OVERVIEW_HEADER
        .iter()
        .map(|h| Cell::Text((*h).to_owned()))
        .collect();
    write_row(sheet, 2, &header, Some(&bold)).map_err(failed)?;
    for (r, row) in (3..).zip(report.rows.iter().chain(std::iter::once(&report.total))) {
        write_row(sheet, r, &overview_cells(row), None).map_err(failed)?;
    }
    for col in 8..=12 {
        sheet.set_column_format(col, &percent).map_err(failed)?;
    }
    sheet.set_column_width(1, 36).map_err(failed)?;

    // Pages per month and unit, with its chart.
    let sheet = workbook.add_worksheet();
    sheet.set_name("Theo tháng").map_err(failed)?;
    let mut units: Vec<&String> = report.monthly.iter().flat_map(|m| m.pages.keys()).collect();
    units.sort();
    units.dedup();
    sheet
        .write_string_with_format(0, 0, "Tháng", &bold)
        .map_err(failed)?;
    for (c, unit) in units.iter().enumerate() {
        let name = if unit.is_empty() {
            "(không đơn vị)"
        } else {
            unit.as_str()
        };
        sheet
            .write_string_with_format(0, c as u16 + 1, name, &bold)
            .map_err(failed)?;
    }
    for (r, month) in report.monthly.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, &month.month).map_err(failed)?;
        for (c, unit) in units.iter().enumerate() {
            let pages = month.pages.get(*unit).copied().unwrap_or(0);
            sheet
                .write_number(r, c as u16 + 1, pages as f64)
                .map_err(failed)?;
        }
    }
    if !report.monthly.is_empty() && !units.is_empty() {
        let mut chart = Chart::new(ChartType::ColumnStacked);
        let last = report.monthly.len() as u32;
        for c in 0..units.len() as u16 {
            chart
                .add_series()
                .set_name(("Theo tháng", 0, c + 1))
                .set_categories(("Theo tháng", 1, 0, last, 0))
                .set_values(("Theo tháng", 1, c + 1, last, c + 1));
        }
        chart
            .title()
            .set_name("Số trang số hóa theo tháng và đơn vị");
        sheet.insert_chart(last + 2, 0, &chart).map_err(failed)?;
    }

    // Each group's figures against the period before.
    let sheet = workbook.add_worksheet();
    sheet.set_name("Chi tiết").map_err(failed)?;
    let mut r = 0;
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        let name = row.name();
        sheet
            .write_string_with_format(r, 0, &name, &bold)
            .map_err(failed)?;
        r += 1;
        let header = [
            Cell::Text("Chỉ tiêu".into()),
            Cell::Text(format!("Kỳ {}", report.period)),
            Cell::Text(format!("Kỳ {}", report.previous_period)),
        ];
        write_row(sheet, r, &header, Some(&bold)).map_err(failed)?;
        r += 1;
        for detail in super::pdf::detail_rows(row) {
            let cells: Vec<Cell> = detail.into_iter().map(Cell::Text).collect();
            write_row(sheet, r, &cells, None).map_err(failed)?;
            r += 1;
        }
        r += 1;
    }
    sheet.set_column_width(0, 52).map_err(failed)?;

    // Why files were not fully digitized.
    let sheet = workbook.add_worksheet();
    sheet.set_name("Lý do lỗi").map_err(failed)?;
    let header = ["Mã", "Tên", "Trạng thái", "Lý do", "Số tệp"].map(|h| Cell::Text(h.into()));
    write_row(sheet, 0, &header, Some(&bold)).map_err(failed)?;
    let mut r = 1;
    for row in &report.rows {
        for p in &row.figures.problems {
            let cells = [
                Cell::Text(row.key.clone()),
                Cell::Text(row.label.clone()),
                Cell::Text(p.status.clone()),
                Cell::Text(p.reason.clone()),
                number(p.files),
            ];
            write_row(sheet, r, &cells, None).map_err(failed)?;
            r += 1;
        }
    }
    workbook.save_to_buffer().map_err(failed)
}
