//! `pull`, `push`, `login`, `logout`, `search`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use serde_json::{json, Value};

use super::format;
use super::Outcome;
use crate::context::Context;
use crate::image::platform::Platform;
use crate::image::pull::{self, PullOptions};
use crate::image::push::{self, Compression, ManifestFormat, PushOptions};
use crate::registry::auth::{normalize_key, AuthStore, Credentials};
use crate::registry::client::Client;
use crate::registry::config::RegistriesConf;

/// Flags every command that talks to a registry takes.
#[derive(Debug, Args, Clone)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (default: true, unless registries.conf marks the registry insecure).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Credentials file (default: $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json, then ~/.docker/config.json).
    #[arg(long, value_name = "FILE", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials USER[:PASSWORD] for this command only, instead of those in the credentials file.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub creds: Option<String>,
}

impl RegistryFlags {
    pub(crate) fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(text) = &self.creds else {
            return Ok(None);
        };
        let (username, password) = match text.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => (text.clone(), prompt_password()?),
        };
        if username.is_empty() {
            bail!("--creds: the user name is empty");
        }
        Ok(Some(Credentials { username, password }))
    }
}

fn prompt_password() -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("a password is required: give it with -p or --password-stdin");
    }
    eprint!("Password: ");
    let password = crate::registry::auth::read_password_from_terminal()?;
    eprintln!();
    Ok(password)
}

pub use crate::image::PullPolicy;

/// `--pull`'s values as clap offers and documents them.
impl clap::ValueEnum for PullPolicy {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            PullPolicy::Always,
            PullPolicy::Missing,
            PullPolicy::Never,
            PullPolicy::Newer,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            PullPolicy::Always => "Pull every time",
            PullPolicy::Missing => "Pull when the image is not in the store (the default)",
            PullPolicy::Never => "Never pull: a missing image is an error",
            PullPolicy::Newer => "Pull when the registry has a newer image than the store",
        };
        Some(clap::builder::PossibleValue::new(self.name()).help(help))
    }
}

/// The pull flags `run` and `create` share with `pull`.
#[derive(Debug, Args, Clone)]
pub struct PlatformFlags {
    /// Platform of the image to choose from a multi-platform index, as OS/ARCH[/VARIANT].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Architecture to choose from a multi-platform image, such as amd64 or arm64 (default: the
    /// host's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Operating system to choose from a multi-platform image (default: linux).
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Architecture variant to choose from a multi-platform image, such as v7 or v8.
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
}

fn pull_options(
    registry: &RegistryFlags,
    platform: &PlatformFlags,
    quiet: bool,
    all_tags: bool,
) -> anyhow::Result<PullOptions> {
    Ok(PullOptions {
        platform: Platform::from_flags(
            platform.platform.as_deref(),
            platform.os.as_deref(),
            platform.arch.as_deref(),
            platform.variant.as_deref(),
        )?,
        quiet,
        tls_verify: registry.tls_verify,
        authfile: registry.authfile.clone(),
        credentials: registry.credentials()?,
        all_tags,
    })
}

/// What `run` and `create` pull with, unless `--pull=never`.
pub(crate) fn image_pull(
    policy: PullPolicy,
    registry: &RegistryFlags,
    platform: &PlatformFlags,
    quiet: bool,
) -> anyhow::Result<Option<crate::image::ImagePull>> {
    if policy == PullPolicy::Never {
        return Ok(None);
    }
    Ok(Some(crate::image::ImagePull {
        policy,
        options: pull_options(registry, platform, quiet, false)?,
    }))
}

/// Pull an image from a registry.
#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    registry: RegistryFlags,
    #[command(flatten)]
    platform: PlatformFlags,
    /// Print nothing but the image ID.
    #[arg(short, long)]
    quiet: bool,
    /// Pull every tag of the repository.
    #[arg(short, long)]
    all_tags: bool,
    /// Image to pull: NAME[:TAG|@DIGEST]; short names go through registries.conf.
    image: String,
}

impl PullArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = pull_options(&self.registry, &self.platform, self.quiet, self.all_tags)?;
        let reference = self.image.strip_prefix("docker://").unwrap_or(&self.image);
        for pulled in pull::pull(ctx, reference, &options)? {
            println!("{}", pulled.id);
        }
        Ok(0)
    }
}

/// Push an image to a registry.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    registry: RegistryFlags,
    /// Compression of layers uploaded: gzip (default for uncompressed layers) or zstd.
    #[arg(long, value_name = "FORMAT", value_parser = ["gzip", "zstd"])]
    compression_format: Option<String>,
    /// Manifest format: oci or v2s2 (default: the image's own).
    #[arg(short, long, value_parser = ["oci", "v2s2", "docker"])]
    format: Option<String>,
    /// Write the digest of the pushed manifest to this file.
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    /// Print nothing but errors: no progress.
    #[arg(short, long)]
    quiet: bool,
    /// Local image to push.
    image: String,
    /// Where to push it (default: the image's name): [docker://]REGISTRY/NAME[:TAG].
    destination: Option<String>,
}

impl PushArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = PushOptions {
            tls_verify: self.registry.tls_verify,
            authfile: self.registry.authfile.clone(),
            credentials: self.registry.credentials()?,
            compression: self.compression_format.as_deref().map(|c| match c {
                "zstd" => Compression::Zstd,
                _ => Compression::Gzip,
            }),
            format: self.format.as_deref().map(|f| match f {
                "oci" => ManifestFormat::Oci,
                _ => ManifestFormat::V2s2,
            }),
            digestfile: self.digestfile,
            quiet: self.quiet,
        };
        push::push(ctx, &self.image, self.destination.as_deref(), &options)?;
        Ok(0)
    }
}

/// Log in to a registry: check the credentials and store them in the auth file.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name for the registry.
    #[arg(short, long)]
    username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password (or token) from standard input, so it stays out of the process list and
    /// shell history.
    #[arg(long)]
    password_stdin: bool,
    /// Print the user name logged in to the registry, and nothing else.
    #[arg(long)]
    get_login: bool,
    #[command(flatten)]
    registry: RegistryFlags,
    /// Registry to log in to (host[:port], or host/repository).
    server: String,
}

impl LoginArgs {
    pub fn run(self, _ctx: &Context) -> Outcome {
        let key = normalize_key(&self.server)?;
        let (host, repository) = key.split_once('/').unwrap_or((&key, ""));
        let store = AuthStore::new(self.registry.authfile.clone());
        if self.get_login {
            match store.lookup(host, repository)? {
                Some(c) => {
                    println!("{}", c.username);
                    return Ok(0);
                }
                None => bail!("not logged into {key}"),
            }
        }
        let username = match self.username {
            Some(u) => u,
            None if std::io::stdin().is_terminal() && !self.password_stdin => {
                eprint!("Username: ");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_string()
            }
            None => bail!("a user name is required: give it with -u"),
        };
        let password = if self.password_stdin {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text.trim_end_matches(['\n', '\r']).to_string()
        } else {
            match self.password {
                Some(p) => p,
                None => prompt_password()?,
            }
        };
        if username.is_empty() || password.is_empty() {
            bail!("both a user name and a password are required");
        }
        let credentials = Credentials { username, password };
        let conf = RegistriesConf::load()?;
        let insecure = match self.registry.tls_verify {
            Some(verify) => !verify,
            None => conf.is_insecure(host, repository),
        };
        Client::connect(host, insecure, Some(credentials.clone()))?
            .check_login()
            .with_context(|| format!("logging in to {key}"))?;
        store.store(&key, &credentials)?;
        println!("Login Succeeded!");
        Ok(0)
    }
}

/// Log out of a registry: remove its credentials from the auth file.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry from the credentials file.
    #[arg(short, long)]
    all: bool,
    /// Credentials file to remove them from (default: the one login writes,
    /// $XDG_RUNTIME_DIR/containers/auth.json).
    #[arg(long, value_name = "FILE", env = "REGISTRY_AUTH_FILE")]
    authfile: Option<PathBuf>,
    /// Registry to log out of, as given to login (host[:port] or host/repository).
    #[arg(required_unless_present = "all")]
    server: Option<String>,
}

impl LogoutArgs {
    pub fn run(self, _ctx: &Context) -> Outcome {
        let store = AuthStore::new(self.authfile);
        if self.all {
            store.remove_all()?;
            println!("Removed login credentials for all registries");
            return Ok(0);
        }
        let key = normalize_key(self.server.as_deref().unwrap_or_default())?;
        if !store.remove(&key)? {
            bail!("not logged into {key}");
        }
        println!("Removed login credentials for {key}");
        Ok(0)
    }
}

/// Search a registry for images, through its catalog and tags lists.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    registry: RegistryFlags,
    /// Show at most this many results (default 25; with --list-tags, tags).
    #[arg(long, default_value_t = 25)]
    limit: usize,
    /// List the tags of the named repository instead.
    #[arg(long)]
    list_tags: bool,
    /// Print descriptions whole instead of cutting them short.
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default), json, or a Go template such as {{.Name}}.
    #[arg(long)]
    format: Option<String>,
    /// REGISTRY/TERM (REGISTRY/ alone lists the catalog); without a registry, every unqualified-search registry.
    term: String,
}

impl SearchArgs {
    pub fn run(self, _ctx: &Context) -> Outcome {
        let conf = RegistriesConf::load()?;
        let (registries, term): (Vec<String>, String) = match self.term.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (vec![first.to_string()], rest.to_string())
            }
            _ => {
                let mut list = conf.unqualified_search_registries.clone();
                if list.is_empty() {
                    list.push("docker.io".into());
                }
                (list, self.term.clone())
            }
        };
        let credentials_for = |registry: &str| -> anyhow::Result<Option<Credentials>> {
            match self.registry.credentials()? {
                Some(c) => Ok(Some(c)),
                None => Ok(AuthStore::new(self.registry.authfile.clone()).lookup(registry, "")?),
            }
        };
        let mut rows: Vec<Value> = Vec::new();
        let mut errors = Vec::new();
        for registry in &registries {
            let insecure = match self.registry.tls_verify {
                Some(verify) => !verify,
                None => conf.is_insecure(registry, ""),
            };
            let client = match Client::connect(registry, insecure, credentials_for(registry)?) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            if self.list_tags {
                let mut tags = client.tags(&term, None)?;
                tags.sort();
                tags.truncate(self.limit);
                rows.extend(tags.into_iter().map(|tag| {
                    json!({"Name": format!("{registry}/{term}"), "Tag": tag, "Description": ""})
                }));
                continue;
            }
            match client.catalog(None) {
                Ok(repositories) => rows.extend(
                    repositories
                        .into_iter()
                        .filter(|r| r.contains(term.as_str()))
                        .map(|r| json!({"Name": format!("{registry}/{r}"), "Description": "", "Index": registry, "Stars": 0, "Official": "", "Automated": ""})),
                ),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if rows.is_empty() && !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        rows.truncate(self.limit);
        // Podman cuts descriptions at 44 characters unless --no-trunc.
        if !self.no_trunc {
            for row in &mut rows {
                let description = row["Description"].as_str().unwrap_or_default();
                if description.chars().count() > 44 {
                    let cut: String = description.chars().take(44).collect();
                    row["Description"] = Value::String(cut + "...");
                }
            }
        }
        let columns: &[(&str, &str)] = if self.list_tags {
            &[("Name", "NAME"), ("Tag", "TAG")]
        } else {
            &[("Name", "NAME"), ("Description", "DESCRIPTION")]
        };
        format::Listing::same(rows, format::JsonStyle::Indented("    "), columns)
            .print(self.format.as_deref(), |rows| {
                format::column_table(rows, columns)
            })?;
        Ok(0)
    }
}
