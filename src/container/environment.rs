//! Docker's rules for a container's argv and environment: Entrypoint and Cmd, env files, the
//! order in which environments override each other, and a new container's environment from
//! its image and the command line (socket activation's variables among them).

use anyhow::{Context as _, Result};

use super::CreateOptions;
use crate::image::config::RunConfig;

/// Docker's argv: Entrypoint + Cmd, where arguments replace Cmd and `--entrypoint` replaces the
/// Entrypoint and drops the image's Cmd.
pub fn compose_command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    entrypoint: Option<&str>,
    args: &[String],
) -> Vec<String> {
    let (entry, default_cmd): (Vec<String>, Vec<String>) = match entrypoint {
        Some("") => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.to_string()], Vec::new()),
        None => (
            image_entrypoint.unwrap_or_default().to_vec(),
            image_cmd.unwrap_or_default().to_vec(),
        ),
    };
    let cmd = if args.is_empty() {
        default_cmd
    } else {
        args.to_vec()
    };
    entry.into_iter().chain(cmd).collect()
}

/// The entries of an env or label file: its lines without blank ones and # comments.
pub fn key_value_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Parses an env file: `KEY=value` lines, `KEY` alone takes the host's value, # comments.
pub fn parse_env_file(text: &str) -> Vec<String> {
    key_value_lines(text).filter_map(expand_env_entry).collect()
}

/// `-e KEY` without `=` takes the value from skiff's environment, and is dropped if unset.
pub(super) fn expand_env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

/// skiff's whole environment as KEY=VALUE entries (`--env-host`), leaving out what is not
/// UTF-8.
pub(super) fn host_environment() -> impl Iterator<Item = String> {
    std::env::vars_os().filter_map(|(key, value)| {
        let key = key.into_string().ok()?;
        // systemd's socket is `--sdnotify`'s to pass in, at a path of the container's.
        (key != "NOTIFY_SOCKET").then_some(())?;
        Some(format!("{key}={}", value.into_string().ok()?))
    })
}

/// The proxy settings of skiff's own environment, which `--http-proxy` (on by default) passes
/// on, as Podman's list has them.
pub(super) fn proxy_environment() -> impl Iterator<Item = String> {
    const PROXY_VARIABLES: [&str; 8] = [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ftp_proxy",
        "FTP_PROXY",
        "no_proxy",
        "NO_PROXY",
    ];
    PROXY_VARIABLES
        .into_iter()
        .filter_map(|key| Some(format!("{key}={}", std::env::var(key).ok()?)))
}

/// `--env-merge KEY=VALUE`: each VALUE with the variables of `current` (the defaults so far)
/// substituted by the shell word rules Podman uses for it (`$KEY`, `${KEY}`, `${KEY:-word}`…).
pub(super) fn merged_env(current: &[String], merges: &[String]) -> anyhow::Result<Vec<String>> {
    let lookup = |name: &str| {
        current.iter().rev().find_map(|entry| {
            let (key, value) = entry.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    };
    merges
        .iter()
        .map(|merge| {
            let Some((key, value)) = merge.split_once('=') else {
                anyhow::bail!("invalid --env-merge {merge:?}: expected KEY=VALUE");
            };
            let value = crate::words::expand(value, &lookup, '\\')
                .map_err(|e| anyhow::anyhow!("--env-merge {merge:?}: {e}"))?;
            Ok(format!("{key}={value}"))
        })
        .collect()
}

/// Later entries override earlier ones with the same key; order of first appearance is kept.
pub fn merge_env(layers: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::new();
    for entry in layers {
        let key = entry
            .split_once('=')
            .map(|(k, _)| k)
            .unwrap_or(&entry)
            .to_string();
        match merged
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key.as_str()))
        {
            Some(existing) => *existing = entry,
            None => merged.push(entry),
        }
    }
    merged
}

/// The process's environment, with socket activation's variables when skiff was given
/// sockets (LISTEN_FDS), and how many descriptors they are.
pub(super) fn environment_with_activation(
    options: &CreateOptions,
    run: &RunConfig,
    hostname: &str,
) -> Result<(Vec<String>, u32)> {
    let activation = socket_activation();
    let variables = activation.as_ref().map(|(_, v)| v.as_slice());
    let env = environment(
        options,
        run.env.as_deref().unwrap_or_default(),
        hostname,
        variables,
    )?;
    Ok((env, activation.map_or(0, |(count, _)| count)))
}

/// The container's environment, later sources overriding earlier ones: the defaults (a PATH,
/// containers.conf `env`, the image's, `container=skiff`, and TERM with `-t`) less what
/// `--unsetenv` or `--unsetenv-all` leave out, skiff's own with `--env-host`, env files, socket
/// activation's variables, `--env`, and HOSTNAME.
pub(super) fn environment(
    options: &CreateOptions,
    image_env: &[String],
    hostname: &str,
    activation: Option<&[String]>,
) -> Result<Vec<String>> {
    let mut sources: Vec<String> =
        vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    sources.extend(
        options
            .default_env
            .iter()
            .filter_map(|e| expand_env_entry(e)),
    );
    sources.extend(image_env.iter().cloned());
    sources.push("container=skiff".into());
    if options.tty {
        sources.push("TERM=xterm".into());
    }
    let left_out = |entry: &String| {
        let key = entry.split_once('=').map_or(entry.as_str(), |(key, _)| key);
        options.unsetenv_all || options.unsetenv.iter().any(|unset| unset == key)
    };
    sources.retain(|entry| !left_out(entry));
    let merged = merged_env(&sources, &options.env_merge)?;
    sources.extend(merged);
    if options.http_proxy {
        sources.extend(proxy_environment());
    }
    if options.env_host {
        sources.extend(host_environment());
    }
    for file in &options.env_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading env file {}", file.display()))?;
        sources.extend(parse_env_file(&text));
    }
    sources.extend(activation.unwrap_or_default().iter().cloned());
    sources.extend(options.env.iter().filter_map(|e| expand_env_entry(e)));
    sources.push(format!("HOSTNAME={hostname}"));
    Ok(merge_env(sources))
}

/// Socket activation, as Podman honours it: when systemd's LISTEN_FDS is meant for this
/// process (LISTEN_PID is its pid), the container's process is passed descriptors 3 to
/// 3+LISTEN_FDS-1 and told so as if systemd had started it (LISTEN_PID=1, its pid there).
/// The count and the variables.
pub(super) fn socket_activation() -> Option<(u32, Vec<String>)> {
    let listen_pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let count: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if listen_pid != std::process::id() || count == 0 {
        return None;
    }
    let mut variables = vec![format!("LISTEN_FDS={count}"), "LISTEN_PID=1".to_string()];
    if let Ok(names) = std::env::var("LISTEN_FDNAMES") {
        variables.push(format!("LISTEN_FDNAMES={names}"));
    }
    Some((count, variables))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn docker_rules_for_entrypoint_and_cmd() {
        let entry = strings(&["/entry"]);
        let cmd = strings(&["sh"]);
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), None, &[]),
            strings(&["/entry", "sh"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), None, &strings(&["ls"])),
            strings(&["/entry", "ls"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some("/other"), &[]),
            strings(&["/other"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some("/other"), &strings(&["-x"])),
            strings(&["/other", "-x"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some(""), &strings(&["ls"])),
            strings(&["ls"])
        );
        assert!(compose_command(None, None, None, &[]).is_empty());
    }

    #[test]
    fn env_merging_and_files() {
        let merged = merge_env(strings(&["PATH=/bin", "A=1", "A=2", "B=3"]));
        assert_eq!(merged, strings(&["PATH=/bin", "A=2", "B=3"]));
        std::env::set_var("SKIFF_TEST_FROM_HOST", "yes");
        let parsed = parse_env_file("# c\nX=1\n\nSKIFF_TEST_FROM_HOST\nSKIFF_TEST_UNSET_VAR_ZZZ\n");
        assert_eq!(parsed, strings(&["X=1", "SKIFF_TEST_FROM_HOST=yes"]));
    }
}
