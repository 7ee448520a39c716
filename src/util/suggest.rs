//! "Did you mean": the known name nearest to a misspelled one, for the messages about
//! unknown keys and names in the files a user writes (inventories, stacks, themes,
//! keymaps).

/// How near a known name must be to a misspelled one to be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nearness {
    /// Names copied from documentation and compared exactly (compose keys, inventory
    /// variables): at most this many edits, and fewer edits than the known name has
    /// characters (so a short name is not "near" everything).
    Edits(usize),
    /// Names typed from memory (theme roles and colours, keymap actions and keys):
    /// case is ignored, a truncation either way (`warn` for `warning`) counts as one
    /// edit, and about a third of the word may differ (at least two edits).
    Typed,
}

/// Levenshtein distance in characters: insertions, deletions and substitutions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate nearest to `word` under `nearness`, the first given on a tie; `None`
/// when none is near enough.
pub fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    nearness: Nearness,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    let typed_limit = (word.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = match nearness {
                Nearness::Edits(max) => {
                    let d = edit_distance(word, candidate);
                    (d <= max && d < candidate.chars().count()).then_some(d)
                }
                Nearness::Typed => {
                    let candidate_lower = candidate.to_ascii_lowercase();
                    let d = if candidate_lower.starts_with(&word_lower)
                        || word_lower.starts_with(&candidate_lower)
                    {
                        1
                    } else {
                        edit_distance(&word_lower, &candidate_lower)
                    };
                    (d <= typed_limit).then_some(d)
                }
            };
            distance.map(|d| (d, candidate))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// `` (did you mean `x`?)`` for the nearest candidate, or nothing: the end of a
/// message about an unknown name.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    nearness: Nearness,
) -> String {
    closest(word, candidates, nearness)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("même", "meme"), 1);
    }

    #[test]
    fn exact_names_allow_a_few_edits_but_never_the_whole_name() {
        let keys = ["image", "environment", "ports"];
        assert_eq!(
            did_you_mean("enviroment", keys, Nearness::Edits(2)),
            " (did you mean `environment`?)"
        );
        assert_eq!(did_you_mean("xyz", keys, Nearness::Edits(2)), "");
        assert_eq!(closest("ab", ["x"], Nearness::Edits(3)), None);
        assert_eq!(closest("Image", keys, Nearness::Edits(2)), Some("image"));
    }

    #[test]
    fn typed_names_ignore_case_and_accept_truncations() {
        let roles = ["ok", "warning", "critical"];
        assert_eq!(closest("warn", roles, Nearness::Typed), Some("warning"));
        assert_eq!(closest("CRITCAL", roles, Nearness::Typed), Some("critical"));
        assert_eq!(closest("zzzz", roles, Nearness::Typed), None);
    }

    #[test]
    fn a_tie_goes_to_the_first_candidate() {
        assert_eq!(
            closest("bat", ["cat", "bar"], Nearness::Edits(1)),
            Some("cat")
        );
    }
}
