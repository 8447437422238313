//! The HTTP side of talking to a registry, apart from the requests themselves: the agent, the
//! authentication challenge a registry answers with, error messages from its bodies, which
//! failures are worth a retry and the pause between tries, and small header and URL helpers.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;

use super::auth::Credentials;
use super::client::RegistryError;

/// How the registry wants to be authenticated, learnt from its answer to `GET /v2/`.
#[derive(Debug, Clone)]
pub(super) enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

pub(super) fn agent(insecure: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(insecure)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(16)
        .build()
        .into()
}

pub(super) fn transport(what: &str, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Transport {
        what: what.to_string(),
        reason: error.to_string(),
    }
}

/// The message of a registry's JSON error body (`{"errors":[{"code","message"}]}`), else the
/// status line's reason.
pub(super) fn error_message(status: u16, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let first = v.get("errors")?.get(0)?.clone();
            let message = first.get("message")?.as_str()?.to_string();
            Some(message)
        });
    from_json.unwrap_or_else(|| {
        ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map(|r| r.to_lowercase())
            .unwrap_or_else(|| format!("status {status}"))
    })
}

/// Parses `Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params).
pub(super) fn parse_challenge(header: &str) -> Challenge {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let mut values = HashMap::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        values.insert(key, value.to_string());
        rest = remaining.trim_start_matches([',', ' ']);
    }
    match values.remove("realm") {
        Some(realm) => Challenge::Bearer {
            realm,
            service: values.remove("service"),
        },
        None => Challenge::None,
    }
}

pub(super) fn is_transient(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status)
}

pub(super) fn backoff(attempt: u32) {
    std::thread::sleep(Duration::from_millis(200 << attempt.min(5)));
}

pub(super) fn is_permanent(error: &ureq::Error) -> bool {
    matches!(
        error,
        ureq::Error::HostNotFound | ureq::Error::BadUri(_) | ureq::Error::Tls(_)
    )
}

pub(super) fn basic_header(credentials: &Credentials) -> String {
    let raw = format!("{}:{}", credentials.username, credentials.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

pub(super) fn with_query(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        match c {
            Challenge::Bearer { realm, service } => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("registry.example"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_challenge(r#"Basic realm="x""#),
            Challenge::Basic
        ));
    }

    #[test]
    fn registry_error_bodies_give_their_message() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(error_message(404, body), "manifest unknown");
        assert_eq!(error_message(404, b"<html>"), "not found");
    }

    #[test]
    fn upload_locations_get_the_digest_appended() {
        assert_eq!(
            with_query(
                "http://h/v2/a/blobs/uploads/u?_state=s",
                "digest",
                "sha256:1"
            ),
            "http://h/v2/a/blobs/uploads/u?_state=s&digest=sha256:1"
        );
        assert_eq!(
            with_query("http://h/u", "digest", "d"),
            "http://h/u?digest=d"
        );
    }
}
