//! Units (departments, districts, communes): which one owns a document, and which
//! documents an account sees. No I/O: the store keeps units, this decides.

use crate::fields::Fields;
use crate::fold::fold_full;
use crate::store::accounts::Role;
use crate::store::{Scope, Unit};

/// The unit that owns a document, from its fields: a unit whose code or one of whose
/// issuer codes is the number's issuer code ("STNMT" in "1234/QĐ-STNMT") wins; else the
/// unit whose longest issuer name appears in the agency header. None when no unit
/// matches, or two match equally.
pub fn owner<'a>(units: &'a [Unit], fields: &Fields) -> Option<&'a Unit> {
    let key = |s: &str| {
        fold_full(s)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let Some(code) = fields.issuer_code.as_deref().map(key) {
        let by_code: Vec<&Unit> = units
            .iter()
            .filter(|u| key(&u.code) == code || u.issuers.iter().any(|i| key(i) == code))
            .collect();
        if by_code.len() == 1 {
            return Some(by_code[0]);
        }
    }
    // The agency header runs from the top line down ("UBND TỈNH NGHỆ AN / SỞ XÂY
    // DỰNG"): the lowest line names the unit that issued it, the ones above its parents.
    let agency = format!(" {} ", key(fields.agency.as_deref()?));
    let mut best: Option<(&Unit, (usize, usize))> = None;
    let mut tie = false;
    for unit in units {
        for issuer in &unit.issuers {
            let issuer = key(issuer);
            // Whole words only: "so xay dung" must not match inside "so xay dunga".
            let Some(at) = (!issuer.is_empty())
                .then(|| agency.rfind(&format!(" {issuer} ")))
                .flatten()
            else {
                continue;
            };
            let rank = (at + issuer.len(), issuer.len());
            match best {
                Some((b, r)) if rank == r && b.code != unit.code => tie = true,
                Some((_, r)) if rank <= r => {}
                _ => {
                    best = Some((unit, rank));
                    tie = false;
                }
            }
        }
    }
    if tie { None } else { best.map(|(u, _)| u) }
}

/// The documents an account sees: every one for an archive admin, for an account
/// granted `*`, and in an archive that has no units yet (one office, one unit); else
/// those of the units granted and of the units below them.
pub fn scope_for(role: Role, granted: &[String], units: &[Unit]) -> Scope {
    if role == Role::ArchiveAdmin || units.is_empty() || granted.iter().any(|g| g == "*") {
        return Scope::All;
    }
    let mut seen: Vec<String> = granted.to_vec();
    let mut i = 0;
    while i < seen.len() {
        let parent = seen[i].clone();
        for child in units
            .iter()
            .filter(|u| u.parent.as_deref() == Some(&parent))
        {
            if !seen.contains(&child.code) {
                seen.push(child.code.clone());
            }
        }
        i += 1;
    }
    seen.sort();
    Scope::Units(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, parent: Option<&str>, issuers: &[&str]) -> Unit {
        Unit {
            code: code.into(),
            name: code.into(),
            parent: parent.map(Into::into),
            issuers: issuers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn units() -> Vec<Unit> {
        vec![
            unit("UBND-TINH", None, &["UBND TỈNH NGHỆ AN"]),
            unit("STNMT", Some("UBND-TINH"), &["Sở Tài nguyên và Môi trường"]),
            unit("SXD", Some("UBND-TINH"), &["SỞ XÂY DỰNG"]),
            unit("HUYEN-ND", None, &["UBND HUYỆN NAM ĐÀN"]),
            unit("XA-NG", Some("HUYEN-ND"), &["UBND XÃ NAM GIANG", "UBND-TP"]),
        ]
    }

    /// The owner found for a document with this issuer code and agency header.
    fn check(issuer_code: Option<&str>, agency: Option<&str>, expect: Option<&str>) {
        let units = units();
        let fields = Fields {
            issuer_code: issuer_code.map(Into::into),
            agency: agency.map(Into::into),
            ..Fields::default()
        };
        assert_eq!(
            owner(&units, &fields).map(|u| u.code.as_str()),
            expect,
            "{issuer_code:?} {agency:?}"
        );
    }

    #[test]
    fn the_issuer_names_the_owner() {
        check(Some("STNMT"), None, Some("STNMT"));
        check(Some("stnmt"), Some("UBND TỈNH NGHỆ AN"), Some("STNMT"));
        check(Some("UBND-TP"), None, Some("XA-NG"));
        // The most specific header line wins over the province above it.
        check(None, Some("UBND TINH NGHE AN / SO XAY DUNG"), Some("SXD"));
        check(
            None,
            Some("UBND HUYEN NAM DAN / UBND XA NAM GIANG"),
            Some("XA-NG"),
        );
        check(Some("XYZ"), Some("UBND TỈNH NGHỆ AN"), Some("UBND-TINH"));
        check(None, Some("CÔNG TY TNHH ABC"), None);
        check(None, None, None);
        // Part of a word is not a match.
        check(None, Some("SO XAY DUNGA"), None);
    }

    #[test]
    fn accounts_see_their_units_and_those_below() {
        let units = units();
        let granted = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scope_for(Role::Clerk, &granted(&["HUYEN-ND"]), &units),
            Scope::Units(vec!["HUYEN-ND".into(), "XA-NG".into()])
        );
        assert_eq!(
            scope_for(Role::Viewer, &granted(&["SXD"]), &units),
            Scope::Units(vec!["SXD".into()])
        );
        assert_eq!(scope_for(Role::Clerk, &[], &units), Scope::Units(vec![]));
        assert_eq!(scope_for(Role::ArchiveAdmin, &[], &units), Scope::All);
        assert_eq!(
            scope_for(Role::Viewer, &granted(&["*"]), &units),
            Scope::All
        );
        assert_eq!(
            scope_for(Role::Viewer, &[], &[]),
            Scope::All,
            "no units yet"
        );
    }
}
