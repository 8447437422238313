//! `RUN --mount=type=cache|bind|secret|tmpfs`, and here-documents run as programs: what a RUN
//! step's container mounts, made into the same mount requests `run -v`/`--mount` makes, so
//! none of it enters the step's layer (the commit leaves mount points out). In two steps:
//! [`plan`] finds what the mounts add to the step's cache key, touching nothing, and only a step
//! that is not cached goes on to [`prepare`], which writes secrets, makes caches and copies files
//! out of other stages.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::context_files::Source;
use super::dockerfile::{HereDoc, MountKind, RunMount};
use crate::context::Context;
use crate::volume::mounts::{MountRequest, RequestKind};

/// What a RUN step's container gets besides its image.
#[derive(Default)]
pub struct StepMounts {
    pub requests: Vec<MountRequest>,
    /// `type=secret,env=NAME`: variables for the command only.
    pub env: Vec<String>,
    /// Locks on `sharing=locked|private` caches, held while the step runs.
    pub locks: Vec<std::fs::File>,
}

/// What preparing the mounts needs from the build.
pub struct MountSources<'a> {
    pub ctx: &'a Context,
    pub context: &'a Path,
    pub ignore: &'a super::copy::Ignore,
    pub secrets: &'a BTreeMap<String, Vec<u8>>,
    /// Files made for this step only (secrets, here-documents), removed after it.
    pub scratch: &'a Path,
}

/// What [`plan`] found.
pub struct MountPlan {
    /// What the mounts add to the step's cache key: their options, the content a bind mount of
    /// the context shows, the image a `from=` names, and here-documents' bodies. Never a
    /// secret's bytes.
    pub key: String,
    /// By mount: the image a `type=bind,from=` mount shows.
    from_images: Vec<Option<String>>,
}

/// The image id `from=` (a stage or an image) names.
pub type ImageOf<'c> = dyn FnMut(&str) -> Result<String> + 'c;

/// Copies `source` out of an image to the host; returns where it landed.
pub type CopyOut<'c> = dyn FnMut(&str, &str) -> Result<PathBuf> + 'c;

/// An option's value; the reader made aliases (`dst`, `src`, `readonly`, …) canonical.
fn option<'m>(mount: &'m RunMount, name: &str) -> Option<&'m str> {
    mount.options.get(name).map(String::as_str)
}

/// `rw`, `ro`, `required`: set when present without a value or with `true`.
fn flag(mount: &RunMount, name: &str) -> Result<bool> {
    match option(mount, name) {
        None => Ok(false),
        Some("" | "true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => bail!("--mount {name}={other}: expected true or false"),
    }
}

fn number(mount: &RunMount, name: &str, radix: u32, default: u32) -> Result<u32> {
    match option(mount, name) {
        None => Ok(default),
        Some(text) => u32::from_str_radix(text, radix)
            .with_context(|| format!("--mount {name}={text}: not a number")),
    }
}

fn target(mount: &RunMount) -> Option<String> {
    option(mount, "target").map(|t| match t.starts_with('/') {
        true => t.to_string(),
        false => format!("/{t}"),
    })
}

fn request(kind: RequestKind, destination: String, readonly: bool) -> MountRequest {
    MountRequest {
        kind,
        destination,
        readonly,
        flags: Default::default(),
        propagation: None,
        chown: false,
    }
}

/// A host file of the step's own, mounted read-only at `destination`.
fn read_only_file(path: PathBuf, destination: String) -> MountRequest {
    let kind = RequestKind::Bind {
        source: path,
        recursive: false,
        create: false,
        overlay: false,
    };
    request(kind, destination, true)
}

/// Gives `path` to `uid:gid` as the container sees them (inside the user's namespace when
/// rootless), so a RUN step running as that user owns it.
fn give(ctx: &Context, path: &Path, uid: u32, gid: u32) -> Result<()> {
    if uid == 0 && gid == 0 {
        return Ok(());
    }
    let path = path.to_path_buf();
    crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A file of `bytes` with `mode` under the scratch directory, for a bind mount.
fn scratch_file(scratch: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    std::fs::create_dir_all(scratch)?;
    std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o700))?;
    let path = scratch.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    Ok(path)
}

/// What the mounts of one RUN step add to its cache key.
pub fn plan(
    sources: &MountSources<'_>,
    mounts: &[RunMount],
    programs: &[HereDoc],
    image_of: &mut ImageOf<'_>,
) -> Result<MountPlan> {
    let mut plan = MountPlan {
        key: String::new(),
        from_images: Vec::new(),
    };
    for mount in mounts {
        // Options as written enter the key (sorted: BTreeMap), so changing one reruns the step.
        plan.key
            .push_str(&format!("{:?} {:?}\n", mount.kind, mount.options));
        let from = match mount.kind {
            MountKind::Bind => option(mount, "from"),
            _ => None,
        };
        let image = from.map(&mut *image_of).transpose()?;
        match (&image, &mount.kind) {
            (Some(image), _) => plan.key.push_str(&format!("from {image}\n")),
            (None, MountKind::Bind) => {
                // What the step sees decides whether it runs again, as the content of a COPY
                // does.
                let found = [context_source(sources, mount)?];
                let plan_copy = super::copy::CopyPlan {
                    sources: &found,
                    dest: Path::new("/"),
                    into_directory: true,
                    owner: None,
                    mode: None,
                    unpack_archives: false,
                    packed: &[],
                    context: sources.context,
                    ignore: sources.ignore,
                };
                let digest = super::copy::write_archive(&plan_copy, std::io::sink())?;
                plan.key.push_str(&format!("content {digest}\n"));
            }
            _ => {}
        }
        plan.from_images.push(image);
    }
    for program in programs {
        plan.key
            .push_str(&format!("program {}\n{}", program.name, program.body));
    }
    Ok(plan)
}

/// The mounts of one RUN step that is not cached, as [`plan`] found them.
pub fn prepare(
    sources: &MountSources<'_>,
    mounts: &[RunMount],
    programs: &[HereDoc],
    plan: &MountPlan,
    copy_out: &mut CopyOut<'_>,
) -> Result<StepMounts> {
    let mut step = StepMounts::default();
    for (index, (mount, from_image)) in mounts.iter().zip(&plan.from_images).enumerate() {
        match mount.kind {
            MountKind::Bind => bind(sources, mount, from_image.as_deref(), copy_out, &mut step)?,
            MountKind::Cache => cache(sources, mount, index, &mut step)?,
            MountKind::Tmpfs => {
                let target = target(mount).context("--mount type=tmpfs needs target=PATH")?;
                let size = option(mount, "size")
                    .map(crate::volume::mounts::parse_size)
                    .transpose()?;
                step.requests.push(request(
                    RequestKind::Tmpfs { size, mode: None },
                    target,
                    false,
                ));
            }
            MountKind::Secret => secret(sources, mount, index, &mut step)?,
        }
    }
    for program in programs {
        let path = scratch_file(
            sources.scratch,
            &format!("program-{}", program.name),
            program.body.as_bytes(),
            0o755,
        )?;
        step.requests
            .push(read_only_file(path, format!("/dev/pipes/{}", program.name)));
    }
    Ok(step)
}

/// The one path of the build context a `type=bind` mount without `from=` shows.
fn context_source(sources: &MountSources<'_>, mount: &RunMount) -> Result<Source> {
    let source = option(mount, "source").unwrap_or("/");
    let found = super::context_files::matching_sources(sources.context, source, sources.ignore)
        .with_context(|| format!("--mount type=bind,source={source}"))?;
    match <[Source; 1]>::try_from(found) {
        Ok([found]) => Ok(found),
        Err(_) => bail!("--mount type=bind,source={source}: names more than one path"),
    }
}

/// `type=bind`: a path of the build context (default) or of a stage or image (`from=`, whose
/// image `from_image` is), read-only unless `rw`, whose writes are then thrown away, as BuildKit
/// does.
fn bind(
    sources: &MountSources<'_>,
    mount: &RunMount,
    from_image: Option<&str>,
    copy_out: &mut CopyOut<'_>,
    step: &mut StepMounts,
) -> Result<()> {
    let target = target(mount).context("--mount type=bind needs target=PATH")?;
    let source = option(mount, "source").unwrap_or("/");
    let writable = flag(mount, "rw")?;
    let path = match from_image {
        // The image's root: mounted as it is, nothing copied.
        Some(image) if source.trim_matches('/').is_empty() => {
            let kind = RequestKind::Image {
                reference: image.to_string(),
                writable,
            };
            step.requests.push(request(kind, target, !writable));
            return Ok(());
        }
        Some(image) => copy_out(image, source)?,
        None => context_source(sources, mount)?.path(),
    };
    step.requests.push(request(
        RequestKind::Bind {
            source: path,
            recursive: true,
            create: false,
            overlay: writable,
        },
        target,
        !writable,
    ));
    Ok(())
}

/// `type=cache`: a directory kept in the store between builds, by `id` (default: the target),
/// shared by every build of the user. `sharing=locked` waits for another build's step using it
/// with that sharing to end; `sharing=private` takes a fresh directory, thrown away after the
/// step, while another step holds it.
fn cache(
    sources: &MountSources<'_>,
    mount: &RunMount,
    index: usize,
    step: &mut StepMounts,
) -> Result<()> {
    let ctx = sources.ctx;
    let target = target(mount).context("--mount type=cache needs target=PATH")?;
    if option(mount, "from").or(option(mount, "source")).is_some() {
        bail!("--mount type=cache with from= or source= is not supported by skiff yet");
    }
    let sharing = option(mount, "sharing").unwrap_or("shared");
    if !matches!(sharing, "shared" | "private" | "locked") {
        bail!("--mount sharing={sharing}: use shared, private or locked");
    }
    let id = option(mount, "id").unwrap_or(&target);
    let name = crate::digest::sha256_hex(id.as_bytes());
    let caches = ctx.store.root().join("build-cache-mounts");
    let mut dir = caches.join(&name);
    if !dir.exists() {
        // Made beside its place: moving a directory given to another id to another parent
        // would need write access to it.
        let fresh = caches.join(format!(".new-{}", std::process::id()));
        new_cache_dir(ctx, mount, &fresh)?;
        // Made whole before it is seen: another build may be making the same one.
        if std::fs::rename(&fresh, &dir).is_err() {
            let _ = std::fs::remove_dir(&fresh);
        }
    }
    if sharing != "shared" {
        let lock_path = caches.join(format!("{name}.lock"));
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match (sharing, lock.try_lock()) {
            (_, Ok(())) => step.locks.push(lock),
            ("locked", Err(std::fs::TryLockError::WouldBlock)) => {
                lock.lock()
                    .with_context(|| format!("locking {}", lock_path.display()))?;
                step.locks.push(lock);
            }
            (_, Err(std::fs::TryLockError::WouldBlock)) => {
                dir = sources.scratch.join(format!("cache-{index}"));
                std::fs::create_dir_all(sources.scratch)?;
                new_cache_dir(ctx, mount, &dir)?;
            }
            (_, Err(std::fs::TryLockError::Error(e))) => {
                return Err(e).with_context(|| format!("locking {}", lock_path.display()))
            }
        }
    }
    let readonly = flag(mount, "ro")?;
    step.requests.push(request(
        RequestKind::Bind {
            source: dir,
            recursive: false,
            create: false,
            overlay: false,
        },
        target,
        readonly,
    ));
    Ok(())
}

/// An empty cache directory at `path` with the mount's `mode`, `uid` and `gid`.
fn new_cache_dir(ctx: &Context, mount: &RunMount, path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    let mode = number(mount, "mode", 8, 0o755)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    give(
        ctx,
        path,
        number(mount, "uid", 10, 0)?,
        number(mount, "gid", 10, 0)?,
    )
}

/// `type=secret`: a `--secret` as a read-only file (default `/run/secrets/ID`, mode 0400) or,
/// with `env=NAME`, a variable of the command.
fn secret(
    sources: &MountSources<'_>,
    mount: &RunMount,
    index: usize,
    step: &mut StepMounts,
) -> Result<()> {
    let target = target(mount);
    let variable = option(mount, "env");
    let id = match option(mount, "id") {
        Some(id) => id.to_string(),
        None => target
            .as_deref()
            .and_then(|t| Path::new(t).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .context("--mount type=secret needs id=ID (or a target=PATH to name it)")?,
    };
    let Some(bytes) = sources.secrets.get(&id) else {
        if flag(mount, "required")? {
            bail!("--mount type=secret,id={id} is required, but no --secret id={id},src=FILE was given");
        }
        return Ok(());
    };
    if let Some(variable) = variable {
        let value = String::from_utf8(bytes.clone())
            .with_context(|| format!("secret {id} is not text, so it cannot be {variable}"))?;
        step.env.push(format!("{variable}={value}"));
        if target.is_none() {
            return Ok(());
        }
    }
    let mode = number(mount, "mode", 8, 0o400)?;
    let path = scratch_file(sources.scratch, &format!("secret-{index}"), bytes, mode)?;
    give(
        sources.ctx,
        &path,
        number(mount, "uid", 10, 0)?,
        number(mount, "gid", 10, 0)?,
    )?;
    step.requests.push(read_only_file(
        path,
        target.unwrap_or_else(|| format!("/run/secrets/{id}")),
    ));
    Ok(())
}
