//! `ps`: the containers to list, newest first, as its flags and filters choose them, and the
//! sizes `ps -s` shows.

use anyhow::{bail, Result};

use super::current_state;
use crate::context::Context;
use crate::store::containers::{ContainerRecord, ContainerState, Status};
use crate::store::images::ImageIndex;

/// What `ps` was asked to show.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Created and exited containers too.
    pub all: bool,
    /// Only the newest.
    pub latest: bool,
    /// Only the N newest.
    pub last: Option<usize>,
    /// `KEY=VALUE` filters, as given.
    pub filters: Vec<String>,
    /// The containers of build steps too.
    pub external: bool,
}

/// The containers `ps` shows, newest first, with their current states.
pub fn list(
    ctx: &Context,
    options: &ListOptions,
) -> Result<Vec<(ContainerRecord, ContainerState)>> {
    let filters: Vec<(String, String)> = options
        .filters
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected KEY=VALUE"))
        })
        .collect::<Result<_>>()?;
    let mut records = ctx.store.all_containers();
    records.retain(|record| options.external || record.build.is_none());
    records.sort_by(|a, b| b.created.cmp(&a.created));
    let limit = if options.latest {
        Some(1)
    } else {
        options.last
    };
    if let Some(limit) = limit {
        records.truncate(limit);
    }
    let show_all = options.all || limit.is_some() || !filters.is_empty();
    let mut listed = Vec::new();
    for record in records {
        // current_state has already shown a container whose watcher died as exited.
        let state = current_state(ctx, &record.id);
        if !show_all && state.status != Status::Running {
            continue;
        }
        if ps_filter_matches(&filters, &record, &state)? {
            listed.push((record, state));
        }
    }
    Ok(listed)
}

/// `ps -s`: each container's writable layer and its image, in bytes.
pub fn list_sizes(ctx: &Context, records: &[&ContainerRecord]) -> Result<Vec<(u64, u64)>> {
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let rw_sizes = super::writable_layer_sizes(ctx, &ids)?;
    let images = ImageIndex::load(&ctx.store)?;
    Ok(records
        .iter()
        .zip(rw_sizes)
        .map(|(record, rw)| (rw, images.by_id(&record.image_id).map_or(0, |i| i.size)))
        .collect())
}

/// `port`: the container's published ports, all or those of one container port.
pub fn port_lines(ctx: &Context, reference: &str, port: Option<&str>) -> Result<Vec<String>> {
    let record = ctx.store.find_container(reference)?;
    crate::network::ports::port_lines(&record.spec.ports, port)
}

/// `ps --filter` as Podman reads it: values of one key are alternatives, keys all must match.
fn ps_filter_matches(
    filters: &[(String, String)],
    record: &ContainerRecord,
    state: &ContainerState,
) -> Result<bool> {
    let status = state.status.name();
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let values = filters
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        let mut any = false;
        for value in values {
            any |= match key {
                "status" => status == value,
                "name" => record.name.contains(value),
                "id" => record.id.starts_with(value),
                "ancestor" => {
                    record.image_name == value
                        || !crate::image::reference::candidate_names(
                            value,
                            std::iter::once(record.image_name.as_str()),
                        )
                        .is_empty()
                        || record
                            .image_id
                            .starts_with(value.trim_start_matches("sha256:"))
                }
                // label=KEY matches any value, label=KEY=VALUE that value only.
                "label" => match value.split_once('=') {
                    Some((k, v)) => record.labels.get(k).is_some_and(|have| have == v),
                    None => record.labels.contains_key(value),
                },
                "exited" => {
                    state.status == Status::Exited
                        && state.exit_code.unwrap_or(0).to_string() == value
                }
                other => bail!(
                    "invalid filter {other:?}: use status, name, id, ancestor, label or exited"
                ),
            };
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}
