//! `pull`: fetching an image from a registry into the store.
//!
//! The configuration and credentials are read first, in the calling process. Then the transfer
//! itself runs in one child inside the user namespace (as root, in this process), so unpacked
//! files get their mapped owners, and the threads a pull starts never share a process with a
//! later `clone`. Layers download in parallel (at most [`PARALLEL_LAYERS`], or containers.conf
//! `image_parallel_copies`), each streamed from
//! the socket through the sha256 check and decompression straight into extraction in tmp/.
//! A layer moves into the store once its blob digest and diff id are verified, under the lock;
//! the image enters the index last. A pull killed at any point leaves verified layers (which the
//! next pull reuses) and tmp/ leftovers (which the next writer removes), never a half image.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::config::ImageConfig;
use super::platform::{choose_platform, Platform};
use super::reference::Reference;
use super::transfer::{commit_layer, image_size, make_writable_and_remove, unpack_stream};
use crate::context::Context;
use crate::registry::auth::{AuthStore, Credentials};
use crate::registry::client::{Client, RegistryError, DOCKER_LIST, OCI_INDEX};
use crate::registry::config::{RegistriesConf, Source};
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::layers::chain_id;

/// Layers fetched at once: enough to fill a fast link, few enough to be polite to a registry.
pub const PARALLEL_LAYERS: usize = 6;
/// How often one layer's download may break and resume before the pull gives up.
const RESUMES: u32 = 5;

#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: Platform,
    pub quiet: bool,
    /// `--tls-verify`: None leaves it to registries.conf.
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    /// `--creds user:password`.
    pub credentials: Option<Credentials>,
    pub all_tags: bool,
}

/// One way to fetch what the user named: a source (mirror or registry) and its credentials.
#[derive(Debug, Clone)]
struct Attempt {
    source: Source,
    credentials: Option<Credentials>,
}

/// A fully qualified name the reference resolves to, with the places to fetch it from.
#[derive(Debug, Clone)]
struct Candidate {
    /// `registry/repository`, as stored in names.
    repository: String,
    /// The tag, or the digest for `name@sha256:…`.
    reference: String,
    tag: Option<String>,
    attempts: Vec<Attempt>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Pulled {
    pub id: String,
    pub name: String,
}

fn resolve(text: &str, options: &PullOptions) -> Result<Vec<Candidate>> {
    let parsed = Reference::parse(text)?;
    let conf = RegistriesConf::load()?;
    let qualified: Vec<String> = match &parsed.registry {
        Some(registry) => vec![format!("{registry}/{}", parsed.path)],
        None => conf.resolve_short_name(&parsed.path),
    };
    if qualified.is_empty() {
        bail!("short-name {text:?} did not resolve to any registry: set unqualified-search-registries in registries.conf, or give the registry");
    }
    let auth = AuthStore::new(options.authfile.clone());
    let mut candidates = Vec::new();
    for name in qualified {
        let full = Reference::parse(&name)?;
        let registry = full.registry.clone().unwrap_or_default();
        let repository = full.path.clone();
        let sources = conf.sources(&registry, &repository)?;
        let mut attempts = Vec::new();
        for mut source in sources {
            if let Some(verify) = options.tls_verify {
                source.insecure = !verify;
            }
            let credentials = match &options.credentials {
                Some(c) => Some(c.clone()),
                None => auth.lookup(&source.registry, &source.repository)?,
            };
            attempts.push(Attempt {
                source,
                credentials,
            });
        }
        let tag = match (&parsed.tag, &parsed.digest) {
            (Some(t), _) => Some(t.clone()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        candidates.push(Candidate {
            repository: name,
            reference: parsed.digest.clone().or(tag.clone()).unwrap_or_default(),
            tag,
            attempts,
        });
    }
    Ok(candidates)
}

/// Pulls `reference`; returns the image ID and the name it was stored under.
pub fn pull(ctx: &Context, reference: &str, options: &PullOptions) -> Result<Vec<Pulled>> {
    let candidates = resolve(reference, options)?;
    {
        let lock = ctx.store.lock()?;
        super::transfer::clean_staging(ctx, &lock)?;
    }
    let pulled = crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), || {
        pull_candidates(ctx, &candidates, options).map_err(|e| format!("{e:#}"))
    })?;
    for image in &pulled {
        let event = crate::events::Event::image(crate::events::Status::Pull, &image.id, reference);
        crate::events::record(&ctx.store, event);
    }
    Ok(pulled)
}

fn pull_candidates(
    ctx: &Context,
    candidates: &[Candidate],
    options: &PullOptions,
) -> Result<Vec<Pulled>> {
    let mut errors = Vec::new();
    for candidate in candidates {
        for attempt in &candidate.attempts {
            let shown = format!(
                "{}{}",
                candidate.repository,
                match &candidate.tag {
                    Some(t) => format!(":{t}"),
                    None => format!("@{}", candidate.reference),
                }
            );
            say(options, &format!("Trying to pull {shown}..."));
            match pull_from(ctx, candidate, attempt, options) {
                Ok(pulled) => return Ok(pulled),
                Err(e) => errors.push(format!("pulling {shown}: {e:#}")),
            }
        }
    }
    match errors.len() {
        1 => Err(anyhow!("{}", errors.remove(0))),
        _ => Err(anyhow!("{}", errors.join("; "))),
    }
}

fn say(options: &PullOptions, line: &str) {
    if !options.quiet {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

fn pull_from(
    ctx: &Context,
    candidate: &Candidate,
    attempt: &Attempt,
    options: &PullOptions,
) -> Result<Vec<Pulled>> {
    let source = &attempt.source;
    let client = Client::connect(
        &source.registry,
        source.insecure,
        attempt.credentials.clone(),
    )?;
    let tags = if options.all_tags {
        let mut tags = client.tags(&source.repository, None)?;
        tags.sort();
        tags
    } else {
        vec![candidate.reference.clone()]
    };
    let mut pulled = Vec::new();
    for reference in tags {
        pulled.push(pull_one(ctx, &client, candidate, &reference, options)?);
    }
    Ok(pulled)
}

/// A manifest fetched for one image: the platform's own when the reference names a list.
struct FetchedManifest {
    bytes: Vec<u8>,
    media_type: String,
    digest: String,
    /// The digest of the list it was chosen from, for a multi-platform image.
    index_digest: Option<String>,
    manifest: Manifest,
}

fn pull_one(
    ctx: &Context,
    client: &Client,
    candidate: &Candidate,
    reference: &str,
    options: &PullOptions,
) -> Result<Pulled> {
    let repository = source_repository(candidate, client);
    let fetched = fetch_manifest(client, &repository, candidate, reference, options)?;
    let manifest = &fetched.manifest;
    say(options, "Getting image source signatures");
    let config_bytes = client.get_small_blob(&repository, &manifest.config.digest)?;
    let image_config = ImageConfig::parse(&config_bytes).map_err(anyhow::Error::msg)?;
    let diff_ids = &image_config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        bail!(
            "invalid image: the config lists {} layers, the manifest {}",
            diff_ids.len(),
            manifest.layers.len()
        );
    }
    let parents = parent_chains(diff_ids);
    let jobs = missing_layers(ctx, manifest, &parents, diff_ids, options)?;
    let layers = LayerSource {
        client,
        repository: &repository,
        manifest,
        parents: &parents,
        diff_ids,
    };
    fetch_layers(ctx, &layers, jobs, options)?;
    say(
        options,
        &format!("Copying config {} done", short(&manifest.config.digest)),
    );
    say(options, "Writing manifest to image destination");
    let name = match &candidate.tag {
        Some(_) if options.all_tags => format!("{}:{reference}", candidate.repository),
        Some(tag) => format!("{}:{tag}", candidate.repository),
        None => String::new(),
    };
    let chain_ids: Vec<String> = diff_ids
        .iter()
        .zip(&parents)
        .map(|(d, parent)| chain_id(parent.as_deref(), d))
        .collect();
    let id = record_image(ctx, candidate, fetched, &config_bytes, chain_ids, &name)?;
    Ok(Pulled { id, name })
}

/// The manifest `reference` names in `repository`; for a list, the one of the wanted platform.
fn fetch_manifest(
    client: &Client,
    repository: &str,
    candidate: &Candidate,
    reference: &str,
    options: &PullOptions,
) -> Result<FetchedManifest> {
    let (mut bytes, mut media_type, mut digest) = client.get_manifest(repository, reference)?;
    let mut index_digest = None;
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        let what = format!(
            "choosing an image from manifest list {}",
            candidate.repository
        );
        let instance = choose_platform(&bytes, &options.platform, &what)?;
        index_digest = Some(digest);
        (bytes, media_type, digest) = client.get_manifest(repository, &instance)?;
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing manifest {digest}"))?;
    Ok(FetchedManifest {
        bytes,
        media_type,
        digest,
        index_digest,
        manifest,
    })
}

/// The chain id below each layer (None for the base layer).
fn parent_chains(diff_ids: &[String]) -> Vec<Option<String>> {
    let mut parents = Vec::new();
    let mut parent: Option<String> = None;
    for diff_id in diff_ids {
        parents.push(parent.clone());
        parent = Some(chain_id(parent.as_deref(), diff_id));
    }
    parents
}

/// The indexes of the layers the store lacks, saying which it has.
fn missing_layers(
    ctx: &Context,
    manifest: &Manifest,
    parents: &[Option<String>],
    diff_ids: &[String],
    options: &PullOptions,
) -> Result<VecDeque<usize>> {
    let mut jobs = VecDeque::new();
    for (i, layer) in manifest.layers.iter().enumerate() {
        let chain = chain_id(parents[i].as_deref(), &diff_ids[i]);
        if ctx.store.read_layer(&chain)?.is_some() {
            say(
                options,
                &format!(
                    "Copying blob {} skipped: already exists",
                    short(&layer.digest)
                ),
            );
        } else {
            jobs.push_back(i);
        }
    }
    Ok(jobs)
}

/// Where the layers of one image come from.
struct LayerSource<'a> {
    client: &'a Client,
    repository: &'a str,
    manifest: &'a Manifest,
    parents: &'a [Option<String>],
    diff_ids: &'a [String],
}

/// Fetches the layers `jobs` names on several threads; the first failure stops the others and
/// is the error.
fn fetch_layers(
    ctx: &Context,
    layers: &LayerSource<'_>,
    jobs: VecDeque<usize>,
    options: &PullOptions,
) -> Result<()> {
    let progress = Progress::new(options.quiet);
    let queue = Mutex::new(jobs);
    let failed = AtomicBool::new(false);
    let errors = Mutex::new(Vec::new());
    let rootless = ctx.id_mapping.is_some();
    let parallel = match ctx.config.containers.engine.image_parallel_copies {
        0 => PARALLEL_LAYERS,
        n => n as usize,
    };
    std::thread::scope(|scope| {
        for _ in 0..parallel.min(layers.manifest.layers.len()) {
            scope.spawn(|| loop {
                let Some(i) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let result = fetch_layer(
                    ctx,
                    layers.client,
                    layers.repository,
                    &layers.manifest.layers[i],
                    layers.parents[i].as_deref(),
                    &layers.diff_ids[i],
                    rootless,
                    &failed,
                    &progress,
                );
                if let Err(e) = result {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut errors) = errors.lock() {
                        errors.push(format!("{e:#}"));
                    }
                }
            });
        }
    });
    if let Some(error) = errors
        .into_inner()
        .ok()
        .and_then(|mut e| e.drain(..).next())
    {
        bail!("{error}");
    }
    Ok(())
}

/// Writes the config and manifest blobs and the image's record (named `name`, none when
/// empty); returns the image id.
fn record_image(
    ctx: &Context,
    candidate: &Candidate,
    fetched: FetchedManifest,
    config_bytes: &[u8],
    chain_ids: Vec<String>,
    name: &str,
) -> Result<String> {
    let config_digest = &fetched.manifest.config.digest;
    let lock = ctx.store.lock()?;
    ctx.store.put_blob(config_digest, config_bytes)?;
    ctx.store.put_blob(&fetched.digest, &fetched.bytes)?;
    let mut size = 0;
    for chain in &chain_ids {
        let record = ctx
            .store
            .read_layer(chain)?
            .with_context(|| format!("layer {chain} vanished during the pull"))?;
        size += record.size;
    }
    let size = image_size(size, config_bytes.len(), fetched.bytes.len());
    let id = config_digest.trim_start_matches("sha256:").to_string();
    let mut index = ImageIndex::load(&ctx.store)?;
    index.upsert(ImageRecord {
        id: id.clone(),
        manifest_digest: fetched.digest,
        manifest_media_type: fetched.media_type,
        names: if name.is_empty() {
            Vec::new()
        } else {
            vec![name.to_string()]
        },
        layers: chain_ids,
        size,
        added: crate::clock::now_rfc3339(),
        index_digest: fetched.index_digest,
        repositories: vec![candidate.repository.clone()],
        intermediate: false,
    });
    index.save(&ctx.store, &lock)?;
    Ok(id)
}

fn source_repository(candidate: &Candidate, client: &Client) -> String {
    candidate
        .attempts
        .iter()
        .find(|a| a.source.registry == client.registry())
        .map(|a| a.source.repository.clone())
        .unwrap_or_else(|| {
            candidate
                .repository
                .split_once('/')
                .map(|(_, r)| r.to_string())
                .unwrap_or_default()
        })
}

fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..12.min(hex.len())]
}

/// Downloads, verifies, unpacks and commits one layer.
#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    ctx: &Context,
    client: &Client,
    repository: &str,
    layer: &Descriptor,
    parent: Option<&str>,
    diff_id: &str,
    rootless: bool,
    failed: &AtomicBool,
    progress: &Progress,
) -> Result<()> {
    let staged = ctx
        .store
        .staging_path(&format!("pull-{}", short(&layer.digest)));
    let bar = progress.bar(&layer.digest, layer.size);
    let reader = BlobReader {
        client,
        repository,
        digest: &layer.digest,
        expected_size: layer.size,
        offset: 0,
        body: None,
        resumes_left: RESUMES,
        failed,
        bar: &bar,
    };
    let outcome = unpack_stream(reader, &staged, rootless).map_err(anyhow::Error::msg);
    let verified = outcome.and_then(|unpacked| {
        if unpacked.blob_digest != layer.digest {
            bail!(
                "fetching blob {}: digest mismatch: the registry sent content with digest {}",
                layer.digest,
                unpacked.blob_digest
            );
        }
        if layer.size != 0 && unpacked.blob_size != layer.size {
            bail!(
                "fetching blob {}: expected {} bytes, got {}",
                layer.digest,
                layer.size,
                unpacked.blob_size
            );
        }
        let lock = ctx.store.lock()?;
        commit_layer(ctx, &lock, parent, diff_id, unpacked, &layer.media_type)?;
        Ok(())
    });
    if verified.is_err() {
        let _ = make_writable_and_remove(&staged);
    }
    progress.finish(bar, &layer.digest, verified.is_ok());
    verified
}

/// A blob body that resumes with `Range` where a connection breaks, up to [`RESUMES`] times,
/// and stops early when another layer of the pull has failed.
struct BlobReader<'a> {
    client: &'a Client,
    repository: &'a str,
    digest: &'a str,
    expected_size: u64,
    offset: u64,
    body: Option<ureq::BodyReader<'static>>,
    resumes_left: u32,
    failed: &'a AtomicBool,
    bar: &'a Option<indicatif::ProgressBar>,
}

impl BlobReader<'_> {
    fn open(&mut self) -> std::io::Result<()> {
        let (body, ranged) = self
            .client
            .get_blob(self.repository, self.digest, self.offset)
            .map_err(std::io::Error::other)?;
        let mut reader = body.into_reader();
        if self.offset > 0 && !ranged {
            std::io::copy(&mut (&mut reader).take(self.offset), &mut std::io::sink())?;
        }
        self.body = Some(reader);
        Ok(())
    }

    fn retry(&mut self, error: std::io::Error) -> std::io::Result<()> {
        self.body = None;
        if self.resumes_left == 0 {
            return Err(error);
        }
        self.resumes_left -= 1;
        std::thread::sleep(std::time::Duration::from_millis(
            200 << (RESUMES - self.resumes_left),
        ));
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.failed.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("cancelled: another layer failed"));
            }
            if self.body.is_none() {
                if let Err(e) = self.open() {
                    if matches!(
                        e.get_ref()
                            .and_then(|inner| inner.downcast_ref::<RegistryError>()),
                        Some(RegistryError::Status { .. } | RegistryError::Unauthorized { .. })
                    ) {
                        return Err(e);
                    }
                    self.retry(e)?;
                    continue;
                }
            }
            let Some(body) = self.body.as_mut() else {
                continue;
            };
            match body.read(buf) {
                Ok(0) if self.expected_size != 0 && self.offset < self.expected_size => {
                    self.retry(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "fetching blob {}: the connection ended after {} of {} bytes",
                            self.digest, self.offset, self.expected_size
                        ),
                    ))?;
                }
                Ok(n) => {
                    self.offset += n as u64;
                    if let Some(bar) = self.bar {
                        bar.inc(n as u64);
                    }
                    if self.expected_size != 0 && self.offset > self.expected_size {
                        return Err(std::io::Error::other(format!(
                            "fetching blob {}: the registry sent more than the {} bytes the manifest gives",
                            self.digest, self.expected_size
                        )));
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => self.retry(std::io::Error::new(
                    e.kind(),
                    format!("fetching blob {}: {e}", self.digest),
                ))?,
            }
        }
    }
}

/// Progress bars per layer on a terminal; one line per layer otherwise; nothing with `-q`.
struct Progress {
    bars: Option<indicatif::MultiProgress>,
    quiet: bool,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        use std::io::IsTerminal;
        let bars = (!quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
        Progress { bars, quiet }
    }

    fn bar(&self, digest: &str, size: u64) -> Option<indicatif::ProgressBar> {
        let bars = self.bars.as_ref()?;
        let bar = bars.add(indicatif::ProgressBar::new(size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "Copying blob {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(short(digest).to_string());
        Some(bar)
    }

    fn finish(&self, bar: Option<indicatif::ProgressBar>, digest: &str, ok: bool) {
        match bar {
            Some(bar) => bar.finish(),
            None if !self.quiet && ok => {
                let _ = writeln!(std::io::stderr(), "Copying blob {} done", short(digest));
            }
            None => {}
        }
    }
}
