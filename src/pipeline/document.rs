//! Assembling a document from its pages: order, warnings, and its status.

use super::*;

/// A document being assembled by the writer.
pub(super) struct Pending {
    pub(super) header: Box<Header>,
    pub(super) pages: Vec<NewPage>,
    /// The pages' repairs and losses, as they arrive.
    pub(super) warnings: Vec<Warning>,
}

/// The warnings of a document, one sentence.
pub(super) fn warnings_text(warnings: &[Warning]) -> String {
    warnings
        .iter()
        .map(Warning::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Orders pages and sets the document's status from its pages: failed when no page
/// could be read, partial when some pages (or parts of them) were lost, empty when
/// nothing failed but no page holds text, ok otherwise.
pub(super) fn finish_document(p: Pending) -> NewDocument {
    let mut doc = p.header.doc;
    let mut pages = p.pages;
    pages.sort_by_key(|page| page.number);
    doc.warnings.extend(p.warnings);
    doc.warnings.sort_by_key(|w| w.page);
    doc.pages = pages;
    if doc.status == DocStatus::Failed {
        return doc;
    }
    let pages = &doc.pages;
    let failed: Vec<&NewPage> = pages.iter().filter(|page| page.error.is_some()).collect();
    let readable = pages
        .iter()
        .filter(|page| !page.text.trim().is_empty())
        .count();
    let losses: Vec<&Warning> = doc
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Loss)
        .collect();
    let page_error = |page: &NewPage| {
        format!(
            "page {}: {}",
            page.number,
            page.error.as_deref().unwrap_or_default()
        )
    };
    let (status, error) = if !failed.is_empty() && readable == 0 {
        let detail = page_error(failed[0]);
        let error = if pages.len() == 1 {
            detail
        } else if failed.len() == pages.len() {
            format!("all {} pages failed; {detail}", pages.len())
        } else {
            format!(
                "{} of {} pages failed and the others hold no text; {detail}",
                failed.len(),
                pages.len()
            )
        };
        (DocStatus::Failed, Some(error))
    } else if !failed.is_empty() {
        let mut error = format!(
            "{} of {} pages failed; {}",
            failed.len(),
            pages.len(),
            page_error(failed[0])
        );
        if !losses.is_empty() {
            error.push_str(&format!("; {}", losses[0]));
        }
        (DocStatus::Partial, Some(error))
    } else if !losses.is_empty() && readable > 0 {
        (
            DocStatus::Partial,
            Some(format!("content lost: {}", losses[0])),
        )
    } else if readable == 0 && !losses.is_empty() {
        (
            DocStatus::Failed,
            Some(format!("nothing readable: {}", losses[0])),
        )
    } else if readable == 0 {
        let why = pages
            .iter()
            .find_map(|page| page.note.as_deref())
            .unwrap_or("no text found");
        (
            DocStatus::Empty,
            Some(format!("no page holds readable text ({why})")),
        )
    } else {
        (DocStatus::Ok, None)
    };
    doc.status = status;
    doc.error = error;
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::read::empty_page;

    /// A page as the writer receives it: read (`text`), blank (`""`), or failed (`!`).
    fn page(number: u32, content: &str) -> NewPage {
        let mut page = empty_page(number);
        match content {
            "!" => page.error = Some("bad".into()),
            "" => page.note = Some(BLANK_PAGE_NOTE.into()),
            text => page.text = text.into(),
        }
        page
    }

    /// Finishes a document of `pages` (in the order given) with `warnings`, and checks
    /// its status and the start of its error.
    fn check(pages: &[(u32, &str)], warnings: Vec<Warning>, status: DocStatus, error: &str) {
        let doc = finish_document(Pending {
            header: Box::new(Header {
                doc: NewDocument::at("x.pdf".into()),
                page_count: pages.len(),
                retry: false,
            }),
            pages: pages.iter().map(|(n, c)| page(*n, c)).collect(),
            warnings,
        });
        assert_eq!(doc.status, status, "{pages:?}");
        assert!(
            doc.error.as_deref().unwrap_or("").starts_with(error),
            "{pages:?}: {:?}",
            doc.error
        );
        assert!(doc.pages.windows(2).all(|w| w[0].number < w[1].number));
    }

    #[test]
    fn document_status_follows_its_pages() {
        let lost = || vec![Warning::loss(Some(2), "image cut")];
        let repaired = || vec![Warning::repair(None, "xref rebuilt")];
        check(&[(1, "text")], vec![], DocStatus::Ok, "");
        check(&[(1, "text")], repaired(), DocStatus::Ok, "");
        check(
            &[(2, "!"), (1, "text")],
            vec![],
            DocStatus::Partial,
            "1 of 2 pages failed; page 2",
        );
        check(
            &[(1, "!"), (2, "!")],
            vec![],
            DocStatus::Failed,
            "all 2 pages failed",
        );
        check(&[(1, "!")], vec![], DocStatus::Failed, "page 1: bad");
        check(
            &[(1, "!"), (2, "")],
            vec![],
            DocStatus::Failed,
            "1 of 2 pages failed and the others",
        );
        check(
            &[(1, "")],
            vec![],
            DocStatus::Empty,
            "no page holds readable text (blank page",
        );
        check(
            &[(1, ""), (2, "")],
            repaired(),
            DocStatus::Empty,
            "no page holds",
        );
        check(
            &[(1, "a"), (2, "b")],
            lost(),
            DocStatus::Partial,
            "content lost: page 2: lost: image cut",
        );
        check(
            &[(1, ""), (2, "")],
            lost(),
            DocStatus::Failed,
            "nothing readable: page 2",
        );
        check(&[(1, "a"), (2, "")], vec![], DocStatus::Ok, "");
    }
}
