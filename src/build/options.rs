//! What `build` was asked for: the options the command line gives, with the parsing of
//! `--output` and the check of `--platform`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::dockerfile::RunNetwork;

pub struct BuildOptions {
    /// The build context: COPY reads from here.
    pub context: PathBuf,
    /// The Dockerfile's name (for errors) and text.
    pub file_name: String,
    pub file_text: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: Vec<(String, String)>,
    pub no_cache: bool,
    /// Only the image ID on standard output.
    pub quiet: bool,
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    /// `--network`: the network of RUN steps that do not name one.
    pub network: RunNetwork,
    /// `--layers=false`: the image as one layer (its steps are still cached).
    pub squash: bool,
    /// `--format docker`: Docker schema 2 manifests instead of OCI ones.
    pub docker_format: bool,
    /// `--pull`: when base images are pulled.
    pub pull: PullPolicy,
    /// `--secret`: by id, what RUN --mount=type=secret mounts.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// How base images are pulled.
    pub registry: RegistryAccess,
    /// What every RUN step's container gets besides its own mounts.
    pub step_defaults: StepDefaults,
    /// `--env`: variables set in the built image.
    pub env: Vec<(String, String)>,
    /// `--ignorefile`: read instead of the context's .containerignore or .dockerignore.
    pub ignore_file: Option<PathBuf>,
    /// `--output`: where the built image's files are written too.
    pub output: Option<Output>,
}

/// `--add-host`, `--dns*`, `--no-hosts`, `-v` and `--security-opt`: for every RUN step.
#[derive(Default)]
pub struct StepDefaults {
    pub add_hosts: Vec<String>,
    pub dns: crate::network::DnsOptions,
    pub no_hosts: bool,
    pub volumes: Vec<crate::volume::mounts::MountRequest>,
    pub seccomp: crate::runtime::seccomp::SeccompPolicy,
}

impl StepDefaults {
    /// The flags as given (`names`, `-v`, `--security-opt`) over containers.conf's defaults, as
    /// `run` merges them.
    pub fn new(
        ctx: &crate::context::Context,
        names: &crate::container::HostNameFlags,
        volumes: &[String],
        security_opt: &[String],
    ) -> Result<Self> {
        let conf = &ctx.config.containers.containers;
        Ok(StepDefaults {
            add_hosts: names.add_hosts()?,
            dns: names.dns(conf)?,
            no_hosts: names.no_hosts(conf),
            volumes: volumes
                .iter()
                .map(|v| crate::volume::mounts::parse_volume(v))
                .collect::<Result<_>>()?,
            seccomp: crate::container::security_opt_seccomp(security_opt, conf)?,
        })
    }
}

/// `--output`: the built image's file system, as a directory or a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Directory(PathBuf),
    Tar(PathBuf),
}

impl Output {
    /// `DIR`, `type=local,dest=DIR` or `type=tar,dest=FILE`.
    pub fn parse(text: &str) -> Result<Output> {
        // Standard output carries the steps' output and the image ID.
        if text == "-" || text.ends_with("dest=-") {
            bail!("--output {text}: skiff does not write the archive to standard output, which carries the build's output; name a file: type=tar,dest=FILE");
        }
        if !text.contains('=') {
            return Ok(Output::Directory(PathBuf::from(text)));
        }
        let mut kind = None;
        let mut dest = None;
        for field in text.split(',') {
            match field.split_once('=') {
                Some(("type", value)) => kind = Some(value),
                Some(("dest", value)) => dest = Some(value),
                _ => {
                    bail!("--output {text}: unknown field {field:?}; use type=local|tar,dest=PATH")
                }
            }
        }
        let dest = dest.with_context(|| format!("--output {text}: dest=PATH is missing"))?;
        match kind {
            Some("local") => Ok(Output::Directory(PathBuf::from(dest))),
            Some("tar") => Ok(Output::Tar(PathBuf::from(dest))),
            _ => bail!("--output {text}: skiff writes type=local or type=tar"),
        }
    }
}

/// `--tls-verify`, `--authfile`, `--creds`: for pulling base images.
pub struct RegistryAccess {
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    pub credentials: Option<crate::registry::auth::Credentials>,
}

/// `--pull`: when a base image is pulled rather than taken from the store, as for `run`.
pub use crate::image::PullPolicy;

/// Refuses a platform other than this host's (`linux/ARCH`, with any variant): skiff runs a
/// build's steps natively, without an emulator.
pub fn host_platform_only(platform: &str) -> Result<()> {
    let host = format!("linux/{}", crate::image::config::host_architecture());
    if platform != host && !platform.starts_with(&format!("{host}/")) {
        bail!("--platform {platform}: skiff builds for this host's platform only ({host}); another needs an emulator, which skiff does not drive");
    }
    Ok(())
}
