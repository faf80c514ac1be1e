//! What a request carries once through the sign-in middleware (`Staff`) and the search
//! parameters every search route takes, for the pages and the JSON API alike.

use super::html::{Viewer, url};
use super::{AppState, HttpError};
use crate::search::{FilterInput, SearchRequest};
use crate::store::accounts::User;
use crate::store::{Scope, SortOrder};
use serde::Deserialize;

/// The signed-in user of a request. `csrf` is the session's token; `None` for API
/// tokens, which a browser never sends on its own.
#[derive(Clone)]
pub struct Staff {
    pub user: User,
    pub csrf: Option<String>,
    /// The documents this account sees (its units'), decided at sign-in of each request.
    pub scope: Scope,
}

impl Staff {
    pub(super) fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.user.name,
            admin: self.user.role.may_read_audit(),
            csrf: self.csrf.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub sector: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    pub procedure: Option<String>,
    pub number: Option<String>,
    pub agency: Option<String>,
    pub id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl SearchParams {
    /// The request these parameters ask for; blank form fields mean "no filter".
    pub fn request(
        &self,
        state: &AppState,
        default_limit: usize,
    ) -> Result<SearchRequest, HttpError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let input = FilterInput {
            sector: given(&self.sector),
            procedure: given(&self.procedure),
            doc_type: given(&self.doc_type),
            number: given(&self.number),
            agency: given(&self.agency),
            citizen_id: given(&self.id),
            from: given(&self.from),
            to: given(&self.to),
            needs_review: false,
        };
        let mut request = SearchRequest::build(&self.q, &input, &state.taxonomy)?.paged(
            self.limit.unwrap_or(default_limit),
            self.offset.unwrap_or(0),
        )?;
        request.sort = match self.sort.as_deref() {
            None | Some("") | Some("relevance") => SortOrder::Relevance,
            Some("date") => SortOrder::Date,
            Some(other) => {
                return Err(HttpError::bad_request(format!(
                    "sort must be relevance or date, not {other:?}"
                )));
            }
        };
        Ok(request)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.q.trim().is_empty()
            && [
                &self.sector,
                &self.doc_type,
                &self.procedure,
                &self.number,
                &self.agency,
                &self.id,
                &self.from,
                &self.to,
            ]
            .iter()
            .all(|v| v.as_deref().is_none_or(|v| v.trim().is_empty()))
    }

    /// This search's URL with `changes` applied (`None` removes a parameter).
    pub(super) fn link(&self, changes: &[(&str, Option<String>)]) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("q", Some(self.q.clone())),
            ("sector", self.sector.clone()),
            ("type", self.doc_type.clone()),
            ("procedure", self.procedure.clone()),
            ("number", self.number.clone()),
            ("agency", self.agency.clone()),
            ("id", self.id.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("sort", self.sort.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if let Some(v) = value {
                pairs.push((key, v.clone()));
            }
        }
        let query: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", url(&v)))
            .collect();
        format!("/?{}", query.join("&"))
    }
}
