//! The per-user events log: every operation that changes state appends one [`Event`] to
//! `<runroot>/events/events.log`, and `skiff events` reads it back, without a daemon.
//!
//! The file holds one JSON object per line in the shape Podman's `file` events backend writes
//! (`{"ID":…,"Name":…,"Status":"start","Time":"2024-05-01T10:00:00.123456789Z","Type":"container",
//! "Attributes":{…}}`), so either tool can read a log the other wrote. Writing is in
//! [`log`]: appends are serialised by a lock file and made with one `write`, and the file is
//! cut to its newer half when it would pass its size limit, as Podman's
//! `events_logfile_max_size` does.
//!
//! Contract: recording an event never fails the operation that records it. A write that
//! fails is reported once per process on stderr and otherwise ignored; nothing here panics.

pub mod filter;
pub mod log;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::store::containers::ContainerRecord;
use crate::store::networks::NetworkRecord;
use crate::store::Store;

/// Podman's default `events_logfile_max_size` ("1m", read as 1,000,000 bytes).
pub const DEFAULT_MAX_SIZE: u64 = 1_000_000;

/// What an event is about (Podman's event `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Container,
    Image,
    Network,
    System,
    Volume,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Container => "container",
            Type::Image => "image",
            Type::Network => "network",
            Type::System => "system",
            Type::Volume => "volume",
        }
    }
}

/// What happened, with Podman's names for it (`died`, `exec_died`, `loadfromarchive`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Attach,
    Build,
    Cleanup,
    Commit,
    Connect,
    Copy,
    Create,
    Died,
    Disconnect,
    Exec,
    ExecDied,
    Export,
    Import,
    Init,
    Kill,
    LoadFromArchive,
    LogRotation,
    Pull,
    Push,
    Remove,
    Rename,
    Restart,
    Save,
    Start,
    Stop,
    Tag,
    Untag,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Attach => "attach",
            Status::Build => "build",
            Status::Cleanup => "cleanup",
            Status::Commit => "commit",
            Status::Connect => "connect",
            Status::Copy => "copy",
            Status::Create => "create",
            Status::Died => "died",
            Status::Disconnect => "disconnect",
            Status::Exec => "exec",
            Status::ExecDied => "exec_died",
            Status::Export => "export",
            Status::Import => "import",
            Status::Init => "init",
            Status::Kill => "kill",
            Status::LoadFromArchive => "loadfromarchive",
            Status::LogRotation => "log-rotation",
            Status::Pull => "pull",
            Status::Push => "push",
            Status::Remove => "remove",
            Status::Rename => "rename",
            Status::Restart => "restart",
            Status::Save => "save",
            Status::Start => "start",
            Status::Stop => "stop",
            Status::Tag => "tag",
            Status::Untag => "untag",
        }
    }
}

/// One line of the log, field for field as Podman's libpod `events.Event` marshals it (empty
/// strings left out, `Attributes` always present, `null` when there are none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// A container's exit code, on `died` and `exec_died`.
    #[serde(
        rename = "ContainerExitCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_code: Option<i32>,
    /// The container, image or network id (a network event about a container: the container's).
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// A container event's image, as the container was created from it.
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// The container's name, the image reference the operation used, the volume's name.
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A network event's network name.
    #[serde(rename = "network", default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Time", with = "rfc3339")]
    pub time: jiff::Timestamp,
    #[serde(rename = "Type")]
    pub kind: Type,
    #[serde(rename = "Error", default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// A container's labels (the image's included), a network's driver, an exec's id.
    #[serde(rename = "Attributes", default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// `Time` as Go's `time.Time` marshals it: RFC 3339 with up to nine fraction digits, trailing
/// zeros dropped (jiff's display is the same form); any offset is read back.
mod rfc3339 {
    pub fn serialize<S: serde::Serializer>(
        time: &jiff::Timestamp,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(time)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<jiff::Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Event {
    fn new(kind: Type, status: Status) -> Self {
        Event {
            exit_code: None,
            id: String::new(),
            image: String::new(),
            name: String::new(),
            network: String::new(),
            status: status.as_str().to_string(),
            time: jiff::Timestamp::now(),
            kind,
            error: String::new(),
            attributes: None,
        }
    }

    /// A container event: its id, image and name, and its labels as attributes, as Podman's.
    pub fn container(status: Status, record: &ContainerRecord) -> Self {
        Event {
            id: record.id.clone(),
            image: record.image_name.clone(),
            name: record.name.clone(),
            attributes: Some(record.labels.clone()),
            ..Event::new(Type::Container, status)
        }
    }

    /// An image event: the image's id and the name the operation used (a tag, a file, a
    /// destination), as Podman's.
    pub fn image(status: Status, id: &str, name: &str) -> Self {
        Event {
            id: id.to_string(),
            name: name.to_string(),
            ..Event::new(Type::Image, status)
        }
    }

    pub fn volume(status: Status, name: &str) -> Self {
        Event {
            name: name.to_string(),
            ..Event::new(Type::Volume, status)
        }
    }

    /// A network created or removed: its id, name, and driver as the `driver` attribute.
    pub fn network(status: Status, record: &NetworkRecord) -> Self {
        Event {
            id: record.id.clone(),
            network: record.name.clone(),
            attributes: Some(BTreeMap::from([("driver".into(), record.driver.clone())])),
            ..Event::new(Type::Network, status)
        }
    }

    /// A container connected to or disconnected from a network: the container's id, the
    /// network's name.
    pub fn network_link(status: Status, container_id: &str, network: &str) -> Self {
        Event {
            id: container_id.to_string(),
            network: network.to_string(),
            ..Event::new(Type::Network, status)
        }
    }

    /// The log was cut to its newer half (Podman's `system log-rotation`, naming the file).
    pub fn log_rotation(path: &std::path::Path) -> Self {
        Event {
            name: path.display().to_string(),
            ..Event::new(Type::System, Status::LogRotation)
        }
    }

    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = Some(code);
        self
    }

    /// Adds an attribute (a kill's `signal`, an exec's `execID`).
    pub fn with_attribute(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attributes
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_string(), value.into());
        self
    }
}

static MUTED: AtomicBool = AtomicBool::new(false);

/// While held, this process records no events. A build's step containers and intermediate
/// images are its own workings: Podman logs only the `image build` (buildah's containers are
/// not Podman's), and so does skiff.
pub struct Muted(());

pub fn mute() -> Muted {
    MUTED.store(true, Ordering::Relaxed);
    Muted(())
}

impl Drop for Muted {
    fn drop(&mut self) {
        MUTED.store(false, Ordering::Relaxed);
    }
}

/// Appends `event` to the store's log. Never fails: the operation that changed state has
/// succeeded either way, so a log that cannot be written costs one warning per process.
pub fn record(store: &Store, event: Event) {
    record_all(store, &[event]);
}

/// [`record`] for events that happen together (a start's init, start and attach), with one
/// lock and one write: `run` logs several, and its start-up time is skiff's headline.
pub fn record_all(store: &Store, events: &[Event]) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if MUTED.load(Ordering::Relaxed) || events.is_empty() {
        return;
    }
    let path = store.events_log();
    if let Err(error) = log::append(path, events, DEFAULT_MAX_SIZE) {
        if !WARNED.swap(true, Ordering::Relaxed) {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "WARN[0000] Unable to write {} event to {}: {error}",
                    events[0].status,
                    path.display()
                );
            }
        }
    }
}

/// How often a follower looks at the log for new lines: cheap (one `read` at the end of the
/// file) and soon enough for a person or a script watching.
const FOLLOW_INTERVAL_MS: u16 = 200;

/// `events`: hands `sink` the logged events `filters` match, in the order they were logged.
/// Without `stream` it reads what is there and returns. With it, it reads only new events
/// unless `filters` has a since or until (then the log from its start), and goes on following
/// until the until time passes, SIGINT or SIGTERM arrives, or the reader of `output` goes
/// away (a closed pipe, a hung-up terminal) — each a normal end.
pub fn watch(
    store: &Store,
    filters: &filter::EventFilters,
    stream: bool,
    output: std::os::fd::BorrowedFd<'_>,
    sink: &mut dyn FnMut(&[Event]) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use std::os::fd::AsFd as _;

    let path = store.events_log();
    let mut follower = log::Follower::open(path, stream && !filters.from_start())?;
    let until = filters.until();
    // Signals are read from a descriptor rather than killing the process mid-line.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    let signal_fd = if stream {
        signals.thread_block()?;
        Some(SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)?)
    } else {
        None
    };
    loop {
        let events: Vec<Event> = follower
            .read_new()?
            .into_iter()
            .filter(|e| filters.matches(e))
            .collect();
        if !events.is_empty() {
            sink(&events)?;
        }
        let Some(signal_fd) = &signal_fd else {
            return Ok(());
        };
        if until.is_some_and(|until| jiff::Timestamp::now() >= until) {
            return Ok(());
        }
        let mut fds = [
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
            // No events asked: only an error or hang-up on the output is reported.
            PollFd::new(output, PollFlags::empty()),
        ];
        match poll(&mut fds, PollTimeout::from(FOLLOW_INTERVAL_MS)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_podmans_file_backend_shape() {
        let mut event = Event::image(Status::Tag, "abc", "localhost/x:1");
        event.time = "2024-05-01T10:00:00.1234Z".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"ID":"abc","Name":"localhost/x:1","Status":"tag","Time":"2024-05-01T10:00:00.1234Z","Type":"image","Attributes":null}"#
        );
        let died = Event::network_link(Status::Connect, "c1", "net").with_exit_code(0);
        let text = serde_json::to_string(&died).unwrap();
        assert!(text.starts_with(r#"{"ContainerExitCode":0,"ID":"c1","network":"net","#));
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), died);
    }

    #[test]
    fn podman_written_lines_are_read() {
        let line = r#"{"ID":"6261","Image":"localhost/bb:1","Name":"c1","Status":"create","Time":"2026-11-23T18:41:01.88033662-04:00","Type":"container","Attributes":{"foo":"bar"}}"#;
        let event: Event = serde_json::from_str(line).unwrap();
        assert_eq!(event.kind, Type::Container);
        // 22:41:01 UTC.
        assert_eq!(event.time.as_second(), 1_795_473_661);
        assert_eq!(event.attributes.unwrap()["foo"], "bar");
    }
}
