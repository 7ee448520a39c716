//! The one rule a drill never bends: it does not restore into live data. A scratch
//! directory that equals, contains, or is inside any live path is refused before
//! anything is written. Paths are compared component by component after lexical
//! normalisation (`.`, `..`, repeated and trailing slashes); the drill compares them
//! again after the host resolved symbolic links (`realpath -m`), so a link cannot
//! smuggle the scratch directory into live data either.

/// `path` as absolute components, `.` and `..` resolved lexically; `None` when it is
/// not absolute.
pub fn normalize(path: &str) -> Option<Vec<&str>> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(parts)
}

/// The normalised path as text (`/` for the root).
pub fn normalized(path: &str) -> Option<String> {
    normalize(path).map(|p| format!("/{}", p.join("/")))
}

/// How a scratch directory relates to a live path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Equal,
    /// The scratch directory contains the live path.
    Contains,
    /// The scratch directory is inside the live path.
    Inside,
}

impl Overlap {
    fn words(self) -> &'static str {
        match self {
            Overlap::Equal => "is",
            Overlap::Contains => "contains",
            Overlap::Inside => "is inside",
        }
    }
}

/// How `scratch` overlaps `live`, if at all. A relative path on either side counts as
/// overlapping (it cannot be placed, so it cannot be proved apart).
pub fn overlap(scratch: &str, live: &str) -> Option<Overlap> {
    let (Some(s), Some(l)) = (normalize(scratch), normalize(live)) else {
        return Some(Overlap::Equal);
    };
    if s == l {
        Some(Overlap::Equal)
    } else if l.starts_with(&s) {
        Some(Overlap::Contains)
    } else if s.starts_with(&l) {
        Some(Overlap::Inside)
    } else {
        None
    }
}

/// `Err` with the reason when `scratch` overlaps any of `live` (each a path and what it
/// is, e.g. "the app's live data").
pub fn check(scratch: &str, live: &[(String, String)]) -> Result<(), String> {
    if normalize(scratch).is_none() {
        return Err(format!(
            "the scratch directory {scratch:?} is not an absolute path"
        ));
    }
    for (path, what) in live {
        if let Some(o) = overlap(scratch, path) {
            return Err(format!(
                "refused: the scratch directory {scratch} {} {what} {path}; a drill never restores into or near live data",
                o.words()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_containing_and_inside_are_overlaps() {
        assert_eq!(overlap("/srv/app", "/srv/app"), Some(Overlap::Equal));
        assert_eq!(overlap("/srv/app/", "/srv//app"), Some(Overlap::Equal));
        assert_eq!(overlap("/srv/./app", "/srv/x/../app"), Some(Overlap::Equal));
        assert_eq!(overlap("/srv", "/srv/app"), Some(Overlap::Contains));
        assert_eq!(overlap("/", "/srv/app"), Some(Overlap::Contains));
        assert_eq!(overlap("/srv/app/tmp", "/srv/app"), Some(Overlap::Inside));
        assert_eq!(
            overlap("/srv/app/../app/scratch", "/srv/app"),
            Some(Overlap::Inside)
        );
        assert_eq!(overlap("relative", "/srv/app"), Some(Overlap::Equal));
    }

    #[test]
    fn siblings_and_prefixes_of_names_are_apart() {
        assert_eq!(overlap("/srv/app-scratch", "/srv/app"), None);
        assert_eq!(overlap("/srv/ap", "/srv/app"), None);
        assert_eq!(overlap("/var/tmp/fleetdeck-drills", "/srv/app"), None);
        assert_eq!(overlap("/srv/app/../other", "/srv/app"), None);
    }

    #[test]
    fn check_names_the_live_path() {
        let live = vec![
            (
                "/srv/app".to_owned(),
                "the repository's backed-up path".to_owned(),
            ),
            ("/var/lib/db".to_owned(), "the app's live data".to_owned()),
        ];
        assert_eq!(check("/var/tmp/drills", &live), Ok(()));
        let err = check("/var/lib/db/restore", &live).expect_err("inside");
        assert!(
            err.contains("is inside the app's live data /var/lib/db"),
            "{err}"
        );
        let err = check("/srv", &live).expect_err("contains");
        assert!(err.contains("contains"), "{err}");
        assert!(check("scratch", &live).is_err());
    }
}
