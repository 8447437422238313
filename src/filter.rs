//! The `--filter` values the prunes take (`container`, `image`, `network`, `volume` and
//! `system prune`), as Podman's prunes take them: `until=TIMESTAMP|DURATION`, `label=KEY[=VALUE]`
//! and `label!=KEY[=VALUE]`. They are parsed here once, into [`PruneFilters`], and each prune asks
//! it of everything it would remove. A filter only ever narrows a prune: what cannot be shown to
//! match (a creation time that does not parse, an image config that cannot be read) is kept.
//! Also the wildcard matching of paths that builds and `--security-opt unmask=` share.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// The parsed filters of one prune. Every filter must match for a thing to be removed, as in
/// Podman (which ANDs its filter functions).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneFilters {
    /// `until=`: only what was created before this time.
    until: Option<jiff::Timestamp>,
    /// `label=`: only what has every one of these labels.
    labels: Vec<LabelFilter>,
    /// `label!=`: only what has none of these labels (Podman's `MatchNegatedLabelFilters`).
    without_labels: Vec<LabelFilter>,
}

impl PruneFilters {
    /// Parses `--filter` values; `command` ("container prune", …) names the command in errors.
    /// As Podman: one `until=` at most ("specify exactly one timestamp for until"), any number
    /// of `label=` and `label!=`; any other key is an error, so nothing is removed that the
    /// filter was meant to keep.
    pub fn parse(filters: &[String], command: &str) -> Result<Self> {
        let mut parsed = PruneFilters::default();
        for filter in filters {
            let Some((key, value)) = filter.split_once('=') else {
                bail!("invalid filter {filter:?}: expected KEY=VALUE");
            };
            match key {
                "until" if parsed.until.is_some() => {
                    bail!("invalid filter {filter:?}: specify exactly one timestamp for until")
                }
                "until" => parsed.until = Some(parse_until(value)?),
                "label" => parsed.labels.push(LabelFilter::parse(value)?),
                "label!" => parsed.without_labels.push(LabelFilter::parse(value)?),
                _ => bail!(
                    "invalid filter {filter:?}: {command} filters by until=, label= and label!="
                ),
            }
        }
        Ok(parsed)
    }

    /// No filter given: everything the prune finds unused goes.
    pub fn is_empty(&self) -> bool {
        *self == PruneFilters::default()
    }

    /// Whether a thing created at `created` (an RFC 3339 time, as skiff's records and image
    /// configs keep it) with `labels` is one the filters let the prune remove.
    pub fn matches(&self, created: Option<&str>, labels: &BTreeMap<String, String>) -> bool {
        self.matches_created(created)
            && self.labels.iter().all(|l| l.matches(labels))
            && !self.without_labels.iter().any(|l| l.matches(labels))
    }

    /// `until=`: created before the time. Without a creation time that parses, a thing cannot
    /// be shown to be old enough and is kept (Podman would take a missing time as the zero time
    /// and remove it; skiff's records always carry one, so only a damaged record differs).
    fn matches_created(&self, created: Option<&str>) -> bool {
        match self.until {
            None => true,
            Some(until) => created
                .and_then(crate::clock::parse_timestamp)
                .is_some_and(|created| created < until),
        }
    }
}

/// `KEY` or `KEY=VALUE` of a `label=` or `label!=` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFilter {
    key: String,
    /// None: any value. As in Podman, `KEY=` (an empty value) also matches any value.
    value: Option<String>,
}

impl LabelFilter {
    /// Parses what follows `label=` or `label!=`.
    pub fn parse(text: &str) -> Result<Self> {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value).filter(|v| !v.is_empty())),
            None => (text, None),
        };
        if key.is_empty() {
            bail!("invalid label filter {text:?}: expected KEY or KEY=VALUE");
        }
        Ok(LabelFilter {
            key: key.to_string(),
            value: value.map(str::to_string),
        })
    }

    /// Whether `labels` has the key (with the value, when the filter gives one).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        labels
            .get(&self.key)
            .is_some_and(|v| self.value.as_ref().is_none_or(|wanted| wanted == v))
    }
}

/// `until=`'s value: a point in time as [`crate::clock::point_in_time`] reads it.
pub fn parse_until(value: &str) -> Result<jiff::Timestamp> {
    crate::clock::point_in_time(value).map_err(|e| anyhow::anyhow!("invalid until={value}: {e}"))
}

/// Whether `name` matches `pattern` (`*`, `?`, and `[…]` classes, as Go's filepath.Match).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|skip| go(&p[1..], &n[skip..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|c| *c == ']') else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let class = &p[1..close];
                let (negated, class) = match class.first() {
                    Some('^' | '!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negated && go(&p[close + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_as_go_matches_them() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(!wildcard_match("*.txt", "a.txt.bak"));
        assert!(wildcard_match("file?", "file1"));
        assert!(wildcard_match("[a-c]x", "bx"));
        assert!(!wildcard_match("[^a-c]x", "bx"));
        assert!(wildcard_match("*", ""));
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(filters: &[&str]) -> Result<PruneFilters> {
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        PruneFilters::parse(&filters, "container prune")
    }

    #[test]
    fn until_takes_rfc_3339_unix_times_and_durations() {
        let time = parse_until("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(time.as_second(), 1_714_564_800);
        assert_eq!(parse_until("1714564800").unwrap(), time);
        let fraction = parse_until("1714564800.5").unwrap();
        assert_eq!(fraction.as_millisecond(), 1_714_564_800_500);
        let hour_ago = parse_until("1h").unwrap();
        let expected = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        assert!(expected.duration_since(hour_ago).abs() < jiff::SignedDuration::from_secs(5));
        for bad in ["", "5y", "yesterday", "1.2.3", ".5"] {
            let err = parse_until(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid until={bad}")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn until_keeps_what_is_newer_or_has_no_readable_time() {
        let filters = parse(&["until=2024-05-01T12:00:00Z"]).unwrap();
        let none = BTreeMap::new();
        assert!(filters.matches(Some("2024-05-01T11:59:59Z"), &none));
        assert!(!filters.matches(Some("2024-05-01T12:00:00Z"), &none));
        assert!(!filters.matches(Some("2024-05-02T00:00:00Z"), &none));
        assert!(!filters.matches(Some("not a time"), &none));
        assert!(!filters.matches(None, &none));
        // Without until= the time does not matter.
        assert!(PruneFilters::default().matches(None, &none));
    }

    #[test]
    fn labels_match_as_podman_matches_them() {
        let have = labels(&[("team", "a"), ("tier", "")]);
        let matches = |filters: &[&str]| parse(filters).unwrap().matches(None, &have);
        assert!(matches(&["label=team"]));
        assert!(matches(&["label=team=a"]));
        assert!(
            matches(&["label=team="]),
            "an empty value matches any value"
        );
        assert!(matches(&["label=tier"]));
        assert!(!matches(&["label=team=b"]));
        assert!(!matches(&["label=owner"]));
        // Every label= must match…
        assert!(matches(&["label=team=a", "label=tier"]));
        assert!(!matches(&["label=team=a", "label=owner"]));
        // …and no label!= may.
        assert!(matches(&["label!=owner"]));
        assert!(matches(&["label!=team=b"]));
        assert!(!matches(&["label!=team"]));
        assert!(!matches(&["label!=owner", "label!=team=a"]));
        assert!(!matches(&["label=team", "label!=tier"]));
    }

    #[test]
    fn unknown_keys_and_malformed_filters_are_errors_naming_the_command() {
        let err = parse(&["dangling=true"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid filter \"dangling=true\": container prune filters by until=, label= and label!="
        );
        let err = parse(&["until"]).unwrap_err().to_string();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
        let err = parse(&["label="]).unwrap_err().to_string();
        assert!(err.contains("expected KEY or KEY=VALUE"), "{err}");
        let err = parse(&["until=1h", "until=2h"]).unwrap_err().to_string();
        assert!(err.contains("exactly one timestamp"), "{err}");
        assert!(parse(&[]).unwrap().is_empty());
        assert!(!parse(&["label=a"]).unwrap().is_empty());
    }
}
