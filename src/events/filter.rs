//! `events --filter`, `--since` and `--until`, as Podman applies them: filters under the same
//! key match when any of them does, and every key must match. Keys are `container=`,
//! `event=` (or `status=`), `image=`, `label=`, `network=`, `pod=`, `type=`, `volume=`, and
//! `since=`/`until=` (the same as the flags); a key is read in any case.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::{Event, Type};
use crate::filter::LabelFilter;

/// Podman's event types. skiff records no pod, secret, machine or artifact events, but takes
/// the names so that a script filtering on them gets no events rather than an error.
const TYPES: &[&str] = &[
    "artifact",
    "container",
    "image",
    "machine",
    "network",
    "pod",
    "secret",
    "system",
    "volume",
];

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// container=, image=, volume=: an event of that type whose name is the value or whose
    /// id starts with it.
    Object(Type, String),
    /// network=: a network event whose network name is the value or whose id starts with it.
    Network(String),
    /// pod=: skiff has no pods, so nothing matches.
    Pod,
    Status(String),
    Type(String),
    Label(LabelFilter),
    /// Strictly after the time, as Podman's `Time.After`.
    Since(jiff::Timestamp),
    /// Strictly before the time.
    Until(jiff::Timestamp),
}

impl Filter {
    fn matches(&self, event: &Event) -> bool {
        let named =
            |value: &str| event.name == value || (!value.is_empty() && event.id.starts_with(value));
        match self {
            Filter::Object(kind, value) => event.kind == *kind && named(value),
            Filter::Network(value) => {
                event.kind == Type::Network
                    && (event.network == value.as_str()
                        || (!value.is_empty() && event.id.starts_with(value.as_str())))
            }
            Filter::Pod => false,
            Filter::Status(status) => event.status == *status,
            Filter::Type(kind) => event.kind.as_str() == kind,
            Filter::Label(label) => event.attributes.as_ref().is_some_and(|a| label.matches(a)),
            Filter::Since(time) => event.time > *time,
            Filter::Until(time) => event.time < *time,
        }
    }
}

/// Parsed filters; the default matches every event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilters {
    groups: BTreeMap<String, Vec<Filter>>,
}

impl EventFilters {
    /// Reads `--filter` values and the `--since`/`--until` flags.
    pub fn parse(filters: &[String], since: Option<&str>, until: Option<&str>) -> Result<Self> {
        let mut parsed = EventFilters::default();
        for text in filters {
            let Some((key, value)) = text.split_once('=') else {
                bail!("failed to parse event filters: {text} is an invalid filter");
            };
            let filter = match key.to_ascii_lowercase().as_str() {
                "container" => Filter::Object(Type::Container, value.into()),
                "image" => Filter::Object(Type::Image, value.into()),
                "volume" => Filter::Object(Type::Volume, value.into()),
                "network" => Filter::Network(value.into()),
                "pod" => Filter::Pod,
                // Docker's name for a container's death.
                "event" | "status" if value == "die" => Filter::Status("died".into()),
                "event" | "status" => Filter::Status(value.into()),
                "type" if TYPES.contains(&value) => Filter::Type(value.into()),
                "type" => bail!("failed to parse event filters: unknown event type {value:?}"),
                "label" => Filter::Label(LabelFilter::parse(value)?),
                "since" => Filter::Since(point(value, "since")?),
                "until" => Filter::Until(point(value, "until")?),
                _ => bail!("failed to parse event filters: {key} is an invalid filter"),
            };
            parsed.add(key, filter);
        }
        if let Some(since) = since {
            parsed.add("since", Filter::Since(point(since, "since")?));
        }
        if let Some(until) = until {
            parsed.add("until", Filter::Until(point(until, "until")?));
        }
        Ok(parsed)
    }

    fn add(&mut self, key: &str, filter: Filter) {
        self.groups
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(filter);
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.groups
            .values()
            .all(|group| group.iter().any(|f| f.matches(event)))
    }

    /// The earliest `until` given: a follower stops there.
    pub fn until(&self) -> Option<jiff::Timestamp> {
        self.groups
            .get("until")?
            .iter()
            .filter_map(|f| match f {
                Filter::Until(time) => Some(*time),
                _ => None,
            })
            .min()
    }

    /// Whether `since` or `until` was given: then the log is read from its start, as
    /// Podman's `FromStart`.
    pub fn from_start(&self) -> bool {
        self.groups.contains_key("since") || self.groups.contains_key("until")
    }
}

fn point(value: &str, what: &str) -> Result<jiff::Timestamp> {
    crate::clock::point_in_time(value)
        .map_err(|e| anyhow::anyhow!("unable to convert {what} time of {value}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Status;

    fn filters(values: &[&str]) -> EventFilters {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        EventFilters::parse(&values, None, None).unwrap()
    }

    fn container(name: &str, id: &str, status: Status) -> Event {
        Event {
            id: id.into(),
            name: name.into(),
            image: "localhost/img:1".into(),
            attributes: Some(BTreeMap::from([("team".into(), "a".into())])),
            kind: Type::Container,
            ..Event::volume(status, "")
        }
    }

    #[test]
    fn same_keys_are_alternatives_and_different_keys_all_apply() {
        let foo = container("foo", "aaaa1111", Status::Start);
        let bar = container("bar", "bbbb2222", Status::Start);
        let foo_died = container("foo", "aaaa1111", Status::Died);
        let either = filters(&["container=foo", "container=bar", "event=start"]);
        assert!(either.matches(&foo));
        assert!(either.matches(&bar));
        assert!(!either.matches(&foo_died));
        assert!(filters(&["container=aaaa"]).matches(&foo));
        assert!(!filters(&["container=aaaa"]).matches(&bar));
        assert!(filters(&["EVENT=die"]).matches(&foo_died));
        assert!(filters(&["label=team=a", "type=container"]).matches(&foo));
        assert!(!filters(&["label=team=b"]).matches(&foo));
        assert!(!filters(&["pod=foo"]).matches(&foo));
        // container= never matches another type's event of the same name.
        let volume = Event::volume(Status::Create, "foo");
        assert!(!filters(&["container=foo"]).matches(&volume));
        assert!(filters(&["volume=foo"]).matches(&volume));
        assert!(EventFilters::default().matches(&volume));
    }

    #[test]
    fn networks_match_by_name_or_id() {
        let link = Event::network_link(Status::Connect, "cid", "front");
        assert!(filters(&["network=front"]).matches(&link));
        assert!(filters(&["network=ci"]).matches(&link));
        assert!(!filters(&["network=back"]).matches(&link));
    }

    #[test]
    fn times_bound_strictly() {
        let mut event = Event::volume(Status::Create, "v");
        event.time = "2024-05-01T10:00:00Z".parse().unwrap();
        let at = |since: Option<&str>, until: Option<&str>| {
            EventFilters::parse(&[], since, until)
                .unwrap()
                .matches(&event)
        };
        assert!(at(Some("2024-05-01T09:59:59Z"), None));
        assert!(!at(Some("2024-05-01T10:00:00Z"), None));
        assert!(at(None, Some("1714557601")));
        assert!(!at(None, Some("2024-05-01T10:00:00Z")));
        let parsed = EventFilters::parse(&["until=2024-05-01T10:00:00Z".into()], None, None);
        assert!(parsed.as_ref().unwrap().from_start());
        assert_eq!(parsed.unwrap().until(), Some(event.time));
    }

    #[test]
    fn bad_filters_are_errors() {
        let parse = |v: &str| EventFilters::parse(&[v.to_string()], None, None);
        assert_eq!(
            parse("colour=red").unwrap_err().to_string(),
            "failed to parse event filters: colour is an invalid filter"
        );
        assert!(parse("container").is_err());
        assert!(parse("type=bogus").is_err());
        assert!(parse("type=pod").is_ok());
        assert!(parse("since=yesterday").is_err());
    }
}
