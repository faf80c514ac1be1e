//! HTML by hand: every value goes through `esc`, pages share `layout`, and the one
//! stylesheet is compiled in (no JavaScript, no build step, nothing served from disk).

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Who is signed in, for the header; `None` on public pages.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub admin: bool,
    pub csrf: &'a str,
}

pub fn layout(title: &str, viewer: Option<&Viewer>, body: &str) -> Response {
    let nav = match viewer {
        Some(v) => format!(
            r#"<nav><a href="/">Tìm kiếm</a><a href="/staff/procedures">Thủ tục</a><a href="/staff/reports">Báo cáo</a><a href="/verify">Xác thực văn bản</a>{admin}
<span class="who">{name}</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="link">Đăng xuất</button></form></nav>"#,
            admin = if v.admin {
                r#"<a href="/admin/audit">Nhật ký truy cập</a>"#
            } else {
                ""
            },
            name = esc(v.name),
            csrf = esc(v.csrf),
        ),
        None => r#"<nav><a href="/verify">Xác thực văn bản</a><a href="/login">Đăng nhập cán bộ</a></nav>"#.to_owned(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Kho hồ sơ số</title><link rel="stylesheet" href="/static/style.css"></head>
<body><header><a class="brand" href="/">Kho hồ sơ số <small>sohoa</small></a>{nav}</header>
<main>{body}</main></body></html>"#,
        title = esc(title),
    ))
    .into_response()
}

/// A page saying what went wrong, with the status it deserves.
pub fn error_page(
    status: axum::http::StatusCode,
    message: &str,
    viewer: Option<&Viewer>,
) -> Response {
    let mut response = layout(
        "Lỗi",
        viewer,
        &format!(
            r#"<section class="panel error"><h1>Không thực hiện được</h1><p>{}</p><p><a href="/">Về trang tìm kiếm</a></p></section>"#,
            esc(message)
        ),
    );
    *response.status_mut() = status;
    response
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

const STYLE: &str = r#"
:root { --ink:#1d2733; --muted:#5b6675; --line:#d8dee6; --bg:#f4f6f9; --accent:#0b5cab; --mark:#ffe58a; --ok:#1f7a3a; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 "Segoe UI", "Noto Sans", "Liberation Sans", Arial, sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; align-items:center; gap:2rem; padding:.6rem 1.5rem; background:#0f2f57; color:#fff; }
header a { color:#fff; text-decoration:none; }
.brand { font-weight:700; font-size:1.1rem; } .brand small { font-weight:400; opacity:.7; }
nav { display:flex; align-items:center; gap:1.2rem; flex:1; } nav .who { margin-left:auto; opacity:.85; }
main { padding:1.2rem 1.5rem; max-width:1400px; margin:0 auto; }
.panel { background:#fff; border:1px solid var(--line); border-radius:6px; padding:1rem 1.2rem; margin-bottom:1rem; }
h1 { font-size:1.3rem; margin:.2rem 0 .8rem; } h2 { font-size:1.05rem; margin:.2rem 0 .6rem; }
form.search { display:flex; flex-wrap:wrap; gap:.5rem; align-items:flex-end; }
form.search .q { flex:1 1 420px; } label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); gap:.15rem; }
input, select, button { font:inherit; padding:.35rem .5rem; border:1px solid #b8c2cf; border-radius:4px; background:#fff; color:var(--ink); }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
button.link { background:none; border:none; color:#fff; padding:0; text-decoration:underline; }
form.inline { display:inline; }
.layout { display:grid; grid-template-columns:260px 1fr; gap:1rem; }
.facets h3 { font-size:.9rem; margin:.8rem 0 .3rem; color:var(--muted); text-transform:uppercase; letter-spacing:.03em; }
.facets ul { list-style:none; margin:0; padding:0; } .facets li { display:flex; justify-content:space-between; }
.facets a { color:var(--accent); text-decoration:none; } .count { color:var(--muted); font-variant-numeric:tabular-nums; }
.summary { color:var(--muted); margin:.2rem 0 .8rem; }
.hit { border-bottom:1px solid var(--line); padding:.7rem 0; } .hit:last-child { border-bottom:none; }
.hit h2 a { color:var(--accent); text-decoration:none; } .meta { color:var(--muted); font-size:.9rem; }
.snippet { margin:.3rem 0 0; } mark { background:var(--mark); padding:0 .1em; }
.badge { display:inline-block; padding:0 .45rem; border-radius:9px; background:#e7eef8; color:#0f2f57; font-size:.8rem; }
.badge.review { background:#fff1d6; color:#8a5a00; } .badge.approx { background:#f1e9ff; color:#5b2a9c; }
.pager { display:flex; gap:1rem; margin-top:.8rem; }
.doc { display:grid; grid-template-columns:minmax(0, 1.1fr) minmax(0, 1fr); gap:1rem; }
.pageimg img { width:100%; border:1px solid var(--line); background:#fff; display:block; }
.pageframe { position:relative; } .pageframe svg.hl { position:absolute; inset:0; width:100%; height:100%; pointer-events:none; }
svg.hl rect { fill:rgba(255, 204, 0, .35); stroke:#b38600; stroke-width:2; vector-effect:non-scaling-stroke; }
.pagetext { white-space:pre-wrap; font-family:"Noto Serif", "Liberation Serif", serif; max-height:80vh; overflow:auto; }
table.fields { border-collapse:collapse; width:100%; } table.fields th { text-align:left; color:var(--muted); font-weight:500; width:11rem; vertical-align:top; }
table.fields td, table.fields th { padding:.25rem .4rem; border-bottom:1px solid var(--line); }
.code { font-family:"Liberation Mono", monospace; font-size:1.1rem; letter-spacing:.05em; }
.status-intact { color:var(--ok); font-weight:700; } .status-bad { color:var(--bad); font-weight:700; }
.error { border-color:var(--bad); } .error h1 { color:var(--bad); }
.pages a { margin-right:.4rem; } .pages a.current { font-weight:700; text-decoration:none; color:var(--ink); }
table.audit { border-collapse:collapse; width:100%; } table.audit td, table.audit th { border-bottom:1px solid var(--line); padding:.3rem .5rem; text-align:left; }
.narrow { max-width:420px; margin:3rem auto; }
.narrow form { display:flex; flex-direction:column; gap:.6rem; }
@media (max-width: 900px) { .layout, .doc { grid-template-columns:1fr; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_urls() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(url("đất đai&x=1"), "%C4%91%E1%BA%A5t%20%C4%91ai%26x%3D1");
    }
}
