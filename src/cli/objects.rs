//! The commands that take an image or a container alike: `inspect` and `diff`. Their own file,
//! so that neither the image commands nor the container commands need the other's.

use clap::Args;
use serde_json::{json, Value};

use super::{format, Outcome};
use crate::context::Context;

/// Display the configuration of images (and, by name or ID, containers) as JSON.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template, e.g. '{{.Id}}' or '{{len .RootFS.Layers}}'.
    #[arg(short, long)]
    format: Option<String>,
    /// Which kind of object to inspect: image, container or all.
    #[arg(long = "type", short = 't', default_value = "all")]
    kind: String,
    /// Image or container names or IDs.
    #[arg(required = true)]
    names: Vec<String>,
}

impl InspectArgs {
    /// `container inspect` and `image inspect` look at one kind only.
    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_string();
        self
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        let mut items = Vec::new();
        let mut first_error = None;
        for name in &self.names {
            let result = match self.kind.as_str() {
                "image" => crate::image::inspect(ctx, name),
                "container" => crate::container::inspect(ctx, name),
                "all" => crate::container::inspect(ctx, name)
                    .or_else(|_| crate::image::inspect(ctx, name)),
                other => anyhow::bail!("invalid --type {other:?}: use image, container or all"),
            };
            match result {
                Ok(value) => items.push(value),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        format::print_inspect(items, self.format.as_deref(), format::render_json, |item| {
            // Podman's image and container structs hold these as Go times.
            let mut view =
                format::with_go_times(item, &["Created", "State.StartedAt", "State.FinishedAt"]);
            // Go prints an image's nil label map as `map[]`.
            if view.get("Labels").is_some_and(Value::is_null) {
                view["Labels"] = json!({});
            }
            view
        })?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Show what a container changed in its image's files, or what an image's top layer changes:
/// A (added), C (changed) or D (deleted), one path a line.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format: json (an object of Added, Changed and Deleted lists) instead of lines.
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// Container or image name or ID.
    reference: String,
}

impl DiffArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let lines = crate::container::commit::diff(ctx, &self.reference)?;
        if self.format.is_some() {
            let mut groups = serde_json::Map::new();
            for (mark, key) in [('A', "added"), ('C', "changed"), ('D', "deleted")] {
                let paths: Vec<&str> = lines
                    .iter()
                    .filter(|l| l.starts_with(mark))
                    .map(|l| &l[2..])
                    .collect();
                if !paths.is_empty() {
                    groups.insert(key.into(), serde_json::json!(paths));
                }
            }
            println!("{}", serde_json::to_string_pretty(&groups)?);
        } else {
            for line in lines {
                println!("{line}");
            }
        }
        Ok(0)
    }
}
