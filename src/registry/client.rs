//! A client for the OCI distribution API (and Docker's registry v2, which it grew from), on ureq.
//!
//! Why not oci-client: it forces tokio and reqwest (147 crates against ureq's 35, about 3 MB more
//! binary and 30–45 s more per cold build, measured in ../shared/research/crates.md), and skiff
//! forks into user namespaces, where a runtime's hidden threads holding locks across `fork` are a
//! hazard. With a blocking client the only threads are the ones a pull starts, joined before
//! anything forks. Owning the client also lets us stream blobs through our own verification and
//! extraction, resume them with `Range`, and word errors the way Podman does.
//!
//! Contract: every request carries what the registry asked for (anonymous, basic, or a bearer
//! token for the request's scope, fetched once and reused); idempotent requests are retried with
//! backoff on transport errors and 429/5xx; nothing here writes to the store.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use ureq::http::{Method, Request, Response};
use ureq::Body;

use super::auth::Credentials;
use super::http::{
    agent, backoff, basic_header, error_message, is_permanent, is_transient, parse_challenge,
    transport, with_query, Challenge,
};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// Manifests and configs are small; a registry sending more is broken or hostile.
const MAX_SMALL_BODY: u64 = 32 << 20;
const ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("pinging container registry {registry}: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("{what}: authentication required: {reason}")]
    Unauthorized { what: String, reason: String },
    #[error("{what}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: {reason}")]
    Transport { what: String, reason: String },
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

impl RegistryError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Status { status: 404, .. })
    }
}

/// What a request sends.
pub enum Payload {
    Empty,
    Bytes(Vec<u8>),
    File(std::path::PathBuf),
}

/// One registry endpoint, with its credentials and token cache.
pub struct Client {
    agent: ureq::Agent,
    registry: String,
    base: String,
    credentials: Option<Credentials>,
    challenge: Challenge,
    tokens: Mutex<HashMap<String, String>>,
}

pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

impl Client {
    /// Connects to `registry` (host[:port]): https, or, when `insecure`, https without
    /// verification and then plain http, as `--tls-verify=false` does in Podman.
    pub fn connect(
        registry: &str,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Result<Client, RegistryError> {
        let agent = agent(insecure);
        let schemes: &[&str] = if insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last_error = String::new();
        for scheme in schemes {
            let base = format!("{scheme}://{registry}");
            let url = format!("{base}/v2/");
            // With a plain-HTTP fallback, an https failure moves on at once: it is most often a
            // registry that does not speak TLS, and retrying it cost 2.8 s per pull.
            let attempts = if *scheme == "https" && insecure {
                1
            } else {
                ATTEMPTS
            };
            let mut attempt = 0;
            let response = loop {
                match agent.get(&url).call() {
                    Ok(r) if is_transient(r.status().as_u16()) && attempt + 1 < attempts => {}
                    Ok(r) => break Ok(r),
                    Err(e) if attempt + 1 < attempts && !is_permanent(&e) => {}
                    Err(e) => break Err(e),
                }
                attempt += 1;
                backoff(attempt);
            };
            match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let challenge = match status {
                        401 => response
                            .headers()
                            .get("www-authenticate")
                            .and_then(|h| h.to_str().ok())
                            .map(parse_challenge)
                            .unwrap_or(Challenge::None),
                        _ => Challenge::None,
                    };
                    if status != 200 && status != 401 {
                        last_error = format!("{url}: unexpected status {status}");
                        continue;
                    }
                    return Ok(Client {
                        agent,
                        registry: registry.to_string(),
                        base,
                        credentials,
                        challenge,
                        tokens: Mutex::new(HashMap::new()),
                    });
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(RegistryError::Unreachable {
            registry: registry.to_string(),
            reason: if insecure || last_error.contains("lookup") || last_error.contains("refused") {
                last_error
            } else {
                format!("{last_error} (for a registry without TLS use --tls-verify=false, or insecure = true in registries.conf)")
            },
        })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Checks that the credentials are accepted, for `login`.
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let what = format!("logging in to {}", self.registry);
        let response = self.request(Method::GET, "/v2/", "", &[], &Payload::Empty, &what)?;
        match response.status().as_u16() {
            200 => Ok(()),
            status => Err(self.status_error(&what, response, status)),
        }
    }

    fn token(&self, scope: &str, what: &str) -> Result<Option<String>, RegistryError> {
        let Challenge::Bearer { realm, service } = &self.challenge else {
            return Ok(None);
        };
        if let Some(token) = self.tokens.lock().ok().and_then(|t| t.get(scope).cloned()) {
            return Ok(Some(token));
        }
        let mut request = self.agent.get(realm);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        for part in scope.split(' ').filter(|s| !s.is_empty()) {
            request = request.query("scope", part);
        }
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", basic_header(credentials));
        }
        let mut response = request.call().map_err(|e| transport(what, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_vec()
            .map_err(|e| transport(what, e))?;
        if status != 200 {
            return Err(RegistryError::Unauthorized {
                what: what.to_string(),
                reason: format!(
                    "the token server {realm} answered: {}",
                    error_message(status, &body)
                ),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Invalid {
                what: what.to_string(),
                reason: format!("token response: {e}"),
            })?;
        let token = value
            .get("token")
            .or_else(|| value.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| RegistryError::Invalid {
                what: what.to_string(),
                reason: "the token response holds no token".into(),
            })?
            .to_string();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(scope.to_string(), token.clone());
        }
        Ok(Some(token))
    }

    fn authorization(&self, scope: &str, what: &str) -> Result<Option<String>, RegistryError> {
        match &self.challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(self.credentials.as_ref().map(basic_header)),
            Challenge::Bearer { .. } => Ok(self.token(scope, what)?.map(|t| format!("Bearer {t}"))),
        }
    }

    /// Sends one request with the authorization its scope needs, retrying on transport errors
    /// and transient statuses (every payload can be sent again).
    pub fn request(
        &self,
        method: Method,
        path_or_url: &str,
        scope: &str,
        headers: &[(&str, String)],
        payload: &Payload,
        what: &str,
    ) -> Result<Response<Body>, RegistryError> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let mut attempt = 0;
        loop {
            let authorization = self.authorization(scope, what)?;
            let mut builder = Request::builder().method(method.clone()).uri(&url);
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            if let Some(auth) = authorization {
                builder = builder.header("Authorization", auth);
            }
            let result = match payload {
                Payload::Empty => builder
                    .body(&[] as &[u8])
                    .map_err(|e| transport(what, e))
                    .map(|r| self.agent.run(r))?,
                Payload::Bytes(bytes) => builder
                    .body(bytes.as_slice())
                    .map_err(|e| transport(what, e))
                    .map(|r| self.agent.run(r))?,
                Payload::File(path) => {
                    let file = std::fs::File::open(path).map_err(|e| transport(what, e))?;
                    builder
                        .body(file)
                        .map_err(|e| transport(what, e))
                        .map(|r| self.agent.run(r))?
                }
            };
            attempt += 1;
            match result {
                Ok(response) if attempt < ATTEMPTS && is_transient(response.status().as_u16()) => {
                    backoff(attempt)
                }
                // A token can expire during a long transfer: fetch a new one once.
                Ok(response)
                    if response.status().as_u16() == 401
                        && attempt == 1
                        && matches!(self.challenge, Challenge::Bearer { .. }) =>
                {
                    let had_token = self
                        .tokens
                        .lock()
                        .map(|mut t| t.remove(scope).is_some())
                        .unwrap_or(false);
                    if !had_token {
                        return Ok(response);
                    }
                }
                Ok(response) => return Ok(response),
                Err(e) if attempt < ATTEMPTS && !is_permanent(&e) => backoff(attempt),
                Err(e) => return Err(transport(what, e)),
            }
        }
    }

    fn status_error(&self, what: &str, mut response: Response<Body>, status: u16) -> RegistryError {
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap_or_default();
        let message = error_message(status, &body);
        if status == 401 || status == 403 {
            RegistryError::Unauthorized {
                what: what.to_string(),
                reason: message,
            }
        } else {
            RegistryError::Status {
                what: what.to_string(),
                status,
                message,
            }
        }
    }

    /// A manifest or index by tag or digest: (bytes, media type, digest of the bytes). When
    /// fetched by digest, the bytes are checked against it.
    pub fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String, String), RegistryError> {
        let what = format!(
            "reading manifest {reference} in {}/{repository}",
            self.registry
        );
        let scope = repository_scope(repository, "pull");
        let mut response = self.request(
            Method::GET,
            &format!("/v2/{repository}/manifests/{reference}"),
            &scope,
            &[("Accept", MANIFEST_ACCEPT.to_string())],
            &Payload::Empty,
            &what,
        )?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(self.status_error(&what, response, status));
        }
        let header_type = response
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_vec()
            .map_err(|e| transport(&what, e))?;
        let digest = crate::digest::sha256_digest(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: reference.to_string(),
                actual: digest,
            });
        }
        // The body's own mediaType wins over a registry's generic Content-Type.
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(String::from))
            .or(header_type)
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        Ok((bytes, media_type, digest))
    }

    /// Starts reading a blob at `offset` (a `Range` request when not 0). Returns the body and
    /// whether the registry honoured the range (206); on 200 the caller skips `offset` bytes.
    pub fn get_blob(
        &self,
        repository: &str,
        digest: &str,
        offset: u64,
    ) -> Result<(Body, bool), RegistryError> {
        let what = format!("fetching blob {digest}");
        let headers = if offset > 0 {
            vec![("Range", format!("bytes={offset}-"))]
        } else {
            Vec::new()
        };
        let response = self.request(
            Method::GET,
            &format!("/v2/{repository}/blobs/{digest}"),
            &repository_scope(repository, "pull"),
            &headers,
            &Payload::Empty,
            &what,
        )?;
        let status = response.status().as_u16();
        match status {
            200 | 206 => Ok((response.into_body(), status == 206)),
            _ => Err(self.status_error(&what, response, status)),
        }
    }

    /// A small blob (an image config), checked against its digest.
    pub fn get_small_blob(&self, repository: &str, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let what = format!("fetching blob {digest}");
        let (body, _) = self.get_blob(repository, digest, 0)?;
        let bytes = body
            .into_with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_vec()
            .map_err(|e| transport(&what, e))?;
        let actual = crate::digest::sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    pub fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool, RegistryError> {
        let what = format!(
            "checking whether a blob {digest} exists in {}/{repository}",
            self.registry
        );
        let response = self.request(
            Method::HEAD,
            &format!("/v2/{repository}/blobs/{digest}"),
            &repository_scope(repository, "pull,push"),
            &[],
            &Payload::Empty,
            &what,
        )?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(self.status_error(&what, response, status)),
        }
    }

    /// Uploads a blob: first tries to mount it from `mount_from` (a repository of the same
    /// registry that has it), then a monolithic upload, falling back to chunks of `chunk_size`
    /// when the registry refuses a single PUT. Returns whether it was mounted.
    pub fn upload_blob(
        &self,
        repository: &str,
        digest: &str,
        path: &std::path::Path,
        mount_from: Option<&str>,
    ) -> Result<bool, RegistryError> {
        let what = format!("uploading blob {digest} to {}/{repository}", self.registry);
        let mut scope = repository_scope(repository, "pull,push");
        let mut start = format!("/v2/{repository}/blobs/uploads/");
        if let Some(from) = mount_from.filter(|f| *f != repository) {
            scope.push(' ');
            scope.push_str(&repository_scope(from, "pull"));
            start = format!("{start}?mount={digest}&from={from}");
        }
        let response = self.request(Method::POST, &start, &scope, &[], &Payload::Empty, &what)?;
        let status = response.status().as_u16();
        if status == 201 {
            return Ok(true);
        }
        if status != 202 {
            return Err(self.status_error(&what, response, status));
        }
        let location = self.location(&response, &what)?;
        let put_url = with_query(&location, "digest", digest);
        let response = self.request(
            Method::PUT,
            &put_url,
            &scope,
            &[("Content-Type", "application/octet-stream".into())],
            &Payload::File(path.to_path_buf()),
            &what,
        )?;
        match response.status().as_u16() {
            201 => Ok(false),
            status => Err(self.status_error(&what, response, status)),
        }
    }

    fn location(&self, response: &Response<Body>, what: &str) -> Result<String, RegistryError> {
        let location = response
            .headers()
            .get("location")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| RegistryError::Invalid {
                what: what.to_string(),
                reason: "the registry gave no upload location".into(),
            })?;
        Ok(if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        })
    }

    /// Uploads a blob in chunks (POST, PATCH…, PUT), for registries that want them and for
    /// `--chunk-size`-style uploads.
    pub fn upload_blob_chunked(
        &self,
        repository: &str,
        digest: &str,
        mut source: impl Read,
        chunk_size: usize,
    ) -> Result<(), RegistryError> {
        let what = format!("uploading blob {digest} to {}/{repository}", self.registry);
        let scope = repository_scope(repository, "pull,push");
        let response = self.request(
            Method::POST,
            &format!("/v2/{repository}/blobs/uploads/"),
            &scope,
            &[],
            &Payload::Empty,
            &what,
        )?;
        let status = response.status().as_u16();
        if status != 202 {
            return Err(self.status_error(&what, response, status));
        }
        let mut location = self.location(&response, &what)?;
        let mut offset = 0u64;
        let mut buffer = vec![0u8; chunk_size];
        loop {
            let mut filled = 0;
            while filled < buffer.len() {
                let n = source
                    .read(&mut buffer[filled..])
                    .map_err(|e| transport(&what, e))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let range = format!("{offset}-{}", offset + filled as u64 - 1);
            let response = self.request(
                Method::PATCH,
                &location,
                &scope,
                &[
                    ("Content-Type", "application/octet-stream".into()),
                    ("Content-Range", range),
                ],
                &Payload::Bytes(buffer[..filled].to_vec()),
                &what,
            )?;
            let status = response.status().as_u16();
            if status != 202 {
                return Err(self.status_error(&what, response, status));
            }
            location = self.location(&response, &what)?;
            offset += filled as u64;
        }
        let response = self.request(
            Method::PUT,
            &with_query(&location, "digest", digest),
            &scope,
            &[],
            &Payload::Empty,
            &what,
        )?;
        match response.status().as_u16() {
            201 => Ok(()),
            status => Err(self.status_error(&what, response, status)),
        }
    }

    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let what = format!(
            "writing manifest {reference} to {}/{repository}",
            self.registry
        );
        let response = self.request(
            Method::PUT,
            &format!("/v2/{repository}/manifests/{reference}"),
            &repository_scope(repository, "pull,push"),
            &[("Content-Type", media_type.to_string())],
            &Payload::Bytes(bytes.to_vec()),
            &what,
        )?;
        match response.status().as_u16() {
            200..=202 => Ok(()),
            status => Err(self.status_error(&what, response, status)),
        }
    }

    /// Every tag of a repository, following `Link` pagination.
    pub fn tags(
        &self,
        repository: &str,
        limit: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        let what = format!("listing tags of {}/{repository}", self.registry);
        self.paged_list(
            &format!("/v2/{repository}/tags/list"),
            &repository_scope(repository, "pull"),
            "tags",
            limit,
            &what,
        )
    }

    /// The registry's catalog of repositories, where it offers one.
    pub fn catalog(&self, limit: Option<usize>) -> Result<Vec<String>, RegistryError> {
        let what = format!("listing the catalog of {}", self.registry);
        self.paged_list(
            "/v2/_catalog",
            "registry:catalog:*",
            "repositories",
            limit,
            &what,
        )
    }

    fn paged_list(
        &self,
        first: &str,
        scope: &str,
        key: &str,
        limit: Option<usize>,
        what: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let mut items = Vec::new();
        let mut next = Some(first.to_string());
        while let Some(path) = next.take() {
            let mut response =
                self.request(Method::GET, &path, scope, &[], &Payload::Empty, what)?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(self.status_error(what, response, status));
            }
            next = response
                .headers()
                .get("link")
                .and_then(|h| h.to_str().ok())
                .and_then(|l| l.split_once('<').and_then(|(_, r)| r.split_once('>')))
                .map(|(target, _)| target.to_string());
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_SMALL_BODY)
                .read_to_vec()
                .map_err(|e| transport(what, e))?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Invalid {
                    what: what.to_string(),
                    reason: e.to_string(),
                })?;
            if let Some(list) = value.get(key).and_then(|v| v.as_array()) {
                items.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
            }
            if limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(items)
    }
}
