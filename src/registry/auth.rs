//! Registry credentials, in the files and formats Podman and Docker use (containers-auth.json(5)):
//! `auths` entries with a base64 `user:password`, and Docker's `credHelpers`/`credsStore`
//! through `docker-credential-<name> get`.
//!
//! Contract: `login` writes only the first file of the read order (or `--authfile`), keeping
//! every other key in it, atomically and readable by the user alone. Lookups never write.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::paths;

/// The password typed at the terminal on standard input, with echo off (`login` and `--creds
/// USER` without one ask for it); the terminal's settings come back afterwards.
pub fn read_password_from_terminal() -> std::io::Result<String> {
    crate::runtime::tty::read_secret_line()
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("reading credentials from {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("writing credentials to {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("credential helper docker-credential-{helper}: {reason}")]
    Helper { helper: String, reason: String },
    #[error("invalid registry {input:?}: {reason}")]
    InvalidKey { input: String, reason: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

pub struct AuthStore {
    write: PathBuf,
    read: Vec<PathBuf>,
    docker_config: Option<PathBuf>,
    /// Where to look for credential helpers (None: PATH).
    helper_dir: Option<PathBuf>,
}

/// Normalises what a user gives `login`/`logout`: no scheme, no trailing slash, and Docker
/// Hub's many spellings all mean docker.io.
pub fn normalize_key(input: &str) -> Result<String, AuthError> {
    let trimmed = input
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(AuthError::InvalidKey {
            input: input.to_string(),
            reason: "empty",
        });
    }
    let (host, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    };
    Ok(if rest.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{rest}")
    })
}

impl AuthStore {
    pub fn new(authfile: Option<PathBuf>) -> Self {
        let explicit = authfile.or_else(|| paths::from_env("REGISTRY_AUTH_FILE"));
        if let Some(path) = explicit {
            return AuthStore::with_paths(path.clone(), vec![path], None);
        }
        let runtime = paths::runtime_dir()
            .unwrap_or_else(|| PathBuf::from(format!("/run/containers/{}", nix::unistd::getuid())));
        let write = if runtime.ends_with(nix::unistd::getuid().to_string())
            && runtime.starts_with("/run/containers")
        {
            runtime.join("auth.json")
        } else {
            runtime.join("containers/auth.json")
        };
        let config = paths::config_home();
        let mut read = vec![write.clone()];
        read.extend(config.map(|c| c.join("containers/auth.json")));
        let docker_config = paths::from_env("DOCKER_CONFIG")
            .map(|d| d.join("config.json"))
            .or_else(|| paths::home().map(|h| h.join(".docker/config.json")));
        AuthStore::with_paths(write, read, docker_config)
    }

    pub fn with_paths(write: PathBuf, read: Vec<PathBuf>, docker_config: Option<PathBuf>) -> Self {
        AuthStore {
            write,
            read,
            docker_config,
            helper_dir: None,
        }
    }

    /// Runs credential helpers from this directory instead of PATH (for tests).
    pub fn with_helper_dir(mut self, dir: PathBuf) -> Self {
        self.helper_dir = Some(dir);
        self
    }

    fn read_file(path: &Path) -> Result<Option<Value>, AuthError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AuthError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuthError::Read {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }

    /// The keys an entry may be stored under, most specific first.
    fn candidate_keys(registry: &str, repository: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let components: Vec<&str> = repository.split('/').filter(|c| !c.is_empty()).collect();
        for n in (1..=components.len()).rev() {
            keys.push(format!("{registry}/{}", components[..n].join("/")));
        }
        keys.push(registry.to_string());
        if registry == "docker.io" {
            keys.push("https://index.docker.io/v1/".into());
            keys.push("index.docker.io".into());
            keys.push("registry-1.docker.io".into());
        }
        keys.push(format!("https://{registry}"));
        keys.push(format!("http://{registry}"));
        keys
    }

    fn decode(path: &Path, entry: &Value) -> Result<Option<Credentials>, AuthError> {
        let Some(auth) = entry
            .get("auth")
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
        else {
            if let Some(token) = entry.get("identitytoken").and_then(|t| t.as_str()) {
                return Ok(Some(Credentials {
                    username: "<token>".into(),
                    password: token.to_string(),
                }));
            }
            return Ok(None);
        };
        let invalid = |reason: &str| AuthError::Read {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .map_err(|_| invalid("an auth entry is not base64"))?;
        let text = String::from_utf8(bytes).map_err(|_| invalid("an auth entry is not UTF-8"))?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| invalid("an auth entry is not user:password"))?;
        Ok(Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }))
    }

    pub fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, AuthError> {
        let keys = Self::candidate_keys(registry, repository);
        for path in &self.read {
            let Some(file) = Self::read_file(path)? else {
                continue;
            };
            if let Some(found) = Self::find_in(path, &file, &keys)? {
                return Ok(Some(found));
            }
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        let Some(file) = Self::read_file(path)? else {
            return Ok(None);
        };
        if let Some(helper) = file
            .get("credHelpers")
            .and_then(|h| h.get(registry))
            .and_then(|h| h.as_str())
        {
            return self.run_helper(helper, registry);
        }
        if let Some(found) = Self::find_in(path, &file, &keys)? {
            return Ok(Some(found));
        }
        match file.get("credsStore").and_then(|s| s.as_str()) {
            Some(store) => self.run_helper(store, registry),
            None => Ok(None),
        }
    }

    fn find_in(
        path: &Path,
        file: &Value,
        keys: &[String],
    ) -> Result<Option<Credentials>, AuthError> {
        let Some(auths) = file.get("auths") else {
            return Ok(None);
        };
        for key in keys {
            if let Some(entry) = auths.get(key) {
                if let Some(found) = Self::decode(path, entry)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    fn run_helper(&self, helper: &str, registry: &str) -> Result<Option<Credentials>, AuthError> {
        let program = format!("docker-credential-{helper}");
        let program = match &self.helper_dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        let failed = |reason: String| AuthError::Helper {
            helper: helper.to_string(),
            reason,
        };
        let mut child = Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(registry.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout);
            // Helpers say "credentials not found in native keychain" when they have none.
            if text.contains("not found") {
                return Ok(None);
            }
            return Err(failed(format!(
                "{} {}",
                text.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let value: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("unreadable answer: {e}")))?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Some(Credentials {
            username: field("Username"),
            password: field("Secret"),
        }))
    }

    pub fn store(&self, key: &str, credentials: &Credentials) -> Result<PathBuf, AuthError> {
        let mut file = Self::read_file(&self.write)?.unwrap_or_else(|| json!({}));
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.username, credentials.password));
        let object = file.as_object_mut().ok_or_else(|| AuthError::Read {
            path: self.write.clone(),
            reason: "not a JSON object".into(),
        })?;
        let auths = object.entry("auths").or_insert_with(|| json!({}));
        if !auths.is_object() {
            *auths = json!({});
        }
        if let Some(map) = auths.as_object_mut() {
            map.insert(key.to_string(), json!({ "auth": encoded }));
        }
        self.write_file(&file)?;
        Ok(self.write.clone())
    }

    pub fn remove(&self, key: &str) -> Result<bool, AuthError> {
        let Some(mut file) = Self::read_file(&self.write)? else {
            return Ok(false);
        };
        let removed = file
            .get_mut("auths")
            .and_then(|a| a.as_object_mut())
            .is_some_and(|auths| auths.remove(key).is_some());
        if removed {
            self.write_file(&file)?;
        }
        Ok(removed)
    }

    pub fn remove_all(&self) -> Result<(), AuthError> {
        let Some(mut file) = Self::read_file(&self.write)? else {
            return Ok(());
        };
        if let Some(object) = file.as_object_mut() {
            object.insert("auths".into(), Value::Object(serde_json::Map::new()));
        }
        self.write_file(&file)
    }

    fn write_file(&self, value: &Value) -> Result<(), AuthError> {
        let failed = |reason: String| AuthError::Write {
            path: self.write.clone(),
            reason,
        };
        if let Some(dir) = self.write.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| failed(e.to_string()))?;
        }
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| failed(e.to_string()))?;
        // write_atomic's temporary file is created 0600, so the password is never readable.
        crate::store::write_atomic(&self.write, &bytes).map_err(|e| failed(e.to_string()))
    }

    /// Every key in the file `login` writes, for tests and `logout` messages.
    pub fn keys(&self) -> Result<BTreeMap<String, Value>, AuthError> {
        Ok(Self::read_file(&self.write)?
            .and_then(|f| f.get("auths").and_then(|a| a.as_object()).cloned())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn keys_are_normalised() {
        assert_eq!(
            normalize_key("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert_eq!(normalize_key("registry-1.docker.io").unwrap(), "docker.io");
        assert_eq!(
            normalize_key("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            normalize_key("quay.io/team/app").unwrap(),
            "quay.io/team/app"
        );
        assert!(normalize_key(" ").is_err());
    }

    #[test]
    fn login_writes_and_lookup_prefers_the_most_specific_key() {
        let dir = tempfile::tempdir().unwrap();
        let write = dir.path().join("run/containers/auth.json");
        let store = AuthStore::with_paths(write.clone(), vec![write.clone()], None);
        std::fs::create_dir_all(write.parent().unwrap()).unwrap();
        std::fs::write(&write, r#"{"auths":{},"credHelpers":{"x.io":"keep"}}"#).unwrap();
        store.store("r.io", &creds("a", "1")).unwrap();
        store
            .store("r.io/team", &creds("b", "2:with:colons"))
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&write).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            std::fs::read_to_string(&write)
                .unwrap()
                .contains("credHelpers"),
            "other keys are kept"
        );
        assert_eq!(
            store.lookup("r.io", "team/app").unwrap(),
            Some(creds("b", "2:with:colons"))
        );
        assert_eq!(
            store.lookup("r.io", "other/app").unwrap(),
            Some(creds("a", "1"))
        );
        assert_eq!(store.lookup("s.io", "x").unwrap(), None);
        assert!(store.remove("r.io").unwrap());
        assert!(!store.remove("r.io").unwrap());
        store.remove_all().unwrap();
        assert!(store.keys().unwrap().is_empty());
    }

    #[test]
    fn docker_config_and_credential_helpers_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("config.json");
        std::fs::write(
            &docker,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}},"credHelpers":{"helped.io":"test"}}"#,
        )
        .unwrap();
        let helper = dir.path().join("docker-credential-test");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"hu\\\",\\\"Secret\\\":\\\"hs\\\"}\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = AuthStore::with_paths(dir.path().join("none.json"), vec![], Some(docker))
            .with_helper_dir(dir.path().to_path_buf());
        assert_eq!(
            store.lookup("docker.io", "library/busybox").unwrap(),
            Some(creds("u", "p"))
        );
        assert_eq!(
            store.lookup("helped.io", "a").unwrap(),
            Some(creds("hu", "hs"))
        );
    }
}
