//! Containers that outlive the command that started them. Each gets a supervisor of its own —
//! skiff re-executed as `container-supervise ID`, in a new session, with no terminal — which runs
//! the container, writes its output to the log, records its exit code and removes it when
//! `--rm` was given: the job conmon does for Podman, without a daemon.
//!
//! The supervisor tells the command that started it how the start went on a pipe (its original
//! standard output): `ok` once the container's process exists, else `error: …`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _, Result};

use super::attach;
use crate::context::Context;
use crate::runtime;
use crate::store::containers::{ContainerRecord, ContainerState, Status};
pub use crate::store::policies::{LogDriver, RestartPolicy};

/// The hidden subcommand the supervisor runs as.
pub const SUPERVISE_COMMAND: &str = "container-supervise";

/// The log file of a container, in the k8s-file format Podman writes:
/// `<RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <text>` per line (P: a partial line).
pub fn log_path(ctx: &Context, id: &str) -> PathBuf {
    ctx.store.container_dir(id).join("ctr.log")
}

/// Starts a stored container under a new supervisor; returns once its process exists. An
/// `attached` client (`run -it`, `start -ai`) becomes the supervisor's standard input, and its
/// first attach client, before the container starts.
pub fn start_detached(
    ctx: &Context,
    record: &ContainerRecord,
    attached: Option<UnixStream>,
) -> Result<()> {
    let state = super::current_state(ctx, &record.id);
    if state.status == Status::Running {
        return Ok(());
    }
    super::start::start_required(ctx, record)?;
    let mut command = Command::new("/proc/self/exe");
    command
        .arg("--root")
        .arg(ctx.store.root())
        .arg("--runroot")
        .arg(ctx.store.runroot())
        .arg(SUPERVISE_COMMAND);
    match attached {
        Some(client) => command
            .arg("--attached-stdin")
            .stdin(Stdio::from(OwnedFd::from(client))),
        None => command.stdin(Stdio::null()),
    };
    let mut child = command
        .arg(&record.id)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the container's supervisor")?;
    // The supervisor holds the client now; this process keeps no copy of it.
    drop(command);
    let mut report = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut report)?;
    }
    let report = report.trim();
    if report == "ok" {
        return Ok(());
    }
    let _ = child.wait();
    Err(failure_of(report))
}

/// The line on which the supervisor tells the starting command why the start failed: the
/// runtime's failures that carry an exit code of their own (127, 126) by a tag each, so that
/// `failure_of` gives them back; any other as its message.
fn failure_line(error: &anyhow::Error) -> String {
    match error.downcast_ref::<runtime::Error>() {
        Some(runtime::Error::CommandNotFound { path }) => format!("not-found: {path}"),
        Some(runtime::Error::NotExecutable { path }) => format!("not-executable: {path}"),
        Some(runtime::Error::UnknownUser { reason }) => format!("unknown-user: {reason}"),
        _ => format!("error: {error:#}"),
    }
}

/// The failure a `failure_line` told of (an empty report: the supervisor died first).
fn failure_of(report: &str) -> anyhow::Error {
    let (tag, text) = report.split_once(": ").unwrap_or(("", report));
    let text = text.to_string();
    match tag {
        "not-found" => runtime::Error::CommandNotFound { path: text }.into(),
        "not-executable" => runtime::Error::NotExecutable { path: text }.into(),
        "unknown-user" => runtime::Error::UnknownUser { reason: text }.into(),
        "error" => anyhow::anyhow!(text),
        _ => anyhow::anyhow!("the container's supervisor died before the container started"),
    }
}

/// The supervisor's whole life: run the container, log its output, serve `attach`, record how
/// it ended. With `attached_stdin`, its standard input is a client that started it.
pub fn supervise(ctx: &Context, id: &str, attached_stdin: bool) -> Result<i32> {
    let report = std::io::stdout().as_fd().try_clone_to_owned()?;
    let report = Arc::new(Mutex::new(Some(std::fs::File::from(report))));
    let send = |line: &str| {
        if let Ok(mut slot) = report.lock() {
            if let Some(mut file) = slot.take() {
                let _ = writeln!(file, "{line}");
            }
        }
    };
    let first_client = if attached_stdin {
        Some(UnixStream::from(
            std::io::stdin().as_fd().try_clone_to_owned()?,
        ))
    } else {
        None
    };
    let result = supervise_inner(ctx, id, first_client, &send);
    if let Err(error) = &result {
        ctx.store
            .record_supervisor_failure(id, &format!("the supervisor failed: {error:#}"));
        // The command's own failures keep their exit codes (127, 126) in the starting command.
        send(&failure_line(error));
    }
    result
}

fn supervise_inner(
    ctx: &Context,
    id: &str,
    first_client: Option<UnixStream>,
    send: &dyn Fn(&str),
) -> Result<i32> {
    runtime::detach::leave_session()?;
    let record = ctx.store.read_container(id)?;
    let policy = record.restart;
    let driver = record.log_driver;
    let log = Arc::new(Mutex::new(LogWriter::open(
        &log_path(ctx, id),
        driver,
        record.log_max_size,
    )?));
    let run_dir = ctx.store.container_run_dir(id);
    std::fs::create_dir_all(&run_dir)?;
    let mut clients = attach::AttachServer::new(&run_dir)?;
    if let Some(client) = first_client {
        clients.add_client(client)?;
    }
    // A stop asked of an earlier run is not one of this start's.
    ctx.store.clear_stop_request(id);
    let mut restarts = 0;
    loop {
        let (exit_code, outcome) = run_once(ctx, &record, &log, &mut clients, send, restarts)?;
        let oom_killed = outcome.as_ref().is_ok_and(|killed| *killed);
        if outcome.is_ok() {
            super::record_ended(ctx, &record, exit_code);
        }
        let stop_requested = ctx.store.stop_requested(id);
        if outcome.is_ok() && !stop_requested && policy.restarts(exit_code, restarts) {
            clients.finish(exit_code);
            restarts += 1;
            continue;
        }
        if record.auto_remove {
            let lock = ctx.store.lock()?;
            super::remove_locked(ctx, &lock, id, true)?;
            super::start::remove_image_after_run(ctx, &lock, &record);
        } else {
            let mut state = ctx.store.read_container_state(id);
            state.status = Status::Exited;
            state.pid = None;
            state.supervisor_pid = None;
            state.exit_code = Some(exit_code);
            state.oom_killed = oom_killed;
            state.finished_at = Some(crate::clock::now_rfc3339());
            ctx.store.write_container_state(id, &state)?;
        }
        if !record.networks.is_empty() {
            crate::network::bridges::release_if_unused(ctx)?;
        }
        // Clients hear of the exit once it is recorded: `run -it --rm` returns with the
        // container gone.
        clients.finish(exit_code);
        outcome?;
        return Ok(exit_code);
    }
}

/// Runs the container once with its output going to the log and the attached clients; returns
/// its exit code and whether it ran out of memory. Threads exist only while it runs: they are joined before this returns, so
/// the next run clones from a single-threaded process again.
fn run_once(
    ctx: &Context,
    record: &ContainerRecord,
    log: &Arc<Mutex<LogWriter>>,
    clients: &mut attach::AttachServer,
    send: &dyn Fn(&str),
    restarts: u32,
) -> Result<(i32, Result<bool, runtime::Error>)> {
    let id = record.id.as_str();
    let process = &record.spec.process;
    let (out_read, out_write) = std::io::pipe()?;
    let (err_read, err_write) = std::io::pipe()?;
    runtime::detach::redirect_output(&OwnedFd::from(out_write), &OwnedFd::from(err_write))?;
    // `-i` without a terminal: the container reads a pipe the clients' input goes into.
    let mut stdin_pipe = None;
    if process.interactive && !process.terminal {
        let (in_read, in_write) = std::io::pipe()?;
        runtime::detach::redirect_input(&OwnedFd::from(in_read))?;
        stdin_pipe = Some(std::fs::File::from(OwnedFd::from(in_write)));
    }
    let sender = clients.sender();
    let mut relays = Vec::new();
    let mut readers = Some((out_read, err_read));
    let mut record_running = |pid: i32| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let state = ContainerState {
            status: Status::Running,
            pid: Some(pid),
            supervisor_pid: Some(std::process::id() as i32),
            started_at: Some(crate::clock::now_rfc3339()),
            restart_count: restarts,
            ..Default::default()
        };
        ctx.store.write_container_state(id, &state)?;
        super::record_started(ctx, record, false);
        super::start::note_started(record, pid)?;
        // Threads only now: the container's process was cloned while this one had none.
        if let Some((out_read, err_read)) = readers.take() {
            for (stderr, reader) in [(false, out_read), (true, err_read)] {
                let log = Arc::clone(log);
                let sender = sender.clone();
                relays.push(std::thread::spawn(move || {
                    relay(reader, stderr, &log, &sender)
                }));
            }
        }
        Ok(())
    };
    let mut terminal_relay = None;
    // `-a` chooses what a foreground run shows: the log gets every stream.
    let spec = super::runtime_spec(ctx, record, false).map(|mut spec| {
        if !spec.process.unattached.is_empty() {
            spec.to_mut().process.unattached.clear();
        }
        spec
    });
    let outcome = spec.and_then(|spec| {
        let spawned = runtime::spawn_container(&spec)?;
        // Recorded before it mounts anything; should that fail, dropping it kills it.
        record_running(spawned.pid()).map_err(runtime::Error::Prepare)?;
        spawned.run(|master| {
            let input = match (master, stdin_pipe.take()) {
                (Some(master), _) => {
                    let master = std::fs::File::from(master);
                    if let Ok(reader) = master.try_clone() {
                        let log = Arc::clone(log);
                        let sender = clients.sender();
                        terminal_relay = Some(std::thread::spawn(move || {
                            relay(reader, false, &log, &sender)
                        }));
                    }
                    attach::Input::Terminal(master)
                }
                (None, Some(pipe)) => attach::Input::Pipe(pipe),
                (None, None) => attach::Input::Closed,
            };
            // The socket exists before `run -d` returns, so an `attach` right after it works.
            // Should it fail, `attach` says that nothing serves the container.
            let _ = clients.serve(input);
            send("ok");
            // From here the supervisor only relays output and waits: let the code pages it
            // used to start the container go (target: under 2 MB resident per supervisor).
            runtime::detach::release_clean_pages();
            // The supervisor relays the terminal itself; nothing goes to its own streams.
            None
        })
    });
    runtime::detach::silence_output()?;
    for relay in relays.into_iter().chain(terminal_relay) {
        let _ = relay.join();
    }
    let exit_code = match &outcome {
        Ok(o) => super::start::exit_code_after(record, o.exit_code),
        Err(runtime::Error::Prepare(error)) => bail!("{error}"),
        Err(error) => i32::from(error.exit_code()),
    };
    Ok((exit_code, outcome.map(|o| o.oom_killed)))
}

/// The time stamp of a log line: RFC 3339 in UTC with nanoseconds, as conmon writes them.
/// Written by hand rather than with jiff's strftime: the relay runs this for every line of
/// every supervisor, and the formatting machinery it would fault back in is most of what a
/// logging supervisor keeps resident (measured: 2.1 MB against 1.3 MB).
fn log_time() -> [u8; 35] {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    let mut out = *b"0000-00-00T00:00:00.000000000+00:00";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year as u64);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, of_day / 3600);
    put(14, 2, of_day / 60 % 60);
    put(17, 2, of_day % 60);
    put(20, 9, u64::from(since_epoch.subsec_nanos()));
    out
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u64;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses `--log-opt max-size=` (the one size parser, in `size.rs`).
pub use crate::size::parse_size;

/// Where a container's output goes, shared by its stdout and stderr relays.
pub struct LogWriter {
    file: Option<std::fs::File>,
    driver: LogDriver,
    max_size: Option<u64>,
}

impl LogWriter {
    pub fn open(path: &std::path::Path, driver: LogDriver, max_size: Option<u64>) -> Result<Self> {
        let file = match driver {
            LogDriver::None => None,
            _ => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .context("opening the container log")?,
            ),
        };
        Ok(LogWriter {
            file,
            driver,
            max_size,
        })
    }

    fn write(&mut self, stream: &str, text: &[u8], partial: bool) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let time = log_time();
        let entry = match self.driver {
            LogDriver::JsonFile => {
                let time = String::from_utf8_lossy(&time);
                let mut log = String::from_utf8_lossy(text).into_owned();
                if !partial {
                    log.push('\n');
                }
                let mut line = serde_json::to_vec(
                    &serde_json::json!({"log": log, "stream": stream, "time": time}),
                )
                .unwrap_or_default();
                line.push(b'\n');
                line
            }
            _ => {
                let tag: &[u8] = if partial { b" P " } else { b" F " };
                let mut line = Vec::with_capacity(time.len() + stream.len() + text.len() + 5);
                line.extend_from_slice(&time);
                line.push(b' ');
                line.extend_from_slice(stream.as_bytes());
                line.extend_from_slice(tag);
                line.extend_from_slice(text);
                line.push(b'\n');
                line
            }
        };
        // Past the cap the log starts over, as conmon does with max-size.
        if let Some(max) = self.max_size {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len + entry.len() as u64 > max {
                let _ = file.set_len(0);
            }
        }
        let _ = file.write_all(&entry);
    }
}

/// Copies one stream of the container (a pipe, or its terminal) into the log and to the
/// attached clients, chunk by chunk as it comes: a prompt without a newline shows at once.
fn relay(mut reader: impl Read, stderr: bool, log: &Mutex<LogWriter>, clients: &attach::Sender) {
    let stream = if stderr { "stderr" } else { "stdout" };
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buffer[..n];
        if let Ok(mut log) = log.lock() {
            for piece in chunk.split_inclusive(|b| *b == b'\n') {
                match piece.strip_suffix(b"\n") {
                    Some(line) => log.write(stream, line, false),
                    None => log.write(stream, piece, true),
                }
            }
        }
        clients.send(stderr, chunk);
    }
}

/// One line of a container log, in either format.
pub struct LogLine {
    pub time: String,
    pub stderr: bool,
    pub partial: bool,
    pub text: Vec<u8>,
}

pub fn parse_log_line(line: &[u8]) -> Option<LogLine> {
    if line.first() == Some(&b'{') {
        let value: serde_json::Value = serde_json::from_slice(line).ok()?;
        let log = value.get("log")?.as_str()?;
        let (text, partial) = match log.strip_suffix('\n') {
            Some(text) => (text, false),
            None => (log, true),
        };
        return Some(LogLine {
            time: value.get("time")?.as_str()?.to_string(),
            stderr: value.get("stream").and_then(|s| s.as_str()) == Some("stderr"),
            partial,
            text: text.as_bytes().to_vec(),
        });
    }
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?.to_string();
    let stream = fields.next()?;
    let tag = fields.next()?;
    let text = fields.next().unwrap_or_default().to_vec();
    Some(LogLine {
        time,
        stderr: stream == b"stderr",
        partial: tag == b"P",
        text,
    })
}

/// Joins the pieces of a line the log holds as partial entries (written as the container
/// produced them) with the entry that completes it, so `--tail` counts and `-t` stamps whole
/// lines. A last piece with nothing after it yet stays partial.
fn merge_partial_lines(entries: impl Iterator<Item = LogLine>) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = Vec::new();
    let mut open: [Option<usize>; 2] = [None, None];
    for entry in entries {
        let stream = usize::from(entry.stderr);
        match open[stream].take() {
            Some(index) => {
                let line = &mut lines[index];
                line.text.extend_from_slice(&entry.text);
                line.partial = entry.partial;
                if entry.partial {
                    open[stream] = Some(index);
                }
            }
            None => {
                if entry.partial {
                    open[stream] = Some(lines.len());
                }
                lines.push(entry);
            }
        }
    }
    lines
}

/// What `logs` was asked for.
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub timestamps: bool,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
}

/// Writes a container's log to `sink` (stderr flag, bytes), following it while the container
/// runs when asked to.
pub fn read_logs(
    ctx: &Context,
    reference: &str,
    options: &LogOptions,
    sink: &mut dyn FnMut(bool, &[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    if record.log_driver == LogDriver::None {
        bail!("this container is using the 'none' log driver, cannot read logs");
    }
    let path = log_path(ctx, &record.id);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut pending = Vec::new();
    let mut first = true;
    let mut last_pass = false;
    loop {
        if file.is_none() {
            file = std::fs::File::open(&path).ok();
        }
        if let Some(f) = file.as_mut() {
            f.read_to_end(&mut pending)?;
        }
        let complete = pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let chunk: Vec<u8> = pending.drain(..complete).collect();
        let mut lines = merge_partial_lines(
            chunk
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .filter_map(parse_log_line),
        );
        if first {
            if let Some(tail) = options.tail {
                lines = lines.split_off(lines.len().saturating_sub(tail));
            }
            first = false;
        }
        for line in lines {
            let time: Option<jiff::Timestamp> = line.time.parse().ok();
            if options.since.is_some_and(|s| time.is_some_and(|t| t < s))
                || options.until.is_some_and(|u| time.is_some_and(|t| t > u))
            {
                continue;
            }
            let mut text = Vec::new();
            if options.timestamps {
                text.extend_from_slice(line.time.as_bytes());
                text.push(b' ');
            }
            text.extend_from_slice(&line.text);
            if !line.partial {
                text.push(b'\n');
            }
            sink(line.stderr, &text)?;
        }
        if !options.follow || last_pass {
            return Ok(());
        }
        // Once the container has stopped, one more pass picks up its last lines.
        last_pass = super::current_state(ctx, &record.id).status != Status::Running;
        if last_pass {
            continue;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_told_by_the_supervisor_keeps_its_exit_code() {
        let failures: Vec<anyhow::Error> = vec![
            runtime::Error::CommandNotFound {
                path: "nope".into(),
            }
            .into(),
            runtime::Error::NotExecutable { path: "/x".into() }.into(),
            runtime::Error::UnknownUser {
                reason: "no user u".into(),
            }
            .into(),
            anyhow::anyhow!("something else"),
        ];
        for failure in failures {
            let told = failure_of(&failure_line(&failure));
            let code =
                |e: &anyhow::Error| e.downcast_ref::<runtime::Error>().map(|e| e.exit_code());
            assert_eq!(code(&told), code(&failure), "{failure}");
            assert_eq!(told.to_string(), failure.to_string());
        }
        assert!(failure_of("").to_string().contains("died before"));
    }

    #[test]
    fn log_dates_agree_with_jiff() {
        for days in [
            -719_468i64,
            -1,
            0,
            59,
            60,
            365,
            11_016,
            19_782,
            20_415,
            2_932_000,
        ] {
            let date = jiff::Timestamp::from_second(days * 86_400)
                .unwrap()
                .strftime("%Y-%m-%d")
                .to_string();
            let (year, month, day) = civil_from_days(days);
            assert_eq!(format!("{year:04}-{month:02}-{day:02}"), date, "day {days}");
        }
        let stamp = String::from_utf8(log_time().to_vec()).unwrap();
        let parsed: jiff::Timestamp = stamp.parse().unwrap();
        let drift = jiff::Timestamp::now().duration_since(parsed);
        assert!(drift.as_secs() < 5, "{stamp} is not now");
    }

    #[test]
    fn partial_entries_join_the_line_they_begin() {
        let entries = [
            "t1 stdout P ab",
            "t2 stderr F whole",
            "t3 stdout P cd",
            "t4 stdout F ef",
            "t5 stdout P prompt> ",
        ]
        .map(|line| parse_log_line(line.as_bytes()).unwrap());
        let lines = merge_partial_lines(entries.into_iter());
        let shown: Vec<(String, bool, bool)> = lines
            .iter()
            .map(|l| {
                (
                    String::from_utf8_lossy(&l.text).into_owned(),
                    l.stderr,
                    l.partial,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("abcdef".to_string(), false, false),
                ("whole".to_string(), true, false),
                ("prompt> ".to_string(), false, true),
            ]
        );
        assert_eq!(lines[0].time, "t1");
    }

    #[test]
    fn log_lines_parse() {
        let line = parse_log_line(b"2024-01-01T00:00:00.000000000+00:00 stderr P a b c").unwrap();
        assert!(line.stderr && line.partial);
        assert_eq!(line.text, b"a b c");
        assert_eq!(line.time, "2024-01-01T00:00:00.000000000+00:00");
        let line = parse_log_line(br#"{"log":"hi\n","stream":"stderr","time":"t"}"#).unwrap();
        assert!(line.stderr && !line.partial);
        assert_eq!(line.text, b"hi");
        assert_eq!(line.time, "t");
        let line = parse_log_line(b"t stdout F ").unwrap();
        assert!(!line.stderr && !line.partial && line.text.is_empty());
    }
}
