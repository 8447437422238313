//! Image configuration as Docker and OCI write it. Configs are stored as the exact bytes that
//! were verified (the image ID is their digest); these types are read-only views of them, and
//! keep unknown fields (Healthcheck, OnBuild, Shell…) when skiff writes a config of its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The `config` object: defaults for containers made from the image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl RunConfig {
    /// Sets `name` in Env, replacing an earlier value (ENV, `commit -c ENV`, `build --env`).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(name));
        env.push(format!("{name}={value}"));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default = "layers_type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: layers_type(),
            diff_ids: Vec::new(),
        }
    }
}

fn layers_type() -> String {
    "layers".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("invalid image config: {e}"))
    }
}

/// The host's architecture in the names Go and OCI use.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "arm" => "arm",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Applies one `--change` instruction (Dockerfile syntax) to a config, as `podman import` does.
pub fn apply_change(config: &mut RunConfig, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (instruction, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let list = || -> Result<Vec<String>, String> {
        if rest.starts_with('[') {
            serde_json::from_str(rest)
                .map_err(|e| format!("invalid JSON array in --change {change:?}: {e}"))
        } else {
            Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
        }
    };
    let pairs = || -> Vec<(String, String)> {
        if rest.contains('=') {
            split_words(rest)
                .into_iter()
                .filter_map(|w| {
                    w.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect()
        } else {
            rest.split_once(char::is_whitespace)
                .map(|(k, v)| vec![(k.to_string(), v.trim().to_string())])
                .unwrap_or_default()
        }
    };
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(list()?),
        "ENTRYPOINT" => config.entrypoint = Some(list()?),
        "ENV" => {
            for (key, value) in pairs() {
                config.set_env(&key, &value);
            }
        }
        "WORKDIR" => config.working_dir = Some(rest.to_string()),
        "USER" => config.user = Some(rest.to_string()),
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for port in rest.split_whitespace() {
                let port = if port.contains('/') { port.to_string() } else { format!("{port}/tcp") };
                ports.insert(port, Value::Object(Map::new()));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(pairs());
        }
        "VOLUME" => {
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            let paths: Vec<String> = if rest.starts_with('[') {
                serde_json::from_str(rest).map_err(|e| format!("invalid JSON array in --change {change:?}: {e}"))?
            } else {
                rest.split_whitespace().map(String::from).collect()
            };
            for path in paths {
                volumes.insert(path, Value::Object(Map::new()));
            }
        }
        "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
        other => {
            return Err(format!(
                "invalid --change instruction {other:?}: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR"
            ))
        }
    }
    Ok(())
}

/// Splits `a=1 b="two words"` into words, honouring double quotes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields() {
        let text = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":[]},"moby":1}"#;
        let config = ImageConfig::parse(text).unwrap();
        assert_eq!(config.config.cmd, Some(vec!["sh".to_string()]));
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["config"]["Healthcheck"]["Test"][0], "NONE");
        assert_eq!(back["moby"], 1);
    }

    #[test]
    fn applies_changes() {
        let mut c = RunConfig::default();
        apply_change(&mut c, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT /bin/run").unwrap();
        apply_change(&mut c, "ENV A=1 B=\"two words\"").unwrap();
        apply_change(&mut c, "ENV A 3").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "LABEL k=v").unwrap();
        apply_change(&mut c, "VOLUME /data").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        apply_change(&mut c, "USER 1000:1000").unwrap();
        assert_eq!(c.cmd.as_ref().unwrap()[2], "echo hi");
        assert_eq!(
            c.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/bin/run".into()])
        );
        assert_eq!(c.env, Some(vec!["B=two words".into(), "A=3".into()]));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("53/udp"));
        assert_eq!(c.labels.as_ref().unwrap()["k"], "v");
        assert!(apply_change(&mut c, "RUN x").is_err());
    }
}
