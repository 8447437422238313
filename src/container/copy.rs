//! `cp` and `export`: files go between the host and a container as a tar stream over a pipe.
//! The container's side runs in a child whose root is the container's (joined when it runs,
//! mounted when it does not), so the kernel resolves every path and symlink inside the
//! container; the host's side runs as the user, and never follows a symlink it extracted.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Result};

use super::current_state;
use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::runtime::{self, ContainerRoot};
use crate::store::containers::{ContainerRecord, Status};

/// One side of a `cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(PathBuf),
    /// `-`: a tar archive on standard input or output.
    Stream,
    Container {
        reference: String,
        path: String,
    },
}

/// Docker's reading of a `cp` argument: `CONTAINER:PATH` unless it starts like a local path.
pub fn parse_location(arg: &str) -> Location {
    if arg == "-" {
        return Location::Stream;
    }
    if !arg.starts_with('/') && !arg.starts_with('.') {
        if let Some((reference, path)) = arg.split_once(':') {
            if !reference.is_empty() && !reference.contains('/') {
                return Location::Container {
                    reference: reference.to_string(),
                    path: path.to_string(),
                };
            }
        }
    }
    Location::Host(PathBuf::from(arg))
}

/// A path inside the container, made absolute (relative ones start at `/`) and normalized; one
/// that climbs above the root is refused.
pub fn container_path(path: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("{path:?} escapes the container's root: refusing to copy");
                }
            }
            other => parts.push(other),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether the user asked for a directory's contents (`dir/.`) rather than the directory.
fn wants_contents(path: &str) -> bool {
    path == "." || path.ends_with("/.")
}

/// Where an archive's entries go: the root entry becomes `Exact` itself, or every entry goes
/// `Into` a directory under its own name.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Exact(PathBuf),
    Into(PathBuf),
}

/// Docker's rules for the destination of a copied file or directory.
fn decide_target(
    dest: &Path,
    trailing_slash: bool,
    source_is_dir: bool,
    contents: bool,
) -> Result<Target> {
    match std::fs::metadata(dest) {
        Ok(meta) if meta.is_dir() => {
            if source_is_dir && contents {
                Ok(Target::Exact(dest.to_path_buf()))
            } else {
                Ok(Target::Into(dest.to_path_buf()))
            }
        }
        Ok(_) if source_is_dir => bail!(
            "cannot copy a directory to {}: it is a file",
            dest.display()
        ),
        Ok(_) if trailing_slash => bail!("{} is not a directory", dest.display()),
        Ok(_) => Ok(Target::Exact(dest.to_path_buf())),
        Err(_) if trailing_slash && !source_is_dir => {
            bail!("destination directory {} does not exist", dest.display())
        }
        Err(_) => {
            let parent = dest.parent().unwrap_or(Path::new("/"));
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if !parent.is_dir() {
                bail!("{} does not exist: cannot copy into it", parent.display());
            }
            Ok(Target::Exact(dest.to_path_buf()))
        }
    }
}

/// Writes `source` (a file, or a directory and everything under it) as a tar stream whose root
/// entry is `name`. `owner` replaces every entry's uid and gid.
fn write_tree(
    out: impl Write,
    source: &Path,
    name: &Path,
    owner: Option<(u64, u64)>,
) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    append_tree(&mut builder, source, name, owner)?;
    builder.into_inner()?.flush()
}

fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    source: &Path,
    name: &Path,
    owner: Option<(u64, u64)>,
) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(source)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    if let Some((uid, gid)) = owner {
        header.set_uid(uid);
        header.set_gid(gid);
    }
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(source)?;
        builder.append_link(&mut header, name, target)?;
    } else if kind.is_file() {
        builder.append_data(&mut header, name, File::open(source)?)?;
    } else if kind.is_dir() {
        header.set_size(0);
        builder.append_data(&mut header, name, io::empty())?;
        let mut children: Vec<_> = std::fs::read_dir(source)?.collect::<io::Result<_>>()?;
        children.sort_by_key(|entry| entry.file_name());
        for child in children {
            append_tree(builder, &child.path(), &name.join(child.file_name()), owner)?;
        }
    } else if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
        header.set_size(0);
        builder.append_data(&mut header, name, io::empty())?;
    }
    // Sockets cannot be archived; like tar, leave them out.
    Ok(())
}

/// Refuses a path whose directories below `base` include a symlink: an archive must not write
/// through a link an earlier entry of it made.
fn check_no_symlinks(base: &Path, relative: &Path) -> Result<()> {
    let mut current = base.to_path_buf();
    let parents: Vec<Component> = relative.components().collect();
    for part in parents.iter().take(parents.len().saturating_sub(1)) {
        current.push(part);
        if std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "refusing to write through the symbolic link {}",
                current.display()
            );
        }
    }
    Ok(())
}

/// What an extraction was asked for.
struct Extraction<'a> {
    dest: &'a Path,
    trailing_slash: bool,
    contents: bool,
    /// Entries keep their names under `dest` (a `-` archive): no root entry is renamed.
    as_is: bool,
    /// Missing parent directories of an entry are made (root's, 0755) instead of refused.
    make_parents: bool,
    preserve_owners: bool,
}

fn extract(input: impl Read, how: &Extraction) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(how.preserve_owners);
    archive.set_overwrite(true);
    let mut target: Option<Target> = None;
    let mut root_name: Option<PathBuf> = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        if name.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            bail!(
                "refusing the archive entry {}: it leaves the destination",
                name.display()
            );
        }
        let target = match &mut target {
            Some(target) => &*target,
            None => {
                let decided = if how.as_is {
                    if !how.dest.is_dir() {
                        bail!(
                            "{} is not a directory: an archive can only be copied into one",
                            how.dest.display()
                        );
                    }
                    Target::Into(how.dest.to_path_buf())
                } else {
                    root_name = Some(name.clone());
                    decide_target(
                        how.dest,
                        how.trailing_slash,
                        entry.header().entry_type().is_dir(),
                        how.contents,
                    )?
                };
                target.insert(decided)
            }
        };
        let (base, relative) = match (target, &root_name) {
            (Target::Exact(path), Some(root)) => {
                let relative = name.strip_prefix(root).unwrap_or(&name).to_path_buf();
                (path.clone(), relative)
            }
            (Target::Exact(path), None) | (Target::Into(path), _) => (path.clone(), name.clone()),
        };
        check_no_symlinks(&base, &relative)?;
        let destination = if relative.as_os_str().is_empty() {
            base
        } else {
            base.join(&relative)
        };
        if how.make_parents {
            if let Some(parent) = destination.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
            }
        }
        // A file replaces a symlink rather than writing through it.
        if !entry.header().entry_type().is_dir()
            && std::fs::symlink_metadata(&destination).is_ok_and(|m| m.file_type().is_symlink())
        {
            std::fs::remove_file(&destination)?;
        }
        entry
            .unpack(&destination)
            .map_err(|error| anyhow::anyhow!("writing {}: {error}", destination.display()))?;
    }
    if target.is_none() && !how.as_is {
        bail!("nothing to copy");
    }
    Ok(())
}

/// How the child reaches the container's files: joined while it runs, else mounted.
fn root_of<'a>(ctx: &Context, record: &'a ContainerRecord, write: bool) -> ContainerRoot<'a> {
    let state = current_state(ctx, &record.id);
    match (state.status, state.pid) {
        (Status::Running, Some(pid)) => ContainerRoot::Running {
            pid,
            rootless: ctx.id_mapping.is_some(),
        },
        _ => ContainerRoot::Mounted {
            spec: &record.spec,
            writable: write,
        },
    }
}

fn describe(error: impl std::fmt::Display) -> String {
    format!("{error:#}")
}

/// `cp`: copies between the host (or a `-` archive) and a container, either way. With
/// `archive` (`-a`), files copied into the container keep their owners; else root owns them.
pub fn copy(ctx: &Context, source: &Location, dest: &Location, archive: bool) -> Result<()> {
    match (source, dest) {
        (
            Location::Container { reference, path },
            host @ (Location::Host(_) | Location::Stream),
        ) => copy_out(ctx, reference, path, host),
        (
            host @ (Location::Host(_) | Location::Stream),
            Location::Container { reference, path },
        ) => copy_in(ctx, host, reference, path, archive),
        (Location::Container { .. }, Location::Container { .. }) => {
            bail!("copying between containers is not supported: copy to the host first")
        }
        _ => bail!("one of the paths must name a container, as CONTAINER:PATH"),
    }
}

fn copy_out(ctx: &Context, reference: &str, path: &str, dest: &Location) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    let inside = container_path(path)?;
    let contents = wants_contents(path);
    let (reader, writer) = io::pipe()?;
    let name = Path::new(&inside)
        .file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let container_name = record.name.clone();
    let child = move || {
        let source = PathBuf::from(&inside);
        std::fs::symlink_metadata(&source)
            .map_err(|e| format!("{inside}: {e} (in container {container_name})"))?;
        write_tree(writer, &source, &name, None).map_err(describe)
    };
    let parent = move || -> std::result::Result<(), String> {
        match dest {
            Location::Stream => {
                let mut reader = reader;
                io::copy(&mut reader, &mut io::stdout().lock()).map_err(describe)?;
                Ok(())
            }
            Location::Host(path) => {
                let how = Extraction {
                    dest: path,
                    trailing_slash: path.as_os_str().to_string_lossy().ends_with('/'),
                    contents,
                    as_is: false,
                    preserve_owners: false,
                    make_parents: false,
                };
                extract(reader, &how).map_err(describe)
            }
            Location::Container { .. } => Err("the destination is not on the host".into()),
        }
    };
    runtime::run_in_container_root(root_of(ctx, &record, false), child, parent)?;
    events::record(&ctx.store, Event::container(EventStatus::Copy, &record));
    Ok(())
}

fn copy_in(
    ctx: &Context,
    source: &Location,
    reference: &str,
    path: &str,
    archive: bool,
) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    let inside = container_path(path)?;
    let trailing_slash = path.ends_with('/');
    let (reader, writer) = io::pipe()?;
    let (as_is, contents) = match source {
        Location::Stream => (true, false),
        Location::Host(host) => {
            let text = host.to_string_lossy();
            if std::fs::symlink_metadata(host).is_err() {
                bail!("{}: no such file or directory", host.display());
            }
            (false, wants_contents(&text))
        }
        Location::Container { .. } => bail!("the source is not on the host"),
    };
    let child = move || {
        let how = Extraction {
            dest: Path::new(&inside),
            trailing_slash,
            contents,
            as_is,
            preserve_owners: true,
            make_parents: false,
        };
        extract(reader, &how).map_err(describe)
    };
    let source = source.clone();
    let parent = move || -> std::result::Result<(), String> {
        match &source {
            Location::Stream => {
                let mut writer = writer;
                match io::copy(&mut io::stdin().lock(), &mut writer) {
                    // The extraction stops at the archive's end marker and closes the pipe:
                    // the zeros tar pads its last record with (to 10240 bytes) have no reader.
                    // Whether the archive was whole is the extraction's to say.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                    copied => copied.map(drop).map_err(describe),
                }
            }
            Location::Host(host) => {
                let absolute = std::path::absolute(host).map_err(describe)?;
                let name = absolute
                    .file_name()
                    .map_or_else(|| PathBuf::from("."), PathBuf::from);
                let owner = if archive { None } else { Some((0, 0)) };
                write_tree(writer, host, &name, owner).map_err(describe)
            }
            Location::Container { .. } => Ok(()),
        }
    };
    runtime::run_in_container_root(root_of(ctx, &record, true), child, parent)?;
    events::record(&ctx.store, Event::container(EventStatus::Copy, &record));
    Ok(())
}

/// Unpacks the tar archive `input` at the root of the stopped container `reference`, owners
/// kept (as container ids), missing directories made: how a build's COPY lands.
pub fn put_archive(ctx: &Context, reference: &str, input: &mut dyn Read) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    let (reader, mut writer) = io::pipe()?;
    let child = move || {
        let how = Extraction {
            dest: Path::new("/"),
            trailing_slash: true,
            contents: false,
            as_is: true,
            preserve_owners: true,
            make_parents: true,
        };
        extract(reader, &how).map_err(describe)
    };
    let parent = move || -> std::result::Result<(), String> {
        io::copy(input, &mut writer).map_err(describe)?;
        Ok(())
    };
    let root = ContainerRoot::Mounted {
        spec: &record.spec,
        writable: true,
    };
    runtime::run_in_container_root(root, child, parent)?;
    Ok(())
}

/// `export -o FILE`: the archive is written beside FILE and renamed into place once complete,
/// so FILE never holds half an archive.
pub fn export_to_file(ctx: &Context, reference: &str, path: &Path) -> Result<()> {
    let staged = path.with_extension("skiff-partial");
    let mut file = std::fs::File::create(&staged)?;
    let written = export(ctx, reference, &mut file).and_then(|()| Ok(file.sync_all()?));
    match written {
        Ok(()) => Ok(std::fs::rename(&staged, path)?),
        Err(error) => {
            let _ = std::fs::remove_file(&staged);
            Err(error)
        }
    }
}

/// `export`: the container's whole filesystem as a tar archive, owners as the container sees
/// them, written to `out`. Its layers and changes are read through a read-only union of its own,
/// so a running container's /proc, /sys and mounts stay out.
pub fn export(ctx: &Context, reference: &str, out: &mut dyn Write) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    let (mut reader, writer) = io::pipe()?;
    let child = move || archive_children(writer, Path::new("/")).map_err(describe);
    let parent = move || -> std::result::Result<(), String> {
        io::copy(&mut reader, out).map_err(describe)?;
        out.flush().map_err(describe)
    };
    let root = ContainerRoot::Mounted {
        spec: &record.spec,
        writable: false,
    };
    runtime::run_in_container_root(root, child, parent)?;
    events::record(&ctx.store, Event::container(EventStatus::Export, &record));
    Ok(())
}

/// Writes what `dir` holds as a tar stream, names relative to it, owners as they are.
fn archive_children(out: impl Write, dir: &Path) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut children: Vec<_> = std::fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    children.sort_by_key(|entry| entry.file_name());
    for child in children {
        append_tree(
            &mut builder,
            &child.path(),
            Path::new(&child.file_name()),
            None,
        )?;
    }
    builder.into_inner()?.flush()
}

/// Writes the contents of `dir` as a tar archive to `out`, owners as the container sees them
/// (read in the user namespace, where the container's users' files are readable).
pub fn archive_directory(ctx: &Context, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let (mut reader, writer) = io::pipe()?;
    let dir = dir.to_path_buf();
    let child = move || archive_children(writer, &dir).map_err(describe);
    let parent = move || -> std::result::Result<(), String> {
        io::copy(&mut reader, out).map_err(describe)?;
        out.flush().map_err(describe)
    };
    runtime::run_in_user_namespace_streaming(ctx.id_mapping.as_ref(), child, parent)?;
    Ok(())
}

/// Unpacks the tar archive `input` into `dir`, owners kept (as container ids), never through a
/// symlink the archive made.
pub fn unpack_into_directory(ctx: &Context, dir: &Path, input: &mut dyn Read) -> Result<()> {
    let (reader, mut writer) = io::pipe()?;
    let dir = dir.to_path_buf();
    let child = move || {
        let how = Extraction {
            dest: &dir,
            trailing_slash: true,
            contents: false,
            as_is: true,
            preserve_owners: true,
            make_parents: false,
        };
        extract(reader, &how).map_err(describe)
    };
    let parent = move || -> std::result::Result<(), String> {
        io::copy(input, &mut writer).map_err(describe)?;
        Ok(())
    };
    runtime::run_in_user_namespace_streaming(ctx.id_mapping.as_ref(), child, parent)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_a_container_only_before_a_colon_without_slashes() {
        assert_eq!(
            parse_location("web:/etc/hosts"),
            Location::Container {
                reference: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(parse_location("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(parse_location("dir/a:b"), Location::Host("dir/a:b".into()));
        assert_eq!(parse_location("/abs:x"), Location::Host("/abs:x".into()));
        assert_eq!(parse_location("-"), Location::Stream);
        assert_eq!(parse_location("plain"), Location::Host("plain".into()));
    }

    #[test]
    fn container_paths_stay_under_the_root() {
        assert_eq!(container_path("etc/../tmp/./x").unwrap(), "/tmp/x");
        assert_eq!(container_path("/").unwrap(), "/");
        assert!(container_path("/../etc/passwd").is_err());
        assert!(container_path("a/../../b").is_err());
    }

    #[test]
    fn nothing_is_written_through_a_symlink_an_archive_made() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert!(check_no_symlinks(dir.path(), Path::new("real/file")).is_ok());
        assert!(check_no_symlinks(dir.path(), Path::new("link/passwd")).is_err());
        // The last component may be a symlink: it is replaced, not followed.
        assert!(check_no_symlinks(dir.path(), Path::new("link")).is_ok());
    }

    #[test]
    fn destinations_follow_docker() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("d");
        std::fs::create_dir(&existing).unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let missing = dir.path().join("new");
        assert_eq!(
            decide_target(&existing, false, false, false).unwrap(),
            Target::Into(existing.clone())
        );
        assert_eq!(
            decide_target(&existing, false, true, true).unwrap(),
            Target::Exact(existing.clone())
        );
        assert_eq!(
            decide_target(&missing, false, true, false).unwrap(),
            Target::Exact(missing.clone())
        );
        assert_eq!(
            decide_target(&file, false, false, false).unwrap(),
            Target::Exact(file.clone())
        );
        assert!(decide_target(&file, false, true, false).is_err());
        assert!(decide_target(&missing, true, false, false).is_err());
        assert!(decide_target(&missing.join("deeper"), false, false, false).is_err());
    }
}
