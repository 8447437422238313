//! Terminals for `run -t`: the pty is created inside the container's own devpts (so `tty` prints
//! /dev/pts/0, as with runc), its master is passed to skiff over a unix socket, and skiff relays
//! between it and the user's terminal in raw mode, keeping the window size in step.

use std::io::{IoSlice, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::channel::{sys_error, ChildError};
use super::error::Error;
use super::process::{forward_signal, reap, receive_fds};

nix::ioctl_write_int_bad!(set_controlling_terminal, libc::TIOCSCTTY);
nix::ioctl_read_bad!(get_window_size, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(set_window_size_raw, libc::TIOCSWINSZ, libc::winsize);

/// In the container: makes a pty in its devpts, sends the master to skiff, and makes the slave
/// the controlling terminal and stdio of a new session.
pub(crate) fn attach_container_terminal(socket: BorrowedFd<'_>) -> Result<(), ChildError> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| sys_error("opening /dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| sys_error("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| sys_error("unlockpt", e))?;
    let slave_name = nix::pty::ptsname_r(&master).map_err(|e| sys_error("ptsname", e))?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(b"T")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| sys_error("sending the terminal to skiff", e))?;
    drop(master);
    nix::unistd::setsid().map_err(|e| sys_error("setsid", e))?;
    let slave = nix::fcntl::open(
        slave_name.as_str(),
        OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| sys_error(&format!("opening {slave_name}"), e))?;
    // SAFETY: TIOCSCTTY takes an int argument and only reads it; `slave` is an open tty.
    unsafe { set_controlling_terminal(slave.as_raw_fd(), 0) }
        .map_err(|e| sys_error("TIOCSCTTY", e))?;
    nix::unistd::dup2_stdin(&slave).map_err(|e| sys_error("dup2 of the terminal", e))?;
    nix::unistd::dup2_stdout(&slave).map_err(|e| sys_error("dup2 of the terminal", e))?;
    nix::unistd::dup2_stderr(&slave).map_err(|e| sys_error("dup2 of the terminal", e))?;
    Ok(())
}

/// In skiff: receives the pty master, or None if the container process ended first.
pub(crate) fn receive_fd(socket: &OwnedFd) -> Result<Option<OwnedFd>, Error> {
    let fds = receive_fds(socket).map_err(|e| Error::sys("receiving the terminal", e))?;
    Ok(fds.into_iter().next())
}

/// The user's side of a container terminal.
pub(crate) struct TerminalSession {
    master: OwnedFd,
    /// Restores the user's terminal settings when the session ends.
    _raw: RawInput,
    relay_stdin: bool,
}

fn copy_window_size(from: BorrowedFd<'_>, to: &OwnedFd) {
    if let Some((rows, columns)) = window_size(from) {
        set_window_size(to.as_fd(), rows, columns);
    }
}

impl TerminalSession {
    pub(crate) fn start(master: OwnedFd, relay_stdin: bool) -> Result<Self, Error> {
        let raw = RawInput::start()?;
        let size_from = if raw.0.is_some() {
            std::io::stdin().as_fd().try_clone_to_owned()
        } else {
            std::io::stdout().as_fd().try_clone_to_owned()
        };
        if let Ok(from) = size_from {
            copy_window_size(from.as_fd(), &master);
        }
        Ok(TerminalSession {
            master,
            _raw: raw,
            relay_stdin,
        })
    }

    /// Copies stdin to the pty and the pty to stdout, forwarding signals (`proxy`; else they
    /// are dropped), until the process ends.
    pub(crate) fn relay_until_exit(
        &mut self,
        pid: Pid,
        signal_fd: &nix::sys::signalfd::SignalFd,
        proxy: bool,
    ) -> Result<WaitStatus, Error> {
        let stdin = std::io::stdin();
        let mut stdin_open = self.relay_stdin;
        let mut master_open = true;
        let mut buf = vec![0u8; 32 * 1024];
        let mut exited = None;
        loop {
            if exited.is_some() && !master_open {
                break;
            }
            let mut fds = vec![
                PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
                PollFd::new(
                    self.master.as_fd(),
                    if master_open {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::empty()
                    },
                ),
            ];
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            let timeout = if exited.is_some() {
                PollTimeout::from(100u16)
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                Ok(0) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", e)),
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            let signal_ready = ready(&fds[0]);
            let master_ready = ready(&fds[1]);
            let stdin_ready = fds.get(2).is_some_and(ready);
            drop(fds);
            if signal_ready {
                if let Ok(Some(info)) = signal_fd.read_signal() {
                    if info.ssi_signo as i32 == libc::SIGWINCH {
                        copy_window_size(stdin.as_fd(), &self.master);
                    } else if proxy {
                        forward_signal(pid, info.ssi_signo as i32);
                    }
                }
                if exited.is_none() {
                    exited = reap(pid)?;
                }
            }
            if master_ready {
                match nix::unistd::read(&self.master, &mut buf) {
                    Ok(0) | Err(nix::errno::Errno::EIO) => master_open = false,
                    Ok(n) => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                    Err(_) => master_open = false,
                }
            }
            if stdin_ready {
                match nix::unistd::read(stdin.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(&self.master, &buf[..n]);
                    }
                }
            }
        }
        match exited {
            Some(status) => Ok(status),
            None => nix::sys::wait::waitpid(pid, None)
                .map_err(|e| Error::sys("waiting for the container", e)),
        }
    }
}

/// The size of the terminal on `fd`, as (rows, columns); None when it is not a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into `size`; a non-tty just returns ENOTTY.
    unsafe { get_window_size(fd.as_raw_fd(), &mut size) }.ok()?;
    Some((size.ws_row, size.ws_col))
}

/// Sets the size of the terminal whose master (or slave) is `fd`; its foreground process group
/// gets SIGWINCH.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, columns: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from `size`; a non-tty just returns ENOTTY.
    let _ = unsafe { set_window_size_raw(fd.as_raw_fd(), &size) };
}

/// Standard input in raw mode while this lives, when it is a terminal: keys go to the container
/// one by one, ctrl-C included. Dropping it restores the settings.
pub struct RawInput(Option<Termios>);

impl RawInput {
    pub fn start() -> Result<Self, Error> {
        let stdin = std::io::stdin();
        if !nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
            return Ok(RawInput(None));
        }
        let saved = termios::tcgetattr(stdin.as_fd())
            .map_err(|e| Error::sys("reading terminal settings", e))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
            .map_err(|e| Error::sys("setting raw mode", e))?;
        Ok(RawInput(Some(saved)))
    }
}

impl Drop for RawInput {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Reads one line from the terminal on standard input with echo off, for `login`'s password
/// prompt; the terminal's settings are restored afterwards.
pub fn read_secret_line() -> std::io::Result<String> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(termios::LocalFlags::ECHO);
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let result = stdin.read_line(&mut line);
    let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &saved);
    result?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
