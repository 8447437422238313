//! `network create`, `ls`, `inspect`, `rm`, `prune`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use super::{format, Outcome};
use crate::context::Context;
use crate::network::manage::{self, CreateRequest};

/// Manage networks (`network create`, `network ls`, `network rm`, …), as `podman network` does.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    Create(CreateArgs),
    #[command(name = "ls", visible_alias = "list")]
    Ls(LsArgs),
    Inspect(InspectArgs),
    #[command(name = "rm", visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove every network no container is on (with --filter, only those that match).
    Prune(super::PruneArgs),
    Connect(ConnectArgs),
    Disconnect(DisconnectArgs),
}

impl NetworkCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            NetworkCommand::Create(a) => a.run(ctx),
            NetworkCommand::Ls(a) => a.run(ctx),
            NetworkCommand::Inspect(a) => a.run(ctx),
            NetworkCommand::Rm(a) => a.run(ctx),
            NetworkCommand::Prune(a) => {
                let filters = a.filters("network prune")?;
                a.report(manage::prune(ctx, &filters))
            }
            NetworkCommand::Connect(a) => a.run(ctx),
            NetworkCommand::Disconnect(a) => a.run(ctx),
        }
    }
}

/// Create a bridge network containers can join with `--network NAME`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Network driver (default bridge, the only one skiff has): a Linux bridge the containers'
    /// interfaces are plugged into.
    #[arg(short, long)]
    driver: Option<String>,
    /// IPv4 subnet, such as 10.90.0.0/24 (default: the next free 10.89.N.0/24).
    #[arg(long)]
    subnet: Option<String>,
    /// Gateway address inside the subnet (default: its first address).
    #[arg(long)]
    gateway: Option<String>,
    /// Range inside the subnet that automatic addresses come from, as a subnet.
    #[arg(long)]
    ip_range: Option<String>,
    /// No route out of the network: containers reach only each other.
    #[arg(long)]
    internal: bool,
    /// Set a label on the network, KEY=VALUE (KEY alone for an empty value); `network prune
    /// --filter label=` matches it. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Succeed without change when a network of that name exists.
    #[arg(long)]
    ignore: bool,
    /// Network name (default: skiffN).
    name: Option<String>,
}

impl CreateArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let labels: BTreeMap<String, String> = self
            .label
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        let network = manage::create(
            ctx,
            &CreateRequest {
                name: self.name,
                driver: self.driver,
                subnet: self.subnet,
                gateway: self.gateway,
                ip_range: self.ip_range,
                internal: self.internal,
                labels,
                ignore_existing: self.ignore,
            },
        )?;
        println!("{}", network.name);
        Ok(0)
    }
}

/// List networks.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print only the network names, one per line.
    #[arg(short, long)]
    quiet: bool,
    /// Output format: table (default), json, or a Go template such as '{{.Name}}'.
    #[arg(long)]
    format: Option<String>,
}

impl LsArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let now = crate::cli::human::format_rfc3339_nano(jiff::Timestamp::now());
        let json = manage::list(ctx, &now);
        let rows = json
            .iter()
            .map(|n| {
                let mut row = network_view(n);
                // `network ls` items print a short ID and labels as `a=b,c=d`.
                let id = row["ID"].as_str().unwrap_or_default();
                row["ID"] = serde_json::json!(id[..12.min(id.len())]);
                let labels = row["Labels"].as_object().into_iter().flatten();
                let labels: Vec<String> = labels
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                row["Labels"] = serde_json::json!(labels.join(","));
                row
            })
            .collect();
        let columns = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER")];
        format::print_named_listing(rows, json, self.quiet, self.format.as_deref(), &columns)?;
        Ok(0)
    }
}

/// Show networks as JSON (Podman's shape).
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format each network with a Go template such as '{{.Subnets}}' instead of printing JSON.
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    networks: Vec<String>,
}

impl InspectArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let items = manage::inspect(ctx, &self.networks)?;
        format::print_inspect(
            items,
            self.format.as_deref(),
            format::render_inspect_json,
            network_view,
        )?;
        Ok(0)
    }
}

/// What a template reads of a network: c/common's `types.Network` by its Go field names, with
/// `Created` a Go time and empty lists and maps where the JSON omits them. A subnet is
/// `{Subnet, Gateway, LeaseRange}`; Go would print a bare `{{.Subnets}}` as its raw structs
/// (`[{{{10.89.0.0 ffffff00}} 10.89.0.1 <nil>}]`), which skiff does not imitate.
fn network_view(json: &serde_json::Value) -> serde_json::Value {
    let text = |key: &str| json[key].clone();
    let or_empty_map = |key: &str| match &json[key] {
        serde_json::Value::Null => serde_json::json!({}),
        other => other.clone(),
    };
    let subnets: Vec<serde_json::Value> = json["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let lease = s
                .get("lease_range")
                .map(|l| serde_json::json!({"StartIP": l["start_ip"], "EndIP": l["end_ip"]}));
            serde_json::json!({
                "Subnet": s["subnet"],
                "Gateway": s["gateway"],
                "LeaseRange": lease,
            })
        })
        .collect();
    serde_json::json!({
        "Name": text("name"),
        "ID": text("id"),
        "Driver": text("driver"),
        "NetworkInterface": json["network_interface"].as_str().unwrap_or_default(),
        "Created": format::go_time_text(json["created"].as_str().unwrap_or_default()),
        "Subnets": subnets,
        "Routes": [],
        "IPv6Enabled": text("ipv6_enabled"),
        "Internal": text("internal"),
        "DNSEnabled": text("dns_enabled"),
        "NetworkDNSServers": [],
        "Labels": or_empty_map("labels"),
        "Options": or_empty_map("options"),
        "IPAMOptions": or_empty_map("ipam_options"),
    })
}

/// Remove networks.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove the containers on the network too; without it, a network in use is not removed.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

impl RmArgs {
    fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.networks {
            println!(
                "{}",
                crate::container::cascade::remove_network(ctx, reference, self.force)?
            );
        }
        Ok(0)
    }
}

/// Put a container on one more network (a running one gets the interface at once).
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Its address on the network (default: the next free one).
    #[arg(long, value_name = "ADDRESS")]
    ip: Option<std::net::Ipv4Addr>,
    /// Another name the container answers to on this network, for the other containers on it.
    /// Repeatable.
    #[arg(long, value_name = "ALIAS")]
    alias: Vec<String>,
    network: String,
    container: String,
}

impl ConnectArgs {
    fn run(self, ctx: &Context) -> Outcome {
        manage::connect(ctx, &self.network, &self.container, self.ip, &self.alias)?;
        Ok(0)
    }
}

/// Take a container off a network (a running one loses the interface at once).
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    network: String,
    container: String,
}

impl DisconnectArgs {
    fn run(self, ctx: &Context) -> Outcome {
        manage::disconnect(ctx, &self.network, &self.container)?;
        Ok(0)
    }
}
