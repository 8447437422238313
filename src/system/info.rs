//! `system info`: what skiff sees of the host and its store, in the shape of `podman info`
//! (its JSON keys, its sections host, plugins, registries, store, version), so that scripts
//! written for Podman find their fields. Gathering only: nothing here changes anything.

use serde_json::{json, Value};

use crate::context::Context;
use crate::runtime::userns::IdRange;
use crate::store::containers::Status;

/// The info in Podman's JSON order: its Go structs' field order (the YAML default sorts keys).
pub fn info(ctx: &Context) -> Value {
    json!({
        "host": host(ctx),
        "store": store(ctx),
        "registries": registries(),
        "plugins": {
            "volume": ["local"],
            "network": ["bridge"],
            "log": ["k8s-file", "json-file", "none"],
            // As Podman: there is no daemon to authorize requests to.
            "authorization": null,
        },
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
    let pasta = crate::paths::find_program("pasta");
    let slirp = crate::paths::find_program("slirp4netns");
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
    let cgroup_v2 = crate::runtime::probe::cgroup_v2();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let skiff_version = format!("skiff version {}", env!("CARGO_PKG_VERSION"));
    json!({
        "arch": crate::image::config::host_architecture(),
        // skiff builds images itself: there is no Buildah library to name.
        "buildahVersion": "",
        "cgroupManager": "cgroupfs",
        "cgroupVersion": if cgroup_v2 { "v2" } else { "v1" },
        "cgroupControllers": cgroup_controllers(cgroup_v2, rootless),
        // conmon's part, watching the container and keeping its exit code, is played by
        // skiff itself (the supervisor of a detached container).
        "conmon": {"package": "", "path": exe, "version": skiff_version},
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpuUtilization": cpu_utilization(&std::fs::read_to_string("/proc/stat").unwrap_or_default()),
        // The store's records are JSON files, not a database.
        "databaseBackend": "json",
        "distribution": distribution(),
        "eventLogger": "file",
        "hostname": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        "idMappings": {
            "gidmap": ids(ctx.id_mapping.as_ref().map(|m| &m.gids)),
            "uidmap": ids(ctx.id_mapping.as_ref().map(|m| &m.uids)),
        },
        "kernel": text(nix::sys::utsname::UtsName::release),
        "logDriver": "k8s-file",
        "memFree": mem("MemAvailable"),
        "memTotal": mem("MemTotal"),
        "networkBackend": "skiff",
        "networkBackendInfo": {
            "backend": "skiff",
            "version": skiff_version,
            "path": exe,
            "dns": {},
        },
        "ociRuntime": {
            "name": "skiff",
            "package": "",
            "path": exe,
            "version": skiff_version,
        },
        "os": "linux",
        "rootlessNetworkCmd": if pasta.is_some() { "pasta" } else { "slirp4netns" },
        "serviceIsRemote": false,
        "security": {
            "apparmorEnabled": std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|t| t.trim() == "Y"),
            "capabilities": capabilities.join(","),
            "rootless": rootless,
            "seccompEnabled": crate::runtime::seccomp::kernel_supports_seccomp(),
            // containers.conf's profile (or "unconfined") when set; empty for skiff's built-in
            // profile, which has no file (Podman names its seccomp.json here).
            "seccompProfilePath": ctx.config.containers.containers.seccomp_profile.as_deref().unwrap_or_default(),
            "selinuxEnabled": std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        },
        "slirp4netns": helper(&slirp, "--version"),
        "pasta": helper(&pasta, "--version"),
        "swapFree": mem("SwapFree"),
        "swapTotal": mem("SwapTotal"),
        "uptime": uptime(),
        // Podman's CPU variant (v8 on arm64): skiff pulls by architecture alone.
        "variant": "",
        "linkmode": "static",
    })
}

/// The cgroup controllers containers can use: none on cgroup v1 (as Podman reports it), else
/// those enabled in the root cgroup, or for a rootless user in the cgroup it runs in.
fn cgroup_controllers(cgroup_v2: bool, rootless: bool) -> Vec<String> {
    if !cgroup_v2 {
        return Vec::new();
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .filter(|_| rootless)
        .unwrap_or_else(|| "/".into());
    let path = std::path::Path::new("/sys/fs/cgroup")
        .join(own.trim_start_matches('/'))
        .join("cgroup.controllers");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The shares of user, system and idle time since boot, from the first line of `/proc/stat`,
/// in percent with two decimals, as Podman reports them (the three add up to 100).
fn cpu_utilization(stat: &str) -> Value {
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0.0);
    let (user, system, idle) = (field(0), field(2), field(3));
    let total = user + system + idle;
    let percent = |part: f64| match total > 0.0 {
        true => (part / total * 10000.0).round() / 100.0,
        false => 0.0,
    };
    json!({
        "userPercent": percent(user),
        "systemPercent": percent(system),
        "idlePercent": percent(idle),
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
    // Podman leaves out the variant and the code name when the file has none.
    let mut info = serde_json::Map::new();
    info.insert("distribution".into(), field("ID").into());
    if !field("VARIANT_ID").is_empty() {
        info.insert("variant".into(), field("VARIANT_ID").into());
    }
    info.insert("version".into(), field("VERSION_ID").into());
    if !field("VERSION_CODENAME").is_empty() {
        info.insert("codename".into(), field("VERSION_CODENAME").into());
    }
    Value::Object(info)
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

/// Podman's registries map: `search` with the unqualified-search registries, and each
/// `[[registry]]` under its prefix with the fields of its Go struct (which has no JSON names),
/// keys sorted as Go encodes a map.
fn registries() -> Value {
    let Ok(conf) = crate::registry::config::RegistriesConf::load() else {
        return json!({});
    };
    let mut map = std::collections::BTreeMap::new();
    if !conf.unqualified_search_registries.is_empty() {
        map.insert(
            "search".to_string(),
            json!(conf.unqualified_search_registries),
        );
    }
    for entry in &conf.registries {
        let mirrors: Vec<Value> = entry
            .mirrors
            .iter()
            .map(|m| json!({"Location": m.location, "Insecure": m.insecure, "PullFromMirror": ""}))
            .collect();
        map.insert(
            entry.prefix.clone(),
            json!({
                "Prefix": entry.prefix,
                "Location": entry.location,
                "Insecure": entry.insecure,
                "PullFromMirror": "",
                "Mirrors": if mirrors.is_empty() { Value::Null } else { Value::Array(mirrors) },
                "Blocked": entry.blocked,
                "MirrorByDigestOnly": false,
            }),
        );
    }
    Value::Object(map.into_iter().collect())
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
        Some(_) => crate::paths::config_home()
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
        "graphStatus": {},
        "imageCopyTmpDir": ctx.store.tmp_dir().display().to_string(),
        "imageStore": {"number": images},
        "runRoot": ctx.store.runroot().display().to_string(),
        "volumePath": ctx.store.volumes_dir().display().to_string(),
        // Containers' records always outlive a reboot.
        "transientStore": false,
    })
}

fn version() -> Value {
    let arch = crate::image::config::host_architecture();
    json!({
        "APIVersion": env!("CARGO_PKG_VERSION"),
        "Version": env!("CARGO_PKG_VERSION"),
        "GoVersion": "",
        "GitCommit": "",
        // Podman prints its build time (0: not recorded) in Go's ANSIC layout.
        "BuiltTime": "Thu Jan  1 00:00:00 1970",
        "Built": 0,
        "OsArch": format!("linux/{arch}"),
        "Os": "linux",
    })
}

/// The keys whose values are Go maps in Podman's info (the registries by prefix, the storage
/// driver's options and status): templates read their keys as they are.
pub const GO_MAPS: &[&str] = &["registries", "graphOptions", "graphStatus"];

/// The name Podman's Go structs give the field a JSON key encodes, which `--format` templates
/// use (`{{.Host.Arch}}`, `{{.Host.IDMappings.UIDMap}}`): the key with a capital, or the
/// struct's own name where it differs.
pub fn go_field_name(key: &str) -> String {
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
        "cpuUtilization" => "CPUUtilization",
        "dns" => "DNS",
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
    fn fields_have_podmans_go_names() {
        for (key, go) in [
            ("arch", "Arch"),
            ("os", "OS"),
            ("idMappings", "IDMappings"),
            ("uidmap", "UIDMap"),
            ("host_id", "HostID"),
            ("cgroupVersion", "CgroupsVersion"),
            ("cpuUtilization", "CPUUtilization"),
            ("capabilities", "DefaultCapabilities"),
            ("APIVersion", "APIVersion"),
        ] {
            assert_eq!(go_field_name(key), go, "{key}");
        }
    }

    #[test]
    fn cpu_shares_are_of_user_system_and_idle_time() {
        let stat = "cpu  300 50 100 600 7 0 2 0 0 0\ncpu0 1 2 3 4\n";
        let usage = cpu_utilization(stat);
        assert_eq!(usage["userPercent"], 30.0);
        assert_eq!(usage["systemPercent"], 10.0);
        assert_eq!(usage["idlePercent"], 60.0);
        assert_eq!(cpu_utilization("")["idlePercent"], 0.0);
    }

    #[test]
    fn memory_is_read_in_bytes() {
        let meminfo = "MemTotal:       24684096 kB\nMemFree:  100 kB\n";
        assert_eq!(meminfo_bytes(meminfo, "MemTotal"), 24684096 * 1024);
        assert_eq!(meminfo_bytes(meminfo, "MemFree"), 102400);
        assert_eq!(meminfo_bytes(meminfo, "SwapFree"), 0);
    }
}
