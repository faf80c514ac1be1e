//! What a request carries once through the sign-in middleware (`Staff`) and the search
//! parameters every search route takes, for the pages and the JSON API alike.

use super::html::{Viewer, url};
use super::{AppState, HttpError};
use crate::filters::Filters;
use crate::search::SearchRequest;
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
    #[serde(flatten)]
    pub filters: Filters,
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
        let filters = self.filters.without_blanks();
        let mut request = SearchRequest::build(&self.q, &filters, &state.taxonomy)?.paged(
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
        self.q.trim().is_empty() && self.filters.without_blanks().is_empty()
    }

    /// This search's URL with `changes` applied (`None` removes a parameter).
    pub(super) fn link(&self, changes: &[(&str, Option<String>)]) -> String {
        let mut pairs: Vec<(&str, String)> = std::iter::once(("q", Some(&self.q)))
            .chain(self.filters.named().map(|(k, v)| (k, v.as_ref())))
            .chain(std::iter::once(("sort", self.sort.as_ref())))
            .filter_map(|(k, v)| Some((k, v?.clone())))
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

#[cfg(test)]
mod tests {
    use super::SearchParams;

    #[test]
    fn search_parameters_read_filters_and_paging_from_one_query_string() {
        let p: SearchParams =
            serde_urlencoded::from_str("q=dat+dai&sector=dat-dai&id=&limit=5&offset=10&sort=date")
                .unwrap();
        assert_eq!(p.q, "dat dai");
        assert_eq!(p.filters.sector.as_deref(), Some("dat-dai"));
        assert_eq!(p.filters.without_blanks().citizen_id, None);
        assert_eq!((p.limit, p.offset), (Some(5), Some(10)));
        assert_eq!(
            p.link(&[("offset", None)]),
            "/?q=dat%20dai&sector=dat-dai&sort=date"
        );
    }
}
