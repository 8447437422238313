//! `attach`: a detached container's supervisor serves its terminal, or its standard streams, on a
//! unix socket in the container's runtime directory, and `attach`, `run -it` and `start -ai` are
//! its clients. The client that starts a container (`run -it`) is handed to the supervisor as
//! its standard input before the container exists, so not a byte of output is missed.
//!
//! Both directions carry frames: a kind byte, a big-endian u32 length, the payload.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Result};

use super::current_state;
use crate::context::Context;
use crate::runtime;
use crate::store::containers::{ContainerRecord, Status};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;

/// The largest frame either side accepts: a bound on what a confused peer can make us allocate.
const MAX_FRAME: usize = 1 << 20;

/// The socket's name in the container's runtime directory.
const SOCKET_NAME: &str = "attach";

fn write_frame(stream: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

fn read_frame(stream: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match stream.read_exact(&mut header) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        result => result?,
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

/// The socket path, reached through the directory's descriptor: a runtime directory path can be
/// longer than the 108 bytes a unix socket address holds.
fn socket_address(dir: &File) -> String {
    format!("/proc/self/fd/{}/{SOCKET_NAME}", dir.as_raw_fd())
}

/// Where attached input goes: the container's terminal, or the pipe that is its standard input.
pub enum Input {
    /// Not interactive: input is dropped.
    Closed,
    Terminal(File),
    Pipe(File),
}

/// The supervisor's side. Threads run and the socket exists only between
/// [`AttachServer::serve`] and [`AttachServer::finish`], while the container runs: the
/// supervisor clones the container's next run from a single-threaded process again.
pub struct AttachServer {
    dir: File,
    clients: Arc<Mutex<Vec<UnixStream>>>,
    readers: Vec<UnixStream>,
    input: Arc<Mutex<Input>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    listener: Option<(UnixListener, JoinHandle<()>)>,
}

impl AttachServer {
    pub fn new(run_dir: &Path) -> Result<Self> {
        Ok(AttachServer {
            dir: File::open(run_dir)?,
            clients: Arc::default(),
            readers: Vec::new(),
            input: Arc::new(Mutex::new(Input::Closed)),
            threads: Arc::default(),
            listener: None,
        })
    }

    /// Adds a client connected before the container starts (`run -it`): output reaches it from
    /// the first byte; its input is read once [`AttachServer::serve`] runs.
    pub fn add_client(&mut self, stream: UnixStream) -> Result<()> {
        self.readers.push(stream.try_clone()?);
        register(&self.clients, stream);
        Ok(())
    }

    /// A handle the output relays use to reach the clients.
    pub fn sender(&self) -> Sender {
        Sender(Arc::clone(&self.clients))
    }

    /// Opens the socket, and starts accepting clients and reading their input into `input`.
    pub fn serve(&mut self, input: Input) -> Result<()> {
        if let Ok(mut slot) = self.input.lock() {
            *slot = input;
        }
        for reader in self.readers.drain(..) {
            spawn_reader(&self.threads, reader, Arc::clone(&self.input));
        }
        let address = socket_address(&self.dir);
        let _ = std::fs::remove_file(&address);
        let listener = UnixListener::bind(&address)?;
        let accepting = listener.try_clone()?;
        let clients = Arc::clone(&self.clients);
        let input = Arc::clone(&self.input);
        let threads = Arc::clone(&self.threads);
        let acceptor = std::thread::spawn(move || {
            // Ends when `finish` shuts the socket down.
            while let Ok((stream, _)) = accepting.accept() {
                if let Ok(reader) = stream.try_clone() {
                    register(&clients, stream);
                    spawn_reader(&threads, reader, Arc::clone(&input));
                }
            }
        });
        self.listener = Some((listener, acceptor));
        Ok(())
    }

    /// Tells every client how the container ended, disconnects them, removes the socket and
    /// joins every thread.
    pub fn finish(&mut self, exit_code: i32) {
        broadcast(&self.clients, EXIT, &exit_code.to_be_bytes());
        if let Some((listener, acceptor)) = self.listener.take() {
            runtime::detach::stop_listening(&listener);
            let _ = acceptor.join();
            let _ = std::fs::remove_file(socket_address(&self.dir));
        }
        if let Ok(mut clients) = self.clients.lock() {
            for client in clients.drain(..) {
                let _ = client.shutdown(std::net::Shutdown::Both);
            }
        }
        for reader in self.readers.drain(..) {
            let _ = reader.shutdown(std::net::Shutdown::Both);
        }
        let threads: Vec<_> = self
            .threads
            .lock()
            .map(|mut threads| threads.drain(..).collect())
            .unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
        if let Ok(mut slot) = self.input.lock() {
            *slot = Input::Closed;
        }
    }
}

/// The output side of an [`AttachServer`], for the threads relaying the container's output.
#[derive(Clone)]
pub struct Sender(Arc<Mutex<Vec<UnixStream>>>);

impl Sender {
    /// Sends a chunk of output to every client; a client that cannot take it within the write
    /// timeout is dropped rather than allowed to stall the container.
    pub fn send(&self, stderr: bool, data: &[u8]) {
        broadcast(&self.0, if stderr { STDERR } else { STDOUT }, data);
    }
}

fn register(clients: &Mutex<Vec<UnixStream>>, stream: UnixStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    if let Ok(mut clients) = clients.lock() {
        clients.push(stream);
    }
}

fn broadcast(clients: &Mutex<Vec<UnixStream>>, kind: u8, data: &[u8]) {
    if let Ok(mut clients) = clients.lock() {
        clients.retain_mut(|client| write_frame(client, kind, data).is_ok());
    }
}

fn spawn_reader(
    threads: &Mutex<Vec<JoinHandle<()>>>,
    mut reader: UnixStream,
    input: Arc<Mutex<Input>>,
) {
    let thread = std::thread::spawn(move || {
        while let Ok(Some((kind, payload))) = read_frame(&mut reader) {
            let Ok(mut slot) = input.lock() else { return };
            match (kind, &mut *slot) {
                (STDIN, Input::Terminal(file) | Input::Pipe(file))
                    if (&*file).write_all(&payload).is_err() =>
                {
                    *slot = Input::Closed;
                }
                (RESIZE, Input::Terminal(master)) if payload.len() == 4 => {
                    let rows = u16::from_be_bytes([payload[0], payload[1]]);
                    let columns = u16::from_be_bytes([payload[2], payload[3]]);
                    runtime::tty::set_window_size(master.as_fd(), rows, columns);
                }
                _ => {}
            }
        }
    });
    if let Ok(mut threads) = threads.lock() {
        threads.push(thread);
    }
}

/// `--detach-keys`: Docker's syntax, comma-separated `ctrl-<key>` or single characters; an
/// empty string turns detaching off.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|key| {
            let control = key.strip_prefix("ctrl-");
            let byte = match (control, key.as_bytes()) {
                (Some(name), _) if name.len() == 1 => match name.as_bytes()[0] {
                    letter @ b'a'..=b'z' => Some(letter - b'a' + 1),
                    b'@' => Some(0),
                    symbol @ (b'[' | b'\\' | b']' | b'^' | b'_') => Some(symbol - b'[' + 27),
                    _ => None,
                },
                (None, [single]) => Some(*single),
                _ => None,
            };
            byte.ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid detach key {key:?}: use a letter, or ctrl- and one of a-z, @, [, \\, ], ^, _ (for example ctrl-p,ctrl-q)"
                )
            })
        })
        .collect()
}

/// Watches the input for the detach sequence. A partial match is held back until the next byte
/// shows whether it completes the sequence, so none of it reaches the container when it does.
struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatch {
    /// The bytes to pass on, and whether the sequence is now complete.
    fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &byte in input {
            if self.keys.is_empty() {
                out.push(byte);
                continue;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(byte);
            }
        }
        (out, false)
    }
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Exited(i32),
    /// The user typed the detach sequence; the container goes on.
    Detached,
    /// The supervisor went away without saying how the container ended.
    Lost,
}

/// Connects to a running container's attach socket.
fn connect(run_dir: &Path) -> io::Result<UnixStream> {
    let dir = File::open(run_dir)?;
    UnixStream::connect(socket_address(&dir))
}

/// Relays between the user and the container until it exits or the user detaches. With `tty`
/// (the container has a terminal), raw mode and the window size follow the user's. Signals the
/// client receives (other than window changes) go to `forward_signal`.
fn run_client(
    stream: UnixStream,
    options: &SessionOptions,
    tty: bool,
    forward_signal: impl Fn(i32) + Send + 'static,
) -> Result<Ending> {
    // Blocked before any thread exists, so every thread leaves them to the watcher.
    let signals = runtime::SignalWatch::start()?;
    let _raw = if tty && options.stdin {
        Some(runtime::tty::RawInput::start()?)
    } else {
        None
    };
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let send_size = {
        let writer = Arc::clone(&writer);
        move || {
            let size = runtime::tty::window_size(io::stdin().as_fd())
                .or_else(|| runtime::tty::window_size(io::stdout().as_fd()));
            if let (Some((rows, columns)), Ok(mut writer)) = (size, writer.lock()) {
                let mut payload = rows.to_be_bytes().to_vec();
                payload.extend_from_slice(&columns.to_be_bytes());
                let _ = write_frame(&mut *writer, RESIZE, &payload);
            }
        }
    };
    if tty {
        send_size();
    }
    std::thread::spawn(move || {
        while let Some(signal) = signals.next() {
            match signal {
                libc::SIGWINCH => send_size(),
                libc::SIGCHLD => {}
                other => forward_signal(other),
            }
        }
    });
    let detached = Arc::new(AtomicBool::new(false));
    if options.stdin {
        let writer = Arc::clone(&writer);
        let detached = Arc::clone(&detached);
        let mut watch = DetachWatch {
            keys: options.detach_keys.clone(),
            matched: 0,
        };
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buffer = vec![0u8; 32 * 1024];
            loop {
                let n = match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => {
                        // A terminal cannot be closed: the end of piped input reaches the
                        // container as the ctrl-D a user would type, so a shell fed a script
                        // ends instead of waiting for ever.
                        if tty {
                            if let Ok(mut writer) = writer.lock() {
                                let _ = write_frame(&mut *writer, STDIN, b"\x04");
                            }
                        }
                        return;
                    }
                    Ok(n) => n,
                };
                let (pass, detach) = watch.feed(&buffer[..n]);
                let Ok(mut writer) = writer.lock() else {
                    return;
                };
                if !pass.is_empty() && write_frame(&mut *writer, STDIN, &pass).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        });
    }
    let mut reader = stream;
    let mut stdout = io::stdout();
    let mut stderr = io::stderr();
    loop {
        let frame = read_frame(&mut reader);
        if detached.load(Ordering::SeqCst) {
            return Ok(Ending::Detached);
        }
        match frame {
            Ok(Some((STDOUT, data))) => {
                let _ = stdout.write_all(&data);
                let _ = stdout.flush();
            }
            Ok(Some((STDERR, data))) => {
                let _ = stderr.write_all(&data);
                let _ = stderr.flush();
            }
            Ok(Some((EXIT, code))) if code.len() == 4 => {
                return Ok(Ending::Exited(i32::from_be_bytes([
                    code[0], code[1], code[2], code[3],
                ])))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return Ok(Ending::Lost),
        }
    }
}

/// What an attach session relays, and the key sequence that leaves it.
pub struct SessionOptions {
    /// Relay standard input (`attach --no-stdin` turns it off).
    pub stdin: bool,
    pub detach_keys: Vec<u8>,
    /// Signals the client receives go on to the container (`run --sig-proxy`; never for
    /// `run -t`, whose terminal carries them).
    pub forward_signals: bool,
}

/// `attach`: joins a running container's supervisor; the container's exit code, or 0 when the
/// user detaches.
pub fn attach(ctx: &Context, reference: &str, options: &SessionOptions) -> Result<i32> {
    attach_record(ctx, &ctx.store.find_container(reference)?, options)
}

fn attach_record(ctx: &Context, record: &ContainerRecord, options: &SessionOptions) -> Result<i32> {
    let state = current_state(ctx, &record.id);
    let (Status::Running, Some(pid)) = (state.status, state.pid) else {
        bail!("you can only attach to running containers");
    };
    let stream = connect(&ctx.store.container_run_dir(&record.id)).map_err(|error| {
        anyhow::anyhow!(
            "cannot attach to {}: it was not started in the background (run -d, start), so no supervisor serves it ({error})",
            record.name
        )
    })?;
    session(ctx, record, stream, pid, options)
}

/// `run -it` and `start -ai`: starts the container under a supervisor with this process as its
/// first client, then relays until it exits or the user detaches. A container that already
/// runs is attached to, as `start -a` does with Docker.
pub fn start_attached(
    ctx: &Context,
    record: &ContainerRecord,
    options: &SessionOptions,
) -> Result<i32> {
    if current_state(ctx, &record.id).status == Status::Running {
        return attach_record(ctx, record, options);
    }
    let (ours, theirs) = UnixStream::pair()?;
    super::detached::start_detached(ctx, record, Some(theirs))?;
    let pid = current_state(ctx, &record.id).pid.unwrap_or(0);
    session(ctx, record, ours, pid, options)
}

fn session(
    ctx: &Context,
    record: &ContainerRecord,
    stream: UnixStream,
    pid: i32,
    options: &SessionOptions,
) -> Result<i32> {
    let attach = crate::events::Event::container(crate::events::Status::Attach, record);
    crate::events::record(&ctx.store, attach);
    // Signals sent to this process go on to the container, as Podman's --sig-proxy does.
    let proxy = options.forward_signals;
    let forward = move |signal: i32| {
        if let (true, Ok(signal)) = (proxy, nix::sys::signal::Signal::try_from(signal)) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    };
    match run_client(stream, options, record.spec.process.terminal, forward)? {
        Ending::Exited(code) => Ok(code),
        Ending::Detached => Ok(0),
        Ending::Lost => {
            let state =
                super::lifecycle::wait_until_stopped(ctx, &record.id, Some(Duration::from_secs(5)));
            match (state.status, state.exit_code) {
                (Status::Exited, Some(code)) => Ok(code),
                _ => bail!(
                    "lost the connection to the supervisor of container {}",
                    record.name
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-_,x").unwrap(),
            vec![0, 31, b'x']
        );
        assert_eq!(parse_detach_keys("ctrl-[").unwrap(), vec![27]);
        assert!(parse_detach_keys("").unwrap().is_empty());
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-pq").is_err());
        assert!(parse_detach_keys("alt-x").is_err());
    }

    #[test]
    fn the_detach_sequence_is_held_back_and_never_passed_on() {
        let mut watch = DetachWatch {
            keys: vec![16, 17],
            matched: 0,
        };
        assert_eq!(watch.feed(b"ab\x10"), (b"ab".to_vec(), false));
        // The held ctrl-p turns out not to start the sequence: it is passed on after all.
        assert_eq!(watch.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(watch.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(watch.feed(b"\x11rest"), (Vec::new(), true));
        let mut off = DetachWatch {
            keys: Vec::new(),
            matched: 0,
        };
        assert_eq!(off.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDERR, b"hello").unwrap();
        write_frame(&mut wire, EXIT, &7i32.to_be_bytes()).unwrap();
        let mut reader = wire.as_slice();
        assert_eq!(
            read_frame(&mut reader).unwrap(),
            Some((STDERR, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut reader).unwrap(),
            Some((EXIT, 7i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut reader).unwrap(), None);
        let huge = [STDOUT, 0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut huge.as_slice()).is_err());
    }
}
