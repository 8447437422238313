//! `skiff events`: the events log, printed as Podman prints it: one line per event in the
//! file backend's human form, one JSON object per line with `--format json`, or a Go template.

use std::io::Write as _;
use std::os::fd::AsFd as _;

use clap::Args;
use serde_json::{json, Map, Value};

use super::format::{self, OutputFormat};
use super::Outcome;
use crate::context::Context;
use crate::events::{filter::EventFilters, Event, Type};

/// Show events: what skiff commands did to containers, images, volumes and networks.
///
/// By default new events are printed as they happen; with --since or --until earlier ones are
/// printed first, and with --stream=false the command prints what is logged and exits.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show only matching events: container=NAME|ID, event=STATUS, image=NAME|ID, label=KEY=VALUE,
    /// network=NAME|ID, pod=NAME|ID (skiff has no pods: nothing matches), type=TYPE,
    /// volume=NAME, since=TIME, until=TIME. Repeatable: filters with the same key are
    /// alternatives, different keys must all match.
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
    /// Print each event with a Go template, or as JSON lines with "json".
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Show events after this time (RFC 3339, a Unix time, or a duration such as 10m before now).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Show events before this time, and stop following there (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Keep printing new events (default true); --stream=false prints the logged ones and exits.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    stream: bool,
    /// Print full IDs (default true); --no-trunc=false shortens them to 12 characters.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    no_trunc: bool,
}

impl EventsArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let filters =
            EventFilters::parse(&self.filter, self.since.as_deref(), self.until.as_deref())?;
        let format = self.format.as_deref().map(format::parse_format);
        if let Some(OutputFormat::Template { text, .. }) = &format {
            // A bad template is an error before any event is read.
            format::render_each(text, &[])?;
        }
        let stdout = std::io::stdout();
        let mut heading = true;
        let mut print = |batch: &[Event]| -> std::io::Result<()> {
            let text = render(batch, format.as_ref(), !self.no_trunc, heading)
                .map_err(std::io::Error::other)?;
            heading = false;
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        };
        ctx.watch_events(&filters, self.stream, std::io::stdout().as_fd(), &mut print)?;
        Ok(0)
    }
}

/// The text of a batch of events; `heading`: a table template's header row goes first.
fn render(
    batch: &[Event],
    format: Option<&OutputFormat>,
    truncate: bool,
    heading: bool,
) -> anyhow::Result<String> {
    match format {
        None | Some(OutputFormat::Table) => Ok(batch
            .iter()
            .map(|e| human_line(e, truncate) + "\n")
            .collect()),
        Some(OutputFormat::Json) => batch
            .iter()
            .map(|e| format::render_json_styled(&json_report(e), format::JsonStyle::Compact))
            .collect(),
        Some(OutputFormat::Template { text, table }) => {
            let items: Vec<Value> = batch.iter().map(template_fields).collect();
            if *table {
                format::render_table_template_with(text, &items, &[], heading)
            } else {
                format::render_each(text, &items)
            }
        }
    }
}

/// Podman's `ToHumanReadable`: time, type, status, then what the event is about, by type.
pub fn human_line(event: &Event, truncate: bool) -> String {
    let time = super::human::format_created_at(event.time);
    let head = format!("{time} {} {}", event.kind.as_str(), event.status);
    let id = if truncate {
        &event.id[..event.id.len().min(12)]
    } else {
        event.id.as_str()
    };
    let attributes = event.attributes.as_ref();
    match event.kind {
        Type::Container => {
            let mut line = format!("{head} {id} (image={}, name={}", event.image, event.name);
            for (key, value) in attributes.into_iter().flatten() {
                line.push_str(&format!(", {key}={value}"));
            }
            line + ")"
        }
        Type::Network => match attributes.and_then(|a| a.get("driver")) {
            Some(driver) => format!(
                "{head} {} (name={}, type={driver})",
                event.id, event.network
            ),
            None => format!("{head} {id} (container={id}, name={})", event.network),
        },
        Type::Image => {
            let line = format!("{head} {id} {}", event.name);
            if event.error.is_empty() {
                line
            } else {
                format!("{line} {}", event.error)
            }
        }
        Type::System if event.name.is_empty() => head,
        Type::System | Type::Volume => format!("{head} {}", event.name),
    }
}

/// `--format json`: the event as Podman's events command marshals it, with `time` in Unix
/// seconds and `timeNano` in nanoseconds, empty fields left out and `Attributes` kept.
fn json_report(event: &Event) -> Value {
    let mut map = Map::new();
    if let Some(code) = event.exit_code {
        map.insert("ContainerExitCode".into(), json!(code));
    }
    for (key, value) in [
        ("ID", &event.id),
        ("Image", &event.image),
        ("Name", &event.name),
        ("network", &event.network),
    ] {
        if !value.is_empty() {
            map.insert(key.into(), json!(value));
        }
    }
    map.insert("Status".into(), json!(event.status));
    map.insert("time".into(), json!(event.time.as_second()));
    map.insert("timeNano".into(), json!(time_nano(event)));
    map.insert("Type".into(), json!(event.kind.as_str()));
    if !event.error.is_empty() {
        map.insert("Error".into(), json!(event.error));
    }
    map.insert("Attributes".into(), attributes_value(event));
    Value::Object(map)
}

fn time_nano(event: &Event) -> i64 {
    i64::try_from(event.time.as_nanosecond()).unwrap_or(i64::MAX)
}

fn attributes_value(event: &Event) -> Value {
    event.attributes.as_ref().map_or(Value::Null, |a| json!(a))
}

/// A template's fields: the Go field names of Podman's events report.
fn template_fields(event: &Event) -> Value {
    json!({
        "ContainerExitCode": event.exit_code,
        "ID": event.id,
        "Image": event.image,
        "Name": event.name,
        "Network": event.network,
        "Status": event.status,
        "Time": event.time.as_second(),
        "TimeNano": time_nano(event),
        "Type": event.kind.as_str(),
        "HealthStatus": "",
        "Error": event.error,
        "Attributes": attributes_value(event),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Status;
    use std::collections::BTreeMap;

    fn at(mut event: Event, time: &str) -> Event {
        event.time = time.parse().unwrap();
        event
    }

    fn container() -> Event {
        at(
            Event {
                id: "6261b677cac5e65986dec9f7b2e3bed9".into(),
                image: "localhost/bb:1".into(),
                name: "c1".into(),
                kind: Type::Container,
                attributes: Some(BTreeMap::from([("foo".into(), "bar".into())])),
                ..Event::volume(Status::Create, "")
            },
            "2024-05-01T10:00:00.12345Z",
        )
    }

    #[test]
    fn human_lines_read_as_podmans() {
        assert_eq!(
            human_line(&container(), false),
            "2024-05-01 10:00:00.12345 +0000 UTC container create 6261b677cac5e65986dec9f7b2e3bed9 (image=localhost/bb:1, name=c1, foo=bar)"
        );
        assert!(human_line(&container(), true).contains(" create 6261b677cac5 (image="));
        let tag = at(
            Event::image(Status::Tag, "dce4e846", "bb:2"),
            "2024-05-01T10:00:00Z",
        );
        assert_eq!(
            human_line(&tag, false),
            "2024-05-01 10:00:00 +0000 UTC image tag dce4e846 bb:2"
        );
        let volume = at(Event::volume(Status::Create, "v1"), "2024-05-01T10:00:00Z");
        assert_eq!(
            human_line(&volume, false),
            "2024-05-01 10:00:00 +0000 UTC volume create v1"
        );
        let link = at(
            Event::network_link(Status::Connect, "cid", "front"),
            "2024-05-01T10:00:00Z",
        );
        assert_eq!(
            human_line(&link, false),
            "2024-05-01 10:00:00 +0000 UTC network connect cid (container=cid, name=front)"
        );
    }

    #[test]
    fn json_lines_have_podmans_report_shape() {
        let event = container().with_exit_code(0);
        assert_eq!(
            format::render_json_styled(&json_report(&event), format::JsonStyle::Compact).unwrap(),
            "{\"ContainerExitCode\":0,\"ID\":\"6261b677cac5e65986dec9f7b2e3bed9\",\"Image\":\"localhost/bb:1\",\"Name\":\"c1\",\"Status\":\"create\",\"time\":1714557600,\"timeNano\":1714557600123450000,\"Type\":\"container\",\"Attributes\":{\"foo\":\"bar\"}}\n"
        );
        let template = render(
            &[container()],
            Some(&format::parse_format("{{.Status}} {{.Name}} {{.Time}}")),
            true,
            true,
        )
        .unwrap();
        assert_eq!(template, "create c1 1714557600\n");
    }
}
