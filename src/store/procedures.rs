//! The procedure finder: the taxonomy's procedures in a search index of their own,
//! ranked with the archive's query language and question ranking (`sohoa procedures`,
//! `/api/procedures`). It holds names, codes and sectors only, never archive content:
//! the public page may use it.

use super::index::{IndexDoc, SearchIndex};
use super::{SearchSpec, StoreError};
use crate::classify::Taxonomy;
use crate::query::{Query, QueryError};

/// One procedure found, with why it ranked there when asked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProcedureHit {
    pub code: String,
    pub name: String,
    pub sector: String,
    pub sector_name: String,
    pub score: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<crate::search::Reason>,
}

/// What the finder answered, and whether it read the words as a question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProcedureAnswer {
    pub question: bool,
    pub procedures: Vec<ProcedureHit>,
}

#[derive(Debug, thiserror::Error)]
pub enum FinderError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Entry {
    code: String,
    name: String,
    sector: String,
    sector_name: String,
}

pub struct ProcedureFinder {
    index: SearchIndex,
    entries: Vec<Entry>,
    /// The index's directory, removed with the finder.
    _dir: tempfile::TempDir,
}

impl ProcedureFinder {
    /// Indexes every procedure of `taxonomy` (its name and its sector's name: a question
    /// may name the field rather than the procedure).
    pub fn new(taxonomy: &Taxonomy) -> Result<ProcedureFinder, StoreError> {
        let dir = tempfile::tempdir()?;
        let (index, _) = SearchIndex::open(dir.path())?;
        let writer = index
            .writer(1)?
            .ok_or_else(|| StoreError::Index("a new index is locked".into()))?;
        let mut entries = Vec::new();
        for sector in &taxonomy.sectors {
            let about = &sector.name;
            for procedure in &sector.procedures {
                let doc = IndexDoc {
                    id: entries.len() as i64,
                    text: format!("{}\n{about}", procedure.name),
                    sector: Some(sector.id.clone()),
                    procedure: Some(procedure.code.clone()),
                    ..IndexDoc::default()
                };
                index.add(&writer, &doc)?;
                entries.push(Entry {
                    code: procedure.code.clone(),
                    name: procedure.name.clone(),
                    sector: sector.id.clone(),
                    sector_name: sector.name.clone(),
                });
            }
        }
        index.commit(writer)?;
        index.refresh()?;
        Ok(ProcedureFinder {
            index,
            entries,
            _dir: dir,
        })
    }

    fn search(&self, spec: &SearchSpec) -> Result<super::SearchResults, StoreError> {
        let (total, hits, facets) = self.index.search(spec)?;
        Ok(super::SearchResults {
            total,
            hits,
            facets,
        })
    }

    /// The procedures that best answer `text` (a question or keywords), best first.
    pub fn find(
        &self,
        text: &str,
        limit: usize,
        explain: bool,
    ) -> Result<ProcedureAnswer, FinderError> {
        let query = Query::read(text)?;
        let spec = SearchSpec {
            query: Some(query),
            limit,
            explain,
            ..SearchSpec::default()
        };
        let (results, question) =
            crate::search::with_question_retry(&|spec| self.search(spec), spec)?;
        let procedures = results
            .hits
            .into_iter()
            .filter_map(|hit| {
                let e = self.entries.get(usize::try_from(hit.document_id).ok()?)?;
                Some(ProcedureHit {
                    code: e.code.clone(),
                    name: e.name.clone(),
                    sector: e.sector.clone(),
                    sector_name: e.sector_name.clone(),
                    score: hit.score,
                    why: hit
                        .why
                        .into_iter()
                        .map(|(part, score)| crate::search::Reason { part, score })
                        .collect(),
                })
            })
            .collect();
        Ok(ProcedureAnswer {
            question,
            procedures,
        })
    }
}
