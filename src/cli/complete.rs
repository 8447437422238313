//! Shell completion, as Podman's: `skiff completion SHELL` prints a small script that, on every
//! TAB, calls skiff back (`SKIFF_COMPLETE=SHELL skiff -- WORDS…`), and skiff answers from the clap
//! definitions (subcommands, flags, fixed values) and from the store (live container, image,
//! volume and network names). The callback only reads: it opens no namespace, takes no lock,
//! writes nothing to the store, and prints nothing but the candidates.
//!
//! Why clap_complete's dynamic engine (`CompleteEnv`) rather than its static scripts plus a hidden
//! callback, measured on this CLI: the static bash script is 149 KB (zsh 151 KB, fish 184 KB) that
//! every interactive shell parses at start-up, 13 ms for bash on the test machine, and it names
//! live values only after editing the generated text by hand; the dynamic script is 1 KB and costs
//! nothing at start-up, and one callback answers flags and names alike in 7.6 ms
//! (`bench/completion.sh`: `exec <TAB>` with 50 containers, release build).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap::{Command, CommandFactory};
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter as _,
};
use clap_complete::env::{CompleteEnv, Shells};

use crate::context::{Context, StoreNames};

use super::{Cli, Outcome};

/// The environment variable that turns a run of skiff into a completion request. Not clap's
/// default `COMPLETE`: a shell that happened to export that name (`COMPLETE=1`) would turn every
/// skiff command into a failed completion request.
const VAR: &str = "SKIFF_COMPLETE";

/// Answers a completion request and exits, when this run is one; otherwise returns at once (one
/// environment look-up).
pub fn answer_if_asked() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// The clap definition with live-name completers attached: the whole tree, the commands whose
/// arguments are built on demand (`lazy.rs`) included.
fn command() -> Command {
    let mut command = Cli::command();
    command.build();
    with_completers(command, "")
}

/// Print the completion script for a shell. Source it, or install it where the shell looks
/// (bash: /usr/share/bash-completion/completions/skiff; zsh: a directory of $fpath as _skiff;
/// fish: ~/.config/fish/completions/skiff.fish). The script calls skiff back on each TAB, so it
/// completes subcommands and flags, and the names of live containers, images, volumes and
/// networks.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// Write the script to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The shell to print the script for.
    #[arg(value_parser = ["bash", "zsh", "fish", "powershell"])]
    shell: String,
}

impl CompletionArgs {
    pub fn run(self) -> Outcome {
        let script = registration(&self.shell)?;
        match &self.file {
            Some(path) => std::fs::write(path, script)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?,
            None => print!("{}", String::from_utf8_lossy(&script)),
        }
        Ok(0)
    }
}

const ZSH_AUTOLOAD: &str =
    "if [[ \"${funcstack[1]}\" == _skiff ]]; then\n    _clap_dynamic_completer_skiff \"$@\"\nfi\n";

/// The script a shell sources. It calls `skiff` by name through $PATH, so one script serves every
/// install location (the committed files in completions/ and the packages' copies are these).
pub fn registration(shell: &str) -> anyhow::Result<Vec<u8>> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell)
        .ok_or_else(|| anyhow::anyhow!("unsupported shell {shell:?}"))?;
    let mut script = Vec::new();
    completer.write_registration(VAR, "skiff", "skiff", "skiff", &mut script)?;
    if shell == "zsh" {
        // Installed in $fpath as _skiff, the file is the body of the first call: it must complete
        // that call too, not only register the function for the next TAB.
        script.extend_from_slice(ZSH_AUTOLOAD.as_bytes());
    }
    Ok(script)
}

/// The live names an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// Running containers: what `exec`, `stop`, `kill`… act on.
    Running,
    /// Created or exited containers: what `start` acts on.
    Stopped,
    Containers,
    Images,
    ContainersAndImages,
    Volumes,
    /// `-v SOURCE:DEST`: a volume name (or a host path) before the first `:`.
    VolumeSource,
    Networks,
    /// `run --network`: the modes, `container:NAME`, and user-defined networks.
    NetworkModes,
}

/// Which names the argument `arg` (its clap id) of the command at `path` ("exec", "image rm")
/// takes. By id, so commands added later with a `container`, `image`, `volume` or `network`
/// argument complete without a change here.
fn names_for(path: &str, arg: &str) -> Option<Names> {
    let leaf = path.rsplit(' ').next().unwrap_or(path);
    let group = path.split(' ').next().unwrap_or(path);
    match (arg, leaf) {
        ("container" | "containers", "exec" | "attach" | "pause" | "unpause" | "stop" | "kill")
        | ("container" | "containers", "top" | "port") => Some(Names::Running),
        ("container" | "containers", "start") => Some(Names::Stopped),
        ("container" | "containers" | "volumes_from", _) => Some(Names::Containers),
        ("image" | "images", "pull" | "search" | "import" | "load") => None,
        ("image" | "images", _) => Some(Names::Images),
        ("names" | "reference", "inspect" | "diff") => Some(match group {
            "image" => Names::Images,
            "container" => Names::Containers,
            _ => Names::ContainersAndImages,
        }),
        ("reference", "images" | "ls") if group != "volume" && group != "network" => {
            Some(Names::Images)
        }
        ("volume", "run" | "create") | ("volumes", "build") => Some(Names::VolumeSource),
        ("volume" | "volumes", _) if group == "volume" => Some(Names::Volumes),
        ("network", "run" | "create") => Some(Names::NetworkModes),
        ("network" | "networks", _) if group == "network" => Some(Names::Networks),
        _ => None,
    }
}

/// Attaches a completer to every argument `names_for` knows, in `cmd` and its subcommands.
fn with_completers(cmd: Command, parent: &str) -> Command {
    let path = if parent.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{parent} {}", cmd.get_name())
    };
    // The top-level command is `skiff`: its children's paths start at their own name.
    let child_parent = if parent.is_empty() && cmd.get_name() == "skiff" {
        String::new()
    } else {
        path.clone()
    };
    let cmd = cmd.mut_args(|arg| match names_for(&path, arg.get_id().as_str()) {
        Some(names) => arg.add(ArgValueCompleter::new(move |current: &OsStr| {
            candidates(names, current)
        })),
        None => arg,
    });
    cmd.mut_subcommands(|sub| with_completers(sub, &child_parent))
}

/// The candidates for `current` (what the user has typed of the value so far).
fn candidates(names: Names, current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    if names == Names::VolumeSource {
        return volume_sources(&current);
    }
    if names == Names::NetworkModes {
        if let Some(rest) = current.strip_prefix("container:") {
            return prefixed("container:", container_names(Names::Containers, rest));
        }
        let modes = ["none", "host", "pasta", "slirp4netns", "container:", "ns:"];
        let mut all: Vec<String> = modes.iter().map(|m| m.to_string()).collect();
        all.extend(store().map(|s| s.networks()).unwrap_or_default());
        return matching(all, &current);
    }
    let mut found: Vec<String> = Vec::new();
    if matches!(
        names,
        Names::Running | Names::Stopped | Names::Containers | Names::ContainersAndImages
    ) {
        found.extend(container_names(names, &current));
    }
    if matches!(names, Names::Images | Names::ContainersAndImages) {
        found.extend(image_names(&current));
    }
    if let Some(store) = store() {
        match names {
            Names::Volumes => found.extend(store.volumes()),
            Names::Networks => found.extend(store.networks()),
            _ => {}
        }
    }
    matching(found, &current)
}

fn matching(names: Vec<String>, current: &str) -> Vec<CompletionCandidate> {
    names
        .into_iter()
        .filter(|n| n.starts_with(current))
        .map(CompletionCandidate::new)
        .collect()
}

fn prefixed(prefix: &str, names: Vec<String>) -> Vec<CompletionCandidate> {
    names
        .into_iter()
        .map(|n| CompletionCandidate::new(format!("{prefix}{n}")))
        .collect()
}

/// `-v`: a host path when what is typed looks like one, else the volumes as `NAME:` (the shell
/// then waits for the destination); nothing once the source is complete.
fn volume_sources(current: &str) -> Vec<CompletionCandidate> {
    if current.contains(':') {
        return Vec::new();
    }
    if current.starts_with(['/', '.', '~']) {
        return PathCompleter::dir().complete(OsStr::new(current));
    }
    let volumes = store().map(|s| s.volumes()).unwrap_or_default();
    volumes
        .into_iter()
        .filter(|v| v.starts_with(current))
        .map(|v| CompletionCandidate::new(format!("{v}:")))
        .collect()
}

/// The store this command line names (`--root`, `--runroot`), else the user's default one;
/// None when it does not exist yet, so completing never creates a store.
fn store() -> Option<StoreNames> {
    let args: Vec<OsString> = std::env::args_os().collect();
    Context::existing_store_names(flag_value(&args, "--root"), flag_value(&args, "--runroot"))
}

/// The value of `--flag VALUE` or `--flag=VALUE` among the words being completed (clap's engine
/// does not pass the other arguments to a completer).
fn flag_value(args: &[OsString], flag: &str) -> Option<PathBuf> {
    let with_equals = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        let arg = arg.to_str()?;
        if arg == flag {
            args.get(i + 1).map(PathBuf::from)
        } else {
            arg.strip_prefix(&with_equals).map(PathBuf::from)
        }
    })
}

/// Container names in the wanted state; short ids too when what is typed starts one, as Podman
/// offers ids only then.
fn container_names(names: Names, current: &str) -> Vec<String> {
    let Some(store) = store() else {
        return Vec::new();
    };
    let running = match names {
        Names::Running => Some(true),
        Names::Stopped => Some(false),
        _ => None,
    };
    let mut found = Vec::new();
    for container in store.containers(running) {
        if container.name.starts_with(current) {
            found.push(container.name);
        }
        let id = container.id;
        if !current.is_empty() && id.starts_with(current) {
            found.push(id[..12.min(id.len())].to_string());
        }
    }
    found.sort();
    found
}

/// Image names as `skiff images` shows them; once something is typed, also each name's shorter
/// forms (`docker.io/library/busybox:1` as `library/busybox:1` and `busybox:1`), and short ids.
fn image_names(current: &str) -> Vec<String> {
    let Some(store) = store() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for image in &store.images() {
        for name in &image.names {
            let mut forms = vec![name.as_str()];
            if !current.is_empty() {
                forms.extend(name.match_indices('/').map(|(i, _)| &name[i + 1..]));
            }
            found.extend(
                forms
                    .into_iter()
                    .filter(|f| f.starts_with(current))
                    .map(str::to_string),
            );
        }
        if !current.is_empty() && image.id.starts_with(current) {
            found.push(image.id[..12.min(image.id.len())].to_string());
        }
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_get_the_names_their_command_acts_on() {
        assert_eq!(names_for("exec", "container"), Some(Names::Running));
        assert_eq!(
            names_for("container stop", "containers"),
            Some(Names::Running)
        );
        assert_eq!(names_for("start", "container"), Some(Names::Stopped));
        assert_eq!(names_for("rm", "containers"), Some(Names::Containers));
        assert_eq!(
            names_for("network connect", "container"),
            Some(Names::Containers)
        );
        assert_eq!(names_for("rmi", "images"), Some(Names::Images));
        assert_eq!(names_for("run", "image"), Some(Names::Images));
        assert_eq!(names_for("pull", "image"), None);
        assert_eq!(
            names_for("inspect", "names"),
            Some(Names::ContainersAndImages)
        );
        assert_eq!(names_for("image inspect", "names"), Some(Names::Images));
        assert_eq!(names_for("run", "volume"), Some(Names::VolumeSource));
        assert_eq!(names_for("volume rm", "volumes"), Some(Names::Volumes));
        assert_eq!(names_for("volume create", "name"), None);
        assert_eq!(names_for("run", "network"), Some(Names::NetworkModes));
        assert_eq!(names_for("network rm", "networks"), Some(Names::Networks));
        assert_eq!(names_for("build", "network"), None);
    }

    #[test]
    fn every_named_argument_of_the_cli_gets_a_completer() {
        let cmd = command();
        let exec = cmd.find_subcommand("exec").expect("exec");
        let container = exec.get_arguments().find(|a| a.get_id() == "container");
        assert!(container.is_some_and(|a| a.get::<ArgValueCompleter>().is_some()));
        let volume_rm = cmd
            .find_subcommand("volume")
            .and_then(|v| v.find_subcommand("rm"))
            .expect("volume rm");
        let volumes = volume_rm.get_arguments().find(|a| a.get_id() == "volumes");
        assert!(volumes.is_some_and(|a| a.get::<ArgValueCompleter>().is_some()));
    }

    #[test]
    fn the_store_is_the_one_the_command_line_names() {
        let args: Vec<OsString> = ["skiff", "--", "skiff", "--root=/a", "--runroot", "/b", "ps"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(flag_value(&args, "--root"), Some(PathBuf::from("/a")));
        assert_eq!(flag_value(&args, "--runroot"), Some(PathBuf::from("/b")));
        assert_eq!(flag_value(&args, "--storage"), None);
    }

    #[test]
    fn every_shell_gets_a_script_that_calls_skiff_back() {
        for shell in ["bash", "zsh", "fish"] {
            let script = String::from_utf8(registration(shell).expect(shell)).expect("utf-8");
            assert!(script.contains("SKIFF_COMPLETE"), "{shell}: {script}");
            assert!(script.contains("skiff"), "{shell}: {script}");
        }
        assert!(registration("tcsh").is_err());
    }
}
