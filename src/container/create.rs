//! `create`: planning a container from an image and recording it in the store.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::cgroup_plan;
use super::environment::environment_with_activation;
use super::network_plan::{
    exposed_ports, host_entries, plan_network, published_ports, NetworkPlan,
};
use super::options::ImageVolume;
use super::registration::{cidfile_taken, store_container, write_cidfile};
use super::{compose_command, names, random_bytes, userns, CreateOptions};
use crate::context::Context;

use crate::image;
use crate::image::config::{ImageConfig, RunConfig};
use crate::network::{self, NetworkRequest};
use crate::runtime::{self, ContainerSpec, NetworkMode, ProcessSpec};
use crate::store::containers::ContainerRecord;
use crate::store::images::ImageRecord;
use crate::store::policies::Signal;
use crate::store::{self};

/// Creates a container from an image: its store entry and its runtime spec.
pub fn create(ctx: &Context, options: &CreateOptions) -> Result<ContainerRecord> {
    let record = plan_new(ctx, options)?;
    store_container(ctx, &record, &options.image)?;
    Ok(record)
}

/// What every way of making a container does first: `--cidfile` is checked to be free (before
/// anything is pulled or made, as Podman does), the image is found or pulled, `--replace`
/// removes the container holding the name, and once the container is planned its ID goes to
/// the `--cidfile`.
pub(super) fn plan_new(ctx: &Context, options: &CreateOptions) -> Result<ContainerRecord> {
    if let Some(path) = &options.cidfile {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(cidfile_taken(path));
        }
    }
    let (image, config) = match &options.root_directory {
        // No image: the directory has it all, and the command line says what to run.
        Some(_) => (ImageRecord::default(), ImageConfig::default()),
        None => {
            let image = image::stored_or_pulled(ctx, &options.image, options.pull.as_ref())?;
            let config = image::read_config(&ctx.store, &image)?;
            (image, config)
        }
    };
    if let Some(name) = options.name.as_deref().filter(|_| options.replace) {
        if ctx.store.find_container(name).is_ok() {
            super::remove(ctx, &[name.to_string()], true, false)?;
        }
    }
    let record = plan(ctx, options, &image, config)?;
    if let Some(path) = &options.cidfile {
        write_cidfile(path, &record.id)?;
    }
    Ok(record)
}

/// Works out everything about a new container (its spec, names, generated /etc files) without
/// recording it in the store yet. Each part is a function of its own that returns data.
pub(super) fn plan(
    ctx: &Context,
    options: &CreateOptions,
    image: &ImageRecord,
    config: ImageConfig,
) -> Result<ContainerRecord> {
    if let Some(user) = &options.user {
        runtime::check_user_ids(user).map_err(anyhow::Error::msg)?;
    }
    let run = &config.config;
    let argv = command(run, options)?;
    let id = store::hex(&random_bytes::<32>());
    let adapted = super::systemd::adapt(options, run, &argv, &id)?;
    let (options, systemd): (&CreateOptions, bool) = (&adapted.options, adapted.systemd);
    let stop_signal = stop_signal(run, options)?;
    let name = container_name(ctx, options, &id)?;
    let network = plan_network(
        ctx,
        options,
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    )?;
    let isolation = super::isolation::plan(ctx, &options.namespaces)?;
    let hostname = hostname(options, &id, isolation.hostname.as_deref());
    let add_hosts = host_entries(ctx, options, &network.networks)?;
    let exposed = exposed_ports(run, options)?;
    let ports = published_ports(options, &network, &exposed)?;
    let (env, activated_fds) = environment_with_activation(options, run, &hostname)?;
    let run_dir = ctx.store.container_run_dir(&id);
    let mut namespace = userns::plan(
        ctx,
        &options.userns,
        image.layers.iter().rev().cloned().collect(),
    )?;
    let rootless = namespace.mapping.is_some();
    let names = (
        hostname.as_str(),
        name.as_str(),
        id.as_str(),
        image.id.as_str(),
    );
    let mut files = etc_files(options, &network, &add_hosts, names, rootless);
    files.extend(super::systemd::etc_files(options, systemd, &id));
    files.extend(super::etc_users::etc_user_files(
        ctx,
        options,
        run,
        &mut namespace,
    )?);
    let run_files = write_new_run_files(&run_dir, files)?;
    let etc_files = etc_file_mounts(options, &run_dir, &run_files);
    let resolved = plan_volumes(ctx, options, run, &run_dir, namespace.copied_for.as_ref())?;
    let container_dir = ctx.store.container_dir(&id);
    let mut process = process_spec(options, run, argv, env, namespace.default_user.take())?;
    process.preserve_fds = activated_fds.max(options.preserve_fds);
    let cgroup = cgroup_plan::cgroup_spec(options, &id, (rootless, systemd), &resolved.mounts);
    let spec = ContainerSpec {
        layers_dir: ctx.store.layers_dir(),
        layers: namespace.layers,
        root_directory: options.root_directory.clone(),
        upper_dir: container_dir.join("upper"),
        work_dir: container_dir.join("work"),
        rootfs_dir: container_dir.join("merged"),
        volatile: options.remove,
        mount_point_skeleton: None,
        hostname,
        cgroup,
        process,
        network: network.spec,
        namespaces: isolation.spec.clone(),
        etc_files,
        container_env: Some(run_dir.join(CONTAINER_ENV)),
        id_mapping: namespace.mapping,
        user_namespace_holders: None,
        run_dir,
        network_backend: network.backend,
        network_options: network.options,
        ports,
        mounts: resolved.mounts,
        read_only: options.read_only,
        masked_paths: options.confinement.masked_paths.clone(),
        readonly_paths: options.confinement.readonly_paths.clone(),
        proc_options: options.confinement.proc_options.clone(),
        writable_sysfs: options.confinement.privileged,
        cgroup_view: systemd,
        shm_size: options.shm_size,
        sysctls: options.sysctls.clone(),
        layer_owners: namespace.layer_owners,
        nested_ids: namespace.nested.clone(),
        storage_driver: storage_driver(ctx, options),
    };
    give_volumes_to_user(ctx, &spec, &resolved.chown)?;
    Ok(ContainerRecord {
        id,
        name,
        image_id: image.id.clone(),
        image_name: image_name(options, image),
        created: crate::clock::now_rfc3339(),
        auto_remove: options.remove,
        auto_remove_image: options.remove_image,
        pidfile: options.pidfile.clone(),
        conmon_pidfile: options.conmon_pidfile.clone(),
        required: required_containers(ctx, &options.requires)?,
        timeout: options.timeout,
        pid_mode: isolation.pid_mode,
        ipc_mode: isolation.ipc_mode,
        uts_mode: isolation.uts_mode,
        cgroupns_mode: isolation.cgroupns_mode,
        cgroups_mode: options.resources.mode.clone(),
        stop_signal,
        sdnotify: adapted.sdnotify,
        stop_timeout: options.stop_timeout,
        restart: options.restart,
        log_driver: options.log_driver,
        log_max_size: options.log_max_size,
        labels: labels(run, options),
        annotations: annotations(options),
        network_mode: network.mode,
        userns_mode: options.userns.inspect_text(),
        networks: network.networks,
        exposed_ports: exposed.iter().map(|p| p.key()).collect(),
        volumes: resolved.volumes,
        build: options.build.clone(),
        run_files,
        spec,
    })
}

/// Docker's argv from the image's Entrypoint and Cmd and the command line; empty is an error.
fn command(run: &RunConfig, options: &CreateOptions) -> Result<Vec<String>> {
    let argv = compose_command(
        run.entrypoint.as_deref(),
        run.cmd.as_deref(),
        options.entrypoint.as_deref(),
        &options.command,
    );
    if argv.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    Ok(argv)
}

/// `--stop-signal`, else the image's STOPSIGNAL: as in Podman, an image whose STOPSIGNAL names
/// no signal cannot make a container.
fn stop_signal(run: &RunConfig, options: &CreateOptions) -> Result<Option<Signal>> {
    Ok(match (options.stop_signal, &run.stop_signal) {
        (Some(signal), _) => Some(signal),
        (None, Some(text)) => Some(
            text.parse()
                .map_err(anyhow::Error::new)
                .context("the image's STOPSIGNAL")?,
        ),
        (None, None) => None,
    })
}

/// `--name`, checked, else a generated adjective_surname no other container has.
fn container_name(ctx: &Context, options: &CreateOptions, id: &str) -> Result<String> {
    if let Some(name) = &options.name {
        // Docker's names are `/NAME` in its API: a leading slash is taken off, as Podman does.
        let name = name.strip_prefix('/').unwrap_or(name);
        names::validate(name).map_err(anyhow::Error::msg)?;
        return Ok(name.to_string());
    }
    let taken: Vec<String> = ctx
        .store
        .all_containers()
        .into_iter()
        .map(|c| c.name)
        .collect();
    Ok((0..64)
        .map(|_| names::generate(&random_bytes::<4>()))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| format!("skiff_{}", &id[..12])))
}

/// `--hostname`, else the host's on the host's network, else the ID's first 12 characters.
/// Where `--init-path`'s program is bound in the container, as Podman binds its init.
const EXTERNAL_INIT: &str = "/run/podman-init";

/// `--seccomp-policy image`: the profile the image carries in its label, if it has one.
fn image_seccomp(
    options: &CreateOptions,
    run: &RunConfig,
) -> Result<Option<runtime::seccomp::SeccompPolicy>> {
    const LABEL: &str = "io.containers.seccomp.profile";
    let label = run.labels.as_ref().and_then(|labels| labels.get(LABEL));
    match label.filter(|_| options.confinement.seccomp_from_image) {
        Some(text) => {
            runtime::seccomp::SeccompPolicy::from_json(&format!("image label {LABEL}"), text)
                .map(Some)
                .map_err(anyhow::Error::msg)
        }
        None => Ok(None),
    }
}

/// Writes the container's generated /etc files in its run directory; returns them as the
/// record keeps them (to write again after a reboot).
fn write_new_run_files(
    run_dir: &Path,
    files: Vec<(&'static str, String)>,
) -> Result<Vec<(String, String)>> {
    let run_files: Vec<(String, String)> = files
        .into_iter()
        .map(|(file, content)| (file.to_string(), content))
        .collect();
    write_run_files(run_dir, &run_files)?;
    Ok(run_files)
}

/// As Podman's ImageName: the stored name the reference resolved to (`localhost/app:latest`
/// for `app`), else what was given (an id).
fn image_name(options: &CreateOptions, image: &ImageRecord) -> String {
    if options.root_directory.is_some() {
        return String::new();
    }
    image::reference::candidate_names(&options.image, image.names.iter().map(String::as_str))
        .into_iter()
        .next()
        .unwrap_or_else(|| options.image.clone())
}

/// `--requires`: the ids of the containers named, which must exist.
fn required_containers(ctx: &Context, names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|name| match ctx.store.find_container(name) {
            Ok(record) => Ok(record.id),
            Err(error) => Err(anyhow::anyhow!(
                "{name:?} is not a valid container, cannot be used as a dependency: {error}"
            )),
        })
        .collect()
}

/// The generated /etc files and `--tz`'s zone file, each with where it is bound; the network's
/// files (hosts, hostname, resolv.conf) also in each `--chrootdirs` directory's etc/.
fn etc_file_mounts(
    options: &CreateOptions,
    run_dir: &std::path::Path,
    run_files: &[(String, String)],
) -> Vec<(PathBuf, String)> {
    let chrooted = options.chrootdirs.iter().flat_map(|root| {
        run_files
            .iter()
            .filter(|(file, _)| ["hosts", "hostname", "resolv.conf"].contains(&file.as_str()))
            .map(move |(file, _)| (run_dir.join(file), format!("{root}/etc/{file}")))
    });
    run_files
        .iter()
        .filter(|(file, _)| file != CONTAINER_ENV)
        .map(|(file, _)| (run_dir.join(file), format!("/etc/{file}")))
        .chain(
            options
                .timezone
                .iter()
                .map(|zone| (zone.clone(), "/etc/localtime".to_string())),
        )
        .chain(chrooted)
        .collect()
}

/// The run directory's file bound at /run/.containerenv.
const CONTAINER_ENV: &str = ".containerenv";

/// /run/.containerenv, by which programs (systemd's detect-virt, toolbox) know they run in a
/// container: empty, as Podman's, unless the container is privileged, which may read what it
/// is (engine, name, id, image, rootless) from it.
fn container_env(
    options: &CreateOptions,
    (name, id, image_id): (&str, &str, &str),
    rootless: bool,
) -> (&'static str, String) {
    let content = match options.confinement.privileged {
        false => String::new(),
        true => format!(
            "engine=\"skiff-{}\"\nname=\"{name}\"\nid=\"{id}\"\nimage=\"{}\"\nimageid=\"{image_id}\"\nrootless={}\n",
            env!("CARGO_PKG_VERSION"),
            options.image,
            u8::from(rootless)
        ),
    };
    (CONTAINER_ENV, content)
}

/// `--hostname`; else the name of the uts namespace the container shares (the host's, with
/// `--uts host` or `--network host`, or another container's); else its short id.
fn hostname(options: &CreateOptions, id: &str, shared: Option<&str>) -> String {
    let host_names = options.namespaces.uts == super::options::Sharing::Host
        || options.network == NetworkRequest::Host;
    let host_name = || {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
    };
    match (&options.hostname, shared) {
        (Some(h), _) => h.clone(),
        (None, Some(other)) => other.to_string(),
        (None, None) => host_names
            .then(host_name)
            .flatten()
            .unwrap_or_else(|| id[..12].to_string()),
    }
}

/// The store's driver for a new container; the kernel's overlay over a `--rootfs` directory.
fn storage_driver(ctx: &Context, options: &CreateOptions) -> runtime::StorageDriver {
    match options.root_directory {
        Some(_) => runtime::StorageDriver::Overlay,
        None => ctx.driver_for_new_container(),
    }
}

/// The image's labels, then `--label`'s, a later one winning.
fn labels(run: &RunConfig, options: &CreateOptions) -> std::collections::BTreeMap<String, String> {
    let image = run.labels.clone().unwrap_or_default().into_iter();
    image.chain(options.labels.iter().cloned()).collect()
}

/// The container's annotations: Podman's own, which say how it was made, then `--annotation`s.
fn annotations(options: &CreateOptions) -> std::collections::BTreeMap<String, String> {
    let flag = |on: bool| if on { "TRUE" } else { "FALSE" }.to_string();
    let podmans = [
        ("io.kubernetes.cri-o.TTY", options.tty.to_string()),
        ("io.podman.annotations.autoremove", flag(options.remove)),
        ("io.podman.annotations.init", flag(options.init)),
        (
            "io.podman.annotations.privileged",
            flag(options.confinement.privileged),
        ),
        (
            "io.podman.annotations.publish-all",
            flag(options.publish_all),
        ),
    ];
    let confinement = &options.confinement;
    // What --security-opt asked, as Podman notes it.
    let label = (!confinement.labels.is_empty())
        .then(|| (super::LABEL_ANNOTATION, confinement.labels.join(",")));
    let unconfined = (confinement.seccomp == runtime::seccomp::SeccompPolicy::Unconfined
        && !confinement.privileged)
        .then(|| ("io.podman.annotations.seccomp", "unconfined".to_string()));
    podmans
        .into_iter()
        .chain(label)
        .chain(unconfined)
        .map(|(key, value)| (key.to_string(), value))
        .chain(options.annotations.iter().cloned())
        .collect()
}

/// The files skiff writes for the container's /etc: hosts (unless `--no-hosts`), hostname and
/// resolv.conf. `names` are the container's hostname, name and ID.
fn etc_files(
    options: &CreateOptions,
    network: &NetworkPlan,
    add_hosts: &[String],
    (hostname, name, id, image_id): (&str, &str, &str, &str),
    rootless: bool,
) -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", options.dns.apply(&network.resolv)),
    ];
    if !options.no_hosts {
        let hosts = network::hosts_file(
            network.spec == NetworkMode::Host,
            add_hosts,
            hostname,
            name,
            id,
        );
        files.insert(0, ("hosts", hosts));
    }
    files.push(container_env(options, (name, id, image_id), rootless));
    files
}

/// Writes the files of a container's run directory (its /etc/hosts, hostname, resolv.conf…)
/// that are not there: all of them when it is made, and at a start after a reboot, which
/// empties the tmpfs the directory lives on. A file still there is left as it is (a network may
/// have rewritten it since).
pub(super) fn write_run_files(run_dir: &Path, files: &[(String, String)]) -> Result<()> {
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    for (file, content) in files {
        let path = run_dir.join(file);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, content.as_bytes()));
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("writing {}", path.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The container's mounts: the requested ones (with `--read-only`'s tmpfs), `--volumes-from`'s
/// and the image's volumes, resolved to volumes and paths.
fn plan_volumes(
    ctx: &Context,
    options: &CreateOptions,
    run: &RunConfig,
    run_dir: &Path,
    copied_for: Option<&crate::runtime::userns::IdMapping>,
) -> Result<crate::volume::mounts::Resolved> {
    let mut mount_requests = options.mounts.clone();
    if let Some(path) = options.init_path.as_ref().filter(|_| options.init) {
        let bind = format!("{}:{EXTERNAL_INIT}:ro", path.display());
        mount_requests.push(crate::volume::mounts::parse_volume(&bind)?);
    }
    if options.read_only && options.read_only_tmpfs {
        for path in ["/tmp", "/var/tmp", "/run"] {
            if !mount_requests.iter().any(|m| m.destination == path) {
                mount_requests.push(crate::volume::mounts::parse_tmpfs(&format!("{path}:exec"))?);
            }
        }
    }
    let mut image_volumes: Vec<String> = run
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    match options.image_volume {
        ImageVolume::Bind => {}
        ImageVolume::Ignore => image_volumes.clear(),
        ImageVolume::Tmpfs => {
            for path in image_volumes.drain(..) {
                if !mount_requests.iter().any(|m| m.destination == path) {
                    mount_requests.push(crate::volume::mounts::parse_tmpfs(&path)?);
                }
            }
        }
    }
    let mut inherited = Vec::new();
    for source in &options.volumes_from {
        inherited.extend(crate::volume::mounts::volumes_from(ctx, source)?);
    }
    crate::volume::mounts::resolve(
        ctx,
        &mount_requests,
        inherited,
        &image_volumes,
        // Thrown away with the container (the run directory goes with it).
        &run_dir.join("volume-overlays"),
        copied_for,
    )
}

/// The process the container runs: the command line over the image's WorkingDir and User.
fn process_spec(
    options: &CreateOptions,
    run: &RunConfig,
    args: Vec<String>,
    env: Vec<String>,
    namespace_user: Option<String>,
) -> Result<ProcessSpec> {
    // `--init-path`: the host's init program, bound by `plan_volumes`, runs the command.
    let external_init = options.init && options.init_path.is_some();
    let args = match external_init {
        true => [EXTERNAL_INIT.to_string(), "--".to_string()]
            .into_iter()
            .chain(args)
            .collect(),
        false => args,
    };
    Ok(ProcessSpec {
        args,
        env,
        cwd: options
            .workdir
            .clone()
            .or_else(|| run.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
        user: options
            .user
            .clone()
            .or(namespace_user)
            .or_else(|| run.user.clone())
            .unwrap_or_default(),
        terminal: options.tty,
        interactive: options.interactive,
        init: options.init && !external_init,
        privileged: options.confinement.privileged,
        capabilities: options.capabilities.bounding.clone(),
        added_capabilities: options.capabilities.added.clone(),
        rlimits: options.rlimits.clone(),
        umask: options.umask.unwrap_or(runtime::DEFAULT_UMASK),
        oom_score_adj: options.oom_score_adj,
        group_add: options.group_add.clone(),
        detached: false,
        preserve_fds: options.preserve_fds,
        personality: options.personality,
        no_new_privileges: options.confinement.no_new_privileges,
        seccomp: image_seccomp(options, run)?
            .unwrap_or_else(|| options.confinement.seccomp.clone()),
        unattached: options.unattached.clone(),
        signals_kept: !options.forwards_signals(),
    })
}

/// Volume option U: the sources go to the container user's ids, as the container's namespace
/// (where the chown runs) has them.
fn give_volumes_to_user(ctx: &Context, spec: &ContainerSpec, sources: &[PathBuf]) -> Result<()> {
    if sources.is_empty() {
        return Ok(());
    }
    let (mut uid, mut gid) = userns::resolve_ids(ctx, &spec.layers, &spec.process.user)?;
    if let Some(nested) = &spec.nested_ids {
        uid = nested.host_uid(uid).unwrap_or(uid);
        gid = nested.host_gid(gid).unwrap_or(gid);
    }
    let sources = sources.to_vec();
    runtime::run_in_user_namespace(spec.id_mapping.as_ref(), move || {
        sources
            .iter()
            .try_for_each(|source| give_tree(source, uid, gid))
            .map_err(|e| format!("volume option U: {e}"))
    })?;
    Ok(())
}

/// Gives `root` and everything under it (never following a symlink) to `uid`:`gid`.
fn give_tree(root: &std::path::Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(root, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(root)?.is_dir() {
        for entry in std::fs::read_dir(root)? {
            give_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::environment::environment;
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_environment_layers_in_docker_order() {
        let options = CreateOptions {
            default_env: strings(&["FROM_CONF=1", "SHARED=conf"]),
            env: strings(&["SHARED=flag", "PATH=/opt/bin"]),
            tty: true,
            ..Default::default()
        };
        let env = environment(
            &options,
            &strings(&["SHARED=image", "IMAGE=yes"]),
            "box",
            Some(&strings(&["LISTEN_FDS=1"])),
        )
        .unwrap();
        assert_eq!(
            env,
            strings(&[
                "PATH=/opt/bin",
                "FROM_CONF=1",
                "SHARED=flag",
                "IMAGE=yes",
                "container=skiff",
                "TERM=xterm",
                "LISTEN_FDS=1",
                "HOSTNAME=box",
            ])
        );
    }

    #[test]
    fn the_command_and_process_come_from_the_image_under_the_flags() {
        let run: RunConfig = serde_json::from_value(serde_json::json!({
            "Entrypoint": ["/entry"],
            "Cmd": ["serve"],
            "WorkingDir": "/srv",
            "User": "app",
        }))
        .unwrap();
        let mut options = CreateOptions::default();
        assert_eq!(
            command(&run, &options).unwrap(),
            strings(&["/entry", "serve"])
        );
        options.entrypoint = Some(String::new());
        assert!(command(&RunConfig::default(), &options).is_err());
        options.workdir = Some("/tmp".into());
        let process = process_spec(&options, &run, strings(&["sh"]), Vec::new(), None).unwrap();
        assert_eq!(
            (process.cwd.as_str(), process.user.as_str()),
            ("/tmp", "app")
        );
        let process = process_spec(
            &CreateOptions::default(),
            &run,
            strings(&["sh"]),
            Vec::new(),
            Some("0:0".into()),
        )
        .unwrap();
        assert_eq!(
            (process.cwd.as_str(), process.user.as_str()),
            ("/srv", "0:0")
        );
    }

    #[test]
    fn an_image_stop_signal_that_names_none_is_refused() {
        let run: RunConfig =
            serde_json::from_value(serde_json::json!({"StopSignal": "SIGUSR1"})).unwrap();
        let signal = stop_signal(&run, &CreateOptions::default()).unwrap();
        assert_eq!(
            signal,
            Some(Signal::from(nix::sys::signal::Signal::SIGUSR1))
        );
        let run: RunConfig =
            serde_json::from_value(serde_json::json!({"StopSignal": "SIGNOPE"})).unwrap();
        assert!(stop_signal(&run, &CreateOptions::default()).is_err());
    }
}
