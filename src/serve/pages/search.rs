//! The staff search page: the form, facets, hits with their marked snippets.

use super::page_error;
use crate::search::{Hit, SearchResponse};
use crate::serve::AppState;
use crate::serve::html::{esc, layout, url};
use crate::serve::request::{SearchParams, Staff};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use std::sync::Arc;
/// Results per page in the browser.
const PAGE_SIZE: usize = 20;

// ---------------------------------------------------------------- search

/// `&hl=WORDS` (escaped for an attribute) for a hit's link: the words its snippet highlights, which the page view
/// marks on the page image. Empty when it highlights none.
fn highlight_param(hit: &Hit) -> String {
    let chars: Vec<char> = hit.snippet.chars().collect();
    let mut words: Vec<String> = Vec::new();
    for &(start, end) in &hit.highlights {
        let word: String = chars.get(start..end).unwrap_or_default().iter().collect();
        if !word.trim().is_empty() && !words.contains(&word) {
            words.push(word);
        }
    }
    if words.is_empty() {
        return String::new();
    }
    format!("&amp;hl={}", url(&words.join(" ")))
}

/// A snippet with its highlighted words in `<mark>`, everything escaped.
fn marked_snippet(hit: &Hit) -> String {
    let mut out = String::with_capacity(hit.snippet.len() + 16);
    let mut ranges = hit.highlights.iter().peekable();
    let mut buf = [0u8; 4];
    for (i, c) in hit.snippet.chars().enumerate() {
        if ranges.peek().is_some_and(|r| r.0 == i) {
            out.push_str("<mark>");
        }
        out.push_str(&esc(c.encode_utf8(&mut buf)));
        if ranges.peek().is_some_and(|r| r.1 == i + 1) {
            out.push_str("</mark>");
            ranges.next();
        }
    }
    out
}

fn search_form(state: &AppState, p: &SearchParams) -> String {
    let selected = |a: Option<&str>, b: &str| if a == Some(b) { " selected" } else { "" };
    let mut sectors = String::from(r#"<option value="">Tất cả lĩnh vực</option>"#);
    for s in &state.taxonomy.sectors {
        sectors.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(&s.id),
            selected(p.filters.sector.as_deref(), &s.id),
            esc(&s.name)
        ));
    }
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    format!(
        r#"<form class="search panel" method="get" action="/">
<label class="q">Từ khóa (có dấu hoặc không dấu, "cụm từ", -loại trừ, tiền tố*)<input name="q" value="{q}" placeholder="vd: dat dai thua 125" autofocus></label>
<label>Lĩnh vực<select name="sector">{sectors}</select></label>
<label>Loại văn bản<input name="type" value="{doc_type}" size="5" placeholder="QĐ, CV"></label>
<label>Số hiệu<input name="number" value="{number}" size="12"></label>
<label>Cơ quan<input name="agency" value="{agency}" size="14"></label>
<label>Từ ngày<input name="from" value="{from}" size="10" placeholder="2024-01"></label>
<label>Đến ngày<input name="to" value="{to}" size="10" placeholder="2024-06"></label>
<label>Sắp xếp<select name="sort"><option value="relevance">Phù hợp nhất</option><option value="date"{by_date}>Mới nhất</option></select></label>
<button type="submit">Tìm kiếm</button></form>"#,
        q = esc(&p.q),
        doc_type = value(&p.filters.doc_type),
        number = value(&p.filters.number),
        agency = value(&p.filters.agency),
        from = value(&p.filters.from),
        to = value(&p.filters.to),
        by_date = selected(p.sort.as_deref(), "date"),
    )
}

fn facets_html(state: &AppState, p: &SearchParams, response: &SearchResponse) -> String {
    let mut out = String::from(r#"<aside class="facets panel"><h2>Thu hẹp kết quả</h2>"#);
    let sector_name = |id: &str| {
        state
            .taxonomy
            .sectors
            .iter()
            .find(|s| s.id == id)
            .map_or(id.to_owned(), |s| s.name.clone())
    };
    let mut group = |title: &str,
                     counts: &std::collections::BTreeMap<String, u64>,
                     link: &dyn Fn(&str) -> String,
                     label: &dyn Fn(&str) -> String| {
        if counts.is_empty() {
            return;
        }
        let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        out.push_str(&format!("<h3>{}</h3><ul>", esc(title)));
        for (key, n) in sorted.into_iter().take(12) {
            out.push_str(&format!(
                r#"<li><a href="{}">{}</a><span class="count">{n}</span></li>"#,
                esc(&link(key)),
                esc(&label(key))
            ));
        }
        out.push_str("</ul>");
    };
    let facets = &response.facets;
    group(
        "Lĩnh vực",
        &facets.sector,
        &|k| p.link(&[("sector", Some(k.to_owned())), ("offset", None)]),
        &|k| sector_name(k),
    );
    group(
        "Loại văn bản",
        &facets.doc_type,
        &|k| p.link(&[("type", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    group(
        "Năm",
        &facets.year,
        &|k| p.link(&[("from", Some(k.to_owned())), ("to", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    group(
        "Cơ quan ban hành",
        &facets.agency,
        &|k| p.link(&[("agency", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    out.push_str("</aside>");
    out
}

fn hit_html(hit: &Hit) -> String {
    let title = match (&hit.doc_type, &hit.number) {
        (Some(t), Some(n)) => format!("{t} số {n}"),
        (None, Some(n)) => format!("Văn bản số {n}"),
        (Some(t), None) => t.clone(),
        (None, None) => hit.path.rsplit('/').next().unwrap_or(&hit.path).to_owned(),
    };
    let mut badges = String::new();
    if let Some(name) = hit.sector_name.as_deref().or(hit.sector.as_deref()) {
        badges.push_str(&format!(r#"<span class="badge">{}</span> "#, esc(name)));
    }
    if hit.needs_review {
        badges.push_str(r#"<span class="badge review">cần rà soát</span> "#);
    }
    if hit.approximate {
        badges.push_str(r#"<span class="badge approx">gần đúng</span> "#);
    }
    format!(
        r#"<article class="hit"><h2><a href="/documents/{id}?page={page}{hl}">{title}</a></h2>
<div class="meta">{badges}{date}{agency} · trang {page}</div><p class="snippet">{snippet}</p></article>"#,
        id = hit.id,
        page = hit.page,
        hl = highlight_param(hit),
        title = esc(&title),
        date = hit
            .date
            .as_deref()
            .map_or(String::new(), |d| format!("ngày {} ", esc(d))),
        agency = hit
            .agency
            .as_deref()
            .map_or(String::new(), |a| format!("· {}", esc(a))),
        snippet = marked_snippet(hit),
    )
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<SearchParams>,
) -> Response {
    let form = search_form(&state, &p);
    if p.is_empty() {
        return layout(
            "Tìm kiếm",
            Some(&staff.viewer()),
            &format!(
                r#"{form}<section class="panel"><p>Nhập từ khóa hoặc chọn bộ lọc. Từ không dấu khớp mọi cách viết có dấu (<b>dat dai</b> → <b>đất đai</b>); từ có dấu ưu tiên văn bản viết đúng dấu. Một câu hỏi dài được xếp hạng theo các từ và cặp từ khớp.</p>{}</section>"#,
                super::procedures::procedure_form("/staff/procedures", "")
            ),
        );
    }
    let mut request = match p.request(&state, PAGE_SIZE) {
        Ok(r) => r,
        Err(e) => {
            let mut r = layout(
                "Tìm kiếm",
                Some(&staff.viewer()),
                &format!(
                    r#"{form}<section class="panel error"><p>{}</p></section>"#,
                    esc(&e.message)
                ),
            );
            *r.status_mut() = e.status;
            return r;
        }
    };
    request.scope = staff.scope.clone();
    let searched = state.search(request).await;
    let (request, response) = match searched {
        Ok(r) => r,
        Err(e) => return page_error(&staff)(e),
    };
    let summary = if response.approximate {
        format!(
            "{} văn bản; không đủ kết quả khớp chính xác nên có thêm kết quả <b>gần đúng</b> (lỗi nhận dạng chữ).",
            response.total
        )
    } else {
        format!("{} văn bản phù hợp.", response.total)
    };
    let hits: String = response.hits.iter().map(hit_html).collect();
    let active: String = [
        ("sector", "Lĩnh vực", &p.filters.sector),
        ("type", "Loại", &p.filters.doc_type),
        ("procedure", "Thủ tục", &p.filters.procedure),
        ("number", "Số", &p.filters.number),
        ("agency", "Cơ quan", &p.filters.agency),
        ("id", "CCCD", &p.filters.citizen_id),
        ("from", "Từ", &p.filters.from),
        ("to", "Đến", &p.filters.to),
    ]
    .iter()
    .filter_map(|(key, label, value)| {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
        let shown = match *key {
            "sector" => state
                .taxonomy
                .sectors
                .iter()
                .find(|s| s.id == value)
                .map_or(value.to_owned(), |s| s.name.clone()),
            _ => value.to_owned(),
        };
        Some(format!(
            r#"<a class="badge" href="{}" title="Bỏ bộ lọc">{}: {} ✕</a> "#,
            esc(&p.link(&[(key, None)])),
            esc(label),
            esc(&shown)
        ))
    })
    .collect();
    let mut pager = String::new();
    if request.offset > 0 {
        pager.push_str(&format!(
            r#"<a href="{}">← Trang trước</a>"#,
            esc(&p.link(&[(
                "offset",
                Some(request.offset.saturating_sub(PAGE_SIZE).to_string())
            )]))
        ));
    }
    if request.offset + response.hits.len() < response.total {
        pager.push_str(&format!(
            r#"<a href="{}">Trang sau →</a>"#,
            esc(&p.link(&[("offset", Some((request.offset + PAGE_SIZE).to_string()))]))
        ));
    }
    layout(
        "Tìm kiếm",
        Some(&staff.viewer()),
        &format!(
            r#"{form}<div class="layout">{facets}<section class="panel"><p class="summary">{summary} {active}</p>{hits}<div class="pager">{pager}</div></section></div>"#,
            facets = facets_html(&state, &p, &response),
        ),
    )
}
