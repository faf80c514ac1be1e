//! Reading order: from the words Tesseract found to lines in the order people read them.
//!
//! Tesseract's automatic layout analysis (`PSM_AUTO`) finds text columns well and puts
//! them in order, and this module keeps its order wherever it is right. It gets three
//! things wrong on Vietnamese administrative pages, and those are fixed here:
//!
//! - **Lines glued across a gap.** The header's two columns (agency and number on the
//!   left; motto, place and date on the right) and the foot's two blocks (`Nơi nhận`,
//!   the signature) come back as single lines running across the page. Lines are cut at
//!   gaps much wider than a word space ([`SPLIT_GAP_HEIGHTS`]), and a stretch of lines
//!   that share a vertical gutter (a *band*) is read column by column.
//! - **Tables.** Read as columns, or as rows with the cells run together. A table is
//!   found by geometry ([`table_regions`]): at least [`TABLE_MIN_ROWS`] rows of at least
//!   [`TABLE_MIN_COLUMNS`] cells whose columns differ in width (text columns do not).
//!   The engine reads each table region again as one block, which gives whole rows, and
//!   [`arrange`] keeps each row a line with its cells apart.
//! - **Rules read as text.** Table rules come back as `|` words; they are dropped and
//!   mark a cell boundary.
//!
//! The result is carried by the words themselves: each [`Word`] gets its `block`, `line`
//! and, in a table, `cell` (column) number in reading order, so the stored words are
//! the layout, and [`text`] rebuilds the page text from them. **Cells are separated by a
//! tab** (`\t`, one per column boundary, so an empty cell leaves two tabs), lines by a
//! newline, blocks by an empty line.
//!
//! Pure: no I/O, no Tesseract; the engine (`ocr`) calls it.

use crate::ocr::Word;

/// A gap wider than this many word heights ends a segment: a word space is about
/// half a height (measured: 99th percentile 0.55 on the layout set), the gap between
/// table cells or header columns at least one and a half.
pub const SPLIT_GAP_HEIGHTS: f32 = 1.0;
/// Within a table, a narrower gap already separates cells (a short gap between a number
/// and the next cell's text is common). Cutting a cell in two costs nothing there: both
/// parts fall in the same column and are joined again.
pub const TABLE_SPLIT_GAP_HEIGHTS: f32 = 0.7;
/// A table column has a cell in at least one row in this many (else it is a speck).
pub const TABLE_COLUMN_MIN_ROW_SHARE: usize = 3;
/// A table has at least this many rows of cells…
pub const TABLE_MIN_ROWS: usize = 3;
/// …and this many columns: two-column stretches on these pages are the header and the
/// foot, which are read column by column.
pub const TABLE_MIN_COLUMNS: usize = 3;
/// Text columns are set the same width; a table's columns are not (the `STT` column
/// is a few digits wide). Widest over narrowest text extent at or above this: a table.
pub const TABLE_MIN_WIDTH_RATIO: f32 = 1.6;
/// …or this share of its cells are numbers (parcel numbers, areas, fees, ID numbers);
/// prose columns are words.
pub const TABLE_MIN_NUMERIC_SHARE: f32 = 0.2;
/// A line joins the band above it only if it starts within this many line heights of
/// it (the signer's name sits a signature's height below the title).
pub const BAND_MAX_LEAD_HEIGHTS: f32 = 8.0;
/// Words without a letter or digit below this confidence are noise (seals, signatures,
/// specks), not text.
pub const NOISE_MAX_CONFIDENCE: f32 = 40.0;

/// A dark run at least this long is a rule, not a letter: letters are at most about
/// one text height (some 50 px at 300 dpi), table rules run a cell or the table long.
pub const RULE_MIN_PIXELS: u32 = 150;
/// Darker than this is ink (0 black, 255 white).
const INK_BELOW: u8 = 140;

/// A rectangle in page pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Region {
    /// The smallest region holding every one of `regions`; None when there are none.
    pub fn enclosing(regions: impl IntoIterator<Item = Region>) -> Option<Region> {
        regions.into_iter().fold(None, |acc: Option<Region>, r| {
            Some(match acc {
                None => r,
                Some(a) => {
                    let (x0, y0) = (a.x.min(r.x), a.y.min(r.y));
                    let (x1, y1) = ((a.x + a.w).max(r.x + r.w), (a.y + a.h).max(r.y + r.h));
                    Region {
                        x: x0,
                        y: y0,
                        w: x1 - x0,
                        h: y1 - y0,
                    }
                }
            })
        })
    }

    fn contains_centre_of(&self, w: &Word) -> bool {
        let (cx, cy) = (w.x + w.w / 2, w.y + w.h / 2);
        cx >= self.x && cx < self.x + self.w && cy >= self.y && cy < self.y + self.h
    }
}

/// Words on one line with no wide gap between them: a cell, a header column's line,
/// or a line of body text.
#[derive(Debug, Clone)]
struct Segment {
    words: Vec<Word>,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Segment {
    fn new(words: Vec<Word>) -> Segment {
        let b = bounds(&words);
        Segment {
            words,
            x0: b.x,
            y0: b.y,
            x1: b.x + b.w,
            y1: b.y + b.h,
        }
    }
    fn height(&self) -> u32 {
        self.y1 - self.y0
    }
    fn centre_y(&self) -> u32 {
        (self.y0 + self.y1) / 2
    }
}

/// Rules and underlines read as text: `|` from table rules, `_` from the line under a
/// header block.
fn is_rule(word: &Word) -> bool {
    word.text
        .chars()
        .all(|c| matches!(c, '|' | '¦' | '│' | '_'))
}

fn is_noise(word: &Word) -> bool {
    word.confidence < NOISE_MAX_CONFIDENCE && !word.text.chars().any(char::is_alphanumeric)
}

fn median(mut values: Vec<u32>) -> u32 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[values.len() / 2]
}

/// Tesseract's lines (words grouped by their `line` number, in the order given), each
/// cut into segments at wide gaps and at rules.
fn lines_of_segments(words: &[Word], split_gap_heights: f32) -> Vec<Vec<Segment>> {
    let mut out: Vec<Vec<Segment>> = Vec::new();
    for line in lines(words) {
        let height = median(line.iter().map(|w| w.h).collect()) as f32;
        let mut segments = Vec::new();
        let mut current: Vec<Word> = Vec::new();
        let mut cut_here = false;
        for word in line {
            if is_rule(word) {
                cut_here = true;
                continue;
            }
            if is_noise(word) {
                continue;
            }
            if let Some(prev) = current.last() {
                let gap = word.x as f32 - (prev.x + prev.w) as f32;
                if cut_here || gap > split_gap_heights * height {
                    segments.push(Segment::new(std::mem::take(&mut current)));
                }
            }
            cut_here = false;
            current.push(word.clone());
        }
        if !current.is_empty() {
            segments.push(Segment::new(current));
        }
        if !segments.is_empty() {
            out.push(segments);
        }
    }
    out
}

/// Rows of segments side by side: segments whose vertical centres fall within the row's
/// height so far, left to right. Segments much taller than a line (a column of digits
/// read as one "line") take no part.
fn visual_rows(segments: &[&Segment]) -> Vec<Vec<Segment>> {
    let typical = median(segments.iter().map(|s| s.height()).collect());
    let lines: Vec<&Segment> = segments
        .iter()
        .copied()
        .filter(|s| s.height() <= typical.saturating_mul(2).max(1))
        .collect();
    rows_of(&lines)
}

/// Columns of a set of rows: the runs of x covered by some segment, left to right.
fn columns(rows: &[Vec<Segment>]) -> Vec<(u32, u32)> {
    let mut spans: Vec<(u32, u32)> = rows.iter().flatten().map(|s| (s.x0, s.x1)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Mostly digits: a number, an amount, an ID, a date.
fn is_numeric(segment: &Segment) -> bool {
    let (digits, others) = segment
        .words
        .iter()
        .flat_map(|w| w.text.chars())
        .filter(|c| c.is_alphanumeric())
        .fold((0, 0), |(d, o), c| {
            if c.is_ascii_digit() {
                (d + 1, o)
            } else {
                (d, o + 1)
            }
        });
    digits > others
}

/// Two or more cells side by side (a row may have empty cells; the table as a whole
/// needs [`TABLE_MIN_COLUMNS`]).
/// A table's columns: the runs of x its cells cover, leaving out runs only a few rows
/// have a segment in (a speck or a rule fragment between two columns would otherwise
/// make a column of its own, and an empty cell in every row).
fn table_columns(rows: &[Vec<Segment>]) -> Vec<(u32, u32)> {
    let all = columns(rows);
    let needed = (rows.len() / TABLE_COLUMN_MIN_ROW_SHARE).max(2);
    let kept: Vec<(u32, u32)> = all
        .iter()
        .copied()
        .filter(|(a, b)| {
            rows.iter()
                .filter(|row| row.iter().any(|s| s.x0 < *b && s.x1 > *a))
                .count()
                >= needed
        })
        .collect();
    if kept.is_empty() { all } else { kept }
}

fn is_table_row(row: &[Segment]) -> bool {
    row.len() >= 2 && row.windows(2).all(|p| p[0].x1 < p[1].x0)
}

/// Where the tables are on a page read with automatic layout (words as Tesseract gave
/// them, `line` numbering its lines): regions to read again as single blocks.
pub fn table_regions(words: &[Word]) -> Vec<Region> {
    let lines = lines_of_segments(words, SPLIT_GAP_HEIGHTS);
    let all: Vec<&Segment> = lines.iter().flatten().collect();
    let rows = visual_rows(&all);
    let mut regions = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        if !is_table_row(&rows[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < rows.len() && is_table_row(&rows[j]) {
            j += 1;
        }
        let run = &rows[i..j];
        let cols = columns(run);
        let widths: Vec<u32> = cols.iter().map(|(a, b)| b - a).collect();
        let (narrow, wide) = (
            widths.iter().copied().min().unwrap_or(0),
            widths.iter().copied().max().unwrap_or(0),
        );
        let cells = run.iter().map(Vec::len).sum::<usize>();
        let numeric = run.iter().flatten().filter(|s| is_numeric(s)).count();
        let looks_tabular = wide as f32 >= TABLE_MIN_WIDTH_RATIO * narrow.max(1) as f32
            || numeric as f32 >= TABLE_MIN_NUMERIC_SHARE * cells as f32;
        let full_rows = run.iter().filter(|r| r.len() >= TABLE_MIN_COLUMNS).count();
        if full_rows >= TABLE_MIN_ROWS && cols.len() >= TABLE_MIN_COLUMNS && looks_tabular {
            let y0 = run[0].iter().map(|s| s.y0).min().unwrap_or(0);
            let y1 = run[run.len() - 1].iter().map(|s| s.y1).max().unwrap_or(0);
            // Whatever lies across these rows belongs to the table too: a column Tesseract
            // read downwards as one tall "line", the header row it misread.
            let inside: Vec<&&Segment> = all
                .iter()
                .filter(|s| s.centre_y() >= y0 && s.centre_y() <= y1 || s.y0 < y1 && s.y1 > y0)
                .collect();
            let x0 = inside.iter().map(|s| s.x0).min().unwrap_or(0);
            let x1 = inside.iter().map(|s| s.x1).max().unwrap_or(0);
            let y0 = inside.iter().map(|s| s.y0).min().unwrap_or(y0);
            let y1 = inside.iter().map(|s| s.y1).max().unwrap_or(y1);
            let pad = median(run.iter().flatten().map(|s| s.height()).collect()) / 2;
            let x = x0.saturating_sub(pad);
            let y = y0.saturating_sub(pad);
            regions.push(Region {
                x,
                y,
                w: x1 + pad - x,
                h: y1 + pad - y,
            });
        }
        i = j;
    }
    regions
}

/// One unit of the reading order: flowing lines, a band read column by column, or a
/// table read row by row. Each becomes one or more blocks.
enum Piece {
    Line(Vec<Segment>, u32),
    Band(Vec<Segment>),
    Table(Vec<Segment>),
}

/// Puts a page's words in reading order and numbers their blocks, lines and cells.
///
/// `words` are as Tesseract's automatic layout gave them (its order; `block` and `line`
/// its numbers); `tables` are regions read again as single blocks, with their words.
/// Words of `words` inside a table region are replaced by the table's.
pub fn arrange(words: Vec<Word>, tables: Vec<(Region, Vec<Word>)>) -> Vec<Word> {
    let mut pieces: Vec<Piece> = Vec::new();
    // Lines not yet grouped into bands, each with its Tesseract block.
    let mut flowing: Vec<(Vec<Segment>, u32)> = Vec::new();
    let mut placed = vec![false; tables.len()];
    let mut rest = words.as_slice();
    while let Some(first) = rest.first() {
        let same_line = |w: &&Word| w.line == first.line && w.block == first.block;
        let (line, tail) = rest.split_at(rest.iter().take_while(same_line).count());
        rest = tail;
        let mut outside: Vec<Word> = Vec::new();
        let push_outside = |outside: &mut Vec<Word>, flowing: &mut Vec<(Vec<Segment>, u32)>| {
            for segments in lines_of_segments(outside, SPLIT_GAP_HEIGHTS) {
                flowing.push((segments, first.block));
            }
            outside.clear();
        };
        for word in line {
            match tables.iter().position(|(r, _)| r.contains_centre_of(word)) {
                // A table goes where Tesseract had its first word; its other words are
                // replaced by the table's own reading.
                Some(t) if !placed[t] => {
                    placed[t] = true;
                    push_outside(&mut outside, &mut flowing);
                    pieces.extend(bands(std::mem::take(&mut flowing)));
                    let rows = lines_of_segments(&tables[t].1, TABLE_SPLIT_GAP_HEIGHTS);
                    pieces.push(Piece::Table(rows.into_iter().flatten().collect()));
                }
                Some(_) => {}
                None => outside.push(word.clone()),
            }
        }
        push_outside(&mut outside, &mut flowing);
    }
    pieces.extend(bands(flowing));
    number(lift_lines_above(pieces))
}

/// The box around a piece's segments: (x0, y0, x1, y1).
fn piece_box(piece: &Piece) -> (u32, u32, u32, u32) {
    let segments = match piece {
        Piece::Line(s, _) | Piece::Band(s) | Piece::Table(s) => s,
    };
    (
        segments.iter().map(|s| s.x0).min().unwrap_or(0),
        segments.iter().map(|s| s.y0).min().unwrap_or(0),
        segments.iter().map(|s| s.x1).max().unwrap_or(0),
        segments.iter().map(|s| s.y1).max().unwrap_or(0),
    )
}

/// A line Tesseract put after something that lies wholly below it in the same columns (a
/// centred title read after the paragraph or table under it) goes before it. Columns
/// side by side do not overlap horizontally, so they keep their order.
fn lift_lines_above(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let mut at = out.len();
        if let Piece::Line(..) = piece {
            let (x0, _, x1, bottom) = piece_box(&piece);
            while at > 0 {
                let (px0, ptop, px1, _) = piece_box(&out[at - 1]);
                if bottom < ptop && x0 < px1 && px0 < x1 {
                    at -= 1;
                } else {
                    break;
                }
            }
        }
        out.insert(at, piece);
    }
    out
}

/// Gaps in the x-coverage of `segments`, between their leftmost and rightmost edges.
fn gutters(segments: &[&Segment]) -> Vec<(u32, u32)> {
    let mut spans: Vec<(u32, u32)> = segments.iter().map(|s| (s.x0, s.x1)).collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut reach = match spans.first() {
        Some(s) => s.1,
        None => return gaps,
    };
    for (a, b) in spans.into_iter().skip(1) {
        if a > reach {
            gaps.push((reach, a));
        }
        reach = reach.max(b);
    }
    gaps
}

/// Groups consecutive lines into bands: a band starts at a line cut into two or more
/// segments and takes in the lines around it, as long as some vertical gutter still
/// runs through all of them and each starts close below the one before.
fn bands(lines: Vec<(Vec<Segment>, u32)>) -> Vec<Piece> {
    let (lines, blocks): (Vec<Vec<Segment>>, Vec<u32>) = lines.into_iter().unzip();
    let n = lines.len();
    let mut band_of: Vec<Option<usize>> = vec![None; n];
    let mut band_count = 0;
    let close = |above: &[Segment], below: &[Segment]| {
        let bottom = above.iter().map(|s| s.y1).max().unwrap_or(0);
        let top = below.iter().map(|s| s.y0).min().unwrap_or(0);
        let height = median(above.iter().chain(below).map(|s| s.height()).collect());
        top as f32 <= bottom as f32 + BAND_MAX_LEAD_HEIGHTS * height as f32
            && top + height >= bottom
    };
    let mut i = 0;
    while i < n {
        if lines[i].len() < 2 || band_of[i].is_some() {
            i += 1;
            continue;
        }
        let (mut lo, mut hi) = (i, i + 1);
        let has_gutter = |lo: usize, hi: usize| {
            let segs: Vec<&Segment> = lines[lo..hi].iter().flatten().collect();
            !gutters(&segs).is_empty()
        };
        while hi < n && close(&lines[hi - 1], &lines[hi]) && has_gutter(lo, hi + 1) {
            hi += 1;
        }
        while lo > 0
            && band_of[lo - 1].is_none()
            && close(&lines[lo - 1], &lines[lo])
            && has_gutter(lo - 1, hi)
        {
            lo -= 1;
        }
        for b in band_of.iter_mut().take(hi).skip(lo) {
            *b = Some(band_count);
        }
        band_count += 1;
        i = hi;
    }
    let mut out = Vec::new();
    let mut lines: Vec<Option<Vec<Segment>>> = lines.into_iter().map(Some).collect();
    let mut i = 0;
    while i < n {
        match band_of[i] {
            None => {
                out.push(Piece::Line(lines[i].take().unwrap_or_default(), blocks[i]));
                i += 1;
            }
            Some(b) => {
                let mut segments = Vec::new();
                while i < n && band_of[i] == Some(b) {
                    segments.extend(lines[i].take().unwrap_or_default());
                    i += 1;
                }
                out.push(Piece::Band(segments));
            }
        }
    }
    out
}

/// A band in reading order: cut at its widest vertical gutter, left part first, each
/// part read the same way; a part with no gutter is read top to bottom. Returns the
/// columns, each a list of lines (segments), in reading order.
fn read_band(segments: Vec<Segment>) -> Vec<Vec<Segment>> {
    let refs: Vec<&Segment> = segments.iter().collect();
    let widest = gutters(&refs).into_iter().max_by_key(|(a, b)| b - a);
    match widest {
        Some((_, right_start)) => {
            let (left, right): (Vec<Segment>, Vec<Segment>) =
                segments.into_iter().partition(|s| s.x1 < right_start);
            let mut columns = read_band(left);
            columns.extend(read_band(right));
            columns
        }
        None => {
            let mut column = segments;
            column.sort_by_key(|s| (s.y0, s.x0));
            vec![column]
        }
    }
}

/// Numbers blocks, lines and cells through the pieces, and returns their words in order.
fn number(pieces: Vec<Piece>) -> Vec<Word> {
    let mut out = Vec::new();
    let mut block = 0u32;
    let mut line = 0u32;
    let mut last_flow_block: Option<u32> = None;
    let mut emit =
        |segments: &[Segment], block: u32, line: u32, cell_of: &dyn Fn(&Segment) -> u32| {
            let mut words: Vec<Word> = Vec::new();
            for s in segments {
                let cell = cell_of(s);
                for w in &s.words {
                    words.push(Word {
                        block,
                        line,
                        cell,
                        ..w.clone()
                    });
                }
            }
            out.extend(words);
        };
    let mut started = false;
    for piece in pieces {
        match piece {
            Piece::Line(segments, tess_block) => {
                if started && last_flow_block != Some(tess_block) {
                    block += 1;
                }
                emit(&segments, block, line, &|_| 0);
                line += 1;
                last_flow_block = Some(tess_block);
            }
            Piece::Band(segments) => {
                if started {
                    block += 1;
                }
                let columns = read_band(segments);
                for (c, column) in columns.iter().enumerate() {
                    if c > 0 {
                        block += 1;
                    }
                    // Segments side by side within a column are one line (a number
                    // stamped in with a gap after `Số:`).
                    let refs: Vec<&Segment> = column.iter().collect();
                    for row in rows_of(&refs) {
                        emit(&row, block, line, &|_| 0);
                        line += 1;
                    }
                }
                last_flow_block = None;
            }
            Piece::Table(segments) => {
                if started {
                    block += 1;
                }
                let refs: Vec<&Segment> = segments.iter().collect();
                let rows = rows_of(&refs);
                let cols = table_columns(&rows);
                let column_of = |s: &Segment| {
                    cols.iter()
                        .position(|(a, b)| s.x0 < *b && s.x1 > *a)
                        .or_else(|| cols.iter().rposition(|(a, _)| *a <= s.x0))
                        .unwrap_or(0) as u32
                };
                for row in &rows {
                    emit(row, block, line, &column_of);
                    line += 1;
                }
                last_flow_block = None;
            }
        }
        started = true;
    }
    out
}

/// Segments grouped into rows, every one kept (a table's words must all come out):
/// a segment joins the row whose height so far holds its vertical centre. The span
/// grows with the row's cells, since on a skewed page a row drifts down (or up) from
/// its first cell to its last. Rows top to bottom, cells left to right.
fn rows_of(segments: &[&Segment]) -> Vec<Vec<Segment>> {
    let mut sorted: Vec<&Segment> = segments.to_vec();
    sorted.sort_by_key(|s| s.centre_y());
    let mut rows: Vec<Vec<Segment>> = Vec::new();
    let mut span = (0, 0);
    for s in sorted {
        match rows.last_mut() {
            Some(row) if s.centre_y() >= span.0 && s.centre_y() <= span.1 => {
                span = (span.0.min(s.y0), span.1.max(s.y1));
                row.push(s.clone())
            }
            _ => {
                span = (s.y0, s.y1);
                rows.push(vec![s.clone()]);
            }
        }
    }
    for row in &mut rows {
        row.sort_by_key(|s| s.x0);
    }
    rows
}

/// Readies a table region for its second reading: rules erased ([`erase_rules`]), then
/// levels stretched so the paper is white and the ink black. Tesseract's recognizer reads
/// the gray pixels, and on grayish paper it misreads sparse rows of short cells (`2` as
/// `Z`, `37` as `a7` on the layout set) that it reads right once the paper is white.
pub fn clean_table(image: &mut image::GrayImage) {
    use crate::prepare::{commonest_level, darkest_level, histogram, stretch_levels};
    if image.width() == 0 || image.height() == 0 {
        return;
    }
    let histogram = histogram(image, 1);
    // The paper: the most common level of the brighter half; the ink: the darkest 1 %.
    let paper = commonest_level(&histogram, 128) as f32;
    let ink = darkest_level(&histogram, INK_DARKEST_ONE_IN) as f32;
    erase_rules(image);
    // Just below the paper level maps to white, so the paper's grain goes too.
    stretch_levels(image, ink, (paper - PAPER_GRAIN_LEVELS).max(ink + 1.0));
}

/// The ink level of a table region: the level of its darkest pixel in this many.
const INK_DARKEST_ONE_IN: u64 = 100;
/// Levels within this much of the paper's are paper (its grain, a scanner's noise).
const PAPER_GRAIN_LEVELS: f32 = 4.0;

/// Whitens a table's rules: horizontal and vertical dark runs of at least
/// [`RULE_MIN_PIXELS`], and one pixel either side of them (their grey edges).
pub fn erase_rules(image: &mut image::GrayImage) {
    let (w, h) = image.dimensions();
    let mut rule = vec![false; (w * h) as usize];
    let mut mark = |horizontal: bool| {
        let (outer, inner) = if horizontal { (h, w) } else { (w, h) };
        for o in 0..outer {
            let mut run = 0u32;
            for i in 0..=inner {
                let ink = i < inner && {
                    let (x, y) = if horizontal { (i, o) } else { (o, i) };
                    image.get_pixel(x, y).0[0] < INK_BELOW
                };
                if ink {
                    run += 1;
                    continue;
                }
                if run >= RULE_MIN_PIXELS {
                    for j in i - run..i {
                        let (x, y) = if horizontal { (j, o) } else { (o, j) };
                        for d in [-1i64, 0, 1] {
                            let (xx, yy) = if horizontal {
                                (x as i64, y as i64 + d)
                            } else {
                                (x as i64 + d, y as i64)
                            };
                            if xx >= 0 && yy >= 0 && (xx as u32) < w && (yy as u32) < h {
                                rule[(yy as u32 * w + xx as u32) as usize] = true;
                            }
                        }
                    }
                }
                run = 0;
            }
        }
    };
    mark(true);
    mark(false);
    for (i, p) in image.pixels_mut().enumerate() {
        if rule[i] {
            p.0[0] = 255;
        }
    }
}

/// The page text from words in reading order: words joined by spaces, cells by tabs
/// (one per column boundary), lines by newlines, blocks by an empty line.
pub fn text(words: &[Word]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Word> = None;
    for w in words {
        if let Some(p) = prev {
            if p.block != w.block {
                out.push_str("\n\n");
            } else if p.line != w.line {
                out.push('\n');
            } else if w.cell > p.cell {
                for _ in p.cell..w.cell {
                    out.push('\t');
                }
            } else {
                out.push(' ');
            }
            if p.line != w.line && w.cell > 0 {
                for _ in 0..w.cell {
                    out.push('\t');
                }
            }
        }
        out.push_str(&w.text);
        prev = Some(w);
    }
    out
}

/// Words stored before layout analysis (every `block` and `line` 0) get lines again:
/// they are in Tesseract's single-block order, line after line, so a word that starts
/// left of the one before begins a new line. Words with a layout are returned as they are.
pub fn with_lines(words: &[Word]) -> std::borrow::Cow<'_, [Word]> {
    let unlaid = words.len() > 1 && words.iter().all(|w| w.block == 0 && w.line == 0);
    if !unlaid {
        return std::borrow::Cow::Borrowed(words);
    }
    let mut line = 0;
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    for w in words {
        if out.last().is_some_and(|p: &Word| w.x < p.x) {
            line += 1;
        }
        out.push(Word { line, ..w.clone() });
    }
    std::borrow::Cow::Owned(out)
}

/// The lines of a page's words (in reading order), each with its block number.
pub fn lines(words: &[Word]) -> Vec<&[Word]> {
    words
        .chunk_by(|a, b| a.line == b.line && a.block == b.block)
        .collect()
}

/// A block of a page, in reading order: its box and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub region: Region,
    pub text: String,
}

/// The blocks of a page's words (in reading order), each with its box and text.
/// Words stored before layout analysis are one block.
pub fn blocks(words: &[Word]) -> Vec<Block> {
    words
        .chunk_by(|a, b| a.block == b.block)
        .map(|ws| Block {
            region: bounds(ws),
            text: text(ws),
        })
        .collect()
}

/// The smallest rectangle around some words.
pub fn bounds(words: &[Word]) -> Region {
    Region::enclosing(words.iter().map(|w| Region {
        x: w.x,
        y: w.y,
        w: w.w,
        h: w.h,
    }))
    .unwrap_or(Region {
        x: 0,
        y: 0,
        w: 0,
        h: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page sketched in text: each row is one Tesseract line (`block:` prefix), words
    /// at columns given by their position in the row (one char = 20 px), 40 px high,
    /// rows 60 px apart. `|` is a rule.
    fn page(rows: &[&str]) -> Vec<Word> {
        let mut words = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let (block, body) = row.split_once(':').expect("block:row");
            let block: u32 = block.trim().parse().unwrap();
            let mut col = 0;
            for piece in body.split(' ') {
                if !piece.is_empty() {
                    words.push(Word {
                        text: piece.to_string(),
                        confidence: 90.0,
                        x: col as u32 * 20,
                        y: r as u32 * 60,
                        w: piece.chars().count() as u32 * 20,
                        h: 40,
                        block,
                        line: r as u32,
                        cell: 0,
                    });
                }
                col += piece.chars().count() + 1;
            }
        }
        words
    }

    /// Tables found, re-read from the same rows (as the engine's single-block reading
    /// would give them), then arranged: the text as read.
    fn check(rows: &[&str], expect: &str) {
        let words = page(rows);
        let tables: Vec<(Region, Vec<Word>)> = table_regions(&words)
            .into_iter()
            .map(|r| {
                let inside: Vec<Word> = words
                    .iter()
                    .filter(|w| r.contains_centre_of(w))
                    .cloned()
                    .collect();
                (r, inside)
            })
            .collect();
        assert_eq!(text(&arrange(words, tables)), expect);
    }

    #[test]
    fn header_columns_come_apart_left_first() {
        check(
            &[
                "1:UBND         CỘNG HÒA XHCN",
                "1:TỈNH NA      Độc lập",
                "1:Số: 1/QĐ     Vinh, ngày 1",
                "2:QUYẾT ĐỊNH về việc cấp giấy",
            ],
            "UBND\nTỈNH NA\nSố: 1/QĐ\n\nCỘNG HÒA XHCN\nĐộc lập\nVinh, ngày 1\n\nQUYẾT ĐỊNH về việc cấp giấy",
        );
    }

    #[test]
    fn lines_beside_a_band_join_the_column_they_sit_in() {
        check(
            &[
                "1:Nơi nhận:          TM. UBND",
                "1:- Như trên;        CHỦ TỊCH",
                "1:- Lưu VT.",
                "2:                  Nguyễn Văn A",
            ],
            "Nơi nhận:\n- Như trên;\n- Lưu VT.\n\nTM. UBND\nCHỦ TỊCH\nNguyễn Văn A",
        );
    }

    #[test]
    fn flowing_text_keeps_tesseracts_order_and_blocks() {
        check(
            &[
                "1:Điều 1. Cấp giấy",
                "1:chứng nhận cho",
                "2:Điều 2. Hiệu lực",
            ],
            "Điều 1. Cấp giấy\nchứng nhận cho\n\nĐiều 2. Hiệu lực",
        );
    }

    #[test]
    fn columns_found_by_tesseract_stay_column_by_column() {
        check(
            &[
                "1:một hai ba bốn",
                "1:năm sáu bảy tám",
                "2:                  chín mười một hai",
                "2:                  ba bốn năm sáu",
            ],
            "một hai ba bốn\nnăm sáu bảy tám\n\nchín mười một hai\nba bốn năm sáu",
        );
    }

    #[test]
    fn tables_come_row_by_row_with_cells_apart() {
        check(
            &[
                "1:STT   Họ và tên        CCCD",
                "1:1     Lê Văn A         0401",
                "1:2     Trần Thị B       0402",
                "1:3     Hồ C             0403",
            ],
            "STT\tHọ và tên\tCCCD\n1\tLê Văn A\t0401\n2\tTrần Thị B\t0402\n3\tHồ C\t0403",
        );
    }

    #[test]
    fn rules_are_dropped_and_cut_cells_and_empty_cells_keep_their_tab() {
        check(
            &[
                "1:STT | Họ và tên   | CCCD",
                "1:1   | Lê Văn A    | 0401",
                "1:2   |             | 0402",
                "1:3   | Hồ C        | 0403",
            ],
            "STT\tHọ và tên\tCCCD\n1\tLê Văn A\t0401\n2\t\t0402\n3\tHồ C\t0403",
        );
    }

    #[test]
    fn a_speck_between_two_columns_is_no_column_and_joins_the_cell_on_its_left() {
        check(
            &[
                "1:STT   Nội dung      Mức thu",
                "1:1     Cấp giấy   ,  10.000",
                "1:2     Cấp lại       20.000",
                "1:3     Gia hạn       30.000",
            ],
            "STT\tNội dung\tMức thu\n1\tCấp giấy ,\t10.000\n2\tCấp lại\t20.000\n3\tGia hạn\t30.000",
        );
    }

    #[test]
    fn equal_width_columns_glued_by_tesseract_are_not_a_table() {
        check(
            &[
                "1:aaa bbb   ccc ddd   eee fff",
                "1:ggg hhh   iii jjj   kkk lll",
                "1:mmm nnn   ooo ppp   qqq rrr",
            ],
            "aaa bbb\nggg hhh\nmmm nnn\n\nccc ddd\niii jjj\nooo ppp\n\neee fff\nkkk lll\nqqq rrr",
        );
    }

    #[test]
    fn a_gap_within_a_header_column_does_not_break_its_line() {
        check(
            &[
                "1:UBND TỈNH NGHỆ AN      CỘNG HÒA XHCN",
                "1:Số:    1906/UBND      Độc lập",
            ],
            "UBND TỈNH NGHỆ AN\nSố: 1906/UBND\n\nCỘNG HÒA XHCN\nĐộc lập",
        );
    }

    #[test]
    fn a_title_tesseract_reads_after_the_text_below_it_comes_first() {
        // Rows 0 and 1 in the sketch, given in the order Tesseract gave them: the
        // paragraph (row 1) first, the title above it (row 0) after.
        let mut words = page(&["2:     DANH SÁCH", "1:Căn cứ Luật Đất đai"]);
        words.sort_by_key(|w| w.line != 1);
        let lines: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        assert_eq!(
            lines,
            ["Căn", "cứ", "Luật", "Đất", "đai", "DANH", "SÁCH"],
            "set-up"
        );
        assert_eq!(
            text(&arrange(words, vec![])),
            "DANH SÁCH\n\nCăn cứ Luật Đất đai"
        );
    }

    #[test]
    fn words_stored_before_layout_get_their_lines_back() {
        let mut words = page(&["1:Điều 1. Cấp", "1:giấy cho ông"]);
        for w in &mut words {
            (w.block, w.line) = (0, 0);
        }
        assert_eq!(text(&with_lines(&words)), "Điều 1. Cấp\ngiấy cho ông");
        let laid = page(&["3:một", "3:hai"]);
        assert_eq!(with_lines(&laid).as_ref(), laid.as_slice());
    }

    #[test]
    fn noise_without_letters_is_dropped() {
        let mut words = page(&["1:Quyết định ."]);
        words[2].confidence = 10.0;
        assert_eq!(text(&arrange(words, vec![])), "Quyết định");
    }
}
