//! `container inspect`: the JSON Podman prints.

use anyhow::Result;

use super::{current_state, detached};
use crate::context::Context;
use crate::network::{self};
use crate::runtime::{self, NetworkMode};
use crate::store::containers::{ContainerRecord, Status};

/// The JSON `podman container inspect` prints, for the fields skiff knows.
pub fn inspect(ctx: &Context, reference: &str) -> Result<serde_json::Value> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    let process = &record.spec.process;
    let running = state.status == Status::Running;
    let mut exposed = Vec::new();
    for key in &record.exposed_ports {
        exposed.extend(network::ports::parse_expose(key)?);
    }
    let port_bindings = network::ports::inspect_bindings(&record.spec.ports, &exposed);
    let graph_driver = graph_driver(&record);
    // None with the none driver, which keeps no log, as Podman's.
    let log_path = match record.log_driver.name() {
        "none" => std::path::PathBuf::new(),
        _ => detached::log_path(ctx, &record.id),
    };
    let config = serde_json::json!({
        "Hostname": record.spec.hostname,
        "User": process.user,
        "Env": process.env,
        "Cmd": process.args,
        "WorkingDir": process.cwd,
        "Tty": process.terminal,
        "OpenStdin": process.interactive,
        "Image": record.image_name,
        "Labels": record.labels,
        "Annotations": record.annotations,
        "Timeout": record.timeout.unwrap_or(0),
        // A number, as Podman 4 prints it (SIGRTMIN+3 is 37).
        "StopSignal": record.stop_signal.map_or(libc::SIGTERM, |signal| signal.0),
        "SdNotifyMode": record.sdnotify.mode.name(),
        "SdNotifySocket": record.sdnotify.socket.clone().unwrap_or_default(),
        "ExposedPorts": record.exposed_ports.iter().map(|key| (key.clone(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>(),
    });

    let caps = match process.privileged {
        true => super::capabilities::inspected_privileged(),
        false => super::capabilities::inspected(
            process.capabilities.as_deref(),
            &process.added_capabilities,
            &process.user,
        ),
    };
    let host_config = host_config(&record, &port_bindings, &caps);
    let image_digest = crate::store::images::ImageIndex::load(&ctx.store)
        .ok()
        .and_then(|index| {
            index
                .by_id(&record.image_id)
                .map(|i| i.manifest_digest.clone())
        })
        .unwrap_or_default();
    // Podman's top-level fields in its order; where skiff has no such thing (pods, SELinux,
    // AppArmor, conmon, a pid file) the value is Podman's empty one.
    Ok(serde_json::json!({
        "Id": record.id,
        "Created": record.created,
        "Path": process.args.first(),
        "Args": process.args.get(1..).unwrap_or_default(),
        "State": {
            "Status": state.status.name(),
            "Running": running,
            "Paused": false,
            "OOMKilled": state.oom_killed,
            "Pid": state.pid.unwrap_or(0),
            "ConmonPid": state.supervisor_pid.filter(|_| running).unwrap_or(0),
            "ExitCode": state.exit_code.unwrap_or(0),
            "Error": state.error.clone().unwrap_or_default(),
            "StartedAt": state.started_at.unwrap_or_default(),
            "FinishedAt": state.finished_at.unwrap_or_default(),
        },
        "Image": record.image_id,
        "ImageDigest": image_digest,
        "ImageName": record.image_name,
        "Rootfs": record.spec.root_directory.as_ref().map(|root| root.path.display().to_string()).unwrap_or_default(),
        "Pod": "",
        "ResolvConfPath": record.spec.run_dir.join("resolv.conf"),
        "HostnamePath": record.spec.run_dir.join("hostname"),
        "HostsPath": record.spec.run_dir.join("hosts"),
        "LogPath": log_path,
        "StaticDir": ctx.store.container_dir(&record.id),
        "OCIRuntime": "skiff",
        "ConmonPidFile": record.conmon_pidfile.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "PidFile": record.pidfile.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "Name": record.name,
        "RestartCount": state.restart_count,
        "Driver": graph_driver["Name"],
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": caps.effective,
        "BoundingCaps": caps.bounding,
        "ExecIDs": [],
        "GraphDriver": graph_driver,
        "Mounts": crate::volume::inspect_mounts(&record),
        "Dependencies": record.dependencies().collect::<Vec<_>>(),
        "NetworkSettings": {
            "Ports": port_bindings,
            "Networks": network::bridges::inspect_networks(ctx, &record),
        },
        "Namespace": "",
        "IsInfra": false,
        "IsService": false,
        "Config": config,
        "HostConfig": host_config,
    }))
}

/// inspect's HostConfig.
fn host_config(
    record: &ContainerRecord,
    port_bindings: &serde_json::Value,
    caps: &super::capabilities::InspectedCapabilities,
) -> serde_json::Value {
    let mut fields = serde_json::json!({
        "AutoRemove": record.auto_remove,
        "CapAdd": caps.cap_add,
        "CapDrop": caps.cap_drop,
        "Ulimits": super::ulimits::inspected(&record.spec.process.rlimits),
        // Podman's default shows as 65536000 (its 65536k read in powers of ten).
        "ShmSize": record.spec.shm_size.unwrap_or(65_536_000),
        "OomScoreAdj": record.spec.process.oom_score_adj.unwrap_or(0),
        "LogConfig": {
            "Type": record.log_driver.name(),
            "Size": record.log_max_size.map(|s| s.to_string()).unwrap_or_else(|| "0B".into()),
        },
        "PortBindings": port_bindings,
        "RestartPolicy": {
            "Name": record.restart.name(),
            "MaximumRetryCount": record.restart.maximum_retry_count(),
        },
        "NetworkMode": network_mode(record),
        "UsernsMode": record.userns_mode,
        "IpcMode": or_default(&record.ipc_mode, "shareable"),
        "PidMode": or_default(&record.pid_mode, "private"),
        "UTSMode": or_default(&record.uts_mode, "private"),
        "ReadonlyRootfs": record.spec.read_only,
        "Privileged": record.spec.process.privileged,
        "SecurityOpt": security_opt(record),
        "Tmpfs": crate::volume::inspect_tmpfs(record),
        "Cgroups": or_default(&record.cgroups_mode, "default"),
        "CgroupManager": "cgroupfs",
    });
    if let (Some(fields), serde_json::Value::Object(limits)) =
        (fields.as_object_mut(), resource_fields(record))
    {
        fields.extend(limits);
    }
    fields
}

/// inspect's HostConfig resource fields, Podman's names and its zeros for what was not asked.
fn resource_fields(record: &ContainerRecord) -> serde_json::Value {
    let cgroup = record.spec.cgroup.as_ref();
    let limits = cgroup.map(|c| c.limits.clone()).unwrap_or_default();
    let rates = |rates: &[runtime::cgroups::DeviceRate]| -> Vec<serde_json::Value> {
        rates
            .iter()
            .map(|r| serde_json::json!({"Path": r.path, "Rate": r.rate}))
            .collect()
    };
    let nano_cpus = match (limits.cpu_quota, limits.cpu_period) {
        (Some(quota), Some(period)) if quota > 0 => quota as u64 * 1_000_000_000 / period,
        _ => 0,
    };
    serde_json::json!({
        "CgroupParent": cgroup.and_then(|c| c.parent.clone()).unwrap_or_default(),
        "CgroupConf": limits.unified.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "Memory": limits.memory.unwrap_or(0),
        "MemorySwap": limits.memory_swap.unwrap_or(0),
        "MemoryReservation": limits.memory_reservation.unwrap_or(0),
        "MemorySwappiness": limits.memory_swappiness.map_or(-1, |s| s as i64),
        "OomKillDisable": limits.oom_kill_disable,
        "NanoCpus": nano_cpus,
        "CpuShares": limits.cpu_shares.unwrap_or(0),
        "CpuQuota": limits.cpu_quota.unwrap_or(0),
        "CpuPeriod": limits.cpu_period.unwrap_or(0),
        "CpuRealtimePeriod": limits.cpu_rt_period.unwrap_or(0),
        "CpuRealtimeRuntime": limits.cpu_rt_runtime.unwrap_or(0),
        "CpusetCpus": limits.cpuset_cpus.unwrap_or_default(),
        "CpusetMems": limits.cpuset_mems.unwrap_or_default(),
        "BlkioWeight": limits.blkio_weight.unwrap_or(0),
        "BlkioWeightDevice": limits.blkio_weight_device.iter().map(|d| serde_json::json!({"Path": d.path, "Weight": d.weight})).collect::<Vec<_>>(),
        "BlkioDeviceReadBps": rates(&limits.device_read_bps),
        "BlkioDeviceWriteBps": rates(&limits.device_write_bps),
        "BlkioDeviceReadIOps": rates(&limits.device_read_iops),
        "BlkioDeviceWriteIOps": rates(&limits.device_write_iops),
        "PidsLimit": limits.pids_limit.filter(|l| *l > 0).unwrap_or(0),
    })
}

/// A mode as inspect shows it; `default` for a record from before its flag.
fn or_default<'a>(mode: &'a str, default: &'a str) -> &'a str {
    if mode.is_empty() {
        default
    } else {
        mode
    }
}

/// inspect's HostConfig.SecurityOpt, as Podman lists what was asked: no-new-privileges, the
/// SELinux label (kept as Podman's annotation), the system call filter.
fn security_opt(record: &ContainerRecord) -> Vec<String> {
    let process = &record.spec.process;
    let label = record.annotations.get(super::LABEL_ANNOTATION);
    process
        .no_new_privileges
        .then(|| "no-new-privileges".to_string())
        .into_iter()
        .chain(
            label
                .into_iter()
                .flat_map(|l| l.split(','))
                .map(|l| format!("label={l}")),
        )
        // --privileged has no filter without being asked for none.
        .chain(
            process
                .seccomp
                .security_opt()
                .filter(|_| !process.privileged),
        )
        .collect()
}

/// inspect's GraphDriver.
fn graph_driver(record: &ContainerRecord) -> serde_json::Value {
    // Both overlays keep the kernel's on-disk form, and Podman calls a FUSE overlay (its
    // mount_program) "overlay" too; vfs has no upper directory to show.
    match record.spec.storage_driver {
        runtime::StorageDriver::Vfs => serde_json::json!({"Name": "vfs", "Data": null}),
        runtime::StorageDriver::Overlay | runtime::StorageDriver::FuseOverlay => {
            serde_json::json!({
                "Name": "overlay",
                "Data": {
                    "UpperDir": record.spec.upper_dir,
                    "WorkDir": record.spec.work_dir,
                    "MergedDir": record.spec.rootfs_dir,
                },
            })
        }
    }
}

/// inspect's HostConfig.NetworkMode.
fn network_mode(record: &ContainerRecord) -> String {
    match (&record.spec.network, record.network_mode.as_str()) {
        (_, mode) if !mode.is_empty() => mode.to_string(),
        // Containers made before the mode was recorded.
        (NetworkMode::Private, _) => record.spec.network_backend.program().to_string(),
        (NetworkMode::None, _) => "none".to_string(),
        (NetworkMode::Host, _) => "host".to_string(),
        (NetworkMode::Join(path), _) => format!("ns:{}", path.display()),
        (NetworkMode::Bridge { .. }, _) => "bridge".to_string(),
    }
}
