//! `build`: an image from a Dockerfile or Containerfile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;

use super::Outcome;
use crate::build::engine::{self, BuildOptions, BuildOutcome, PullPolicy};
use crate::context::Context;

/// Build an image from a Containerfile or Dockerfile: each RUN runs in a container of the image
/// so far, each step is cached (a rebuild reuses every step whose inputs are unchanged), and the
/// image ID is printed last.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The Containerfile to read (default: Containerfile, else Dockerfile, in the context); - reads standard input.
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Name the image; repeatable. localhost/ is added when no registry is given.
    #[arg(short, long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// A build argument, NAME=VALUE (NAME alone takes it from the environment); repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// Add a label KEY=VALUE to the built image's config (a key given twice keeps the last value);
    /// repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Run every step again instead of reusing cached results (the base images still come from the
    /// store unless --pull says otherwise); the new steps replace the old ones in the cache.
    #[arg(long)]
    no_cache: bool,
    /// Print nothing but the image ID (the RUN steps' own output still shows).
    #[arg(short, long)]
    quiet: bool,
    /// Once the build succeeds, write the image ID as sha256:HEX to FILE, replacing what it held.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Build this stage (by its AS name) and the stages it needs, instead of the last.
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Network of RUN steps that do not set their own: private (default, with outbound access through pasta), none, or host.
    #[arg(long, value_name = "MODE", default_value = "private", value_parser = ["private", "default", "none", "host"])]
    network: String,
    /// Make the whole image one layer, the base image's files included (as --layers=false).
    #[arg(long)]
    squash_all: bool,
    /// Remove each step's container after a successful build (default true). skiff removes them always, so only true is taken.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    rm: bool,
    /// Remove each step's container even when the build fails (default true). skiff removes them always, so only true is taken.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    force_rm: bool,
    /// Progress output, as docker build takes it: auto, plain or tty print every step; quiet prints only the image ID (as -q).
    #[arg(long, value_name = "TYPE", value_parser = ["auto", "plain", "tty", "quiet"])]
    progress: Option<String>,
    /// Also write the built image's files out: DIR or type=local,dest=DIR (a directory), type=tar,dest=FILE (a tar archive).
    #[arg(short, long, value_name = "OUTPUT")]
    output: Option<String>,
    /// Read the exclusion patterns from FILE instead of the context's .containerignore or .dockerignore.
    #[arg(long, value_name = "FILE")]
    ignorefile: Option<PathBuf>,
    /// Set an environment variable in the built image, NAME=VALUE (NAME alone takes it from the environment); repeatable.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// /etc/hosts and /etc/resolv.conf of every RUN step.
    #[command(flatten)]
    names: crate::container::HostNameFlags,
    /// Bind mount for every RUN step, HOST:CONTAINER[:OPTIONS] as run -v takes it; what is written there is never part of the image. Repeatable.
    #[arg(short, long = "volume", value_name = "HOST:CONTAINER[:OPTIONS]")]
    volumes: Vec<String>,
    /// Security option of every RUN step: seccomp=unconfined or seccomp=PROFILE.json. Default: containers.conf seccomp_profile, else skiff's built-in profile. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    security_opt: Vec<String>,
    /// Keep one layer per step (default); --layers=false makes the image a single layer.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    layers: bool,
    /// Platform to build for: only this host's (linux/ARCH) is possible.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Image format: oci (default) or docker (Docker's schema 2 manifests, as `docker build` makes).
    #[arg(long, value_name = "FORMAT", env = "BUILDAH_FORMAT", default_value = "oci", value_parser = ["oci", "docker"])]
    format: String,
    /// When to pull base images: missing (default: only those not in the store), always (pull each, failing when the pull fails), newer (pull, and use the stored image when the registry cannot be reached), never (use stored images only). --pull alone means always.
    #[arg(long, value_name = "POLICY", default_value = "missing", num_args = 0..=1, default_missing_value = "always", value_parser = ["missing", "always", "true", "newer", "never", "false"])]
    pull: String,
    /// A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VARIABLE (id=ID alone reads the variable ID). It is mounted only while RUN runs, never stored in the image or the cache key; repeatable.
    #[arg(long = "secret", value_name = "id=ID,src=FILE")]
    secrets: Vec<String>,
    #[command(flatten)]
    registry: super::registry::RegistryFlags,
    /// The build context (default: the current directory): the directory that COPY and ADD read
    /// from and that the Containerfile is looked for in, less what .containerignore or
    /// .dockerignore leaves out.
    #[arg(default_value = ".")]
    context: PathBuf,
}

fn name_values(
    values: &[String],
    what: &str,
    from_env: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                map.insert(name.to_string(), value.to_string());
            }
            None if from_env && !value.is_empty() => {
                if let Ok(found) = std::env::var(value) {
                    map.insert(value.clone(), found);
                }
            }
            _ => bail!("invalid {what} {value:?}: use NAME=VALUE"),
        }
    }
    Ok(map)
}

/// `--secret id=ID,src=FILE|env=VARIABLE[,type=file|env]`: the secret's id and its bytes.
fn read_secret(text: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut id = None;
    let mut file = None;
    let mut variable = None;
    let mut kind = None;
    for field in text.split(',') {
        match field.split_once('=') {
            Some(("id", value)) => id = Some(value.to_string()),
            Some(("src" | "source", value)) => file = Some(PathBuf::from(value)),
            Some(("env", value)) => variable = Some(value.to_string()),
            Some(("type", value @ ("file" | "env"))) => kind = Some(value.to_string()),
            _ => bail!("--secret {text}: unknown field {field:?}; use id=ID,src=FILE or id=ID,env=VARIABLE"),
        }
    }
    let id = id
        .filter(|id| !id.is_empty())
        .with_context(|| format!("--secret {text}: the secret needs an id=ID"))?;
    let bytes = match (file, variable, kind.as_deref()) {
        (Some(file), None, None | Some("file")) => std::fs::read(&file)
            .with_context(|| format!("--secret {text}: reading {}", file.display()))?,
        (None, Some(variable), None | Some("env")) => std::env::var(&variable)
            .with_context(|| format!("--secret {text}: the variable {variable} is not set"))?
            .into_bytes(),
        (None, None, Some("env") | None) => std::env::var(&id)
            .with_context(|| {
                format!("--secret {text}: no src=FILE given, and no variable {id} is set")
            })?
            .into_bytes(),
        _ => bail!("--secret {text}: give either src=FILE or env=VARIABLE"),
    };
    Ok((id, bytes))
}

impl BuildArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if let Some(platform) = &self.platform {
            engine::host_platform_only(platform)?;
        }
        if !self.rm || !self.force_rm {
            bail!("--rm=false, --force-rm=false: skiff always removes the containers of a build's steps");
        }
        if !self.context.is_dir() {
            bail!(
                "build context {} is not a directory",
                self.context.display()
            );
        }
        let (file_name, file_text) = match &self.file {
            Some(path) if path.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                ("-".to_string(), text)
            }
            Some(path) => (
                path.display().to_string(),
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            ),
            None => crate::build::context_files::default_containerfile(&self.context)?,
        };
        let options = BuildOptions {
            context: self.context.clone(),
            file_name,
            file_text,
            tags: self.tags,
            build_args: name_values(&self.build_args, "--build-arg", true)?,
            labels: name_values(&self.labels, "--label", false)?
                .into_iter()
                .collect(),
            no_cache: self.no_cache,
            quiet: self.quiet || self.progress.as_deref() == Some("quiet"),
            target: self.target,
            network: match self.network.as_str() {
                "none" => crate::build::dockerfile::RunNetwork::None,
                "host" => crate::build::dockerfile::RunNetwork::Host,
                _ => crate::build::dockerfile::RunNetwork::Default,
            },
            squash: !self.layers || self.squash_all,
            env: name_values(&self.env, "--env", true)?.into_iter().collect(),
            ignore_file: self.ignorefile.clone(),
            output: self
                .output
                .as_deref()
                .map(engine::Output::parse)
                .transpose()?,
            step_defaults: engine::StepDefaults::new(
                ctx,
                &self.names,
                &self.volumes,
                &self.security_opt,
            )?,
            docker_format: self.format == "docker",
            pull: match self.pull.as_str() {
                "true" => PullPolicy::Always,
                "false" => PullPolicy::Never,
                policy => policy.parse()?,
            },
            registry: engine::RegistryAccess {
                tls_verify: self.registry.tls_verify,
                authfile: self.registry.authfile.clone(),
                credentials: self.registry.credentials()?,
            },
            secrets: self
                .secrets
                .iter()
                .map(|secret| read_secret(secret))
                .collect::<anyhow::Result<_>>()?,
        };
        match engine::build(ctx, &options)? {
            BuildOutcome::Built(id) => {
                if let Some(path) = &self.iidfile {
                    std::fs::write(path, format!("sha256:{id}"))
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                println!("{id}");
                Ok(0)
            }
            BuildOutcome::StepFailed { step, code } => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("Error: building at STEP \"{step}\": exit status {code}");
                }
                Ok(u8::try_from(code).unwrap_or(1))
            }
        }
    }
}
