//! Finding 3 of issue 18: skiff's own binary through /proc/PID/exe (runc's CVE-2019-5736), and
//! what `--init` showed the container. skiff forks its container processes without
//! re-executing, so before the fix a process of `skiff exec` was the host binary until it
//! exec'd, a `#!/proc/self/exe` script ran the host binary inside the container, and `--init`
//! left skiff as pid 1 with the caller's environment. Each test runs a copy of skiff installed
//! where the README tells users to install it, owned by the user skiff runs as.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;

use crate::common::{self, probes, skiff_test, TestEnv};

/// Scans /proc until /stop exists, opening every other process's exe (O_PATH: what writing
/// would start from) and counting those that are the host's skiff (device and inode given).
const SCAN_EXE: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    alarm(120); /* a test that fails before it says /stop must not leave this loop running */
    if (argc != 3) return 2;
    unsigned long long dev = strtoull(argv[1], 0, 10), ino = strtoull(argv[2], 0, 10);
    char self[32];
    snprintf(self, sizeof self, "%d", getpid());
    long scans = 0, opened = 0, caught = 0;
    FILE *ready = fopen("/ready", "w");
    if (ready) fclose(ready);
    while (access("/stop", F_OK) != 0) {
        DIR *proc = opendir("/proc");
        if (!proc) return 3;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || !strcmp(entry->d_name, self))
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%s/exe", entry->d_name);
            int fd = open(path, O_PATH);
            if (fd < 0) continue;
            struct stat st;
            if (fstat(fd, &st) == 0) {
                opened++;
                if (st.st_dev == dev && st.st_ino == ino) caught++;
            }
            close(fd);
        }
        closedir(proc);
        scans++;
    }
    FILE *result = fopen("/result", "w");
    if (!result) return 4;
    fprintf(result, "scans=%ld opened=%ld caught=%ld\n", scans, opened, caught);
    fclose(result);
    for (;;) pause();
}
"#;

/// Scans /proc until /stop exists and keeps an O_PATH descriptor of every other process's exe
/// that is not busybox (the container's own programs). Once /target names a file (device and
/// inode: the installed skiff, and nothing else, so that a failing run spoils no other binary),
/// it opens each descriptor of that file for writing through /proc/self/fd, again and again
/// (refused with ETXTBSY while something runs it), and writes a mark.
const GRAB_EXE: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct held { int fd; dev_t dev; ino_t ino; int written; };

int main(void) {
    alarm(120); /* a test that fails before it says /stop must not leave this loop running */
    struct stat own, busybox;
    if (stat("/proc/self/exe", &own) || stat("/bin/busybox", &busybox)) return 2;
    char self[32];
    snprintf(self, sizeof self, "%d", getpid());
    struct held held[256];
    int count = 0, written = 0, targeted = 0;
    unsigned long long target_dev = 0, target_ino = 0;
    FILE *ready = fopen("/ready", "w");
    if (ready) fclose(ready);
    while (access("/stop", F_OK) != 0) {
        if (!targeted) {
            FILE *target = fopen("/target", "r");
            if (target) {
                targeted = fscanf(target, "%llu %llu", &target_dev, &target_ino) == 2;
                fclose(target);
            }
        }
        DIR *proc = opendir("/proc");
        if (!proc) return 3;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || !strcmp(entry->d_name, self))
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%s/exe", entry->d_name);
            int fd = open(path, O_PATH);
            if (fd < 0) continue;
            struct stat st;
            int known = fstat(fd, &st) != 0 || count == 256
                || (st.st_dev == own.st_dev && st.st_ino == own.st_ino)
                || (st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino);
            for (int i = 0; i < count && !known; i++)
                known = held[i].dev == st.st_dev && held[i].ino == st.st_ino;
            if (known) { close(fd); continue; }
            held[count++] = (struct held){ fd, st.st_dev, st.st_ino, 0 };
        }
        closedir(proc);
        for (int i = 0; i < count && targeted; i++) {
            if (held[i].written || held[i].dev != target_dev || held[i].ino != target_ino)
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", held[i].fd);
            int fd = open(path, O_WRONLY);
            if (fd < 0) continue;
            if (pwrite(fd, "PWNED", 5, 0) == 5) { held[i].written = 1; written++; }
            close(fd);
        }
    }
    FILE *result = fopen("/result", "w");
    if (!result) return 4;
    fprintf(result, "held=%d written=%d\n", count, written);
    fclose(result);
    for (;;) pause();
}
"#;

/// Run under `--init` as pid 1's child: what it can learn of pid 1. Prints one line each for
/// its environment, its exe and ptrace.
const PEEK_AT_INIT: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    unsigned long long dev = strtoull(argv[1], 0, 10), ino = strtoull(argv[2], 0, 10);
    const char *secret = argv[3];
    char environ[65536];
    int fd = open("/proc/1/environ", O_RDONLY);
    if (fd < 0) {
        printf("environ: refused\n");
    } else {
        ssize_t n = read(fd, environ, sizeof environ - 1);
        close(fd);
        if (n < 0) n = 0;
        for (ssize_t i = 0; i < n; i++) if (!environ[i]) environ[i] = '\n';
        environ[n] = 0;
        printf("environ: %s\n", strstr(environ, secret) ? "SECRET" : "clean");
    }
    fd = open("/proc/1/exe", O_PATH);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) printf("exe: refused\n");
    else printf("exe: %s\n", st.st_dev == dev && st.st_ino == ino ? "HOST" : "other");
    if (ptrace(PTRACE_SEIZE, 1, 0, 0) == 0) printf("ptrace: attached\n");
    else printf("ptrace: refused\n");
    return 0;
}
"#;

/// An ELF program whose interpreter is /proc/self/exe: whatever execs it runs its own binary.
const INTERPRETED_BY_SELF: &str = "void _start(void) { for (;;) ; }\n";

/// A copy of the skiff under test, owned by the user skiff runs as, installed as the README says
/// (under ~/.local/bin); `replace` installs it again over itself as a new file, as an upgrade
/// does.
struct Installed {
    path: PathBuf,
}

impl Installed {
    fn new(env: &TestEnv) -> Self {
        let dir = env.path("home/.local/bin");
        std::fs::create_dir_all(&dir).unwrap();
        let installed = Installed {
            path: dir.join("skiff"),
        };
        installed.replace(env);
        installed
    }

    fn replace(&self, env: &TestEnv) {
        let fresh = self.path.with_extension("new");
        std::fs::copy(env!("CARGO_BIN_EXE_skiff"), &fresh).unwrap();
        env.give(&env.path("home"));
        std::fs::rename(&fresh, &self.path).unwrap();
    }

    fn skiff(&self, env: &TestEnv, set: &[(&str, &str)], args: &[&str]) -> common::Cmd {
        env.skiff_binary(self.path.to_str().unwrap(), set, &[], args)
    }

    /// Its device and inode, as the container's probes compare them.
    fn identity(&self) -> (String, String) {
        let meta = std::fs::metadata(&self.path).unwrap();
        (meta.dev().to_string(), meta.ino().to_string())
    }

    /// Whether its first bytes (where the probe writes) are still the ones installed.
    fn starts_intact(&self) -> bool {
        use std::io::Read;
        let start = |path: &std::path::Path| {
            let mut bytes = [0u8; 64];
            std::fs::File::open(path)
                .and_then(|mut file| file.read_exact(&mut bytes))
                .unwrap();
            bytes
        };
        start(&self.path) == start(std::path::Path::new(env!("CARGO_BIN_EXE_skiff")))
    }

    fn is_intact(&self) -> bool {
        std::fs::read(&self.path).unwrap() == std::fs::read(env!("CARGO_BIN_EXE_skiff")).unwrap()
    }
}

fn wait_for_file(env: &TestEnv, container: &str, file: &str) -> String {
    let mut content = String::new();
    common::until(&format!("{file} in {container}"), || {
        let out = env.skiff(&["exec", container, "cat", file]).output();
        content = String::from_utf8_lossy(&out.stdout).into_owned();
        out.status.success()
    });
    content
}

/// The probe's result once it is told to stop.
fn stop_probe(env: &TestEnv, container: &str) -> String {
    env.skiff(&["exec", container, "touch", "/stop"]).stdout();
    wait_for_file(env, container, "/result")
}

fn count(result: &str, key: &str) -> u64 {
    result
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in the probe's result {result:?}"))
}

#[test]
fn exec_never_shows_the_container_the_host_binary() {
    let test = skiff_test!();
    let probe = probes::static_c("scan_exe", SCAN_EXE);
    for env in test.each_env() {
        let image = env.load_testbox();
        let installed = Installed::new(&env);
        let (dev, ino) = installed.identity();
        let mount = probes::mount_arg(&probe);
        let run = ["run", "-d", "--name", "scan", "-v", &mount, image];
        let mut args = run.to_vec();
        args.extend(["/probe/scan_exe", &dev, &ino]);
        installed.skiff(&env, &[], &args).stdout();
        wait_for_file(&env, "scan", "/ready");
        for _ in 0..50 {
            installed
                .skiff(&env, &[], &["exec", "scan", "true"])
                .stdout();
        }
        let result = stop_probe(&env, "scan");
        assert!(count(&result, "scans") > 0, "{result}");
        assert_eq!(
            count(&result, "caught"),
            0,
            "the container opened the host's skiff as /proc/N/exe: {result}"
        );
        env.skiff(&["rm", "-f", "scan"]).stdout();
    }
}

#[test]
fn a_self_interpreted_program_never_reaches_the_host_binary() {
    let test = skiff_test!();
    let grab = probes::static_c("grab_exe", GRAB_EXE);
    for env in test.each_env() {
        let image = env.load_testbox();
        let elf = interpreted_by_self(&env);
        let installed = Installed::new(&env);
        let (grab_mount, elf_mount) = (probes::mount_arg(&grab), probes::mount_arg(&elf));
        installed
            .skiff(
                &env,
                &[],
                &[
                    "run",
                    "-d",
                    "--name",
                    "grab",
                    "-v",
                    &grab_mount,
                    "-v",
                    &elf_mount,
                    image,
                    "/probe/grab_exe",
                ],
            )
            .stdout();
        wait_for_file(&env, "grab", "/ready");
        let script = "printf '#!/proc/self/exe\\n' > /bin/evil && chmod +x /bin/evil";
        env.skiff(&["exec", "grab", "sh", "-c", script]).stdout();
        // An upgrade while the container runs: nothing runs the new file but the execs below.
        installed.replace(&env);
        let (dev, ino) = installed.identity();
        let target = format!("echo {dev} {ino} > /target");
        env.skiff(&["exec", "grab", "sh", "-c", &target]).stdout();
        let mut codes = Vec::new();
        // Until the probe first writes (as root it can): a spoiled binary would not run again.
        let programs = ["/bin/evil", "/probe/interpreted_by_self"];
        for program in programs.iter().cycle().take(20) {
            if !installed.starts_intact() {
                break;
            }
            let out = installed
                .skiff(&env, &[], &["exec", "grab", program])
                .output();
            codes.push(out.status.code());
        }
        // Time for the probe to write into whatever it holds that nothing runs any more.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let result = stop_probe(&env, "grab");
        env.skiff(&["rm", "-f", "grab"]).stdout();
        assert!(
            installed.is_intact(),
            "the container wrote into the installed skiff: {result}"
        );
        assert_eq!(count(&result, "written"), 0, "{result}");
        // Their interpreter, /proc/self/exe, is the sealed trampoline, which refuses to run so.
        assert_eq!(codes, vec![Some(126); 20]);
    }
}

/// The ELF program whose interpreter is /proc/self/exe, built for `env`'s user to mount.
fn interpreted_by_self(env: &TestEnv) -> PathBuf {
    let dir = env.path("elf");
    std::fs::create_dir_all(&dir).unwrap();
    let (source, binary) = (
        dir.join("interpreted_by_self.c"),
        dir.join("interpreted_by_self"),
    );
    std::fs::write(&source, INTERPRETED_BY_SELF).unwrap();
    let out = Command::new("cc")
        .args(["-nostdlib", "-nostartfiles", "-fPIE", "-pie"])
        .arg("-Wl,--dynamic-linker=/proc/self/exe")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("cc is missing: run scripts/setup-host.sh as root");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.give(&dir);
    binary
}

#[test]
fn init_shows_the_container_neither_the_callers_environment_nor_the_binary() {
    let test = skiff_test!();
    let probe = probes::static_c("peek_at_init", PEEK_AT_INIT);
    const SECRET: &str = "skiff-test-secret-7f3a9c";
    for env in test.each_env() {
        let image = env.load_testbox();
        let installed = Installed::new(&env);
        let (dev, ino) = installed.identity();
        let mount = probes::mount_arg(&probe);
        let out = installed
            .skiff(
                &env,
                &[("SKIFF_TEST_SECRET", SECRET)],
                &[
                    "run",
                    "--rm",
                    "--init",
                    "-v",
                    &mount,
                    image,
                    "/probe/peek_at_init",
                    &dev,
                    &ino,
                    SECRET,
                ],
            )
            .stdout();
        assert!(!out.contains("environ: SECRET"), "{out}");
        assert!(!out.contains("exe: HOST"), "{out}");
        assert!(out.contains("ptrace: refused"), "{out}");
    }
}

/// The trampoline's own report of an execve that fails keeps the exit codes skiff gave before:
/// 127 for a missing interpreter, 126 for an interpreter the kernel cannot execute (text
/// without `#!` runs under /bin/sh instead, as execvp runs it).
#[test]
fn failures_past_the_trampoline_keep_their_exit_codes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["run", "-d", "--name", "codes", image, "sleep", "1000"])
            .stdout();
        let files =
            "printf '#!/no/such/interpreter\\n' > /missing && printf '#!/etc/hostname\\n' > /garbage \
                     && chmod +x /missing /garbage";
        env.skiff(&["exec", "codes", "sh", "-c", files]).stdout();
        let (_, missing) = env.skiff(&["exec", "codes", "/missing"]).assert_exit(127);
        assert!(missing.contains("/missing"), "{missing}");
        let (_, garbage) = env.skiff(&["exec", "codes", "/garbage"]).assert_exit(126);
        assert!(garbage.contains("/garbage"), "{garbage}");
        env.skiff(&["rm", "-f", "codes"]).stdout();
    }
}
