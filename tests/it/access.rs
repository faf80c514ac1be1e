//! Access by unit: documents owned by the unit that issued them (or `ingest --unit`),
//! accounts that see only their units' documents (and the units below them), on every
//! route of the web service and the API; refusals audited; roles that bound what an
//! account may do.

use crate::classify::{BIRTH, BUILDING, LAND, id_of};
use crate::serve::{PASSWORD, Server, sohoa_stdin};
use crate::support::{ingest_json, lines_pdf, sohoa, stderr, stdout};
use std::path::Path;

fn run(db: &Path, args: &[&str]) -> String {
    let out = sohoa(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A permit whose header names no unit: owned only through `ingest --unit`.
const PERMIT: &[&str] = &[
    "CONG HOA XA HOI CHU NGHIA VIET NAM",
    "GIAY PHEP XAY DUNG so 12",
    "Cap cho ong Tran Van Minh xay dung nha o tai xom 3.",
];

struct Archive {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    /// Account name → API token.
    tokens: Vec<(&'static str, String)>,
}

/// Four documents of four units; accounts of every role.
fn archive() -> Archive {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let put = |sub: &str, name: &str, lines: &[&str]| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), lines_pdf(lines)).unwrap();
        d
    };
    // Stored before the archive had units: given one later by `units apply`.
    let early = put("early", "building.pdf", BUILDING);
    let (code, _) = ingest_json(&db, &[early.to_str().unwrap()]);
    assert_eq!(code, 0);
    for args in [
        &["units", "add", "TINH", "UBND tỉnh Nghệ An"][..],
        &[
            "units",
            "add",
            "STNMT",
            "Sở Tài nguyên và Môi trường",
            "--parent",
            "TINH",
        ],
        &[
            "units",
            "add",
            "SXD",
            "Sở Xây dựng",
            "--parent",
            "TINH",
            "--issuer",
            "Sở Xây dựng",
        ],
        &[
            "units",
            "add",
            "HUYEN-ND",
            "UBND huyện Nam Đàn",
            "--issuer",
            "UBND huyện Nam Đàn",
        ],
    ] {
        run(&db, args);
    }
    let file = dir.path().join("units.jsonl");
    std::fs::write(
        &file,
        r#"{"code": "XA-NG", "name": "UBND xã Nam Giang", "parent": "HUYEN-ND", "issuers": ["UBND xã Nam Giang"]}"#,
    )
    .unwrap();
    run(&db, &["units", "load", file.to_str().unwrap()]);
    let applied = run(&db, &["units", "apply"]);
    assert!(applied.contains("1 documents given a unit"), "{applied}");
    let scans = put("scans", "land.pdf", LAND);
    put("scans", "birth.pdf", BIRTH);
    let (code, _) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 0);
    let permits = put("permits", "permit.pdf", PERMIT);
    let (code, _) = ingest_json(&db, &["--unit", "SXD", permits.to_str().unwrap()]);
    assert_eq!(code, 0);
    let mut tokens = Vec::new();
    for (name, role, units) in [
        ("an", "archive-admin", &[][..]),
        ("dat", "clerk", &["STNMT"][..]),
        ("xd", "viewer", &["SXD"][..]),
        ("huyen", "unit-admin", &["HUYEN-ND"][..]),
        ("tinh", "clerk", &["TINH"][..]),
        ("moi", "clerk", &[][..]),
    ] {
        let mut args = vec!["users", "add", name, "--role", role];
        for u in units {
            args.extend(["--unit", u]);
        }
        let out = sohoa_stdin(&db, &args, &format!("{PASSWORD}\n"));
        assert!(out.status.success(), "{}", stderr(&out));
        let token = run(&db, &["tokens", "create", "--user", name]);
        tokens.push((name, token.trim().to_owned()));
    }
    Archive {
        _dir: dir,
        db,
        tokens,
    }
}

#[test]
fn documents_belong_to_the_unit_that_issued_them() {
    let a = archive();
    for (file, unit) in [
        ("building.pdf", "SXD"),
        ("land.pdf", "STNMT"),
        ("birth.pdf", "XA-NG"),
        ("permit.pdf", "SXD"),
    ] {
        let shown = run(&a.db, &["show", &id_of(&a.db, file).to_string(), "--json"]);
        let json: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(json["unit"], unit, "{file}");
    }
    let refused = sohoa(&a.db, &["ingest", "--unit", "NOWHERE", "."]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--unit NOWHERE: no such unit"));
    let listed = run(&a.db, &["units", "list"]);
    assert!(
        listed.contains("XA-NG\tUBND xã Nam Giang\t(in HUYEN-ND)"),
        "{listed}"
    );
}

#[test]
fn no_route_shows_an_account_another_units_documents() {
    let a = archive();
    let server = Server::start(&a.db);
    let ids: Vec<(&str, i64)> = ["land.pdf", "birth.pdf", "building.pdf", "permit.pdf"]
        .iter()
        .map(|f| (*f, id_of(&a.db, f)))
        .collect();
    // Who sees what: archive admins everything; a unit its own and those below it.
    let sees = |account: &str, file: &str| -> bool {
        match account {
            "an" | "tinh" => file != "birth.pdf",
            "dat" => file == "land.pdf",
            "xd" => file == "building.pdf" || file == "permit.pdf",
            "huyen" => file == "birth.pdf",
            _ => false,
        }
    };
    let mut checked = 0;
    // The archive admin first: pages it has rendered are cached, and must still not
    // reach the others.
    for (account, token) in &a.tokens {
        let auth = format!("Bearer {token}");
        let headers = [("Authorization", auth.as_str())];
        let visible: Vec<&str> = ids
            .iter()
            .filter(|(f, _)| *account == "an" || sees(account, f))
            .map(|(f, _)| *f)
            .collect();
        // Search: results, total, facets and snippets.
        let found = server.get("/api/search?q=cong+hoa&limit=50", &headers);
        assert_eq!(found.status, 200, "{account}: {}", found.text());
        let json: serde_json::Value = serde_json::from_str(&found.text()).unwrap();
        let expect = if *account == "an" { 4 } else { visible.len() };
        assert_eq!(json["total"], expect, "{account}: {json:#}");
        let sectors: u64 = json["facets"]["sector"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(
            sectors <= expect as u64,
            "{account}: facets count hidden documents"
        );
        let body = json.to_string();
        for (file, id) in &ids {
            let shown = *account == "an" || sees(account, file);
            assert_eq!(
                body.contains(&format!("/{file}")),
                shown,
                "{account} search and {file}"
            );
            // Every route that serves a document or part of one.
            for route in [
                format!("/api/documents/{id}"),
                format!("/api/documents/{id}?words=true"),
                format!("/api/documents/{id}/pages/1/image"),
                format!("/api/documents/{id}/pages/1/alto"),
                format!("/api/documents/{id}/pages/1/hocr"),
                format!("/documents/{id}"),
                format!("/documents/{id}/pages/1/image"),
            ] {
                let r = server.get(&route, &headers);
                let text = r.text();
                let denied = r.status == 404
                    && (text.contains(&format!("no document {id}"))
                        || text.contains(&format!("Không có văn bản số {id}.")));
                assert_eq!(!denied, shown, "{account} {route}: {} {text}", r.status);
                checked += 1;
            }
        }
        // Words only a hidden document holds find nothing, and say nothing.
        if !sees(account, "land.pdf") && *account != "an" {
            let r = server
                .get("/api/search?q=giai+phong+mat+bang", &headers)
                .text();
            assert!(
                r.contains("\"total\":0") && r.contains("\"hits\":[]"),
                "{account}: {r}"
            );
            let page = server.get("/?q=giai+phong+mat+bang", &headers).text();
            assert!(!page.contains("1234/QĐ-STNMT"), "{account}: {page}");
        }
        // Corrections: only of visible documents, never by a viewer.
        for (file, id) in &ids {
            let r = server.request(
                "POST",
                &format!("/api/documents/{id}/classification"),
                &[
                    ("Authorization", auth.as_str()),
                    ("Content-Type", "application/json"),
                ],
                br#"{"sector": "dat-dai"}"#,
            );
            // A viewer is refused whatever the document (nothing learned of others').
            let expect = if *account == "xd" {
                403
            } else if *account == "an" || sees(account, file) {
                200
            } else {
                404
            };
            assert_eq!(r.status, expect, "{account} corrects {file}: {}", r.text());
            checked += 1;
        }
    }
    eprintln!("{checked} route checks");
    // Refusals are audited; a unit admin reads only its units' part of the log.
    let token = |name: &str| {
        let t = &a.tokens.iter().find(|(n, _)| *n == name).unwrap().1;
        format!("Bearer {t}")
    };
    let log = server.get("/api/audit?limit=1000", &[("Authorization", &token("an"))]);
    let log: serde_json::Value = serde_json::from_str(&log.text()).unwrap();
    let land = ids[0].1;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["user"] == "xd" && e["action"] == "view-denied" && e["document_id"] == land),
        "{log:#}"
    );
    let unit_log = server.get(
        "/api/audit?limit=1000",
        &[("Authorization", &token("huyen"))],
    );
    let unit_log: serde_json::Value = serde_json::from_str(&unit_log.text()).unwrap();
    let birth = ids[1].1;
    let entries = unit_log.as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["document_id"] == birth),
        "a unit admin sees only its documents' entries: {unit_log:#}"
    );
    for name in ["dat", "xd"] {
        let r = server.get("/api/audit", &[("Authorization", &token(name))]);
        assert_eq!(r.status, 403, "{name}");
    }
    let me = server
        .get("/api/me", &[("Authorization", &token("huyen"))])
        .text();
    assert!(
        me.contains("HUYEN-ND") && me.contains("XA-NG") && me.contains("unit_admin"),
        "{me}"
    );
    // Granting more widens the view at the next request; revoking narrows it.
    run(&a.db, &["users", "grant", "moi", "*"]);
    let all = server.get(
        "/api/search?q=cong+hoa",
        &[("Authorization", &token("moi"))],
    );
    assert!(all.text().contains("\"total\":4"), "{}", all.text());
    run(&a.db, &["users", "revoke", "moi", "*"]);
    let none = server.get(
        "/api/search?q=cong+hoa",
        &[("Authorization", &token("moi"))],
    );
    assert!(none.text().contains("\"total\":0"), "{}", none.text());
}
