//! The trampoline: a tiny static program, with no C library, that skiff embeds (build.rs
//! compiles this file on its own) and runs from a sealed memfd (see `sealed_exec.rs`). It is
//! the last step of every container process and the `--init` of a container, so that no
//! process in a container ever has skiff's own binary as its `/proc/self/exe` (runc's
//! CVE-2019-5736): a `#!/proc/self/exe` script or an ELF whose interpreter is
//! `/proc/self/exe` gets this program, sealed and private to one start, instead.
//!
//! What it does is chosen by `argv[0]`; anything else (this program run by a container, as
//! such an interpreter or through /proc/N/exe) exits with 126 at once:
//! - `skiff-exec FD PATH ARG0 ARGS...`: marks FD close-on-exec and execs PATH with ARG0 ARGS...
//!   and the environment as given. A file the kernel will not execute (ENOEXEC: a script
//!   without `#!`) runs under /bin/sh instead, as execvp runs it (and crun, Podman's default
//!   runtime). Should execve fail, it writes to FD the failure skiff reads on its error channel
//!   — `EXEC_FAILED`, the errno (4 bytes, native order), ARG0 — so skiff still tells "not
//!   found" (127) from "cannot execute" (126).
//! - `skiff-init PID READY`: the container's pid 1 for `--init`, PID its command. It makes itself
//!   non-dumpable, then closes READY, a pipe PID waits on before it execs, so that the container
//!   never sees its init traceable. It forwards every signal to PID, reaps every child, and
//!   exits as PID does (128 + signal for a signal). skiff blocks all signals before it execs
//!   this, so none is lost meanwhile.
//!
//! Only ordinary system calls: fcntl, execve, write, close, exit_group, prctl, rt_sigprocmask,
//! rt_sigtimedwait, wait4, kill.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};

/// The error channel's kind byte for a failed execve (`EXEC_FAILED` in skiff's runtime/channel.rs).
const EXEC_FAILED: u8 = b'e';
/// The exit code of a run that is not one of skiff's.
const NOT_FOR_YOU: i32 = 126;

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const EXECVE: usize = 59;
    pub const WAIT4: usize = 61;
    pub const KILL: usize = 62;
    pub const FCNTL: usize = 72;
    pub const RT_SIGTIMEDWAIT: usize = 128;
    pub const PRCTL: usize = 157;
    pub const EXIT_GROUP: usize = 231;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const FCNTL: usize = 25;
    pub const CLOSE: usize = 57;
    pub const WRITE: usize = 64;
    pub const EXIT_GROUP: usize = 94;
    pub const KILL: usize = 129;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGTIMEDWAIT: usize = 137;
    pub const PRCTL: usize = 167;
    pub const EXECVE: usize = 221;
    pub const WAIT4: usize = 260;
}

// The kernel starts a static program at _start with the stack holding argc, argv, NULL, envp,
// NULL; the entry hands that address to `main` with the stack aligned as calls expect.
#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {main}",
    "ud2",
    main = sym main,
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov x0, sp",
    "bl {main}",
    "brk #0",
    main = sym main,
);

#[cfg(target_arch = "x86_64")]
unsafe fn syscall(number: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let result: isize;
    // SAFETY: the caller passes arguments valid for the system call `number`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number as isize => result,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall(number: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let result: isize;
    // SAFETY: the caller passes arguments valid for the system call `number`.
    unsafe {
        asm!(
            "svc 0",
            in("x8") number,
            inlateout("x0") a as isize => result,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            options(nostack),
        );
    }
    result
}

fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes a plain integer and does not return.
        unsafe { syscall(nr::EXIT_GROUP, code as usize, 0, 0, 0) };
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(NOT_FOR_YOU)
}

/// The NUL-terminated string at `s`, without its NUL.
///
/// # Safety
/// `s` points to a NUL-terminated string that outlives the program (argv's).
unsafe fn c_str(s: *const u8) -> &'static [u8] {
    let mut length = 0;
    // Read as volatile so that the compiler does not turn the loop into a call to strlen,
    // which there is no C library to provide.
    // SAFETY: the string is NUL-terminated, so every byte up to the NUL is readable.
    while unsafe { s.add(length).read_volatile() } != 0 {
        length += 1;
    }
    // SAFETY: as above: `length` bytes from `s` are the string.
    unsafe { core::slice::from_raw_parts(s, length) }
}

fn parse_number(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    let mut value = 0usize;
    for &digit in text {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + usize::from(digit - b'0');
    }
    Some(value)
}

/// # Safety
/// `stack` is the initial stack the kernel laid out for this program.
unsafe extern "C" fn main(stack: *const usize) -> ! {
    // SAFETY: the kernel put argc first, then argc argument pointers and a NULL, then the
    // environment's pointers and a NULL.
    let (argc, argv) = unsafe { (*stack, stack.add(1) as *const *const u8) };
    // SAFETY: as above.
    let envp = unsafe { argv.add(argc + 1) };
    // SAFETY: the first `argc` entries of argv are NUL-terminated strings.
    let arg = |n: usize| (n < argc).then(|| unsafe { c_str(*argv.add(n)) });
    match (arg(0), arg(1)) {
        (Some(b"skiff-exec"), Some(fd)) if argc >= 4 => {
            let Some(fd) = parse_number(fd) else {
                exit(NOT_FOR_YOU)
            };
            // SAFETY: argv[2] and argv[3..] are NUL-terminated and NULL-terminated as execve
            // wants them, in the writable array the kernel laid out; envp likewise.
            unsafe { exec(fd, argv.add(2) as *mut *const u8, envp) }
        }
        (Some(b"skiff-init"), Some(pid)) if argc == 3 => {
            match (parse_number(pid), arg(2).and_then(parse_number)) {
                (Some(pid), Some(ready)) => init(pid, ready),
                _ => exit(NOT_FOR_YOU),
            }
        }
        _ => exit(NOT_FOR_YOU),
    }
}

/// # Safety
/// `slots` is a writable array: the program's path, then its argv (at least one entry) ending
/// in NULL; every string is NUL-terminated; `envp` is a NULL-terminated array of them.
unsafe fn exec(fd: usize, slots: *mut *const u8, envp: *const *const u8) -> ! {
    const F_SETFD: usize = 2;
    const FD_CLOEXEC: usize = 1;
    const ENOEXEC: isize = 8;
    const SHELL: &[u8] = b"/bin/sh\0";
    // SAFETY: as promised by the caller.
    let (path, argv) = unsafe { (*slots, slots.add(1)) };
    // SAFETY: argv[0] is a NUL-terminated string, read before the slots may change.
    let program = unsafe { c_str(*argv) };
    // SAFETY: fcntl on a number is harmless whatever it names; the strings are as promised.
    let errno = unsafe {
        syscall(nr::FCNTL, fd, F_SETFD, FD_CLOEXEC, 0);
        -syscall(nr::EXECVE, path as usize, argv as usize, envp as usize, 0)
    };
    if errno == ENOEXEC {
        // /bin/sh PATH ARGS..., in the same array: the path's slot takes the shell, ARG0's the
        // path. Should the shell fail too, the program's own failure is the one reported.
        // SAFETY: both slots exist and are writable; the strings are NUL-terminated.
        unsafe {
            *slots = SHELL.as_ptr();
            *argv = path;
            syscall(nr::EXECVE, SHELL.as_ptr() as usize, slots as usize, envp as usize, 0);
        }
    }
    let errno = (errno as i32).to_ne_bytes();
    for part in [&[EXEC_FAILED][..], &errno, program] {
        // SAFETY: each part is a readable slice; a pipe takes a write this small whole.
        unsafe { syscall(nr::WRITE, fd, part.as_ptr() as usize, part.len(), 0) };
    }
    exit(1)
}

fn init(command: usize, ready: usize) -> ! {
    const PR_SET_DUMPABLE: usize = 4;
    const PR_SET_NAME: usize = 15;
    const SIG_BLOCK: usize = 0;
    const SIGCHLD: isize = 17;
    const WNOHANG: usize = 1;
    let every_signal: u64 = !0;
    let set = &every_signal as *const u64 as usize;
    // SAFETY: each call gets plain integers or pointers to live values of the sizes it reads.
    unsafe {
        // Not for the container's root to trace or read (its own capabilities do not include
        // CAP_SYS_PTRACE unless added); and a name for `ps` instead of the memfd's number.
        syscall(nr::PRCTL, PR_SET_DUMPABLE, 0, 0, 0);
        // Only now may the command go on to exec.
        syscall(nr::CLOSE, ready, 0, 0, 0);
        syscall(
            nr::PRCTL,
            PR_SET_NAME,
            b"skiff-init\0".as_ptr() as usize,
            0,
            0,
        );
        // Already blocked by skiff; SIGKILL and SIGSTOP are left out by the kernel.
        syscall(nr::RT_SIGPROCMASK, SIG_BLOCK, set, 0, 8);
    }
    loop {
        // SAFETY: the set is 8 bytes as said; no siginfo and no timeout are asked for.
        let signal = unsafe { syscall(nr::RT_SIGTIMEDWAIT, set, 0, 0, 8) };
        if signal <= 0 {
            continue;
        }
        if signal != SIGCHLD {
            // SAFETY: kill takes plain integers.
            unsafe { syscall(nr::KILL, command, signal as usize, 0, 0) };
            continue;
        }
        loop {
            let mut status: i32 = 0;
            let status_at = &mut status as *mut i32 as usize;
            // SAFETY: wait4 writes one int at `status_at`; no rusage is asked for.
            let pid = unsafe { syscall(nr::WAIT4, usize::MAX, status_at, WNOHANG, 0) };
            if pid <= 0 {
                break;
            }
            if pid as usize == command {
                let signal = status & 0x7f;
                exit(if signal == 0 {
                    (status >> 8) & 0xff
                } else {
                    128 + signal
                });
            }
        }
    }
}
