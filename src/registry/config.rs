//! registries.conf (containers-registries.conf(5), version 2): short-name search, per-registry
//! `insecure` and `blocked`, mirrors and `location` rewrites, and `[aliases]`.
//!
//! Contract: files are read as Podman reads them (`RegistriesConf::files`): the chosen file, the
//! user's or the system's, then `registries.conf.d` drop-ins in name order — and a file that does not parse is
//! the one-line `file:line: reason` error of `crate::config`. Nothing here talks to the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const SYSTEM_FILE: &str = "/etc/containers/registries.conf";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] crate::config::ConfigError),
    /// A file that parses but says something impossible.
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("registry {registry} is blocked in registries.conf")]
    Blocked { registry: String },
}

#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    pub unqualified_search_registries: Vec<String>,
    pub registries: Vec<RegistryEntry>,
    pub aliases: BTreeMap<String, String>,
    pub short_name_mode: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RegistryEntry {
    pub prefix: String,
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirrors: Vec<Mirror>,
}

#[derive(Debug, Clone)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
}

/// One place to try fetching a repository from, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// host[:port]
    pub registry: String,
    /// The repository's path inside it.
    pub repository: String,
    pub insecure: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileV2 {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<FileRegistry>,
    aliases: Option<BTreeMap<String, String>>,
    /// Version 1's tables, still found on older systems.
    registries: Option<FileV1>,
}

#[derive(Debug, Deserialize, Default)]
struct FileRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror: Vec<FileMirror>,
}

#[derive(Debug, Deserialize, Default)]
struct FileMirror {
    location: String,
    #[serde(default)]
    insecure: bool,
}

#[derive(Debug, Deserialize, Default)]
struct FileV1 {
    search: Option<FileV1List>,
    insecure: Option<FileV1List>,
    block: Option<FileV1List>,
}

#[derive(Debug, Deserialize, Default)]
struct FileV1List {
    #[serde(default)]
    registries: Vec<String>,
}

/// The registry part of `host/path` matched against a prefix, on a path-component boundary.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or(name);
        return host.ends_with(&format!(".{domain}"));
    }
    name == prefix
        || (name.starts_with(prefix)
            && matches!(name.as_bytes().get(prefix.len()), Some(b'/' | b':' | b'@')))
}

fn split_location(location: &str) -> (String, String) {
    match location.split_once('/') {
        Some((host, path)) => (host.to_string(), path.to_string()),
        None => (location.to_string(), String::new()),
    }
}

impl RegistriesConf {
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_files(&Self::files(
            crate::paths::from_env("CONTAINERS_REGISTRIES_CONF"),
            crate::paths::home(),
            Path::new(SYSTEM_FILE),
        ))
    }

    /// The files containers/image reads, in order: `CONTAINERS_REGISTRIES_CONF`, else the
    /// user's `$HOME/.config/containers/registries.conf` (HOME, not XDG_CONFIG_HOME, and as root
    /// too), else /etc/containers/registries.conf; then drop-ins. The user's file takes the user's
    /// `registries.conf.d` where there is one, else the system's; any other file takes the
    /// system's and then the user's.
    fn files(chosen: Option<PathBuf>, home: Option<PathBuf>, system: &Path) -> Vec<PathBuf> {
        let system = system.to_path_buf();
        let system_dir = system.with_extension("conf.d");
        let user = home.map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = user.as_ref().map(|u| u.with_extension("conf.d"));
        let main = match (chosen, &user) {
            (Some(chosen), _) => chosen,
            (None, Some(user)) if user.exists() => user.clone(),
            _ => system,
        };
        let mut files = vec![main.clone()];
        if Some(&main) == user.as_ref() {
            let dir = user_dir.filter(|d| d.is_dir()).unwrap_or(system_dir);
            files.extend(crate::config::dropin_files(&dir));
        } else {
            files.extend(crate::config::dropin_files(&system_dir));
            if let Some(dir) = user_dir {
                files.extend(crate::config::dropin_files(&dir));
            }
        }
        files
    }

    pub fn load_files(paths: &[PathBuf]) -> Result<Self, ConfigError> {
        let mut merged = RegistriesConf::default();
        for path in paths {
            if let Some((file, _)) = crate::config::read_toml::<FileV2>(path)? {
                merged.merge(Self::convert(file, path)?);
            }
        }
        Ok(merged)
    }

    /// A later file overrides what it sets: the search list and mode wholesale, registries by
    /// prefix, aliases by name (as containers/image merges drop-ins).
    fn merge(&mut self, other: RegistriesConf) {
        if !other.unqualified_search_registries.is_empty() {
            self.unqualified_search_registries = other.unqualified_search_registries;
        }
        if other.short_name_mode.is_some() {
            self.short_name_mode = other.short_name_mode;
        }
        for entry in other.registries {
            self.registries.retain(|r| r.prefix != entry.prefix);
            self.registries.push(entry);
        }
        self.aliases.extend(other.aliases);
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        Self::convert(crate::config::parse_toml(text, origin)?, origin)
    }

    fn convert(file: FileV2, origin: &Path) -> Result<Self, ConfigError> {
        let mut conf = RegistriesConf {
            unqualified_search_registries: file.unqualified_search_registries.unwrap_or_default(),
            short_name_mode: file.short_name_mode,
            aliases: file.aliases.unwrap_or_default(),
            registries: Vec::new(),
        };
        for registry in file.registry {
            let (prefix, location) = match (registry.prefix, registry.location) {
                (Some(p), Some(l)) => (p, l),
                (Some(p), None) => (p.clone(), p),
                (None, Some(l)) => (l.clone(), l),
                (None, None) => {
                    return Err(ConfigError::Invalid {
                        path: origin.to_path_buf(),
                        reason: "a [[registry]] needs a prefix or a location".into(),
                    })
                }
            };
            conf.registries.push(RegistryEntry {
                prefix,
                location,
                insecure: registry.insecure,
                blocked: registry.blocked,
                mirrors: registry
                    .mirror
                    .into_iter()
                    .map(|m| Mirror {
                        location: m.location,
                        insecure: m.insecure,
                    })
                    .collect(),
            });
        }
        if let Some(v1) = file.registries {
            if let Some(search) = v1.search {
                conf.unqualified_search_registries.extend(search.registries);
            }
            for (list, insecure) in [(v1.insecure, true), (v1.block, false)] {
                for host in list.map(|l| l.registries).unwrap_or_default() {
                    conf.registries.push(RegistryEntry {
                        prefix: host.clone(),
                        location: host,
                        insecure,
                        blocked: !insecure,
                        mirrors: Vec::new(),
                    });
                }
            }
        }
        Ok(conf)
    }

    fn entry_for(&self, name: &str) -> Option<&RegistryEntry> {
        self.registries
            .iter()
            .filter(|r| prefix_matches(&r.prefix, name))
            .max_by_key(|r| r.prefix.len())
    }

    pub fn sources(&self, registry: &str, repository: &str) -> Result<Vec<Source>, ConfigError> {
        let name = format!("{registry}/{repository}");
        let Some(entry) = self.entry_for(&name) else {
            return Ok(vec![Source {
                registry: registry.to_string(),
                repository: repository.to_string(),
                insecure: false,
            }]);
        };
        if entry.blocked {
            return Err(ConfigError::Blocked {
                registry: registry.to_string(),
            });
        }
        // A wildcard prefix keeps the name; otherwise the location replaces the prefix.
        let rest = if entry.prefix.starts_with("*.") {
            None
        } else {
            Some(&name[entry.prefix.len()..])
        };
        let rewrite = |location: &str, insecure: bool| {
            let full = match rest {
                Some(rest) => format!("{location}{rest}"),
                None => name.clone(),
            };
            let (registry, repository) = split_location(&full);
            Source {
                registry,
                repository,
                insecure,
            }
        };
        let mut sources: Vec<Source> = entry
            .mirrors
            .iter()
            .map(|m| rewrite(&m.location, m.insecure))
            .collect();
        sources.push(rewrite(&entry.location, entry.insecure));
        Ok(sources)
    }

    pub fn is_insecure(&self, registry: &str, repository: &str) -> bool {
        self.entry_for(&format!("{registry}/{repository}"))
            .or_else(|| self.entry_for(registry))
            .is_some_and(|e| e.insecure)
    }

    pub fn resolve_short_name(&self, name: &str) -> Vec<String> {
        if let Some(alias) = self.aliases.get(name) {
            let alias = alias
                .rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .map(|(n, _)| n)
                .unwrap_or(alias);
            return vec![alias.to_string()];
        }
        let registries = if self.unqualified_search_registries.is_empty() {
            vec!["docker.io".to_string()]
        } else {
            self.unqualified_search_registries.clone()
        };
        registries
            .into_iter()
            .map(|registry| {
                if registry == "docker.io" && !name.contains('/') {
                    format!("docker.io/library/{name}")
                } else {
                    format!("{registry}/{name}")
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_follow_containers_image_choice_and_drop_ins() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |rel: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
            path
        };
        let system = dir.path().join("etc/registries.conf");
        let system_dropin = touch("etc/registries.conf.d/10-sys.conf");
        let home = dir.path().join("home");
        let user_dropin = touch("home/.config/containers/registries.conf.d/20-user.conf");
        let files =
            |chosen: Option<PathBuf>| RegistriesConf::files(chosen, Some(home.clone()), &system);
        // No user file: the system's, its drop-ins, then the user's.
        assert_eq!(
            files(None),
            [system.clone(), system_dropin.clone(), user_dropin.clone()]
        );
        // The user's file (under $HOME/.config) takes only the user's drop-ins.
        let user = touch("home/.config/containers/registries.conf");
        assert_eq!(files(None), [user.clone(), user_dropin.clone()]);
        // CONTAINERS_REGISTRIES_CONF wins over the user's file.
        let chosen = dir.path().join("chosen.conf");
        assert_eq!(
            files(Some(chosen.clone())),
            [chosen, system_dropin.clone(), user_dropin.clone()]
        );
        // Without a user drop-in directory, the user's file takes the system's.
        std::fs::remove_dir_all(user_dropin.parent().unwrap()).unwrap();
        assert_eq!(files(None), [user, system_dropin]);
    }

    fn conf(text: &str) -> RegistriesConf {
        RegistriesConf::parse(text, Path::new("test.conf")).unwrap()
    }

    #[test]
    fn short_names_use_the_search_list_and_aliases() {
        let c = conf(
            r#"unqualified-search-registries = ["quay.io", "docker.io"]
[aliases]
"app" = "registry.example/team/app:1"
"#,
        );
        assert_eq!(
            c.resolve_short_name("busybox"),
            ["quay.io/busybox", "docker.io/library/busybox"]
        );
        assert_eq!(
            c.resolve_short_name("user/x"),
            ["quay.io/user/x", "docker.io/user/x"]
        );
        assert_eq!(c.resolve_short_name("app"), ["registry.example/team/app"]);
        assert_eq!(
            RegistriesConf::default().resolve_short_name("busybox"),
            ["docker.io/library/busybox"]
        );
    }

    #[test]
    fn mirrors_come_first_and_locations_rewrite_the_prefix() {
        let c = conf(
            r#"[[registry]]
prefix = "example.com/foo"
location = "internal:5000/bar"
insecure = true
[[registry.mirror]]
location = "mirror.local/cache"
[[registry]]
location = "example.com"
[[registry]]
prefix = "*.blocked.example"
blocked = true
location = "x"
"#,
        );
        let sources = c.sources("example.com", "foo/app").unwrap();
        assert_eq!(
            sources,
            [
                Source {
                    registry: "mirror.local".into(),
                    repository: "cache/app".into(),
                    insecure: false
                },
                Source {
                    registry: "internal:5000".into(),
                    repository: "bar/app".into(),
                    insecure: true
                },
            ]
        );
        // "foobar" is not under the prefix "foo": the shorter entry applies.
        assert_eq!(
            c.sources("example.com", "foobar").unwrap()[0].repository,
            "foobar"
        );
        assert!(c.is_insecure("example.com", "foo/app"));
        assert!(!c.is_insecure("example.com", "other"));
        assert!(matches!(
            c.sources("r.blocked.example", "a"),
            Err(ConfigError::Blocked { .. })
        ));
        assert_eq!(
            c.sources("elsewhere.io", "a/b").unwrap()[0].registry,
            "elsewhere.io"
        );
    }

    #[test]
    fn drop_ins_override_and_bad_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("registries.conf");
        let dropin = dir.path().join("50-local.conf");
        std::fs::write(
            &main,
            "unqualified-search-registries = [\"a.io\"]\n[[registry]]\nlocation = \"h:1\"\n",
        )
        .unwrap();
        std::fs::write(&dropin, "unqualified-search-registries = [\"b.io\"]\n[[registry]]\nlocation = \"h:1\"\ninsecure = true\n").unwrap();
        let c = RegistriesConf::load_files(&[main.clone(), dropin]).unwrap();
        assert_eq!(c.unqualified_search_registries, ["b.io"]);
        assert!(c.is_insecure("h:1", "x"));
        std::fs::write(&main, "# x\nunqualified-search-registries = [").unwrap();
        let error = RegistriesConf::load_files(std::slice::from_ref(&main))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("{}:2: ", main.display())),
            "{error}"
        );
    }

    #[test]
    fn version_1_tables_are_read() {
        let c = conf("[registries.search]\nregistries = ['r.io']\n[registries.insecure]\nregistries = ['i:5000']\n");
        assert_eq!(c.unqualified_search_registries, ["r.io"]);
        assert!(c.is_insecure("i:5000", "a"));
    }
}
