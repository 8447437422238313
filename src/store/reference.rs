//! Image references as Podman reads them for images already in the store: `busybox` means
//! `busybox:latest` under any registry (`docker.io/library/busybox:latest`, `localhost/busybox:latest`),
//! `user/app:1` means `*/user/app:1`, a name with a registry (`host:5000/app`, `localhost/x`) is exact.
//! Names given to `import`, `tag` and `commit` without a registry get `localhost/`, as Podman does.

/// A parsed `[registry/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid reference format: {reference}: {reason}")]
pub struct InvalidReference {
    pub reference: String,
    pub reason: &'static str,
}

fn is_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

impl Reference {
    pub fn parse(text: &str) -> Result<Self, InvalidReference> {
        let invalid = |reason| InvalidReference {
            reference: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("empty name"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| invalid("only sha256 digests are supported"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("a digest is sha256: and 64 hex digits"));
                }
                (r, Some(d.to_string()))
            }
            None => (text, None),
        };
        let (registry, remainder) = match rest.split_once('/') {
            Some((first, tail)) if is_registry(first) => (Some(first.to_string()), tail),
            _ => (None, rest),
        };
        let (path, tag) = match remainder.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t.to_string())),
            _ => (remainder, None),
        };
        if path.is_empty() {
            return Err(invalid("empty repository name"));
        }
        let valid_path = path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        });
        if !valid_path {
            return Err(invalid(
                "repository name must be lowercase letters, digits and separators",
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(invalid("invalid tag"));
            }
        }
        Ok(Reference {
            registry,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The name to store for a newly named image: `localhost/` when no registry is given.
    pub fn to_local_name(&self) -> String {
        let registry = self.registry.as_deref().unwrap_or("localhost");
        format!(
            "{registry}/{}:{}",
            self.path,
            self.tag.as_deref().unwrap_or("latest")
        )
    }

    /// The name a docker-archive's `RepoTags` entry stands for: Docker's default registry applies.
    pub fn to_docker_name(&self) -> String {
        match &self.registry {
            Some(r) => format!(
                "{r}/{}:{}",
                self.path,
                self.tag.as_deref().unwrap_or("latest")
            ),
            None if !self.path.contains('/') => {
                format!(
                    "docker.io/library/{}:{}",
                    self.path,
                    self.tag.as_deref().unwrap_or("latest")
                )
            }
            None => format!(
                "docker.io/{}:{}",
                self.path,
                self.tag.as_deref().unwrap_or("latest")
            ),
        }
    }

    /// Does a stored repository (`registry/path`, no tag) match this reference's name?
    pub fn matches_repository(&self, repository: &str) -> bool {
        let Ok(other) = Reference::parse(repository) else {
            return false;
        };
        match &self.registry {
            Some(r) => other.registry.as_deref() == Some(r) && other.path == self.path,
            None => other.path == self.path || other.path == format!("library/{}", self.path),
        }
    }

    /// Does a stored full name (`registry/path:tag`) match this reference?
    pub fn matches_stored(&self, stored: &str) -> bool {
        let Ok(other) = Reference::parse(stored) else {
            return false;
        };
        let tag = self.tag.as_deref().unwrap_or("latest");
        if other.tag.as_deref() != Some(tag) {
            return false;
        }
        match &self.registry {
            Some(r) => other.registry.as_deref() == Some(r) && other.path == self.path,
            None => other.path == self.path || other.path == format!("library/{}", self.path),
        }
    }
}

/// Every stored name that `reference` may mean, best first: exact names, then short-name matches.
pub fn candidate_names<'a>(reference: &str, stored: impl Iterator<Item = &'a str>) -> Vec<String> {
    let Ok(parsed) = Reference::parse(reference) else {
        return Vec::new();
    };
    let mut exact = Vec::new();
    let mut short = Vec::new();
    for name in stored {
        if name == reference {
            exact.push(name.to_string());
        } else if parsed.matches_stored(name) {
            short.push(name.to_string());
        }
    }
    // A short name prefers localhost/ (what the user made here), as Podman's lookup does.
    short.sort_by_key(|n| !n.starts_with("localhost/"));
    exact.extend(short);
    exact
}

/// Splits a stored name into (repository, tag) for `images` output.
pub fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (name.to_string(), "<none>".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_local_name(), "localhost/busybox:latest");
        assert_eq!(r.to_docker_name(), "docker.io/library/busybox:latest");
        let r = Reference::parse("127.0.0.1:5000/lab/app:v1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!((r.path.as_str(), r.tag.as_deref()), ("lab/app", Some("v1")));
        assert_eq!(
            Reference::parse("user/app").unwrap().to_docker_name(),
            "docker.io/user/app:latest"
        );
        assert!(Reference::parse("Upper").is_err());
        assert!(Reference::parse("a:b:c").is_err());
        assert!(Reference::parse("x@sha256:12").is_err());
    }

    #[test]
    fn short_names_match_any_registry_preferring_localhost() {
        let stored = [
            "docker.io/library/busybox:latest",
            "localhost/busybox:latest",
            "localhost/busybox:1",
        ];
        let found = candidate_names("busybox", stored.iter().copied());
        assert_eq!(
            found,
            [
                "localhost/busybox:latest",
                "docker.io/library/busybox:latest"
            ]
        );
        assert_eq!(
            candidate_names("busybox:1", stored.iter().copied()),
            ["localhost/busybox:1"]
        );
        assert_eq!(
            candidate_names("localhost/busybox:1", stored.iter().copied()),
            ["localhost/busybox:1"]
        );
        assert!(candidate_names("quay.io/busybox", stored.iter().copied()).is_empty());
    }

    #[test]
    fn splits_repository_and_tag() {
        assert_eq!(
            split_name("localhost:5000/a:b"),
            ("localhost:5000/a".into(), "b".into())
        );
    }
}
