//! skiff's default seccomp profile: what Podman's default (containers/common's seccomp.json)
//! decides, call by call, written as skiff's own data.
//!
//! Calls are allowed by what they are for; a call no list names fails with ENOSYS, as if the
//! kernel lacked it (so programs fall back to older calls, as glibc does from clone3 to clone
//! when clone3 is refused, and new calls stay shut until they are reviewed). A few calls
//! fail with EPERM instead: those that reach past the container, and those that need a
//! capability the container does not have. add_key and request_key, which fill the kernel's
//! keyrings, are in no list (ENOSYS); keyctl, which reads and joins them, is allowed.
//! Namespaces, mounts and setns are left to the kernel, which checks the container's
//! capabilities in its user namespace: as Podman, nested containers work.
//!
//! Rules are tried in order and the first that fits decides (see the module `bpf`).

use super::profile::{Action, ArgumentRule, Operator, Profile, Scope, SyscallRule};

/// Files, directories, descriptors and the file system's metadata.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "_llseek", "access", "chdir", "chmod", "chown", "chown32", "close", "close_range",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "flock", "fstat", "fstat64", "fstatat64",
    "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents",
    "getdents64", "ioctl", "lchown", "lchown32", "link", "linkat", "lseek", "lstat", "lstat64",
    "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "open", "openat", "openat2", "pread64",
    "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "rename", "renameat", "renameat2", "rmdir", "splice", "stat", "stat64",
    "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "tee", "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "write", "writev",
];

/// Extended attributes.
#[rustfmt::skip]
const ATTRIBUTES: &[&str] = &[
    "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "lgetxattr", "listxattr",
    "llistxattr", "lremovexattr", "lsetxattr", "removexattr", "setxattr",
];

/// Waiting for descriptors and events, and the old asynchronous I/O (not io_uring).
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "fanotify_init",
    "fanotify_mark", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "io_destroy", "io_getevents", "io_setup", "io_submit", "poll", "ppoll",
    "ppoll_time64", "pselect6", "pselect6_time64", "select",
];

/// Memory of the process itself.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "get_mempolicy", "madvise", "mbind", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync",
    "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "process_mrelease", "remap_file_pages", "set_mempolicy",
];

/// Processes and threads: their life, scheduling, limits and what they may know of the host.
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "clone", "clone3", "execve", "execveat", "exit", "exit_group", "fork", "get_thread_area",
    "getcpu", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getrlimit",
    "getrusage", "getsid", "gettid", "ioprio_get", "ioprio_set", "prctl", "prlimit64", "rseq",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "set_thread_area", "set_tid_address", "setpgid",
    "setpriority", "setrlimit", "setsid", "sysinfo", "ugetrlimit", "uname", "vfork", "wait4",
    "waitid", "waitpid",
];

/// Watching and controlling other processes of the container (the kernel checks the rights),
/// and the process's own sandboxes.
#[rustfmt::skip]
const CONTROL: &[&str] = &[
    "keyctl", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "pidfd_getfd", "pidfd_open", "pidfd_send_signal", "process_vm_readv", "process_vm_writev",
    "ptrace", "seccomp",
];

/// User and group ids, and capabilities.
#[rustfmt::skip]
const IDENTITY: &[&str] = &[
    "capget", "capset", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
    "getgroups", "getgroups32", "getresgid", "getresgid32", "getresuid", "getresuid32", "getuid",
    "getuid32", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setuid", "setuid32",
];

/// Signals and time: clocks, timers, sleeping. Setting the clock is gated below.
#[rustfmt::skip]
const SIGNALS_AND_TIME: &[&str] = &[
    "adjtimex", "alarm", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "getitimer",
    "gettimeofday", "kill", "nanosleep", "pause", "restart_syscall", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "setitimer", "sigaltstack",
    "signal", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill",
];

/// Sockets (`socket` itself is ruled on below) and System V and POSIX IPC, pipes, futexes.
#[rustfmt::skip]
const COMMUNICATION: &[&str] = &[
    "accept", "accept4", "bind", "connect", "futex", "futex_time64", "get_robust_list",
    "getpeername", "getsockname", "getsockopt", "ipc", "listen", "mq_getsetattr", "mq_notify",
    "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "pipe", "pipe2", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "set_robust_list", "setsockopt", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "socketcall", "socketpair",
];

/// Mounts and namespaces: the kernel refuses them without CAP_SYS_ADMIN in the namespace's
/// owner, and a nested user namespace gives a container that. `reboot` in a pid namespace
/// only ends it; `syslog` reading is the kernel's decision (dmesg_restrict).
#[rustfmt::skip]
const NAMESPACES: &[&str] = &[
    "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
    "name_to_handle_at", "open_tree", "pivot_root", "reboot", "setns", "syslog", "umount",
    "umount2", "unshare",
];

/// Refused with EPERM whatever the capabilities: obsolete calls, calls on the host's devices,
/// swap and kernel, userfaultfd (a tool of kernel exploits), the futex2 and io_pgetevents
/// calls not yet reviewed, and page migration between NUMA nodes.
#[rustfmt::skip]
const REFUSED: &[&str] = &[
    "bdflush", "cachestat", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake",
    "io_pgetevents", "io_pgetevents_time64", "kexec_file_load", "kexec_load", "map_shadow_stack",
    "migrate_pages", "move_pages", "nfsservctl", "nice", "oldfstat", "oldlstat", "oldolduname",
    "oldstat", "olduname", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "sgetmask",
    "ssetmask", "swapoff", "swapon", "syscall", "sysfs", "uselib", "userfaultfd", "ustat", "vm86",
    "vm86old", "vmsplice",
];

/// Calls open only to a container that has the capability (`--cap-add`, a containers.conf
/// set, `--privileged`), else EPERM.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "lookup_dcookie",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
        ],
    ),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &[
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_PTRACE", &["kcmp", "process_madvise"]),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    (
        "CAP_SYS_TIME",
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
];

/// Calls the kernel opens to either of two capabilities, as this profile does.
const BY_EITHER_CAPABILITY: &[(&str, &str, &str)] = &[
    ("bpf", "CAP_SYS_ADMIN", "CAP_BPF"),
    ("perf_event_open", "CAP_SYS_ADMIN", "CAP_PERFMON"),
];

/// The personas `personality` may set (Linux, with UNAME26 and ADDR_NO_RANDOMIZE, and
/// 0xffffffff, which only reads the current one); READ_IMPLIES_EXEC and the others are not.
const PERSONAS: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// Calls of one architecture (Go's names, as profiles write them).
const BY_ARCHITECTURE: &[(&str, &[&str])] = &[
    ("amd64", &["arch_prctl", "modify_ldt"]),
    (
        "arm64",
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
    ),
];

const AF_NETLINK: u64 = 16;
const NETLINK_AUDIT: u64 = 9;

fn rule(names: &[&str], action: Action) -> SyscallRule {
    SyscallRule {
        names: names.iter().map(|n| n.to_string()).collect(),
        name: None,
        action,
        errno_ret: None,
        errno: None,
        args: Vec::new(),
        includes: Scope::default(),
        excludes: Scope::default(),
    }
}

fn refuse(names: &[&str], errno: i32) -> SyscallRule {
    SyscallRule {
        errno_ret: Some(errno as u32),
        ..rule(names, Action::Errno)
    }
}

fn caps(names: &[&str]) -> Scope {
    Scope {
        caps: names.iter().map(|n| n.to_string()).collect(),
        ..Scope::default()
    }
}

fn argument(index: u8, op: Operator, value: u64) -> ArgumentRule {
    ArgumentRule {
        index,
        value,
        value_two: 0,
        op,
    }
}

pub(super) fn default_profile() -> Profile {
    let mut rules = vec![refuse(REFUSED, libc::EPERM)];
    for group in [
        FILES,
        ATTRIBUTES,
        EVENTS,
        MEMORY,
        PROCESSES,
        CONTROL,
        IDENTITY,
        SIGNALS_AND_TIME,
        COMMUNICATION,
        NAMESPACES,
    ] {
        rules.push(rule(group, Action::Allow));
    }
    for persona in PERSONAS {
        rules.push(SyscallRule {
            args: vec![argument(0, Operator::Equal, *persona)],
            ..rule(&["personality"], Action::Allow)
        });
    }
    for (arch, names) in BY_ARCHITECTURE {
        rules.push(SyscallRule {
            includes: Scope {
                arches: vec![arch.to_string()],
                ..Scope::default()
            },
            ..rule(names, Action::Allow)
        });
    }
    for (cap, names) in BY_CAPABILITY {
        rules.push(SyscallRule {
            includes: caps(&[cap]),
            ..rule(names, Action::Allow)
        });
        rules.push(SyscallRule {
            excludes: caps(&[cap]),
            ..refuse(names, libc::EPERM)
        });
    }
    for (name, first, second) in BY_EITHER_CAPABILITY {
        for cap in [first, second] {
            rules.push(SyscallRule {
                includes: caps(&[cap]),
                ..rule(&[name], Action::Allow)
            });
        }
        rules.push(SyscallRule {
            excludes: caps(&[first, second]),
            ..refuse(&[name], libc::EPERM)
        });
    }
    // Audit sockets need CAP_AUDIT_WRITE (EINVAL without, as if the protocol did not exist);
    // every other socket is allowed.
    rules.push(SyscallRule {
        includes: caps(&["CAP_AUDIT_WRITE"]),
        ..rule(&["socket"], Action::Allow)
    });
    rules.push(SyscallRule {
        args: vec![
            argument(0, Operator::Equal, AF_NETLINK),
            argument(2, Operator::Equal, NETLINK_AUDIT),
        ],
        ..refuse(&["socket"], libc::EINVAL)
    });
    rules.push(rule(&["socket"], Action::Allow));
    Profile {
        default_action: Action::Errno,
        default_errno_ret: Some(libc::ENOSYS as u32),
        default_errno: None,
        architectures: Vec::new(),
        arch_map: Vec::new(),
        syscalls: rules,
    }
}
