//! containers.conf(5): the settings skiff honours, merged from Podman's files in Podman's order.
//!
//! Order, lowest first: `/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`,
//! `/etc/containers/containers.conf.d/*.conf`, `$XDG_CONFIG_HOME/containers/containers.conf` (or
//! `~/.config/…`) and its `containers.conf.d/*.conf`. `CONTAINERS_CONF` replaces all of these
//! with the one file it names; `CONTAINERS_CONF_OVERRIDE` is read last even then. Each file
//! overrides the keys it sets, table by table, and leaves the others; a string array ending in
//! `{append=true}` appends to what earlier files gave (and later files then append too, until one
//! says `{append=false}`), as containers/common does. The user's files are read as root too, as
//! Podman 5 does. Every file is checked on its own, so an error names the file and line at fault.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::{config_home, dropin_files, file_from_env, parse_toml, ConfigError};

/// The merged settings. Absent keys keep skiff's own defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContainersConf {
    pub containers: ContainersTable,
    pub network: NetworkTable,
    pub engine: EngineTable,
}

/// `[containers]`: defaults for every container skiff creates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContainersTable {
    /// Environment of every new container (`KEY=VALUE`, or `KEY` for skiff's own value), under
    /// the image's and `--env`.
    pub env: StringList,
    pub dns_servers: StringList,
    pub dns_searches: StringList,
    pub dns_options: StringList,
    /// Replaces skiff's default capability set (Podman's) when given; names with or without
    /// `CAP_`.
    pub default_capabilities: Option<StringList>,
    /// Kernel settings every container gets (`--sysctl`); unset, Podman's
    /// `net.ipv4.ping_group_range=0 0`.
    pub default_sysctls: Option<StringList>,
    /// Resource limits every container gets unless `--ulimit` names the same one
    /// (`nofile=1024:2048`).
    pub default_ulimits: StringList,
    /// `--init` by default.
    pub init: bool,
    /// `--init-path` by default: a host program to be the containers' init.
    pub init_path: Option<PathBuf>,
    /// The containers' umask, in octal (`0022` when unset).
    pub umask: Option<String>,
    /// The containers' time zone (`--tz`).
    pub tz: Option<String>,
    /// `--no-hosts` by default.
    pub no_hosts: bool,
    /// `--http-proxy` by default (true when unset, as Podman's).
    pub http_proxy: Option<bool>,
    /// `--log-driver` by default.
    pub log_driver: Option<String>,
    /// `--log-opt max-size` by default; negative means no limit.
    pub log_size_max: Option<i64>,
    /// `--volume`, `--device` and `--mount` given to every container, before the command line's.
    pub volumes: StringList,
    pub devices: StringList,
    pub mounts: StringList,
    /// `--network` by default.
    pub netns: Option<String>,
    /// The seccomp profile of every container (a file in Docker's format, or `unconfined`)
    /// unless `--security-opt seccomp=` names another; unset, skiff's built-in profile.
    pub seccomp_profile: Option<String>,
    /// `--read-only` by default.
    pub read_only: bool,
    /// `--oom-score-adj` by default.
    pub oom_score_adj: Option<i32>,
    /// Most processes a container may have (Podman's default 2048; 0 or -1: no limit).
    pub pids_limit: Option<i64>,
    /// Whether containers get cgroups: enabled, disabled, no-conmon or split.
    pub cgroups: Option<String>,
}

/// `[network]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NetworkTable {
    /// The helper of a container's private network when `--network` does not name one.
    pub default_rootless_network_cmd: Option<RootlessNetworkCmd>,
    /// pasta's options when `--network pasta` gives none.
    pub pasta_options: StringList,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootlessNetworkCmd {
    Pasta,
    Slirp4netns,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EngineTable {
    /// Set in skiff's own environment (not the containers') before it does anything.
    pub env: StringList,
    /// Layers a pull fetches at once; 0 leaves skiff's default.
    pub image_parallel_copies: u32,
    /// Where `skiff events` keeps its log (read by that command).
    pub events_logfile_path: Option<PathBuf>,
}

/// A string array as containers.conf writes it: strings, with an optional `{append=BOOL}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringList(pub Vec<String>);

impl std::ops::Deref for StringList {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Item {
            Text(String),
            Attributes {
                #[allow(dead_code)]
                append: bool,
            },
        }
        let items = Vec::<Item>::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected an array of strings (optionally ending in {append=true})",
            )
        })?;
        Ok(StringList(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Item::Text(text) => Some(text),
                    Item::Attributes { .. } => None,
                })
                .collect(),
        ))
    }
}

impl ContainersConf {
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_files(&Self::files()?)
    }

    /// The files to read, lowest precedence first; those that do not exist are skipped later.
    fn files() -> Result<Vec<PathBuf>, ConfigError> {
        let mut files = Vec::new();
        match file_from_env("CONTAINERS_CONF")? {
            Some(path) => files.push(path),
            None => {
                files.push(PathBuf::from("/usr/share/containers/containers.conf"));
                let system = PathBuf::from("/etc/containers/containers.conf");
                files.extend(with_dropins(system));
                if let Some(home) = config_home() {
                    files.extend(with_dropins(home.join("containers/containers.conf")));
                }
            }
        }
        files.extend(file_from_env("CONTAINERS_CONF_OVERRIDE")?);
        Ok(files)
    }

    pub fn load_files(paths: &[PathBuf]) -> Result<Self, ConfigError> {
        let mut merged = toml::Table::new();
        let mut read = Vec::new();
        for path in paths {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ConfigError::Unusable {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            merge_tables(&mut merged, parse_toml::<toml::Table>(&text, path)?);
            read.push((path, text));
        }
        ContainersConf::deserialize(merged).map_err(|e| {
            // Only now, to keep the common case at one parse a file: decoding each file alone
            // finds the wrong value where it is written. (A wrong value that a later file
            // replaces therefore goes unreported, where Podman would refuse it.)
            read.iter()
                .find_map(|(path, text)| parse_toml::<ContainersConf>(text, path).err())
                .unwrap_or_else(|| ConfigError::Unusable {
                    path: paths.last().cloned().unwrap_or_default(),
                    reason: e.message().to_string(),
                })
        })
    }
}

/// A file followed by its `.d` drop-ins.
fn with_dropins(file: PathBuf) -> Vec<PathBuf> {
    let dropins = dropin_files(Path::new(&format!("{}.d", file.display())));
    std::iter::once(file).chain(dropins).collect()
}

/// The `{append=…}` element of a string array, if it has one.
fn append_attribute(array: &[toml::Value]) -> Option<bool> {
    array
        .iter()
        .find_map(|v| v.as_table()?.get("append")?.as_bool())
}

/// Lays `later` over `base`: tables merge key by key, other values replace, string arrays
/// append when told to (the attribute stays in the merged array, so it holds for later files).
fn merge_tables(base: &mut toml::Table, later: toml::Table) {
    for (key, value) in later {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => merge_tables(old, new),
            (Some(toml::Value::Array(old)), toml::Value::Array(new)) => {
                let append = append_attribute(&new)
                    .or_else(|| append_attribute(old))
                    .unwrap_or(false);
                if append {
                    old.retain(|v| !v.is_table());
                    old.extend(new.into_iter().filter(|v| !v.is_table()));
                    let mut attribute = toml::Table::new();
                    attribute.insert("append".into(), toml::Value::Boolean(true));
                    old.push(toml::Value::Table(attribute));
                } else {
                    *old = new;
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn later_files_override_key_by_key_and_table_by_table() {
        let dir = tempfile::tempdir().unwrap();
        let system = write(
            dir.path(),
            "system.conf",
            "[containers]\nenv = [\"A=1\"]\ninit = true\ndns_servers = [\"1.1.1.1\"]\n\
             [network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n\
             [engine]\nimage_parallel_copies = 3\nsome_unknown_key = 1\n",
        );
        let user = write(
            dir.path(),
            "user.conf",
            "[containers]\nenv = [\"B=2\"]\n[engine]\nevents_logfile_path = \"/tmp/ev\"\n",
        );
        let missing = dir.path().join("missing.conf");
        let conf = ContainersConf::load_files(&[system, missing, user]).unwrap();
        assert_eq!(conf.containers.env.0, ["B=2"]);
        assert!(conf.containers.init);
        assert_eq!(conf.containers.dns_servers.0, ["1.1.1.1"]);
        assert_eq!(
            conf.network.default_rootless_network_cmd,
            Some(RootlessNetworkCmd::Slirp4netns)
        );
        assert_eq!(conf.engine.image_parallel_copies, 3);
        assert_eq!(
            conf.engine.events_logfile_path,
            Some(PathBuf::from("/tmp/ev"))
        );
        assert!(conf.containers.default_capabilities.is_none());
    }

    #[test]
    fn append_attribute_appends_for_this_and_later_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            write(dir.path(), "1.conf", "[containers]\nenv = [\"1=a\"]\n"),
            write(dir.path(), "2.conf", "[containers]\nenv = [\"2=a\"]\n"),
            write(
                dir.path(),
                "3.conf",
                "[containers]\nenv = [\"3=a\", {append=true}]\n",
            ),
            write(dir.path(), "4.conf", "[containers]\nenv = [\"4=a\"]\n"),
        ];
        let conf = ContainersConf::load_files(&files).unwrap();
        assert_eq!(conf.containers.env.0, ["2=a", "3=a", "4=a"]);
        let reset = write(
            dir.path(),
            "5.conf",
            "[containers]\nenv = [\"5=a\", {append=false}]\n",
        );
        let mut all = files.to_vec();
        all.push(reset);
        let conf = ContainersConf::load_files(&all).unwrap();
        assert_eq!(conf.containers.env.0, ["5=a"]);
    }

    #[test]
    fn a_wrong_value_names_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "good.conf", "[containers]\ninit = true\n");
        let bad = write(dir.path(), "bad.conf", "[containers]\n\ninit = \"yes\"\n");
        let error = ContainersConf::load_files(&[good, bad.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("{}:3: ", bad.display())),
            "{error}"
        );
        let list = write(dir.path(), "list.conf", "[containers]\nenv = \"A=1\"\n");
        let error = ContainersConf::load_files(&[list]).unwrap_err().to_string();
        assert!(error.contains("list.conf:2: expected an array"), "{error}");
        let cmd = write(
            dir.path(),
            "cmd.conf",
            "[network]\ndefault_rootless_network_cmd = \"vpnkit\"\n",
        );
        let error = ContainersConf::load_files(&[cmd]).unwrap_err().to_string();
        assert!(error.contains("cmd.conf:2: "), "{error}");
        assert!(error.contains("pasta"), "{error}");
    }

    #[test]
    fn the_installed_podman_default_file_parses() {
        // What Podman's packages install, trimmed: tables skiff does not read are ignored.
        let conf: ContainersConf = parse_toml(
            "[containers]\ndefault_capabilities = [\n  \"CHOWN\",\n  \"KILL\"\n]\n\
             default_sysctls = [\n  \"net.ipv4.ping_group_range=0 0\",\n]\n[secrets]\n\
             [secrets.opts]\n[network]\n[engine]\n[engine.runtimes]\n[machine]\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(
            conf.containers.default_capabilities.unwrap().0,
            ["CHOWN", "KILL"]
        );
    }
}
