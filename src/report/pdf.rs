//! The printable report: A4 PDF in Vietnamese, for a unit to attach to its quarterly or
//! six-monthly administrative-reform report. Written with krilla (text with an embedded,
//! subset TrueType font; vector tables); the two charts are drawn by plotters into
//! bitmaps at print resolution and placed as images.

use super::{RenderError, Report, ReportRow, change_text, duration_text, percent_text};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::image::Image;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use std::sync::OnceLock;

/// Where the font comes from unless `SOHOA_REPORT_FONT` names another: DejaVu Sans
/// (Debian's fonts-dejavu-core) has every Vietnamese letter.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEFAULT_BOLD_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 42.0;
/// Chart bitmaps per point: 200 dpi when printed at their size on the page.
const CHART_PIXELS_PER_POINT: f32 = 200.0 / 72.0;

struct Fonts {
    regular: &'static [u8],
    bold: &'static [u8],
}

/// Fonts read once per process (plotters keeps its own registry of `'static` fonts).
fn fonts() -> Result<&'static Fonts, RenderError> {
    static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();
    let loaded = FONTS.get_or_init(|| {
        let regular_path =
            std::env::var("SOHOA_REPORT_FONT").unwrap_or_else(|_| DEFAULT_FONT.to_owned());
        let regular = std::fs::read(&regular_path).map_err(|e| format!("{regular_path}: {e}"))?;
        // The bold face is optional: without it, headings are the regular face.
        let bold = std::fs::read(DEFAULT_BOLD_FONT)
            .ok()
            .filter(|_| std::env::var("SOHOA_REPORT_FONT").is_err())
            .unwrap_or_else(|| regular.clone());
        let regular: &'static [u8] = Box::leak(regular.into_boxed_slice());
        let bold: &'static [u8] = Box::leak(bold.into_boxed_slice());
        if ab_glyph::FontRef::try_from_slice(regular).is_err() {
            return Err(format!("{regular_path}: not a TrueType or OpenType font"));
        }
        for (style, bytes) in [
            (plotters::style::FontStyle::Normal, regular),
            (plotters::style::FontStyle::Bold, bold),
        ] {
            plotters::style::register_font("sans-serif", style, bytes)
                .map_err(|_| format!("{regular_path}: the chart renderer cannot read it"))?;
        }
        Ok(Fonts { regular, bold })
    });
    loaded.as_ref().map_err(|e| RenderError::Font(e.clone()))
}

/// Text widths, for right-aligned numbers and wrapping.
struct Measure(ab_glyph::FontRef<'static>);

impl Measure {
    fn width(&self, text: &str, size: f32) -> f32 {
        use ab_glyph::Font as _;
        let per_unit = size / self.0.units_per_em().unwrap_or(1000.0);
        text.chars()
            .map(|c| self.0.h_advance_unscaled(self.0.glyph_id(c)) * per_unit)
            .sum()
    }
}

/// A page being written, with the cursor's height.
struct Writer<'a> {
    document: &'a mut Document,
    regular: Font,
    bold: Font,
    measure: Measure,
    pages: Vec<Vec<Draw>>,
    y: f32,
}

/// What a page holds, drawn when the document is finished (krilla's pages borrow the
/// document, so they are laid out first).
enum Draw {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
        gray: u8,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: (u8, u8, u8),
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        png: Vec<u8>,
    },
}

impl Writer<'_> {
    fn page(&mut self) -> &mut Vec<Draw> {
        self.pages.last_mut().expect("a page is open")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Starts a new page unless `height` still fits on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.page().push(Draw::Text {
            x,
            y,
            size,
            bold,
            text: text.to_owned(),
            gray: 0,
        });
    }

    /// A line of text at the cursor, wrapped to the page's width.
    fn line(&mut self, size: f32, bold: bool, text: &str) {
        let width = PAGE_WIDTH - 2.0 * MARGIN;
        let mut current = String::new();
        let mut lines = Vec::new();
        for word in text.split(' ') {
            let candidate = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if self.measure.width(&candidate, size) > width && !current.is_empty() {
                lines.push(std::mem::replace(&mut current, word.to_owned()));
            } else {
                current = candidate;
            }
        }
        lines.push(current);
        for l in lines {
            self.room(size * 1.5);
            self.y += size * 1.25;
            let y = self.y;
            self.text_at(MARGIN, y, size, bold, &l);
            self.y += size * 0.25;
        }
    }

    fn centered(&mut self, size: f32, bold: bool, text: &str) {
        self.room(size * 1.5);
        self.y += size * 1.25;
        let x = (PAGE_WIDTH - self.measure.width(text, size)) / 2.0;
        let y = self.y;
        self.text_at(x, y, size, bold, text);
        self.y += size * 0.35;
    }

    fn gap(&mut self, points: f32) {
        self.y += points;
    }

    /// A table: the first column left-aligned and as wide as needed, the rest right-
    /// aligned in equal widths; the header repeated on each page.
    fn table(&mut self, header: &[String], rows: &[Vec<String>], bold_last: bool) {
        const SIZE: f32 = 7.0;
        const ROW: f32 = 12.0;
        let width = PAGE_WIDTH - 2.0 * MARGIN;
        let numeric = header.len() - 1;
        let first = (width * 0.30).min(
            rows.iter()
                .map(|r| self.measure.width(&r[0], SIZE))
                .fold(self.measure.width(&header[0], SIZE), f32::max)
                + 8.0,
        );
        let cell = (width - first) / numeric as f32;
        let header_lines: Vec<Vec<String>> = header
            .iter()
            .map(|h| {
                wrap_words(
                    &self.measure,
                    h,
                    SIZE,
                    if h == &header[0] { first } else { cell } - 4.0,
                )
            })
            .collect();
        let header_height = header_lines.iter().map(Vec::len).max().unwrap_or(1) as f32 * 9.0 + 4.0;
        let draw_header = |w: &mut Self| {
            let top = w.y;
            w.page().push(Draw::Rect {
                x: MARGIN,
                y: top,
                w: width,
                h: header_height,
                fill: (225, 232, 240),
            });
            for (i, lines) in header_lines.iter().enumerate() {
                for (n, text) in lines.iter().enumerate() {
                    let y = top + 9.0 + n as f32 * 9.0;
                    let x = if i == 0 {
                        MARGIN + 2.0
                    } else {
                        MARGIN + first + cell * i as f32 - 2.0 - w.measure.width(text, SIZE)
                    };
                    w.text_at(x, y, SIZE, true, text);
                }
            }
            w.y += header_height;
        };
        self.room(header_height + ROW * 2.0);
        draw_header(self);
        for (n, row) in rows.iter().enumerate() {
            if self.y + ROW > PAGE_HEIGHT - MARGIN {
                self.new_page();
                draw_header(self);
            }
            let bold = bold_last && n == rows.len() - 1;
            let baseline = self.y + 9.0;
            let name = clip(&self.measure, &row[0], SIZE, first - 4.0);
            self.text_at(MARGIN + 2.0, baseline, SIZE, bold, &name);
            for (i, text) in row.iter().enumerate().skip(1) {
                let x = MARGIN + first + cell * i as f32 - 2.0 - self.measure.width(text, SIZE);
                self.text_at(x, baseline, SIZE, bold, text);
            }
            self.y += ROW;
            let y = self.y;
            self.page().push(Draw::Line {
                x1: MARGIN,
                y1: y,
                x2: MARGIN + width,
                y2: y,
            });
        }
        self.gap(10.0);
    }

    fn image(&mut self, png: Vec<u8>, w: f32, h: f32) {
        self.room(h + 6.0);
        let (x, y) = ((PAGE_WIDTH - w) / 2.0, self.y);
        self.page().push(Draw::Image { x, y, w, h, png });
        self.y += h + 6.0;
    }

    fn finish(self) -> Result<(), RenderError> {
        let total = self.pages.len();
        for (number, draws) in self.pages.into_iter().enumerate() {
            let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
                .ok_or_else(|| RenderError::Write("page size".into()))?;
            let mut page = self.document.start_page_with(settings);
            let mut surface = page.surface();
            for draw in draws {
                paint(&mut surface, &self.regular, &self.bold, draw)?;
            }
            let footer = format!("Trang {} / {total}", number + 1);
            let x = PAGE_WIDTH - MARGIN - self.measure.width(&footer, 7.0);
            paint(
                &mut surface,
                &self.regular,
                &self.bold,
                Draw::Text {
                    x,
                    y: PAGE_HEIGHT - MARGIN / 2.0,
                    size: 7.0,
                    bold: false,
                    text: footer,
                    gray: 90,
                },
            )?;
            surface.finish();
            page.finish();
        }
        Ok(())
    }
}

fn wrap_words(measure: &Measure, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if measure.width(&candidate, size) > width && !current.is_empty() {
            lines.push(std::mem::replace(&mut current, word.to_owned()));
        } else {
            current = candidate;
        }
    }
    lines.push(current);
    lines
}

fn clip(measure: &Measure, text: &str, size: f32, width: f32) -> String {
    if measure.width(text, size) <= width {
        return text.to_owned();
    }
    let mut out: String = text.to_owned();
    while !out.is_empty() && measure.width(&format!("{out}…"), size) > width {
        out.pop();
    }
    format!("{}…", out.trim_end())
}

fn fill(r: u8, g: u8, b: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn paint(
    surface: &mut Surface,
    regular: &Font,
    bold: &Font,
    draw: Draw,
) -> Result<(), RenderError> {
    match draw {
        Draw::Text {
            x,
            y,
            size,
            bold: is_bold,
            text,
            gray,
        } => {
            surface.set_fill(Some(fill(gray, gray, gray)));
            surface.set_stroke(None);
            let font = if is_bold { bold } else { regular };
            surface.draw_text(
                Point::from_xy(x, y),
                font.clone(),
                size,
                &text,
                false,
                TextDirection::Auto,
            );
        }
        Draw::Rect {
            x,
            y,
            w,
            h,
            fill: (r, g, b),
        } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.set_fill(Some(fill(r, g, b)));
                surface.set_stroke(None);
                surface.draw_path(&path);
            }
        }
        Draw::Line { x1, y1, x2, y2 } => {
            let mut path = PathBuilder::new();
            path.move_to(x1, y1);
            path.line_to(x2, y2);
            if let Some(path) = path.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(200, 200, 200).into(),
                    width: 0.4,
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
        Draw::Image { x, y, w, h, png } => {
            let image = Image::from_png(png.into(), true).map_err(RenderError::Write)?;
            let size =
                Size::from_wh(w, h).ok_or_else(|| RenderError::Write("image size".into()))?;
            surface.push_transform(&krilla::geom::Transform::from_translate(x, y));
            surface.draw_image(image, size);
            surface.pop();
        }
    }
    Ok(())
}

/// Colours of the series (units) in the charts, cycled.
const SERIES: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

/// Units the page-per-month chart shows apart; the others are summed as one.
const CHART_UNITS: usize = 7;

fn png_of(pixels: Vec<u8>, width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    let image = image::RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| RenderError::Write("chart buffer".into()))?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| RenderError::Write(format!("chart: {e}")))?;
    Ok(png)
}

fn chart_error(e: impl std::fmt::Display) -> RenderError {
    RenderError::Write(format!("chart: {e}"))
}

/// A chart's series: legend, colour, and its bars as (left, bottom, top) in chart units
/// (each bar 0.35 wide when side by side, 0.7 when stacked).
struct Bars {
    label: String,
    color: (u8, u8, u8),
    width: f64,
    bars: Vec<(f64, f64, f64)>,
}

/// Bars over named categories, drawn into a bitmap at print resolution (PNG).
fn bar_chart(
    title: &str,
    categories: &[String],
    top: f64,
    series: &[Bars],
    legend: plotters::chart::SeriesLabelPosition,
    (w, h): (f32, f32),
) -> Result<Vec<u8>, RenderError> {
    use plotters::prelude::*;
    let (pw, ph) = (
        (w * CHART_PIXELS_PER_POINT) as u32,
        (h * CHART_PIXELS_PER_POINT) as u32,
    );
    let mut pixels = vec![255u8; (pw * ph * 3) as usize];
    {
        let scale = CHART_PIXELS_PER_POINT;
        let root = BitMapBackend::with_buffer(&mut pixels, (pw, ph)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 11.0 * scale))
            .margin(6.0 * scale)
            .x_label_area_size(18.0 * scale)
            .y_label_area_size(40.0 * scale)
            .build_cartesian_2d(0f64..categories.len().max(1) as f64, 0f64..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len().max(1))
            .x_label_formatter(&|x| {
                // A label at each category's middle only.
                let i = x.floor() as usize;
                if (*x - i as f64 - 0.5).abs() < 0.26 {
                    categories.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_label_style(("sans-serif", 7.0 * scale))
            .y_label_style(("sans-serif", 7.0 * scale))
            .draw()
            .map_err(chart_error)?;
        for s in series {
            let (r, g, b) = s.color;
            let color = RGBColor(r, g, b);
            let bars = s.bars.iter().map(|&(left, bottom, top)| {
                Rectangle::new([(left, bottom), (left + s.width, top)], color.filled())
            });
            chart
                .draw_series(bars)
                .map_err(chart_error)?
                .label(s.label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 8, y + 4)], color.filled()));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 7.0 * scale))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .position(legend)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    png_of(pixels, pw, ph)
}

/// Pages per month, stacked by unit (the largest units apart, the rest as one).
fn pages_chart(
    report: &Report,
    units: &[(String, String)],
    size: (f32, f32),
) -> Result<Vec<u8>, RenderError> {
    let months = &report.monthly;
    let top = months
        .iter()
        .map(|m| m.pages.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let shown: Vec<&String> = units.iter().take(CHART_UNITS).map(|(k, _)| k).collect();
    let series: Vec<Bars> = (0..=shown.len())
        .map(|s| Bars {
            label: if s < shown.len() {
                units[s].1.clone()
            } else {
                "Đơn vị khác".to_owned()
            },
            color: SERIES[s % SERIES.len()],
            width: 0.7,
            bars: months
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let below: i64 = (0..s).map(|t| series_pages(m, &shown, t)).sum();
                    let own = series_pages(m, &shown, s);
                    (own > 0).then_some((i as f64 + 0.15, below as f64, (below + own) as f64))
                })
                .collect(),
        })
        .collect();
    let names: Vec<String> = months.iter().map(|m| m.month.clone()).collect();
    bar_chart(
        "Số trang số hóa theo tháng và đơn vị",
        &names,
        top,
        &series,
        plotters::chart::SeriesLabelPosition::UpperLeft,
        size,
    )
}

fn series_pages(month: &super::MonthPages, shown: &[&String], series: usize) -> i64 {
    if series < shown.len() {
        month.pages.get(shown[series]).copied().unwrap_or(0)
    } else {
        month
            .pages
            .iter()
            .filter(|(k, _)| !shown.contains(k))
            .map(|(_, p)| p)
            .sum()
    }
}

/// A figure of a row, for a chart.
type RowValue = fn(&ReportRow) -> Option<f64>;

/// OCR confidence and complete-metadata share per group, side by side (both 0–100).
fn quality_chart(rows: &[&ReportRow], size: (f32, f32)) -> Result<Vec<u8>, RenderError> {
    let values: [(&str, RowValue); 2] = [
        ("Độ tin cậy OCR trung bình", |r| {
            r.figures.mean_confidence
        }),
        ("Đủ siêu dữ liệu", |r| {
            r.figures.complete_metadata.map(|s| s * 100.0)
        }),
    ];
    let series: Vec<Bars> = values
        .iter()
        .enumerate()
        .map(|(n, (label, value))| Bars {
            label: (*label).to_owned(),
            color: SERIES[2 * n],
            width: 0.35,
            bars: rows
                .iter()
                .enumerate()
                .filter_map(|(i, row)| Some((i as f64 + 0.15 + n as f64 * 0.35, 0.0, value(row)?)))
                .collect(),
        })
        .collect();
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            if r.key.is_empty() {
                "–".to_owned()
            } else {
                r.key.clone()
            }
        })
        .collect();
    bar_chart(
        "Chất lượng: độ tin cậy OCR và tỷ lệ đủ siêu dữ liệu (%)",
        &names,
        110.0,
        &series,
        plotters::chart::SeriesLabelPosition::LowerRight,
        size,
    )
}

fn vn_date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_owned(),
    }
}

fn group_heading(report: &Report) -> &'static str {
    match report.by {
        super::GroupBy::Unit => "Đơn vị",
        super::GroupBy::Sector => "Lĩnh vực",
        super::GroupBy::Procedure => "Thủ tục",
        super::GroupBy::Month => "Tháng",
    }
}

/// The overview table's columns (Vietnamese), shared with the staff page.
pub fn overview_header(report: &Report) -> Vec<String> {
    [
        group_heading(report),
        "Văn bản số hóa",
        "Số trang",
        "So với kỳ trước",
        "Ban hành trong kỳ",
        "Đủ siêu dữ liệu",
        "Tin cậy OCR",
        "Trang chất lượng thấp",
        "Trang chờ quét lại",
        "Tệp lỗi / thiếu trang / trống",
        "Chờ duyệt phân loại (lâu nhất, ngày)",
        "Bản ghi đã ký",
        "Tra cứu xác thực",
        "Thời gian đến khi tra cứu được (trung vị / p95)",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

pub fn overview_row(row: &ReportRow) -> Vec<String> {
    let f = &row.figures;
    let name = row.name();
    vec![
        name,
        f.documents.to_string(),
        f.pages.to_string(),
        change_text(row.change.pages, row.change.pages_percent),
        f.issued_documents.to_string(),
        percent_text(f.complete_metadata),
        super::confidence_text(f.mean_confidence),
        f.low_confidence_pages.to_string(),
        f.rescan_pending.to_string(),
        format!(
            "{} / {} / {}",
            f.failed_files, f.partial_files, f.empty_files
        ),
        match f.oldest_pending_days {
            Some(days) => format!("{} ({days})", f.reviews_pending),
            None => f.reviews_pending.to_string(),
        },
        f.records_signed.to_string(),
        f.verifications_answered.to_string(),
        format!(
            "{} / {}",
            duration_text(f.searchable_median_seconds),
            duration_text(f.searchable_p95_seconds)
        ),
    ]
}

/// One group's figures against the period before: (figure, this period, before).
pub(super) fn detail_rows(row: &ReportRow) -> Vec<[String; 3]> {
    let (f, p) = (&row.figures, &row.previous);
    let conf = super::confidence_text;
    let oldest = |f: &super::Figures| match (f.reviews_pending, f.oldest_pending_days) {
        (n, Some(d)) => format!("{n} (lâu nhất {d} ngày)"),
        (n, None) => n.to_string(),
    };
    vec![
        [
            "Văn bản số hóa (theo ngày nhập)".into(),
            f.documents.to_string(),
            p.documents.to_string(),
        ],
        [
            "Số trang số hóa".into(),
            f.pages.to_string(),
            p.pages.to_string(),
        ],
        [
            "Văn bản ban hành trong kỳ (theo ngày văn bản)".into(),
            f.issued_documents.to_string(),
            p.issued_documents.to_string(),
        ],
        [
            "Đủ siêu dữ liệu (số, ngày, cơ quan, trích yếu, lĩnh vực)".into(),
            percent_text(f.complete_metadata),
            percent_text(p.complete_metadata),
        ],
        [
            "Có số, ký hiệu".into(),
            percent_text(f.with_number),
            percent_text(p.with_number),
        ],
        [
            "Có ngày ban hành".into(),
            percent_text(f.with_date),
            percent_text(p.with_date),
        ],
        [
            "Có cơ quan ban hành".into(),
            percent_text(f.with_agency),
            percent_text(p.with_agency),
        ],
        [
            "Có trích yếu".into(),
            percent_text(f.with_subject),
            percent_text(p.with_subject),
        ],
        [
            "Độ tin cậy OCR trung bình".into(),
            conf(f.mean_confidence),
            conf(p.mean_confidence),
        ],
        [
            "Trang chất lượng thấp (dưới 70)".into(),
            f.low_confidence_pages.to_string(),
            p.low_confidence_pages.to_string(),
        ],
        [
            "Trang được đánh dấu quét lại / còn chờ".into(),
            format!("{} / {}", f.rescan_marked, f.rescan_pending),
            format!("{} / {}", p.rescan_marked, p.rescan_pending),
        ],
        [
            "Tệp lỗi".into(),
            f.failed_files.to_string(),
            p.failed_files.to_string(),
        ],
        [
            "Tệp thiếu trang".into(),
            f.partial_files.to_string(),
            p.partial_files.to_string(),
        ],
        [
            "Tệp không có trang đọc được".into(),
            f.empty_files.to_string(),
            p.empty_files.to_string(),
        ],
        [
            "Phân loại cần duyệt: mở / đóng".into(),
            format!("{} / {}", f.reviews_opened, f.reviews_closed),
            format!("{} / {}", p.reviews_opened, p.reviews_closed),
        ],
        [
            "Phân loại còn chờ duyệt cuối kỳ".into(),
            oldest(f),
            oldest(p),
        ],
        [
            "Bản ghi đã ký số".into(),
            f.records_signed.to_string(),
            p.records_signed.to_string(),
        ],
        [
            "Tra cứu xác thực đã trả lời / nguyên vẹn".into(),
            format!("{} / {}", f.verifications_answered, f.verifications_intact),
            format!("{} / {}", p.verifications_answered, p.verifications_intact),
        ],
        [
            "Từ khi nhận tệp đến khi tra cứu được: trung vị".into(),
            duration_text(f.searchable_median_seconds),
            duration_text(p.searchable_median_seconds),
        ],
        [
            "Từ khi nhận tệp đến khi tra cứu được: p95".into(),
            duration_text(f.searchable_p95_seconds),
            duration_text(p.searchable_p95_seconds),
        ],
    ]
}

pub fn write(report: &Report) -> Result<Vec<u8>, RenderError> {
    let fonts = fonts()?;
    let font = |bytes: &'static [u8]| {
        Font::new(bytes.to_vec().into(), 0)
            .ok_or_else(|| RenderError::Font("the font cannot be embedded".into()))
    };
    let (regular, bold) = (font(fonts.regular)?, font(fonts.bold)?);
    let measure = Measure(
        ab_glyph::FontRef::try_from_slice(fonts.regular)
            .map_err(|_| RenderError::Font("the font cannot be measured".into()))?,
    );
    let mut document = Document::new();
    let mut w = Writer {
        document: &mut document,
        regular,
        bold,
        measure,
        pages: Vec::new(),
        y: MARGIN,
    };
    w.new_page();
    w.centered(13.0, true, "BÁO CÁO KẾT QUẢ SỐ HÓA HỒ SƠ, TÀI LIỆU");
    w.centered(
        10.0,
        false,
        &format!(
            "Kỳ báo cáo {} (từ {} đến {}), so với kỳ {}",
            report.period,
            vn_date(&report.first_day),
            vn_date(&report.last_day),
            report.previous_period
        ),
    );
    let units = report
        .units
        .as_ref()
        .map_or_else(|| "tất cả đơn vị".to_owned(), |u| u.join(", "));
    w.centered(
        8.0,
        false,
        &format!("Phạm vi: {units}. Lập lúc {} (UTC).", report.generated_at),
    );
    w.gap(8.0);

    let t = &report.total;
    w.line(10.0, true, "1. Tổng hợp");
    w.line(
        9.0,
        false,
        &format!(
            "Đã số hóa {} văn bản, {} trang ({} so với kỳ trước); {} đủ siêu dữ liệu; độ tin cậy OCR trung bình {}; {} tệp lỗi, {} thiếu trang, {} không có trang đọc được; {} phân loại còn chờ duyệt; {} bản ghi đã ký số; {} lượt tra cứu xác thực.",
            t.figures.documents,
            t.figures.pages,
            change_text(t.change.pages, t.change.pages_percent),
            percent_text(t.figures.complete_metadata),
            t.figures.mean_confidence.map_or_else(|| "–".into(), |c| format!("{c:.1}")),
            t.figures.failed_files,
            t.figures.partial_files,
            t.figures.empty_files,
            t.figures.reviews_pending,
            t.figures.records_signed,
            t.figures.verifications_answered,
        ),
    );
    w.gap(6.0);

    let mut unit_names: Vec<(String, String)> = Vec::new();
    let mut unit_pages: std::collections::BTreeMap<&String, i64> = Default::default();
    for m in &report.monthly {
        for (k, p) in &m.pages {
            *unit_pages.entry(k).or_default() += p;
        }
    }
    let mut ordered: Vec<(&String, i64)> = unit_pages.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (key, _) in ordered {
        let label = if report.by == super::GroupBy::Unit {
            report
                .rows
                .iter()
                .find(|r| &r.key == key)
                .map(|r| r.label.clone())
        } else {
            None
        };
        let label = label.unwrap_or_else(|| {
            if key.is_empty() {
                "Không thuộc đơn vị".into()
            } else {
                key.clone()
            }
        });
        unit_names.push((key.clone(), label));
    }
    w.line(10.0, true, "2. Biểu đồ");
    let (cw, ch) = (PAGE_WIDTH - 2.0 * MARGIN, 220.0);
    w.image(pages_chart(report, &unit_names, (cw, ch))?, cw, ch);
    let rows: Vec<&ReportRow> = report.rows.iter().collect();
    if !rows.is_empty() {
        w.image(quality_chart(&rows, (cw, ch))?, cw, ch);
    }

    w.line(
        10.0,
        true,
        &format!("3. Số liệu theo {}", group_heading(report).to_lowercase()),
    );
    let header = overview_header(report);
    let mut table: Vec<Vec<String>> = report.rows.iter().map(overview_row).collect();
    table.push(overview_row(&report.total));
    w.table(&header, &table, true);

    w.line(10.0, true, "4. Chi tiết và so sánh với kỳ trước");
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        let name = row.name();
        w.room(60.0);
        w.line(9.0, true, &name);
        let header = vec![
            "Chỉ tiêu".to_owned(),
            format!("Kỳ {}", report.period),
            format!("Kỳ {}", report.previous_period),
        ];
        let details: Vec<Vec<String>> = detail_rows(row).into_iter().map(Vec::from).collect();
        w.table(&header, &details, false);
        if !row.figures.problems.is_empty() {
            w.line(8.0, false, "Lý do tệp chưa số hóa trọn vẹn (nhiều nhất):");
            for p in &row.figures.problems {
                w.line(
                    7.5,
                    false,
                    &format!("• {} tệp ({}): {}", p.files, p.status, p.reason),
                );
            }
            w.gap(4.0);
        }
    }
    w.line(
        7.0,
        false,
        "Định nghĩa các chỉ tiêu: xem README của sohoa, mục \"Reports\". Thời gian theo giờ Việt Nam (UTC+7).",
    );
    w.finish()?;
    document
        .finish()
        .map_err(|e| RenderError::Write(format!("{e:?}")))
}
