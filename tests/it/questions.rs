//! Questions in plain words (samples/questions/questions.jsonl, made by
//! scripts/questions.py from the taxonomy's procedures): asked of an archive holding one
//! document per procedure, and of the procedure finder. Prints recall@10 and MRR for
//! the questions used in tuning and for the held-out third (phrased with templates
//! tuning never saw), against the words joined with OR; no question is an error.
//! `QUESTION_MISSES=1` prints the tuning misses with why the wrong answer won.

use crate::support::{page, repo_path};
use sohoa::classify::Taxonomy;
use sohoa::search::{self, SearchRequest};
use sohoa::store::NewDocument;
use sohoa::store::procedures::ProcedureFinder;

struct Asked {
    held_out: bool,
    template: u64,
    /// Rank (1-based) of the first answer in the top ten.
    rank: Option<usize>,
}

fn questions() -> Vec<serde_json::Value> {
    std::fs::read_to_string(repo_path("samples/questions/questions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Recall@10 and MRR of `asked` (held out or not), printed under `label`.
fn score(label: &str, asked: &[Asked], held_out: bool) -> (f64, f64) {
    let part: Vec<&Asked> = asked.iter().filter(|a| a.held_out == held_out).collect();
    let n = part.len() as f64;
    let recall = part.iter().filter(|a| a.rank.is_some()).count() as f64 / n;
    let mrr = part
        .iter()
        .map(|a| a.rank.map_or(0.0, |r| 1.0 / r as f64))
        .sum::<f64>()
        / n;
    eprintln!(
        "{label}, {} ({} questions): recall@10 {recall:.3}, MRR {mrr:.3}",
        if held_out { "held out" } else { "tuning" },
        part.len()
    );
    let mut templates: Vec<u64> = part.iter().map(|a| a.template).collect();
    templates.sort_unstable();
    templates.dedup();
    for t in templates {
        let of: Vec<&&Asked> = part.iter().filter(|a| a.template == t).collect();
        let found = of.iter().filter(|a| a.rank.is_some()).count();
        eprintln!("    template {t}: {found}/{}", of.len());
    }
    (recall, mrr)
}

fn taxonomy_name(taxonomy: &Taxonomy, code: &str) -> String {
    taxonomy
        .sectors
        .iter()
        .flat_map(|s| &s.procedures)
        .find(|p| p.code == code)
        .map_or_else(String::new, |p| p.name.clone())
}

fn rank_of(top: &[String], answers: &[String]) -> Option<usize> {
    top.iter().position(|c| answers.contains(c)).map(|i| i + 1)
}

#[test]
fn questions_find_their_procedures_in_the_archive_and_the_finder() {
    let taxonomy = Taxonomy::builtin();
    let dir = tempfile::tempdir().unwrap();
    let mut store = sohoa::store::open(&dir.path().join("q.db")).unwrap();
    let run = store.begin_run("questions").unwrap();
    // One born-digital document per procedure, named by its code.
    let docs: Vec<NewDocument> = taxonomy
        .sectors
        .iter()
        .flat_map(|s| s.procedures.iter().map(move |p| (s, p)))
        .map(|(sector, procedure)| {
            let mut doc = NewDocument::at(procedure.code.clone());
            let text = format!(
                "THỦ TỤC HÀNH CHÍNH\n{}\nLĩnh vực: {}",
                procedure.name, sector.name
            );
            doc.pages.push(page(1, &text));
            doc
        })
        .collect();
    store.put_documents(run, &docs).unwrap();
    store.flush_index().unwrap();
    let finder = ProcedureFinder::new(&taxonomy).unwrap();

    let (mut in_archive, mut in_finder, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    // The baseline the issue measured: the question's words joined with OR (before,
    // the question as written found nothing: every word was required).
    let mut joined_with_or = Vec::new();
    let mut all_required = Vec::new();
    let mut misses = Vec::new();
    for q in questions() {
        let text = q["question"].as_str().unwrap();
        let answers: Vec<String> = q["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let (held_out, template) = (
            q["held_out"].as_bool().unwrap(),
            q["template"].as_u64().unwrap(),
        );
        match SearchRequest::parse(text).and_then(|r| r.paged(10, 0)) {
            Ok(request) => {
                let response = search::run(&*store, &request).unwrap();
                let top: Vec<String> = response.hits.iter().map(|h| h.path.clone()).collect();
                in_archive.push(Asked {
                    held_out,
                    template,
                    rank: rank_of(&top, &answers),
                });
            }
            Err(e) => errors.push(format!("{text:?}: {e}")),
        }
        // Before: every word required, no question (a malformed query was an error).
        let strict = sohoa::query::Query::parse(text).ok().map(|query| {
            let spec = sohoa::store::SearchSpec {
                query: Some(query),
                limit: 10,
                ..Default::default()
            };
            let found = store.search(&spec).unwrap().hits;
            let ids: Vec<i64> = found.iter().map(|h| h.document_id).collect();
            store
                .hit_documents(&ids)
                .unwrap()
                .into_iter()
                .map(|d| d.path)
                .collect::<Vec<String>>()
        });
        all_required.push(Asked {
            held_out,
            template,
            rank: strict.and_then(|top| rank_of(&top, &answers)),
        });
        let words: Vec<String> = sohoa::query::searchable_words(text).collect();
        let or = words[..words.len().min(sohoa::query::MAX_QUERY_TERMS / 2)].join(" OR ");
        let request = SearchRequest::parse(&or).unwrap().paged(10, 0).unwrap();
        let top: Vec<String> = search::run(&*store, &request)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.path.clone())
            .collect();
        joined_with_or.push(Asked {
            held_out,
            template,
            rank: rank_of(&top, &answers),
        });
        match finder.find(text, 10, true) {
            Ok(found) => {
                let top: Vec<String> = found.procedures.iter().map(|p| p.code.clone()).collect();
                if !held_out
                    && rank_of(&top, &answers).is_none()
                    && std::env::var("QUESTION_MISSES").is_ok()
                {
                    let best = found.procedures.first();
                    misses.push(format!(
                        "{text:?}\n      wanted {:?}\n      got {:?}",
                        taxonomy_name(&taxonomy, &answers[0]),
                        best.map(|p| (&p.name, &p.why))
                    ));
                }
                in_finder.push(Asked {
                    held_out,
                    template,
                    rank: rank_of(&top, &answers),
                });
            }
            Err(e) => errors.push(format!("finder {text:?}: {e}")),
        }
    }
    assert!(errors.is_empty(), "questions refused: {errors:#?}");
    for m in &misses {
        eprintln!("  finder miss (tuning): {m}");
    }
    score("every word required (before)", &all_required, false);
    score("every word required (before)", &all_required, true);
    score("words joined with OR", &joined_with_or, false);
    let (or_recall, or_mrr) = score("words joined with OR", &joined_with_or, true);
    let tuning = [
        score("archive", &in_archive, false),
        score("finder", &in_finder, false),
    ];
    let held_out = [
        score("archive", &in_archive, true),
        score("finder", &in_finder, true),
    ];
    // Floors at what is reached today (issue 21's targets, 0.90 / 0.75 on the held-out
    // third, are not met yet: see the README), so that no change goes back below them;
    // and questions must do better than their words joined with OR.
    for (recall, mrr) in tuning {
        assert!(
            recall >= 0.82 && mrr >= 0.75,
            "tuning: {recall:.3} / {mrr:.3}"
        );
    }
    for (recall, mrr) in held_out {
        assert!(
            recall >= 0.75 && mrr >= 0.70,
            "held out: {recall:.3} / {mrr:.3}"
        );
        assert!(
            recall > or_recall && mrr > or_mrr,
            "held out: {recall:.3} / {mrr:.3}, joined with OR {or_recall:.3} / {or_mrr:.3}"
        );
    }
}
