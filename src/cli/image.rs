//! `images`, `image …`, `inspect`, `load`, `save`, `import`, `tag`, `rmi`, `history`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format;
use super::{human, Outcome};
use crate::context::Context;
use crate::image::{self, ArchiveFormat, ImportOptions, Removal};

/// Manage images (`image ls`, `image rm`, `image prune`, …), as `podman image` does.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    Inspect(super::objects::InspectArgs),
    Load(LoadArgs),
    Save(SaveArgs),
    Import(ImportArgs),
    Tag(TagArgs),
    #[command(name = "rm")]
    Rm(RmiArgs),
    History(HistoryArgs),
    Pull(super::registry::PullArgs),
    Push(super::registry::PushArgs),
    Search(super::registry::SearchArgs),
    Diff(super::objects::DiffArgs),
    Build(Box<super::build::BuildArgs>),
    Prune(ImagePruneArgs),
}

impl ImageCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            ImageCommand::Ls(a) => a.run(ctx),
            ImageCommand::Inspect(a) => a.with_kind("image").run(ctx),
            ImageCommand::Load(a) => a.run(ctx),
            ImageCommand::Save(a) => a.run(ctx),
            ImageCommand::Import(a) => a.run(ctx),
            ImageCommand::Diff(a) => a.run(ctx),
            ImageCommand::Build(a) => a.run(ctx),
            ImageCommand::Prune(a) => a.run(ctx),
            ImageCommand::Tag(a) => a.run(ctx),
            ImageCommand::Pull(a) => a.run(ctx),
            ImageCommand::Push(a) => a.run(ctx),
            ImageCommand::Search(a) => a.run(ctx),
            ImageCommand::Rm(a) => a.run(ctx),
            ImageCommand::History(a) => a.run(ctx),
        }
    }
}

/// List images in local storage.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (skiff keeps no intermediate images, so the same list).
    #[arg(short, long)]
    all: bool,
    /// Print only the image IDs, one per line (12 characters unless --no-trunc).
    #[arg(short, long)]
    quiet: bool,
    /// Add a DIGEST column: the digest of the manifest the image was pulled or loaded by.
    #[arg(long)]
    digests: bool,
    /// Print full 64-character image IDs (with their sha256: prefix) instead of 12 characters.
    #[arg(long)]
    no_trunc: bool,
    /// Do not print the header row of the table.
    #[arg(short = 'n', long)]
    noheading: bool,
    /// Output format: table (default), json, or a Go template such as '{{.Repository}}:{{.Tag}}'.
    #[arg(long)]
    format: Option<String>,
    /// Only images matching this reference (e.g. busybox or localhost/app:*).
    reference: Option<String>,
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("ReadOnly", "R/O"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
];

impl ImagesArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let mut summaries = image::list(ctx, self.all)?;
        if let Some(reference) = &self.reference {
            // As Podman's reference filter: an image any of whose names match, with all its rows.
            summaries.retain(|i| {
                let names = i.summary["Names"].as_array().into_iter().flatten();
                let names = names.filter_map(Value::as_str);
                !image::reference::candidate_names(reference, names).is_empty()
            });
        }
        let rows: Vec<Value> = summaries
            .iter()
            .flat_map(|i| image_rows(i, now, self.no_trunc))
            .collect();
        if self.quiet {
            let mut seen = std::collections::HashSet::new();
            for row in &rows {
                let id = row["ID"].as_str().unwrap_or_default();
                if seen.insert(id.to_string()) {
                    println!("{id}");
                }
            }
            return Ok(0);
        }
        let listing = format::Listing {
            rows,
            json: summaries.iter().map(|i| image_json(&i.summary)).collect(),
            json_style: format::JsonStyle::Indented("    "),
            headers: IMAGE_HEADERS,
            noheading: self.noheading,
        };
        let digests = self.digests;
        listing.print(self.format.as_deref(), |rows| {
            let mut columns = vec![("Repository", "REPOSITORY"), ("Tag", "TAG")];
            if digests {
                columns.push(("Digest", "DIGEST"));
            }
            columns.extend([("ID", "IMAGE ID"), ("Created", "CREATED"), ("Size", "SIZE")]);
            format::column_table(rows, &columns)
        })?;
        Ok(0)
    }
}

/// `podman images --format json`'s entry: the summary with `RepoTags` null (Podman clears it
/// there), then `Created` in Unix seconds and `CreatedAt` in RFC 3339.
fn image_json(summary: &Value) -> Value {
    let mut entry = summary.clone();
    let created = entry
        .as_object_mut()
        .and_then(|o| o.shift_remove("Created"))
        .unwrap_or(Value::Null);
    entry["RepoTags"] = Value::Null;
    let created_at = created
        .as_i64()
        .and_then(|c| jiff::Timestamp::from_second(c).ok())
        .map(human::format_rfc3339_nano)
        .unwrap_or_default();
    entry["Created"] = created;
    entry["CreatedAt"] = Value::String(created_at);
    entry
}

/// The rows `images` tables and templates read for one image, once per name (once as
/// `<none>` without): Podman's `imageReporter`, whose methods print for people.
fn image_rows(listed: &image::ListedImage, now: jiff::Timestamp, no_trunc: bool) -> Vec<Value> {
    let summary = &listed.summary;
    let id = summary["Id"].as_str().unwrap_or_default();
    let created = summary["Created"]
        .as_i64()
        .and_then(|c| jiff::Timestamp::from_second(c).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let since = human::human_duration_since(created, now);
    let created_at = human::format_created_at(created);
    let mut row = summary.clone();
    let names: Vec<String> = summary["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(String::from))
        .collect();
    let history = names.join(", ");
    let fields = [
        (
            "ID",
            json!(if no_trunc {
                format!("sha256:{id}")
            } else {
                id[..12.min(id.len())].to_string()
            }),
        ),
        ("Created", json!(since)),
        ("CreatedSince", json!(since)),
        ("CreatedAt", json!(created_at)),
        ("CreatedTime", json!(created_at)),
        (
            "Size",
            json!(human::human_size(summary["Size"].as_u64().unwrap_or(0))),
        ),
        ("History", json!(history)),
        // Go prints a nil map or slice as `map[]` / `[]`, never `<no value>`.
        (
            "Labels",
            if summary["Labels"].is_null() {
                json!({})
            } else {
                summary["Labels"].clone()
            },
        ),
        ("RepoTags", summary["RepoTags"].clone()),
        ("Names", json!(names)),
        ("ReadOnly", json!(false)),
        ("IsReadOnly", json!(false)),
        ("Dangling", json!(names.is_empty())),
        ("IsDangling", json!(names.is_empty())),
        ("Arch", json!("")),
        ("Os", json!("")),
    ];
    for (field, value) in fields {
        row[field] = value;
    }
    let names_split: Vec<(String, String)> = if names.is_empty() {
        let repository = listed.repository.as_deref().unwrap_or("<none>");
        vec![(repository.into(), "<none>".into())]
    } else {
        names
            .iter()
            .map(|n| image::reference::split_name(n))
            .collect()
    };
    names_split
        .into_iter()
        .map(|(repository, tag)| {
            let mut r = json!({"Repository": repository, "Tag": tag});
            if let (Some(o), Some(fields)) = (r.as_object_mut(), row.as_object()) {
                o.extend(fields.clone());
            }
            r
        })
        .collect()
}

/// Load images from a docker-archive or oci-archive (a file, or standard input).
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read the archive (docker-archive or oci-archive) from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Suppress progress output, as Podman's -q does: the names of the loaded images are still
    /// printed (skiff shows no progress while loading, so this changes nothing).
    #[arg(short, long)]
    quiet: bool,
}

impl LoadArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        // -q silences progress in Podman, and skiff shows none while loading: names still print.
        let LoadArgs { input, quiet: _ } = self;
        let (path, _spool) = match input {
            Some(path) => (path, None),
            None => {
                // Archives are indexed with seeks, so standard input is spooled to a file first.
                let mut spool = tempfile::Builder::new()
                    .prefix("skiff-load-")
                    .tempfile_in(crate::paths::spool_dir())?;
                std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())?;
                (spool.path().to_path_buf(), Some(spool))
            }
        };
        for name in image::load(ctx, &path)? {
            println!("Loaded image: {name}");
        }
        Ok(0)
    }
}

/// Save images to a docker-archive (default) or oci-archive.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (default: standard output, which must not be a terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Archive format: docker-archive (default; what `docker load` reads, names kept) or
    /// oci-archive (an OCI image layout in a tar).
    #[arg(long, default_value = "docker-archive")]
    format: String,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Images to save, by name or ID.
    #[arg(required = true)]
    images: Vec<String>,
}

impl SaveArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let format = match self.format.as_str() {
            "docker-archive" => ArchiveFormat::DockerArchive,
            "oci-archive" => ArchiveFormat::OciArchive,
            other => anyhow::bail!(
                "unsupported save format {other:?}: use docker-archive or oci-archive"
            ),
        };
        if self.output.is_none() && nix::unistd::isatty(std::io::stdout()).unwrap_or(false) {
            anyhow::bail!(
                "refusing to save to a terminal: use -o FILE or redirect standard output"
            );
        }
        image::save(ctx, &self.images, format, self.output.as_deref())?;
        Ok(0)
    }
}

/// Create an image from a root filesystem tarball (a file, or - for standard input).
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR. Repeatable.
    #[arg(short, long, value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Comment recorded in the new image's history entry (shown by `history` and by inspect as
    /// Comment).
    #[arg(short, long)]
    message: Option<String>,
    /// Print nothing but the image ID.
    #[arg(short, long)]
    quiet: bool,
    /// Tarball path, or - for standard input.
    source: String,
    /// Name for the image (default: none); localhost/ is added when no registry is given.
    reference: Option<String>,
}

impl ImportArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = ImportOptions {
            changes: self.change,
            message: self.message,
        };
        let id = image::import(ctx, &self.source, self.reference.as_deref(), &options)?;
        println!("sha256:{id}");
        Ok(0)
    }
}

/// Remove images no container uses that have no name (build cache images included); with -a,
/// named ones too; with --filter, only those that match.
#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, named or not.
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    prune: super::PruneArgs,
}

impl ImagePruneArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let filters = self.prune.filters("image prune")?;
        self.prune.report(crate::container::cascade::prune_images(
            ctx, self.all, &filters,
        ))
    }
}

/// Add names to an image.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to name.
    image: String,
    /// New names for it: NAME[:TAG] (tag latest when none; localhost/ when no registry). A name
    /// another image had moves to this one.
    #[arg(required = true)]
    targets: Vec<String>,
}

impl TagArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        image::tag(ctx, &self.image, &self.targets)?;
        Ok(0)
    }
}

/// Remove images.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Also remove the containers that use the image (stopping running ones); without it, an image
    /// a container uses is not removed.
    #[arg(short, long)]
    force: bool,
    /// Remove every image (with --force, and the containers that use them).
    #[arg(short, long)]
    all: bool,
    /// Images to remove.
    images: Vec<String>,
}

impl RmiArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if self.images.is_empty() && !self.all {
            anyhow::bail!("image name or ID must be specified");
        }
        for line in
            crate::container::cascade::remove_images(ctx, &self.images, self.force, self.all)?
        {
            match line {
                Removal::Untagged(name) => println!("Untagged: {name}"),
                Removal::Deleted(id) => println!("Deleted: {id}"),
            }
        }
        Ok(0)
    }
}

/// Show the history of an image.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print full IDs and whole CREATED BY commands instead of shortening them.
    #[arg(long)]
    no_trunc: bool,
    /// Print only the IDs of the history entries, one per line.
    #[arg(short, long)]
    quiet: bool,
    /// Print sizes and dates for people (default true: 1.2MB, 2 weeks ago); -H=false prints bytes
    /// and RFC 3339 times.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Output format: table (default), json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    image: String,
}

impl HistoryArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let layers = image::history(ctx, &self.image)?;
        let rows: Vec<Value> = layers.iter().map(|l| self.history_row(l, now)).collect();
        if self.quiet {
            for row in &rows {
                println!("{}", row["ID"].as_str().unwrap_or_default());
            }
            return Ok(0);
        }
        let listing = format::Listing {
            rows,
            json: layers.iter().map(history_json).collect(),
            json_style: format::JsonStyle::Compact,
            headers: &[("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY")],
            noheading: false,
        };
        listing.print(self.format.as_deref(), |rows| {
            format::column_table(
                rows,
                &[
                    ("ID", "ID"),
                    ("Created", "CREATED"),
                    ("CreatedBy", "CREATED BY"),
                    ("Size", "SIZE"),
                    ("Comment", "COMMENT"),
                ],
            )
        })?;
        Ok(0)
    }

    /// What `history` tables and templates read: Podman's `historyReporter`.
    fn history_row(&self, layer: &image::HistoryLayer, now: jiff::Timestamp) -> Value {
        let id = if layer.id != "<missing>" && !self.no_trunc {
            layer.id[..12.min(layer.id.len())].to_string()
        } else {
            layer.id.clone()
        };
        let created = layer.created.as_deref().and_then(human::parse_timestamp);
        let created_text = match (created, self.human) {
            (Some(c), true) => human::human_duration_since(c, now),
            (Some(c), false) => human::format_rfc3339_nano(c),
            (None, _) => String::new(),
        };
        let mut created_by = layer.created_by.clone();
        if !self.no_trunc && created_by.chars().count() > 45 {
            created_by = format!("{}...", created_by.chars().take(42).collect::<String>());
        }
        // CreatedAt is RFC 3339 in whole seconds in Podman 5 (4.3 printed Go's time string).
        let created_at = created
            .and_then(|c| jiff::Timestamp::from_second(c.as_second()).ok())
            .map(human::format_rfc3339_nano)
            .unwrap_or_default();
        json!({
            "ID": id,
            "Created": created_text,
            "CreatedBy": created_by,
            // Podman never fills a local image's history tags (it copies them into an empty
            // slice), so they are always empty.
            "Tags": [],
            // Human in Podman 5 whatever -H says.
            "Size": human::human_size(layer.size),
            "Comment": layer.comment,
            "CreatedAt": created_at,
            "CreatedSince": created_text,
        })
    }
}

/// `podman history --format json`'s entry: its `ImageHistoryLayer` (`created` a Go time,
/// omitempty `CreatedBy`, `tags` and `comment`), then `Created` again in RFC 3339 seconds.
fn history_json(layer: &image::HistoryLayer) -> Value {
    let created = layer.created.as_deref().and_then(human::parse_timestamp);
    let mut entry = json!({
        "id": layer.id,
        "created": created.map_or_else(|| GO_ZERO_TIME.to_string(), human::format_rfc3339_nano),
    });
    if !layer.created_by.is_empty() {
        entry["CreatedBy"] = json!(layer.created_by);
    }
    entry["size"] = json!(layer.size);
    if !layer.comment.is_empty() {
        entry["comment"] = json!(layer.comment);
    }
    entry["Created"] = json!(created
        .and_then(|c| jiff::Timestamp::from_second(c.as_second()).ok())
        .map_or_else(|| GO_ZERO_TIME.to_string(), human::format_rfc3339_nano));
    entry
}

/// Go's zero `time.Time` in RFC 3339: what Podman prints for a time an image does not record.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
