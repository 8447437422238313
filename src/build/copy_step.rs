//! COPY and ADD as steps: their sources found (in the context, in an earlier stage or image,
//! fetched, or written from here-documents), written as one archive (`copy`), and unpacked
//! into a container of the stage's image that never runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::context_files::Source;
use super::dockerfile::CopySpec;
use super::engine::{Builder, StageState};
use crate::store::images::ImageIndex;

/// What a COPY or ADD copies: host paths, those of them never unpacked (fetched files), and
/// whether it is an ADD.
struct CopyWhat<'a> {
    sources: &'a [Source],
    packed: &'a [PathBuf],
    add: bool,
}

impl Builder<'_> {
    /// The files `sources` (substituted already) names in `image`, copied out to `scratch`
    /// (removed by the caller), where they are read as from a build context. A source that is
    /// a link is followed inside the image, as BuildKit follows it.
    pub(super) fn copy_out_of(
        &self,
        image: &str,
        sources: &[String],
        scratch: &Path,
    ) -> Result<Vec<Source>> {
        self.with_idle_container(image, |container| {
            let mut found = Vec::new();
            let has_wildcard = |text: &str| text.contains(['*', '?', '[']);
            for (number, source) in sources.iter().enumerate() {
                let holder = scratch.join(number.to_string());
                std::fs::create_dir_all(&holder)?;
                let inside = Path::new("/").join(source.trim_start_matches('/'));
                // With a pattern: the directory above its first wildcard is copied out, and
                // the rest matched there.
                let literal: PathBuf = inside
                    .components()
                    .take_while(|c| !has_wildcard(&c.as_os_str().to_string_lossy()))
                    .collect();
                let pattern = inside.strip_prefix(&literal).unwrap_or(&inside);
                let patterned = !pattern.as_os_str().is_empty();
                let fetched = match patterned {
                    true => literal.as_path(),
                    false => &inside,
                };
                let copied = self
                    .copy_following_links(container, fetched, &holder)
                    .with_context(|| format!("copying {source} out"))?;
                match patterned {
                    true => found.extend(super::context_files::matching_sources(
                        &copied,
                        &pattern.to_string_lossy(),
                        &super::copy::Ignore::default(),
                    )?),
                    false => found.push(Source::at(&copied)),
                }
            }
            Ok(found)
        })
    }

    /// Copies `path` of the container `id` into `holder`; while what came out is a link, its
    /// target (inside the container) is copied out in its place. Returns where it landed.
    fn copy_following_links(&self, id: &str, path: &Path, holder: &Path) -> Result<PathBuf> {
        let copy = |path: &Path, dest: &Path| {
            crate::container::copy::copy(
                self.ctx,
                &crate::container::copy::Location::Container {
                    reference: id.to_string(),
                    path: path.display().to_string(),
                },
                &crate::container::copy::Location::Host(dest.to_path_buf()),
                false,
            )
        };
        copy(path, holder)?;
        let copied = holder.join(path.file_name().unwrap_or_default());
        let mut path = path.to_path_buf();
        for _ in 0..40 {
            if !std::fs::symlink_metadata(&copied).is_ok_and(|m| m.file_type().is_symlink()) {
                return Ok(copied);
            }
            let target = std::fs::read_link(&copied)?;
            path = in_image(&path.parent().unwrap_or(Path::new("/")).join(target));
            std::fs::remove_file(&copied)?;
            copy(&path, &copied)?;
        }
        bail!("{}: too many levels of symbolic links", path.display())
    }

    /// COPY, or ADD (`add`): local tar archives unpacked, URLs fetched.
    pub(super) fn copy_step(
        &mut self,
        state: &mut StageState,
        spec: &CopySpec,
        text: &str,
        add: bool,
    ) -> Result<()> {
        let dest = self.substitute(state, &spec.dest)?;
        let workdir = state
            .config
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let dest_path = Path::new(&workdir).join(&dest);
        let scratch = self.ctx.store.staging_path("copy-from");
        let sources = match &spec.from {
            Some(from) => self.image_of_from(state, from).and_then(|image| {
                let sources = spec
                    .sources
                    .iter()
                    .map(|source| self.substitute(state, source))
                    .collect::<Result<Vec<_>>>()?;
                self.copy_out_of(&image, &sources, &scratch)
                    .with_context(|| format!("COPY --from={from}"))
            }),
            None => spec
                .sources
                .iter()
                .enumerate()
                .map(|(number, source)| {
                    let source = self.substitute(state, source)?;
                    if add && (source.starts_with("http://") || source.starts_with("https://")) {
                        let dir = scratch.join(format!("url-{number}"));
                        return super::copy::download(&source, &dir)
                            .map(|path| vec![Source::at(&path)]);
                    }
                    super::context_files::matching_sources(
                        &self.options.context,
                        &source,
                        &self.ignore,
                    )
                    .context(if add { "ADD" } else { "COPY" })
                })
                .collect::<Result<Vec<_>>>()
                .map(|found| found.concat()),
        };
        // `COPY <<NAME dest`: each document a file named after its delimiter, substituted
        // unless the delimiter is quoted.
        let sources = sources.and_then(|mut sources| {
            for (number, document) in spec.heredocs.iter().enumerate() {
                let body = match document.expand {
                    true => self.substitute_document(state, &document.body)?,
                    false => document.body.clone(),
                };
                let dir = scratch.join(format!("document-{number}"));
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(&document.name);
                std::fs::write(&path, body)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
                sources.push(Source::at(&path));
            }
            Ok(sources)
        });
        let copied = sources.and_then(|sources| {
            // A fetched file is never unpacked, as in Docker.
            let packed: Vec<PathBuf> = sources
                .iter()
                .map(Source::path)
                .filter(|path| path.starts_with(&scratch))
                .collect();
            let what = CopyWhat {
                sources: &sources,
                packed: &packed,
                add,
            };
            self.copy_sources(state, spec, text, &what, &dest, &dest_path)
        });
        let _ = std::fs::remove_dir_all(&scratch);
        copied
    }

    fn copy_sources(
        &mut self,
        state: &mut StageState,
        spec: &CopySpec,
        text: &str,
        what: &CopyWhat<'_>,
        dest: &str,
        dest_path: &Path,
    ) -> Result<()> {
        let sources = what.sources;
        let unpacked = |s: &Source| {
            what.add && !what.packed.contains(&s.path()) && super::copy::is_tar_archive(s)
        };
        // A source is what it resolved to, never followed further.
        let is_dir = |s: &Source| s.metadata().is_ok_and(|m| m.is_dir());
        let into_directory = dest.ends_with('/')
            || sources.len() > 1
            || sources.iter().any(|s| is_dir(s) || unpacked(s));
        let owner = match &spec.chown {
            Some(chown) => {
                let chown = self.substitute(state, chown)?;
                Some(self.resolve_owner(state, &chown)?)
            }
            None => None,
        };
        let mode = spec
            .chmod
            .as_deref()
            .map(|m| u32::from_str_radix(m, 8))
            .transpose()
            .context("--chmod")?;
        let archive_path = self.ctx.store.staging_path("copy").with_extension("tar");
        let archive = std::fs::File::create(&archive_path)
            .with_context(|| format!("creating {}", archive_path.display()))?;
        let plan = super::copy::CopyPlan {
            sources,
            dest: dest_path,
            into_directory,
            owner,
            mode,
            unpack_archives: what.add,
            packed: what.packed,
            context: &self.options.context,
            ignore: &self.ignore,
        };
        let digest = super::copy::write_archive(&plan, archive);
        let digest = match digest {
            Ok(digest) => digest,
            Err(e) => {
                let _ = std::fs::remove_file(&archive_path);
                return Err(e);
            }
        };
        // The archive's digest covers every name (so the destination), owner, mode and byte.
        let key = self.key(state, text, &digest);
        if let Some(id) = self.reuse(&key) {
            let _ = std::fs::remove_file(&archive_path);
            state.image_id = id;
            return Ok(());
        }
        let result = self.with_idle_container(&state.image_id, |container| {
            let mut input = std::fs::File::open(&archive_path)?;
            crate::container::copy::put_archive(self.ctx, container, &mut input)?;
            let instruction = if what.add { "ADD" } else { "COPY" };
            let created_by = format!(
                "/bin/sh -c #(nop) {instruction} file:{digest} in {}",
                dest_path.display()
            );
            self.commit(container, state, created_by)
        });
        let _ = std::fs::remove_file(&archive_path);
        let id = result?;
        self.remember(&key, &id)?;
        state.image_id = id;
        Ok(())
    }

    /// `--chown=user[:group]`: numbers as they are, names looked up in the image.
    pub(super) fn resolve_owner(&self, state: &StageState, chown: &str) -> Result<(u32, u32)> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(&state.image_id).context("the image vanished")?;
        let layers: Vec<String> = image.layers.iter().rev().cloned().collect();
        crate::container::userns::resolve_ids(self.ctx, &layers, chown)
    }
}

/// `path` (absolute) with its `.` and `..` parts worked out, `..` stopping at the root as it
/// does inside an image.
fn in_image(path: &Path) -> PathBuf {
    let mut normal = PathBuf::from("/");
    for component in path.components() {
        match component {
            std::path::Component::Normal(part) => normal.push(part),
            std::path::Component::ParentDir => {
                normal.pop();
            }
            _ => {}
        }
    }
    normal
}
