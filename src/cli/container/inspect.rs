//! What shows a container: `ps`, `logs`, `top`, `port`, `diff`.

use clap::Args;

use crate::cli::{format, human, Outcome};
use crate::container::{self};
use crate::container::{ContainerRecord, ContainerState, Status};
use crate::context::Context;
use serde_json::json;

/// Fetch the output of a container.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output as it is written, until the container stops (or ctrl-c).
    #[arg(short, long)]
    follow: bool,
    /// Print only the last N lines (default: all); with --follow, then keep following.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Prefix each line with the time it was written (RFC 3339).
    #[arg(short, long)]
    timestamps: bool,
    /// Only output after this time (RFC 3339, a Unix time, or a duration such as 10m before now).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only output before this time (RFC 3339, a Unix time, or a duration such as 10m before now).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Container name or ID.
    container: String,
}

/// `--since`/`--until`: an RFC 3339 time, a Unix time, or a duration before now.
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    crate::clock::point_in_time(text).map_err(|e| anyhow::anyhow!("invalid time {text:?}: {e}"))
}

impl LogsArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        use std::io::Write;
        let options = container::detached::LogOptions {
            follow: self.follow,
            tail: self.tail,
            timestamps: self.timestamps,
            since: self.since.as_deref().map(parse_time).transpose()?,
            until: self.until.as_deref().map(parse_time).transpose()?,
        };
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        container::detached::read_logs(ctx, &self.container, &options, &mut |is_err, bytes| {
            if is_err {
                let mut err = stderr.lock();
                err.write_all(bytes)?;
                err.flush()
            } else {
                let mut out = stdout.lock();
                out.write_all(bytes)?;
                out.flush()
            }
        })?;
        Ok(0)
    }
}

/// Show the processes of a running container.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container name or ID.
    container: String,
}

impl TopArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let rows = container::top::top(ctx, &self.container)?;
        print!("{}", format::render_table(&container::top::HEADERS, &rows));
        Ok(0)
    }
}

/// List a container's published ports (PORT[/PROTOCOL] to ask for one).
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container name or ID.
    container: String,
    /// A container port, as 80 or 80/tcp.
    port: Option<String>,
}

impl PortArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let lines = container::port_lines(ctx, &self.container, self.port.as_deref())?;
        for line in lines {
            println!("{line}");
        }
        Ok(0)
    }
}

/// List containers.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, created and exited ones too (default: only running ones).
    #[arg(short, long)]
    all: bool,
    /// Print only the container IDs, one per line (12 characters unless --no-trunc).
    #[arg(short, long)]
    quiet: bool,
    /// Print full 64-character IDs and whole commands instead of shortening them.
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default), json, or a Go template such as '{{.ID}} {{.Names}}'.
    #[arg(long)]
    format: Option<String>,
    /// Show only the latest created container (of all states).
    #[arg(short, long)]
    latest: bool,
    /// Show each container's size: its writable layer, and in all with its image (virtual).
    #[arg(short, long)]
    size: bool,
    /// Show the N last created containers (of all states).
    #[arg(short = 'n', long, value_name = "N")]
    last: Option<usize>,
    /// Filter: status=, name=, id=, ancestor=, label=, exited= (repeatable; different keys must all match).
    #[arg(short, long, value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Show the containers of build steps too (left out otherwise, as Podman leaves out buildah's).
    #[arg(long)]
    external: bool,
}

/// Podman 5's header overrides for `ps` table templates (4.3 named RunningFor "CREATED").
const PS_HEADERS: &[(&str, &str)] = &[
    ("Cgroup", "cgroupns"),
    ("CreatedHuman", "created"),
    ("ID", "container id"),
    ("IPC", "ipc"),
    ("MNT", "mnt"),
    ("NET", "net"),
    ("Networks", "networks"),
    ("PIDNS", "pidns"),
    ("Pod", "pod id"),
    ("PodName", "podname"),
    ("Restarts", "restarts"),
    ("RunningFor", "running for"),
    ("UTS", "uts"),
    ("User", "userns"),
];

/// Go's zero `time.Time` as Unix seconds: what Podman prints for a time that never came.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// One container as `ps` sees it, printed either as Podman's `--format json` entry or as the
/// row its tables and templates read.
struct PsEntry {
    record: ContainerRecord,
    state: ContainerState,
    created: jiff::Timestamp,
    /// Docker's status text: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
    status: String,
    /// The writable layer's bytes and the image's, with `-s`.
    size: Option<(u64, u64)>,
}

impl PsEntry {
    fn new(record: ContainerRecord, state: ContainerState, now: jiff::Timestamp) -> Self {
        let created = human::parse_timestamp(&record.created).unwrap_or(now);
        let since = |time: &Option<String>| time.as_deref().and_then(human::parse_timestamp);
        let status = match state.status {
            Status::Created => "Created".to_string(),
            Status::Running => match since(&state.started_at) {
                Some(started) => format!("Up {}", human::human_duration_between(started, now)),
                None => "Up".to_string(),
            },
            _ => match since(&state.finished_at) {
                Some(finished) => format!(
                    "Exited ({}) {}",
                    state.exit_code.unwrap_or(0),
                    human::human_duration_since(finished, now)
                ),
                None => "Exited".to_string(),
            },
        };
        PsEntry {
            record,
            state,
            created,
            status,
            size: None,
        }
    }

    fn unix_time(time: &Option<String>) -> i64 {
        time.as_deref()
            .and_then(human::parse_timestamp)
            .map_or(GO_ZERO_TIME_UNIX, |t| t.as_second())
    }

    fn pid(&self) -> i32 {
        match self.state.status {
            Status::Running => self.state.pid.unwrap_or(0),
            _ => 0,
        }
    }

    /// The entry of `podman ps --format json`, field for field.
    fn podman_json(&self, now: jiff::Timestamp) -> serde_json::Value {
        let record = &self.record;
        json!({
            "AutoRemove": record.auto_remove,
            "Command": record.spec.process.args,
            "CreatedAt": human::human_duration_since(self.created, now),
            "Exited": self.state.status == Status::Exited,
            "ExitedAt": Self::unix_time(&self.state.finished_at),
            "ExitCode": self.state.exit_code.unwrap_or(0),
            "Id": record.id,
            "Image": record.image_name,
            "ImageID": record.image_id,
            "IsInfra": false,
            "Labels": (!record.labels.is_empty()).then_some(&record.labels),
            "Mounts": record.spec.mounts.iter().map(|m| m.destination.as_str()).collect::<Vec<_>>(),
            "Names": [record.name],
            "Namespaces": {},
            "Networks": record.networks.keys().collect::<Vec<_>>(),
            "Pid": self.pid(),
            "Pod": "",
            "PodName": "",
            "Ports": crate::network::ports::ps_json(&record.spec.ports),
            "Size": self.size.map(|(rw, image)| json!({
                "rootFsSize": image + rw,
                "rwSize": rw,
            })),
            "StartedAt": Self::unix_time(&self.state.started_at),
            "State": self.state.status.name(),
            "Status": self.status,
            "Created": self.created.as_second(),
        })
    }

    /// The fields `ps` tables and `--format` templates read: Podman's names, and Docker's
    /// `RunningFor`.
    fn template_row(&self, now: jiff::Timestamp, no_trunc: bool) -> serde_json::Value {
        let record = &self.record;
        let mut command = record.spec.process.args.join(" ");
        // Podman's column: 17 characters and an ellipsis, unless --no-trunc.
        if !no_trunc && command.chars().count() > 17 {
            command = command.chars().take(17).collect::<String>() + "...";
        }
        let id = if no_trunc {
            record.id.clone()
        } else {
            record.id[..12].to_string()
        };
        let created_human = human::human_duration_since(self.created, now);
        let size = self.size.map_or(String::new(), |(rw, image)| {
            format!(
                "{} (virtual {})",
                human::human_size_unspaced(rw),
                human::human_size_unspaced(image + rw)
            )
        });
        let image_id = if no_trunc {
            record.image_id.clone()
        } else {
            record.image_id[..12.min(record.image_id.len())].to_string()
        };
        let networks: Vec<&str> = record.networks.keys().map(String::as_str).collect();
        // Podman's template item embeds the JSON entry and overrides some of it with methods.
        let mut row = self.podman_json(now);
        let fields = json!({
            "ID": id,
            "Image": record.image_name,
            "ImageID": image_id,
            "Command": command,
            "CreatedAt": human::format_created_at(self.created),
            "Created": human::format_created_at(self.created),
            "CreatedHuman": created_human,
            "RunningFor": created_human,
            "Status": self.status,
            "State": self.state.status.name(),
            "Ports": crate::network::ports::ps_column(&record.spec.ports),
            "Names": record.name,
            "Labels": record.labels,
            "Size": size,
            "Pid": self.pid(),
            "ExitCode": self.state.exit_code.unwrap_or(0),
            "Exited": self.state.status == Status::Exited,
            "AutoRemove": record.auto_remove,
            "Restarts": self.state.restart_count,
            "Networks": networks.join(","),
            // No pods, and no namespace paths for a container that is not running: Podman's
            // `--ns` columns (`.Namespaces.NET` is read as `.NET`, as Podman rewrites it).
            "Namespaces": {"Cgroup": "", "IPC": "", "MNT": "", "NET": "", "PIDNS": "", "User": "", "UTS": ""},
            "Cgroup": "", "IPC": "", "MNT": "", "NET": "", "PIDNS": "", "User": "", "UTS": "",
        });
        if let (Some(row), Some(fields)) = (row.as_object_mut(), fields.as_object()) {
            row.extend(fields.clone());
        }
        row
    }
}

impl PsArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let listing = container::ListOptions {
            all: self.all,
            latest: self.latest,
            last: self.last,
            filters: self.filter.clone(),
            external: self.external,
        };
        let mut entries: Vec<PsEntry> = container::list(ctx, &listing)?
            .into_iter()
            .map(|(record, state)| PsEntry::new(record, state, now))
            .collect();
        if self.quiet {
            for entry in &entries {
                let id = &entry.record.id;
                println!("{}", if self.no_trunc { id } else { &id[..12] });
            }
            return Ok(0);
        }
        if self.size {
            let records: Vec<&ContainerRecord> = entries.iter().map(|e| &e.record).collect();
            let sizes = container::list_sizes(ctx, &records)?;
            for (entry, size) in entries.iter_mut().zip(sizes) {
                entry.size = Some(size);
            }
        }
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| e.template_row(now, self.no_trunc))
            .collect();
        let mut columns = vec![
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("CreatedHuman", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ];
        if self.size {
            columns.push(("Size", "SIZE"));
        }
        let headers = [columns.as_slice(), PS_HEADERS].concat();
        // Podman's template reads `.Namespaces.X` as `.X`.
        let template = self
            .format
            .as_deref()
            .map(|f| f.replace(".Namespaces.", "."));
        let listing = format::Listing {
            rows,
            json: entries.iter().map(|e| e.podman_json(now)).collect(),
            json_style: format::JsonStyle::Indented("  "),
            headers: &headers,
            noheading: false,
        };
        listing.print(template.as_deref(), |rows| {
            format::column_table(rows, &columns)
        })?;
        Ok(0)
    }
}
