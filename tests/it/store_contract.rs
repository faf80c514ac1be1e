//! The storage contract: what every backend of `Store` + `Accounts` must do, written
//! against the traits only, and run for each backend in `BACKENDS` (SQLite, and
//! PostgreSQL on the server `scripts/test` starts).

use sohoa::authenticity::{keys, merkle};
use sohoa::classify::{ClassSource, Classification};
use sohoa::fields::Fields;
use sohoa::search::SearchRequest;
use sohoa::store::accounts::Role;
use sohoa::store::{Analysis, Archive, DocStatus, FailureFilter, NewDocument, RunStatus, Stored};
use sohoa::synth::{self, Rng};
use std::path::Path;

struct Backend {
    name: &'static str,
    /// A fresh, empty archive whose files (if any) live in the directory given.
    open: fn(&Path) -> Box<dyn Archive>,
}

fn open_sqlite(dir: &Path) -> Box<dyn Archive> {
    sohoa::store::open(&dir.join("archive.db")).expect("open a new SQLite archive")
}

/// A new database on the test server (its search index in the state directory,
/// `SOHOA_STATE_DIR` under `scripts/test`).
fn open_postgres(_dir: &Path) -> Box<dyn Archive> {
    let url = crate::support::new_postgres_database();
    sohoa::store::open(Path::new(&url)).expect("open a new PostgreSQL archive")
}

const BACKENDS: &[Backend] = &[
    Backend {
        name: "sqlite",
        open: open_sqlite,
    },
    Backend {
        name: "postgres",
        open: open_postgres,
    },
];

/// Runs `contract` on a fresh archive of every backend.
fn check(contract: fn(&mut dyn Archive, &Path)) {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let mut archive = (backend.open)(dir.path());
        eprintln!("store contract on {}", backend.name);
        contract(archive.as_mut(), dir.path());
    }
}

/// Synthetic document `index` (its SHA-256 is the index, its path `/synthetic/N.pdf`).
fn document(index: u64) -> NewDocument {
    synth::document(&mut Rng::new(index), index, 400)
}

fn analysis(sector: &str, source: ClassSource) -> Analysis {
    Analysis {
        fields: Fields {
            number: Some("12/QĐ-UBND".into()),
            date: Some("2024-03-05".into()),
            ..Fields::default()
        },
        classification: Classification {
            sector: sector.into(),
            sector_name: sector.into(),
            procedure_code: None,
            procedure_name: None,
            confidence: 0.9,
            needs_review: false,
            source,
            reasons: Vec::new(),
        },
    }
}

fn new_id(stored: Stored) -> i64 {
    match stored {
        Stored::New(id) => id,
        other => panic!("expected a new document, got {other:?}"),
    }
}

fn search_ids(archive: &dyn Archive, query: &str) -> Vec<i64> {
    let request = SearchRequest::parse(query).unwrap();
    let mut ids: Vec<i64> = sohoa::search::run(archive, &request)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn whole_documents_come_back_as_stored() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let doc = document(1);
        let id = new_id(archive.put_document(run, &doc).unwrap());
        let got = archive.document(id).unwrap().expect("the stored document");
        assert_eq!(got.path, doc.path);
        assert_eq!(got.sha256, doc.sha256);
        assert_eq!(got.status, DocStatus::Ok);
        assert_eq!(got.page_count as usize, doc.pages.len());
        let texts: Vec<&str> = got.pages.iter().map(|p| p.text.as_str()).collect();
        let expect: Vec<&str> = doc.pages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, expect, "pages in order, text as read");
        assert!(got.current && got.version == 1);
        let known = archive.location(&doc.path).unwrap().expect("its location");
        assert_eq!(known.document_id, id);
        let content = archive.content(doc.sha256.as_deref().unwrap()).unwrap();
        assert_eq!(content.map(|c| c.document_id), Some(id));
        assert!(archive.document(id + 1000).unwrap().is_none());
        archive
            .finish_run(run, RunStatus::Completed, &serde_json::json!({}))
            .unwrap();
        assert_eq!(archive.documents_of_run(run).unwrap(), vec![id]);
    });
}

#[test]
fn the_same_bytes_are_one_document_with_two_locations() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let first = document(2);
        let id = new_id(archive.put_document(run, &first).unwrap());
        let mut copy = document(2);
        copy.path = "/elsewhere/copy.pdf".into();
        assert_eq!(
            archive.put_document(run, &copy).unwrap(),
            Stored::AlreadyArchived(id)
        );
        let got = archive.document(id).unwrap().unwrap();
        assert_eq!(got.locations.len(), 2, "{:?}", got.locations);
        assert_eq!(
            archive
                .location("/elsewhere/copy.pdf")
                .unwrap()
                .map(|k| k.document_id),
            Some(id)
        );
    });
}

#[test]
fn a_changed_file_is_a_new_version_of_its_record() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let old = document(3);
        let old_id = new_id(archive.put_document(run, &old).unwrap());
        let mut changed = document(4);
        changed.path = old.path.clone();
        changed.supersedes = Some(old_id);
        let new = new_id(archive.put_document(run, &changed).unwrap());
        let got = archive.document(new).unwrap().unwrap();
        assert_eq!((got.version, got.current, got.record_id), (2, true, old_id));
        assert_eq!(got.versions.len(), 2);
        let before = archive.document(old_id).unwrap().unwrap();
        assert!(!before.current, "the old version is kept, as history");
        assert_eq!(
            archive.location(&old.path).unwrap().unwrap().document_id,
            new
        );
    });
}

#[test]
fn failures_are_kept_and_a_retry_replaces_them() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let mut broken = NewDocument::at("/scans/broken.pdf".into());
        broken.sha256 = Some(format!("{:064x}", 99));
        broken.status = DocStatus::Failed;
        broken.error = Some("not a PDF".into());
        let failed = new_id(archive.put_document(run, &broken).unwrap());
        assert_eq!(archive.failed_paths().unwrap(), vec!["/scans/broken.pdf"]);
        let failures = archive.failures(&FailureFilter::default()).unwrap();
        assert_eq!(failures.len(), 1);
        let mut fixed = document(5);
        fixed.path = "/scans/broken.pdf".into();
        fixed.replaces = Some(failed);
        new_id(archive.put_document(run, &fixed).unwrap());
        assert!(archive.failed_paths().unwrap().is_empty());
        assert!(
            archive
                .failures(&FailureFilter::default())
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn analysis_is_replaced_but_staff_decisions_stay() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let mut doc = document(6);
        doc.analysis = Some(analysis("dat-dai", ClassSource::Model));
        let id = new_id(archive.put_document(run, &doc).unwrap());
        let changed = archive
            .set_analysis(id, &analysis("xay-dung", ClassSource::Model))
            .unwrap();
        assert!(changed);
        let got = archive.document(id).unwrap().unwrap();
        assert_eq!(got.classification.unwrap().sector, "xay-dung");
        assert_eq!(got.fields.unwrap().number.as_deref(), Some("12/QĐ-UBND"));
        let staff = analysis("y-te", ClassSource::Staff).classification;
        archive.correct(id, &staff, "clerk").unwrap();
        // The model files it again: the staff's sector stays.
        archive
            .set_analysis(id, &analysis("dat-dai", ClassSource::Model))
            .unwrap();
        let got = archive
            .document(id)
            .unwrap()
            .unwrap()
            .classification
            .unwrap();
        assert_eq!(
            (got.sector.as_str(), got.source),
            ("y-te", ClassSource::Staff)
        );
        let corrections = archive.corrections().unwrap();
        assert_eq!(corrections.len(), 1);
    });
}

#[test]
fn the_log_appends_in_order_and_proves_it() {
    check(|archive, dir| {
        archive
            .set_signer(Some(keys::create(&dir.join("keys")).unwrap()))
            .unwrap();
        let run = archive.begin_run("contract").unwrap();
        let ids: Vec<i64> = (10..13)
            .map(|i| new_id(archive.put_document(run, &document(i)).unwrap()))
            .collect();
        let first = archive.seal().unwrap().expect("a tree head");
        assert_eq!(first.tree_size, 3);
        assert!(
            archive.seal().unwrap().is_none(),
            "nothing new: no new head"
        );
        let mut order = Vec::new();
        archive
            .each_log_entry(&mut |e| {
                order.push((e.leaf, e.document_id));
                Ok(())
            })
            .unwrap();
        let expect: Vec<(u64, i64)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (i as u64, *id))
            .collect();
        assert_eq!(
            order, expect,
            "one record per document, in the order stored"
        );
        // A correction appends; the old record stays.
        let staff = analysis("y-te", ClassSource::Staff).classification;
        archive.correct(ids[1], &staff, "clerk").unwrap();
        let second = archive.seal().unwrap().expect("a second head");
        assert_eq!(second.tree_size, 4);
        assert_eq!(archive.log_entries_of(ids[1]).unwrap().len(), 2);
        let leaves = archive.leaf_hashes().unwrap();
        assert_eq!(hex::encode(merkle::root(&leaves)), second.root_hash);
        let root = |head: &sohoa::authenticity::TreeHead| -> merkle::Hash {
            hex::decode(&head.root_hash).unwrap().try_into().unwrap()
        };
        for (index, leaf) in leaves.iter().enumerate() {
            let path = merkle::inclusion_proof(&leaves, index);
            assert!(merkle::verify_inclusion(
                leaf,
                index,
                4,
                &path,
                &root(&second)
            ));
        }
        let consistency = merkle::consistency_proof(&leaves, 3);
        assert!(merkle::verify_consistency(
            3,
            4,
            &root(&first),
            &root(&second),
            &consistency
        ));
        assert_eq!(archive.tree_heads().unwrap().len(), 2);
    });
}

#[test]
fn what_is_stored_becomes_searchable_with_its_changes() {
    check(|archive, _| {
        let run = archive.begin_run("contract").unwrap();
        let mut doc = document(20);
        doc.pages[0].text.push_str("\nđặc biệt từ khóa hợp đồng");
        doc.analysis = Some(analysis("dat-dai", ClassSource::Model));
        let id = new_id(archive.put_document(run, &doc).unwrap());
        archive.flush_index().unwrap();
        assert_eq!(search_ids(archive, "\"tu khoa hop dong\""), vec![id]);
        assert_eq!(search_ids(archive, "sector:dat-dai"), vec![id]);
        // A correction reaches the index at the next flush.
        let staff = analysis("y-te", ClassSource::Staff).classification;
        archive.correct(id, &staff, "clerk").unwrap();
        archive.flush_index().unwrap();
        assert!(search_ids(archive, "sector:dat-dai").is_empty());
        assert_eq!(search_ids(archive, "sector:y-te"), vec![id]);
    });
}

#[test]
fn accounts_sessions_and_tokens() {
    check(|archive, _| {
        let user = archive.add_user("lan", Role::Clerk, "hash-1").unwrap();
        assert!(
            archive.add_user("lan", Role::Viewer, "hash-2").is_err(),
            "names are unique"
        );
        archive
            .create_session("session-sha", user, "csrf", i64::MAX)
            .unwrap();
        let session = archive
            .session("session-sha", 0)
            .unwrap()
            .expect("live session");
        assert_eq!(
            (session.user.name.as_str(), session.user.role),
            ("lan", Role::Clerk)
        );
        assert!(
            archive.session("session-sha", i64::MAX).unwrap().is_none(),
            "expired"
        );
        // A new password ends every session.
        assert!(archive.set_password("lan", "hash-3").unwrap());
        assert!(archive.session("session-sha", 0).unwrap().is_none());
        let token = archive.create_token(user, "scanner", "token-sha").unwrap();
        assert_eq!(
            archive.token_user("token-sha").unwrap().map(|u| u.id),
            Some(user)
        );
        assert!(archive.revoke_token(token).unwrap());
        assert!(archive.token_user("token-sha").unwrap().is_none());
        archive.audit("lan", "correct", None, "test").unwrap();
        assert!(archive.remove_user("lan").unwrap());
        assert!(archive.user("lan").unwrap().is_none());
        let log = archive.audit_log(&sohoa::store::Scope::All, 10, 0).unwrap();
        assert!(
            log.iter().any(|e| e.action == "correct"),
            "audit entries outlive the user"
        );
    });
}

/// Today in the reports' calendar, as a period of one day.
fn today() -> sohoa::report::Period {
    let day = crate::support::report_today();
    sohoa::report::Period::parse(&format!("{day}..{day}")).unwrap()
}

#[test]
fn reports_count_what_was_stored_today() {
    use sohoa::report::{GroupBy, ReportSpec, build};
    use sohoa::store::{Scope, Unit};
    check(|archive, _| {
        archive
            .put_unit(&Unit {
                code: "STP".into(),
                name: "Sở Tư pháp".into(),
                parent: None,
                issuers: Vec::new(),
            })
            .unwrap();
        let run = archive.begin_run("contract").unwrap();
        let arrived = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 100;
        // Complete fields, two OCR pages (90 and 60: one under the low-quality line).
        let mut complete = NewDocument::at("/in/complete.pdf".into());
        complete.sha256 = Some("a".repeat(64));
        complete.file_mtime = Some(arrived);
        complete.unit = Some("STP".into());
        complete.pages = vec![
            crate::support::page(1, "một"),
            crate::support::page(2, "hai"),
        ];
        complete.pages[1].confidence = Some(60.0);
        let mut full = analysis("tu-phap", ClassSource::Model);
        full.fields.agency = Some("SỞ TƯ PHÁP".into());
        full.fields.subject = Some("Về việc cấp phiếu lý lịch tư pháp".into());
        complete.analysis = Some(full);
        // No subject, a text layer, and the model asks for review.
        let mut unsure = document(2);
        unsure.file_mtime = Some(arrived);
        let mut asks = analysis("dat-dai", ClassSource::Model);
        asks.classification.needs_review = true;
        unsure.analysis = Some(asks);
        let mut failed = NewDocument::at("/in/broken.pdf".into());
        failed.sha256 = Some("b".repeat(64));
        failed.status = DocStatus::Failed;
        failed.error = Some("not a PDF: the file ends before its header".into());
        let mut empty = NewDocument::at("/in/blank.pdf".into());
        empty.sha256 = Some("c".repeat(64));
        empty.status = DocStatus::Empty;
        let complete_id = new_id(archive.put_document(run, &complete).unwrap());
        let unsure_id = new_id(archive.put_document(run, &unsure).unwrap());
        archive.put_document(run, &failed).unwrap();
        archive.put_document(run, &empty).unwrap();
        archive.flush_index().unwrap();
        // A PostgreSQL archive's documents become searchable when a search machine
        // indexes them (its first search), not when a worker stores them.
        assert_eq!(search_ids(&*archive, "hai"), vec![complete_id]);
        // A clerk settles the review; a page is marked for re-scan; the public asks.
        let mut settled = analysis("dat-dai", ClassSource::Staff).classification;
        settled.confidence = 1.0;
        archive.correct(unsure_id, &settled, "clerk").unwrap();
        assert!(
            archive
                .mark_rescan(complete_id, 2, "bị mờ", "clerk")
                .unwrap()
        );
        assert!(
            !archive
                .mark_rescan(complete_id, 9, "no such page", "clerk")
                .unwrap()
        );
        assert!(
            !archive.clear_rescan(complete_id, 1).unwrap(),
            "never marked"
        );
        archive
            .count_verification(Some(complete_id), "intact")
            .unwrap();
        archive
            .count_verification(Some(complete_id), "intact")
            .unwrap();
        archive.count_verification(None, "not-found").unwrap();
        let marks = archive.rescans().unwrap();
        assert_eq!(
            (marks.len(), marks[0].page, marks[0].reason.as_str()),
            (1, 2, "bị mờ")
        );

        let units = archive.units().unwrap();
        let report = |archive: &dyn Archive, by, scope| {
            let spec = ReportSpec {
                period: today(),
                by,
                scope,
            };
            build(archive, &units, &spec, "now").unwrap()
        };
        let all = report(&*archive, GroupBy::Unit, Scope::All);
        let t = &all.total.figures;
        assert_eq!((t.documents, t.pages), (2, 2 + unsure.pages.len() as i64));
        assert_eq!(t.complete_metadata, Some(0.5));
        assert_eq!((t.ocr_pages, t.low_confidence_pages), (2, 1));
        assert_eq!(t.mean_confidence, Some(75.0));
        assert_eq!((t.failed_files, t.empty_files, t.partial_files), (1, 1, 0));
        let reasons: Vec<(&str, &str, i64)> = t
            .problems
            .iter()
            .map(|p| (p.status.as_str(), p.reason.as_str(), p.files))
            .collect();
        assert!(
            reasons.contains(&("failed", "not a PDF: the file ends before its header", 1))
                && reasons.contains(&("empty", "no readable page", 1)),
            "{reasons:?}"
        );
        assert_eq!(
            (t.reviews_opened, t.reviews_closed, t.reviews_pending),
            (1, 1, 0)
        );
        assert_eq!((t.rescan_marked, t.rescan_pending), (1, 1));
        assert_eq!(
            (
                t.verifications_answered,
                t.verifications_intact,
                t.verifications_not_found
            ),
            (3, 2, 1)
        );
        let waited = t
            .searchable_median_seconds
            .expect("both were made searchable");
        assert!(
            (100..3600).contains(&waited),
            "{waited} s from arrival to search"
        );
        assert_eq!(all.total.previous.documents, 0, "nothing the day before");
        assert_eq!(all.total.change.documents, 2);
        // One row per unit: the Sở Tư pháp's document, and the one of no unit.
        let rows: Vec<(&str, &str, i64)> = all
            .rows
            .iter()
            .map(|r| (r.key.as_str(), r.label.as_str(), r.figures.documents))
            .collect();
        assert_eq!(rows[0], ("STP", "Sở Tư pháp", 1), "{rows:?}");
        assert_eq!(rows[1].0, "", "{rows:?}");
        let pages: i64 = all.monthly.iter().flat_map(|m| m.pages.values()).sum();
        assert_eq!(pages, t.pages, "the chart's months add up to the total");
        // A unit's staff see their unit only: not the public's lookups of nothing.
        let own = report(&*archive, GroupBy::Sector, Scope::Units(vec!["STP".into()]));
        let t = &own.total.figures;
        assert_eq!(
            (t.documents, t.verifications_answered, t.failed_files),
            (1, 2, 0)
        );
        assert_eq!(own.rows.len(), 1);
        assert_eq!(own.rows[0].key, "tu-phap");
        assert!(archive.clear_rescan(complete_id, 2).unwrap());
        let after = report(&*archive, GroupBy::Month, Scope::All);
        assert_eq!(after.total.figures.rescan_pending, 0, "cleared");
        assert_eq!(after.rows.len(), 1, "one month row for one day");
    });
}
