//! `system info`: what skiff sees of the host and its store, in the shape of `podman info`
//! (its JSON keys, its sections host, plugins, registries, store, version), so that scripts
//! written for Podman find their fields. Gathering only: nothing here changes anything.

use serde_json::{json, Value};

use crate::context::Context;
use crate::runtime::userns::IdRange;
use crate::store::containers::Status;

pub fn info(ctx: &Context) -> Value {
    json!({
        "host": host(ctx),
        "plugins": {
            "authorization": null,
            "log": ["k8s-file"],
            "network": ["bridge"],
            "volume": ["local"],
        },
        "registries": registries(),
        "store": store(ctx),
        "version": version(),
    })
}

fn host(ctx: &Context) -> Value {
    let uname = nix::sys::utsname::uname().ok();
    let text = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = |key: &str| meminfo_bytes(&meminfo, key);
    let rootless = ctx.id_mapping.is_some();
    let ids = |ranges: Option<&Vec<IdRange>>| match ranges {
        Some(ranges) => Value::Array(
            ranges
                .iter()
                .map(|r| json!({"container_id": r.inside, "host_id": r.outside, "size": r.count}))
                .collect(),
        ),
        None => Value::Null,
    };
    let pasta = crate::system::check::find_program("pasta");
    let slirp = crate::system::check::find_program("slirp4netns");
    let helper = |path: &Option<std::path::PathBuf>, flag: &str| match path {
        Some(path) => json!({
            "executable": path.display().to_string(),
            "package": "",
            "version": program_version(path, flag),
        }),
        None => json!({"executable": "", "package": "", "version": ""}),
    };
    let capabilities: Vec<String> = crate::runtime::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    json!({
        "arch": crate::image::config::host_architecture(),
        "cgroupManager": "cgroupfs",
        "cgroupVersion": if cgroup_v2 { "v2" } else { "v1" },
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "distribution": distribution(),
        "eventLogger": "none",
        "hostname": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        "idMappings": {
            "gidmap": ids(ctx.id_mapping.as_ref().map(|m| &m.gids)),
            "uidmap": ids(ctx.id_mapping.as_ref().map(|m| &m.uids)),
        },
        "kernel": text(nix::sys::utsname::UtsName::release),
        "linkmode": "static",
        "logDriver": "k8s-file",
        "memFree": mem("MemAvailable"),
        "memTotal": mem("MemTotal"),
        "networkBackend": "skiff",
        "ociRuntime": {
            "name": "skiff",
            "package": "",
            "path": std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            "version": format!("skiff version {}", env!("CARGO_PKG_VERSION")),
        },
        "os": "linux",
        "pasta": helper(&pasta, "--version"),
        "rootlessNetworkCmd": if pasta.is_some() { "pasta" } else { "slirp4netns" },
        "security": {
            "apparmorEnabled": std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|t| t.trim() == "Y"),
            "capabilities": capabilities.join(","),
            "rootless": rootless,
            "seccompEnabled": true,
            "seccompProfilePath": "",
            "selinuxEnabled": std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        },
        "serviceIsRemote": false,
        "slirp4netns": helper(&slirp, "--version"),
        "swapFree": mem("SwapFree"),
        "swapTotal": mem("SwapTotal"),
        "uptime": uptime(),
    })
}

/// A `/proc/meminfo` value (given in kB) in bytes.
fn meminfo_bytes(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn distribution() -> Value {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    json!({
        "codename": field("VERSION_CODENAME"),
        "distribution": field("ID"),
        "version": field("VERSION_ID"),
    })
}

/// As Podman prints it: `18h 54m 14.00s (Approximately 0.75 days)`.
fn uptime() -> String {
    let seconds: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let whole = seconds as u64;
    format!(
        "{}h {}m {:.2}s (Approximately {:.2} days)",
        whole / 3600,
        whole % 3600 / 60,
        seconds % 60.0,
        seconds / 86400.0
    )
}

/// The first lines of `program flag`'s output, as Podman shows a helper's version.
fn program_version(program: &std::path::Path, flag: &str) -> String {
    std::process::Command::new(program)
        .arg(flag)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn registries() -> Value {
    match crate::registry::config::RegistriesConf::load() {
        Ok(conf) if !conf.unqualified_search_registries.is_empty() => {
            json!({"search": conf.unqualified_search_registries})
        }
        _ => json!({}),
    }
}

fn store(ctx: &Context) -> Value {
    let root = ctx.store.root();
    let (mut running, mut stopped) = (0, 0);
    let containers = ctx.store.container_ids();
    for id in &containers {
        match crate::container::current_state(ctx, id).status {
            Status::Running => running += 1,
            Status::Created | Status::Exited => stopped += 1,
        }
    }
    let images = crate::store::images::ImageIndex::load(&ctx.store)
        .map(|i| i.images.len())
        .unwrap_or(0);
    let space = nix::sys::statvfs::statvfs(root).ok();
    let (allocated, used) = space
        .map(|s| {
            let block = s.fragment_size();
            (s.blocks() * block, (s.blocks() - s.blocks_free()) * block)
        })
        .unwrap_or((0, 0));
    let config_file = match ctx.id_mapping {
        Some(_) => dirs::config_dir()
            .map(|d| d.join("containers/storage.conf").display().to_string())
            .unwrap_or_default(),
        None => "/etc/containers/storage.conf".into(),
    };
    json!({
        "configFile": config_file,
        "containerStore": {
            "number": containers.len(),
            "paused": 0,
            "running": running,
            "stopped": stopped,
        },
        "graphDriverName": ctx.driver_for_new_container().name(),
        "graphOptions": {},
        "graphRoot": root.display().to_string(),
        "graphRootAllocated": allocated,
        "graphRootUsed": used,
        "imageCopyTmpDir": ctx.store.tmp_dir().display().to_string(),
        "imageStore": {"number": images},
        "runRoot": ctx.store.runroot().display().to_string(),
        "volumePath": ctx.store.volumes_dir().display().to_string(),
    })
}

fn version() -> Value {
    let arch = crate::image::config::host_architecture();
    json!({
        "APIVersion": env!("CARGO_PKG_VERSION"),
        "Built": 0,
        "BuiltTime": "",
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "OsArch": format!("linux/{arch}"),
        "Version": env!("CARGO_PKG_VERSION"),
    })
}

/// The info with the names Podman's Go structs give its fields, which `--format` templates use
/// (`{{.Host.Arch}}`, `{{.Store.GraphRoot}}`, `{{.Host.IDMappings.UIDMap}}`): the JSON key with
/// a capital, or the struct's own name where it differs. The registries section is a map in
/// Podman, whose keys stay as they are.
pub fn with_go_field_names(value: &Value) -> Value {
    rename(value, true)
}

fn rename(value: &Value, rename_keys: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let nested_rename = rename_keys && key != "registries";
                    let name = if rename_keys {
                        go_name(key)
                    } else {
                        key.clone()
                    };
                    (name, rename(inner, nested_rename))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| rename(i, rename_keys)).collect()),
        other => other.clone(),
    }
}

fn go_name(key: &str) -> String {
    let special = match key {
        "os" => "OS",
        "idMappings" => "IDMappings",
        "uidmap" => "UIDMap",
        "gidmap" => "GIDMap",
        "container_id" => "ContainerID",
        "host_id" => "HostID",
        "cgroupVersion" => "CgroupsVersion",
        "ociRuntime" => "OCIRuntime",
        "cpus" => "CPUs",
        "apparmorEnabled" => "AppArmorEnabled",
        "capabilities" => "DefaultCapabilities",
        "seccompEnabled" => "SECCOMPEnabled",
        "seccompProfilePath" => "SECCOMPProfilePath",
        "selinuxEnabled" => "SELinuxEnabled",
        "slirp4netns" => "Slirp4NetNS",
        _ => "",
    };
    if !special.is_empty() {
        return special.to_string();
    }
    let mut chars = key.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_see_podmans_go_field_names() {
        let info = json!({
            "host": {"arch": "amd64", "os": "linux", "idMappings": {"uidmap": [{"container_id": 0, "host_id": 1000, "size": 1}]}},
            "registries": {"search": ["docker.io"]},
            "store": {"graphRoot": "/x", "imageStore": {"number": 2}},
        });
        let go = with_go_field_names(&info);
        assert_eq!(go["Host"]["Arch"], "amd64");
        assert_eq!(go["Host"]["OS"], "linux");
        assert_eq!(go["Host"]["IDMappings"]["UIDMap"][0]["HostID"], 1000);
        assert_eq!(go["Registries"]["search"][0], "docker.io");
        assert_eq!(go["Store"]["ImageStore"]["Number"], 2);
    }

    #[test]
    fn memory_is_read_in_bytes() {
        let meminfo = "MemTotal:       24684096 kB\nMemFree:  100 kB\n";
        assert_eq!(meminfo_bytes(meminfo, "MemTotal"), 24684096 * 1024);
        assert_eq!(meminfo_bytes(meminfo, "MemFree"), 102400);
        assert_eq!(meminfo_bytes(meminfo, "SwapFree"), 0);
    }
}
