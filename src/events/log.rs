//! The events log file: appending, cutting it down to size, and reading it (once, or
//! following it as it grows).
//!
//! Writers take `events.log.lock` (flock) for the whole append, so a cut and an append never
//! interleave, and write each line with one `write` on an `O_APPEND` descriptor opened after
//! the lock is held: nothing is ever written to a file a cut has replaced. A writer killed
//! mid-line leaves a torn last line; the next writer starts on a fresh line and readers skip
//! what does not parse, so the log never loses more than that one event.
//!
//! When an append would take the file past its limit, the file is replaced (a temporary file
//! renamed over it) by its newer half — from the first line that starts at or past the middle — and
//! a `system log-rotation` event, as Podman does. A follower that sees the file replaced knows
//! from [`cut_offset`] where the kept half ends in the new file, so it neither repeats nor
//! skips events.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Event;

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Appends events as lines, in one write, cutting the file first when it would pass `max_size`
/// bytes (0: no limit).
pub fn append(path: &Path, events: &[Event], max_size: u64) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::store::create_private_dir(dir)?;
    }
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(lock_path(path))?;
    lock.lock()?;
    let mut line = Vec::new();
    for event in events {
        serde_json::to_writer(&mut line, event)?;
        line.push(b'\n');
    }
    let mut file = open_for_append(path)?;
    let mut len = file.metadata()?.len();
    if max_size > 0 && len + line.len() as u64 > max_size && len > 0 {
        cut(path, &file, len)?;
        file = open_for_append(path)?;
        len = file.metadata()?.len();
    }
    // A writer killed mid-line left no newline: this line starts a fresh one.
    if len > 0 && !ends_with_newline(&file, len)? {
        line.insert(0, b'\n');
    }
    file.write_all(&line)
}

fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(path)
}

fn ends_with_newline(file: &File, len: u64) -> io::Result<bool> {
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

/// Where the newer half of a file of `len` bytes starts: at the first line that starts at or
/// past the middle (`len` when there is none). Shared by the cut and by followers, which
/// use it to find the end of the kept half in the file that replaced the one they read.
pub fn cut_offset(file: &File, len: u64) -> io::Result<u64> {
    // A newline just before the middle makes the middle a line's start.
    let mut offset = (len / 2).saturating_sub(1);
    let mut buf = [0u8; 4096];
    while offset < len {
        let n = file.read_at(&mut buf, offset)?;
        if n == 0 {
            break;
        }
        if let Some(i) = buf[..n].iter().position(|b| *b == b'\n') {
            return Ok(offset + i as u64 + 1);
        }
        offset += n as u64;
    }
    Ok(len)
}

/// Replaces the log by its newer half and a log-rotation event (the caller holds the lock).
fn cut(path: &Path, file: &File, len: u64) -> io::Result<()> {
    let start = cut_offset(file, len)?;
    let mut kept = vec![0u8; (len - start) as usize];
    file.read_exact_at(&mut kept, start)?;
    if kept.last().is_some_and(|b| *b != b'\n') {
        kept.push(b'\n');
    }
    kept.extend(serde_json::to_vec(&Event::log_rotation(path))?);
    kept.push(b'\n');
    let mut staged = path.as_os_str().to_owned();
    staged.push(".cut");
    let staged = PathBuf::from(staged);
    let mut out = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&staged)?;
    out.write_all(&kept)?;
    out.sync_all()?;
    std::fs::rename(&staged, path)
}

/// Parses the complete lines of `bytes`; a line that is not an event (torn by a kill, or
/// of a type skiff does not know) is skipped.
pub fn parse_lines(bytes: &[u8]) -> Vec<Event> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

/// Reads a log from a point on, and again as it grows: the file being absent is an empty
/// log, and a file replaced by a cut is followed into its replacement.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// Bytes read but not yet ended by a newline.
    pending: Vec<u8>,
}

impl Follower {
    /// A follower from the start of the log, or (`from_end`) from what is appended next.
    pub fn open(path: &Path, from_end: bool) -> io::Result<Self> {
        let file = match File::open(path) {
            Ok(mut file) => {
                if from_end {
                    file.seek(SeekFrom::End(0))?;
                }
                Some(file)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Follower {
            path: path.to_path_buf(),
            file,
            pending: Vec::new(),
        })
    }

    /// The events appended since the last call.
    pub fn read_new(&mut self) -> io::Result<Vec<Event>> {
        let Some(file) = self.file.as_mut() else {
            // Appeared since: all of it is new.
            if let Ok(file) = File::open(&self.path) {
                self.file = Some(file);
                return self.read_new();
            }
            return Ok(Vec::new());
        };
        file.read_to_end(&mut self.pending)?;
        if let Some(replacement) = self.replacement()? {
            // Whatever reached the old file before the cut is read first.
            let old = self.file.replace(replacement);
            if let Some(mut old) = old {
                old.read_to_end(&mut self.pending)?;
                let len = old.metadata()?.len();
                let kept = len - cut_offset(&old, len)?;
                if let Some(new) = self.file.as_mut() {
                    if new.metadata()?.len() >= kept {
                        new.seek(SeekFrom::Start(kept))?;
                    }
                    new.read_to_end(&mut self.pending)?;
                }
            }
        }
        let complete = self
            .pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let lines: Vec<u8> = self.pending.drain(..complete).collect();
        Ok(parse_lines(&lines))
    }

    /// The file now at the path, when it is not the one being read.
    fn replacement(&self) -> io::Result<Option<File>> {
        let Some(current) = &self.file else {
            return Ok(None);
        };
        let here = current.metadata()?;
        match std::fs::metadata(&self.path) {
            Ok(there) if there.ino() == here.ino() && there.dev() == here.dev() => Ok(None),
            Ok(_) => Ok(File::open(&self.path).ok()),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, Status};

    /// Events of one length: the time's fraction has all nine digits.
    fn event(name: &str) -> Event {
        let mut event = Event::volume(Status::Create, name);
        event.time = "2024-05-01T10:00:00.123456789Z".parse().unwrap();
        event
    }

    fn names(events: &[Event]) -> Vec<String> {
        events.iter().map(|e| e.name.clone()).collect()
    }

    #[test]
    fn torn_lines_are_skipped_and_the_next_event_starts_a_fresh_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events/events.log");
        append(&path, &[event("a")], 0).unwrap();
        // A writer killed mid-line.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"Name":"torn","Sta"#)
            .unwrap();
        append(&path, &[event("b")], 0).unwrap();
        let events = parse_lines(&std::fs::read(&path).unwrap());
        assert_eq!(names(&events), ["a", "b"]);
    }

    #[test]
    fn a_full_log_keeps_its_newer_half_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let line_len = serde_json::to_vec(&event("v00")).unwrap().len() as u64 + 1;
        let limit = line_len * 10;
        for i in 0..10 {
            append(&path, &[event(&format!("v{i:02}"))], limit).unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), limit);
        append(&path, &[event("v10")], limit).unwrap();
        let events = parse_lines(&std::fs::read(&path).unwrap());
        let mut expected: Vec<String> = (5..10).map(|i| format!("v{i:02}")).collect();
        expected.push(path.display().to_string());
        expected.push("v10".into());
        assert_eq!(names(&events), expected);
        assert_eq!(events[5].status, "log-rotation");
        assert!(std::fs::metadata(&path).unwrap().len() <= limit);
    }

    #[test]
    fn a_follower_sees_each_event_once_across_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut from_end = Follower::open(&path, true).unwrap();
        append(&path, &[event("old")], 0).unwrap();
        let mut follower = Follower::open(&path, true).unwrap();
        assert!(follower.read_new().unwrap().is_empty());
        let mut seen = Vec::new();
        for i in 0..40 {
            append(&path, &[event(&format!("e{i:02}"))], 1200).unwrap();
            if i % 2 == 0 {
                seen.extend(names(&follower.read_new().unwrap()));
            }
        }
        seen.extend(names(&follower.read_new().unwrap()));
        let wanted: Vec<String> = (0..40).map(|i| format!("e{i:02}")).collect();
        let events: Vec<String> = seen.into_iter().filter(|n| n.starts_with('e')).collect();
        assert_eq!(events, wanted);
        // A follower made before the file existed reads it from its start.
        let all = parse_lines(&std::fs::read(&path).unwrap());
        assert_eq!(names(&from_end.read_new().unwrap()), names(&all));
    }
}
