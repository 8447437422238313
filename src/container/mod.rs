//! Container operations: turning an image and a command line into a stored container and a
//! runtime spec (Docker's rules for Entrypoint, Cmd, Env, WorkingDir and User), running it in the
//! foreground, and removing it.

pub mod attach;
pub mod build_lease;
pub mod changes;
pub mod copy;
pub mod detached;
pub mod lifecycle;
mod names;
pub mod top;
pub mod userns;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::PruneFilters;
use crate::image;
use crate::network::{self, NetworkRequest};
use crate::runtime::{self, ContainerSpec, NetworkBackend, NetworkMode, ProcessSpec};
use crate::store::containers::{ContainerRecord, ContainerState, Status};
use crate::store::images::ImageIndex;
use crate::store::{self, StoreLock};

/// What `run` and `create` were asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// Arguments after the image: they replace the image's Cmd.
    pub command: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint and clears its Cmd ("" clears both).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    /// containers.conf `env`: under the image's environment and `--env`.
    pub default_env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub remove: bool,
    pub interactive: bool,
    pub tty: bool,
    pub network: NetworkRequest,
    /// `-p`, as parsed; host ports are picked when the container is created.
    pub publish: Vec<network::ports::PublishRequest>,
    /// `-P`: every exposed port gets a free host port.
    pub publish_all: bool,
    /// `--expose`, on top of the image's ExposedPorts.
    pub expose: Vec<network::ports::ExposedPort>,
    /// `--add-host`, as /etc/hosts lines.
    pub add_hosts: Vec<String>,
    /// `--no-hosts`: keep the image's /etc/hosts.
    pub no_hosts: bool,
    pub dns: network::DnsOptions,
    /// `--ip`: the container's address on its user-defined network.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--network-alias`: more names it answers to there.
    pub network_aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`: (container, alias) pairs named in its /etc/hosts.
    pub links: Vec<(String, String)>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub restart: Option<String>,
    pub init: bool,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 are passed on to the container's process.
    pub preserve_fds: u32,
    pub log_driver: Option<String>,
    pub log_max_size: Option<u64>,
    /// `--label KEY=VALUE`, in order; a later one wins.
    pub labels: Vec<(String, String)>,
    /// `-v`, `--mount` and `--tmpfs`, in order.
    pub mounts: Vec<crate::volume::mounts::MountRequest>,
    /// `--read-only`: the root filesystem is mounted read-only…
    pub read_only: bool,
    /// …with tmpfs on /tmp, /var/tmp and /run unless `--read-only-tmpfs=false`.
    pub read_only_tmpfs: bool,
    pub userns: userns::UsernsMode,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// The capability set (`CAP_…` names) in place of Podman's default one.
    pub capabilities: Option<Vec<String>>,
    /// The lease id of the build whose step the container runs.
    pub build: Option<String>,
    /// `--security-opt seccomp=…`, else containers.conf `seccomp_profile`, else the default.
    pub seccomp: runtime::seccomp::SeccompPolicy,
}

/// `seccomp=VALUE` of `--security-opt` or containers.conf `seccomp_profile`: `unconfined`, or
/// the path of a profile in Docker's JSON format, read and checked now.
pub fn seccomp_policy(value: &str) -> Result<runtime::seccomp::SeccompPolicy> {
    use runtime::seccomp::SeccompPolicy;
    match value {
        "unconfined" => Ok(SeccompPolicy::Unconfined),
        "" => bail!("seccomp needs a value: unconfined or the path of a profile"),
        path => SeccompPolicy::from_file(path).map_err(anyhow::Error::msg),
    }
}

/// Capability names as containers.conf writes them (`CHOWN` or `CAP_CHOWN`, any case), checked
/// and spelled `CAP_CHOWN`.
pub fn capability_names(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|name| {
            let upper = name.trim().to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            full.parse::<caps::Capability>()
                .map(|cap| cap.to_string())
                .map_err(|_| anyhow::anyhow!("unknown capability {name:?}"))
        })
        .collect()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes
}

/// Docker's argv: Entrypoint + Cmd, where arguments replace Cmd and `--entrypoint` replaces the
/// Entrypoint and drops the image's Cmd.
pub fn compose_command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    entrypoint: Option<&str>,
    args: &[String],
) -> Vec<String> {
    let (entry, default_cmd): (Vec<String>, Vec<String>) = match entrypoint {
        Some("") => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.to_string()], Vec::new()),
        None => (
            image_entrypoint.unwrap_or_default().to_vec(),
            image_cmd.unwrap_or_default().to_vec(),
        ),
    };
    let cmd = if args.is_empty() {
        default_cmd
    } else {
        args.to_vec()
    };
    entry.into_iter().chain(cmd).collect()
}

/// The entries of an env or label file: its lines without blank ones and # comments.
pub fn key_value_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Parses an env file: `KEY=value` lines, `KEY` alone takes the host's value, # comments.
pub fn parse_env_file(text: &str) -> Vec<String> {
    key_value_lines(text).filter_map(expand_env_entry).collect()
}

/// `-e KEY` without `=` takes the value from skiff's environment, and is dropped if unset.
fn expand_env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

/// Later entries override earlier ones with the same key; order of first appearance is kept.
pub fn merge_env(layers: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::new();
    for entry in layers {
        let key = entry
            .split_once('=')
            .map(|(k, _)| k)
            .unwrap_or(&entry)
            .to_string();
        match merged
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key.as_str()))
        {
            Some(existing) => *existing = entry,
            None => merged.push(entry),
        }
    }
    merged
}

/// Creates a container from an image: its store entry and its runtime spec.
pub fn create(ctx: &Context, options: &CreateOptions) -> Result<ContainerRecord> {
    let record = plan(ctx, options)?;
    store_container(ctx, &record, &options.image)?;
    Ok(record)
}

/// Records a planned container in the store, checking under the lock that its image is still
/// there and its name free.
fn store_container(ctx: &Context, record: &ContainerRecord, image_reference: &str) -> Result<()> {
    let lock = ctx.store.lock()?;
    if ImageIndex::load(&ctx.store)?
        .by_id(&record.image_id)
        .is_none()
    {
        return Err(store::Error::ImageNotFound {
            reference: image_reference.to_string(),
        }
        .into());
    }
    // Addresses were picked without the lock: one taken meanwhile is an error, not a clash.
    for (name, attachment) in &record.networks {
        let taken = network::manage::users(ctx, name).iter().any(|other| {
            other
                .networks
                .get(name)
                .is_some_and(|a| a.ip == attachment.ip)
        });
        if taken {
            bail!(
                "address {} on network {name} was taken meanwhile by another container: try again",
                attachment.ip
            );
        }
    }
    ctx.store.create_container(&lock, record)?;
    events::record(&ctx.store, Event::container(EventStatus::Create, record));
    Ok(())
}

/// Works out everything about a new container (its spec, names, generated /etc files) without
/// recording it in the store yet.
fn plan(ctx: &Context, options: &CreateOptions) -> Result<ContainerRecord> {
    if let Some(user) = &options.user {
        runtime::check_user_ids(user).map_err(anyhow::Error::msg)?;
    }
    let index = ImageIndex::load(&ctx.store)?;
    let image = image::find(&index, &options.image)?.clone();
    let config = image::read_config(&ctx.store, &image)?;
    let run = &config.config;

    let argv = compose_command(
        run.entrypoint.as_deref(),
        run.cmd.as_deref(),
        options.entrypoint.as_deref(),
        &options.command,
    );
    if argv.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    let id = store::hex(&random_bytes::<32>());
    let name = match &options.name {
        Some(name) => {
            names::validate(name).map_err(anyhow::Error::msg)?;
            name.clone()
        }
        None => {
            let taken: Vec<String> = ctx
                .store
                .all_containers()
                .into_iter()
                .map(|c| c.name)
                .collect();
            (0..64)
                .map(|_| names::generate(&random_bytes::<4>()))
                .find(|n| !taken.contains(n))
                .unwrap_or_else(|| format!("skiff_{}", &id[..12]))
        }
    };
    let hostname = match (&options.hostname, &options.network) {
        (Some(h), _) => h.clone(),
        (None, NetworkRequest::Host) => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| id[..12].to_string()),
        (None, _) => id[..12].to_string(),
    };

    let mut env_sources: Vec<String> = vec![format!(
        "PATH={}",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    )];
    env_sources.extend(
        options
            .default_env
            .iter()
            .filter_map(|e| expand_env_entry(e)),
    );
    env_sources.extend(run.env.clone().unwrap_or_default());
    env_sources.push("container=skiff".into());
    if options.tty {
        env_sources.push("TERM=xterm".into());
    }
    for file in &options.env_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading env file {}", file.display()))?;
        env_sources.extend(parse_env_file(&text));
    }
    let activation = socket_activation();
    if let Some((_, variables)) = &activation {
        env_sources.extend(variables.iter().cloned());
    }
    env_sources.extend(options.env.iter().filter_map(|e| expand_env_entry(e)));
    env_sources.push(format!("HOSTNAME={hostname}"));
    let env = merge_env(env_sources);

    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut networks = std::collections::BTreeMap::new();
    let mut network_backend = Default::default();
    let mut network_options = Vec::new();
    let (network_mode, spec_network, base_resolv) = match &options.network {
        NetworkRequest::Private { backend, options } => {
            network_backend = runtime::network::choose_backend(*backend)?;
            network_options = options.clone();
            // containers.conf pasta_options stand in when --network pasta gives none.
            if network_options.is_empty() && network_backend == NetworkBackend::Pasta {
                network_options = ctx.config.containers.network.pasta_options.to_vec();
            }
            (
                network_backend.program().to_string(),
                NetworkMode::Private,
                runtime::network::resolv_conf(&host_resolv, Some(network_backend)),
            )
        }
        NetworkRequest::None => ("none".into(), NetworkMode::None, String::new()),
        NetworkRequest::Host => ("host".into(), NetworkMode::Host, host_resolv),
        NetworkRequest::Container(reference) => {
            let other = ctx.store.find_container(reference)?;
            let resolv = std::fs::read_to_string(other.spec.run_dir.join("resolv.conf"))
                .unwrap_or(host_resolv);
            // The namespace file is found at each start: the other container's pid changes.
            (
                format!("container:{}", other.id),
                NetworkMode::Join(PathBuf::new()),
                resolv,
            )
        }
        NetworkRequest::Namespace(path) => (
            format!("ns:{}", path.display()),
            NetworkMode::Join(path.clone()),
            host_resolv,
        ),
        NetworkRequest::Named(reference) => {
            let network = ctx.store.find_network(reference)?;
            let address = network::manage::assign_address(ctx, &network, options.ip)?;
            networks.insert(
                network.name.clone(),
                store::containers::NetworkAttachment {
                    ip: address.to_string(),
                    aliases: options.network_aliases.clone(),
                    interface: "eth0".into(),
                },
            );
            // Rootless, name servers are reached through the bridges' pasta, as for a private
            // network; as root, through the host's routes, with no forwarder for loopback ones.
            let forwarder = ctx.id_mapping.as_ref().map(|_| NetworkBackend::Pasta);
            let resolv = runtime::network::resolv_conf(&host_resolv, forwarder);
            (
                network.name,
                NetworkMode::Bridge {
                    holder_pid: None,
                    attachments: Vec::new(),
                },
                resolv,
            )
        }
    };
    if (options.ip.is_some() || !options.network_aliases.is_empty() || !options.links.is_empty())
        && networks.is_empty()
    {
        bail!("--ip, --network-alias and --link need a user-defined network (--network NAME)");
    }
    let mut add_hosts = options.add_hosts.clone();
    for (target, alias) in &options.links {
        let other = ctx.store.find_container(target)?;
        let shared = networks
            .keys()
            .find_map(|name| other.networks.get(name))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--link {target}: that container is on none of this container's networks"
                )
            })?;
        add_hosts.push(format!("{}\t{alias} {}", shared.ip, other.name));
    }
    let mut exposed: Vec<network::ports::ExposedPort> = Vec::new();
    for key in run.exposed_ports.iter().flat_map(|ports| ports.keys()) {
        exposed.extend(network::ports::parse_expose(key)?);
    }
    exposed.extend(options.expose.iter().copied());
    exposed.sort();
    exposed.dedup();
    let publishes = !options.publish.is_empty() || options.publish_all;
    let ports = match spec_network {
        NetworkMode::Private | NetworkMode::Bridge { .. } => {
            network::ports::assign(&options.publish, &exposed, options.publish_all)?
        }
        NetworkMode::Join(_) if publishes => bail!(
            "conflicting options: -p/-P cannot be used with --network {network_mode}: the ports belong to the network it shares"
        ),
        // Docker and Podman drop them with a warning (the CLI prints it).
        _ => Vec::new(),
    };
    if options.no_hosts && !add_hosts.is_empty() {
        bail!("conflicting options: --no-hosts and --add-host");
    }
    let run_dir = ctx.store.container_run_dir(&id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let mut files = vec![
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", options.dns.apply(&base_resolv)),
    ];
    if !options.no_hosts {
        let hosts = network::hosts_file(
            spec_network == NetworkMode::Host,
            &add_hosts,
            &hostname,
            &name,
            &id,
        );
        files.insert(0, ("hosts", hosts));
    }
    // Such a container is made in the user namespace that owns the network it joins, with that
    // namespace's ids: another mapping cannot be honoured.
    if options.userns != userns::UsernsMode::Default
        && matches!(
            spec_network,
            NetworkMode::Join(_) | NetworkMode::Bridge { .. }
        )
    {
        bail!(
            "--userns={} cannot be used with --network {network_mode}: the container would have the ids of that network's user namespace; use the default network",
            options.userns.name()
        );
    }
    let mut namespace = userns::plan(
        ctx,
        &options.userns,
        image.layers.iter().rev().cloned().collect(),
    )?;
    files.extend(std::mem::take(&mut namespace.etc_files));
    let mut etc_files = Vec::new();
    for (file, content) in files {
        let path = run_dir.join(file);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        etc_files.push((path, format!("/etc/{file}")));
    }

    let container_dir = ctx.store.container_dir(&id);
    let mut mount_requests = options.mounts.clone();
    if options.read_only && options.read_only_tmpfs {
        for path in ["/tmp", "/var/tmp", "/run"] {
            if !mount_requests.iter().any(|m| m.destination == path) {
                mount_requests.push(crate::volume::mounts::parse_tmpfs(&format!("{path}:exec"))?);
            }
        }
    }
    let image_volumes: Vec<String> = run
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let mut inherited = Vec::new();
    for source in &options.volumes_from {
        inherited.extend(crate::volume::mounts::volumes_from(ctx, source)?);
    }
    let resolved = crate::volume::mounts::resolve(
        ctx,
        &mount_requests,
        inherited,
        &image_volumes,
        // Thrown away with the container (the run directory goes with it).
        &run_dir.join("volume-overlays"),
        namespace.copied_for.as_ref(),
    )?;
    let spec = ContainerSpec {
        layers_dir: ctx.store.layers_dir(),
        layers: namespace.layers,
        upper_dir: container_dir.join("upper"),
        work_dir: container_dir.join("work"),
        rootfs_dir: container_dir.join("merged"),
        volatile: options.remove,
        hostname,
        process: ProcessSpec {
            args: argv,
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
                .or(namespace.default_user)
                .or_else(|| run.user.clone())
                .unwrap_or_default(),
            terminal: options.tty,
            interactive: options.interactive,
            init: options.init,
            privileged: false,
            capabilities: options.capabilities.clone(),
            detached: false,
            preserve_fds: activation
                .map_or(0, |(count, _)| count)
                .max(options.preserve_fds),
            seccomp: options.seccomp.clone(),
        },
        network: spec_network,
        etc_files,
        id_mapping: namespace.mapping,
        run_dir,
        network_backend,
        network_options,
        ports,
        mounts: resolved.mounts,
        read_only: options.read_only,
        layer_owners: namespace.layer_owners,
        nested_ids: namespace.nested.clone(),
        storage_driver: ctx.driver_for_new_container(),
    };
    if !resolved.chown.is_empty() {
        let (mut uid, mut gid) = userns::resolve_ids(ctx, &spec.layers, &spec.process.user)?;
        // A nested namespace's ids, as the container's namespace, where the chown runs, has them.
        if let Some(nested) = &spec.nested_ids {
            uid = nested.host_uid(uid).unwrap_or(uid);
            gid = nested.host_gid(gid).unwrap_or(gid);
        }
        let sources = resolved.chown.clone();
        runtime::run_in_user_namespace(spec.id_mapping.as_ref(), move || {
            sources
                .iter()
                .try_for_each(|source| give_tree(source, uid, gid))
                .map_err(|e| format!("volume option U: {e}"))
        })?;
    }
    let record = ContainerRecord {
        id,
        name,
        image_id: image.id.clone(),
        // As Podman's ImageName: the stored name the reference resolved to
        // (`localhost/app:latest` for `app`), else what was given (an id).
        image_name: image::reference::candidate_names(
            &options.image,
            image.names.iter().map(String::as_str),
        )
        .into_iter()
        .next()
        .unwrap_or_else(|| options.image.clone()),
        created: jiff::Timestamp::now().to_string(),
        auto_remove: options.remove,
        stop_signal: options
            .stop_signal
            .clone()
            .or_else(|| config.config.stop_signal.clone()),
        stop_timeout: options.stop_timeout,
        restart: options.restart.clone(),
        log_driver: options.log_driver.clone(),
        log_max_size: options.log_max_size,
        labels: config
            .config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(options.labels.iter().cloned())
            .collect(),
        network_mode,
        userns_mode: options.userns.inspect_text(),
        networks,
        exposed_ports: exposed.iter().map(|p| p.key()).collect(),
        volumes: resolved.volumes,
        build: options.build.clone(),
        spec,
    };
    Ok(record)
}

/// Socket activation, as Podman honours it: when systemd's LISTEN_FDS is meant for this
/// process (LISTEN_PID is its pid), the container's process is passed descriptors 3 to
/// 3+LISTEN_FDS-1 and told so as if systemd had started it (LISTEN_PID=1, its pid there).
/// The count and the variables.
fn socket_activation() -> Option<(u32, Vec<String>)> {
    let listen_pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let count: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if listen_pid != std::process::id() || count == 0 {
        return None;
    }
    let mut variables = vec![format!("LISTEN_FDS={count}"), "LISTEN_PID=1".to_string()];
    if let Ok(names) = std::env::var("LISTEN_FDNAMES") {
        variables.push(format!("LISTEN_FDNAMES={names}"));
    }
    Some((count, variables))
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

/// Starts a container in the foreground and returns its exit code; `--rm` containers are
/// removed after the exit code is known, as `podman run --rm` does. With `image_reference`, the
/// container is new and is recorded in the store while the runtime's helpers start.
fn start_attached(
    ctx: &Context,
    record: &ContainerRecord,
    image_reference: Option<&str>,
) -> Result<i32> {
    let prepare = |pid: i32| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(reference) = image_reference {
            store_container(ctx, record, reference)?;
        }
        if !record.auto_remove {
            let state = ContainerState {
                status: Status::Running,
                pid: Some(pid),
                supervisor_pid: Some(std::process::id() as i32),
                started_at: Some(jiff::Timestamp::now().to_string()),
                ..Default::default()
            };
            ctx.store.write_container_state(&record.id, &state)?;
        }
        record_started(ctx, record, true);
        Ok(())
    };
    let outcome = runtime_spec(ctx, record)
        .and_then(|spec| runtime::run_container(&spec, prepare, |master| master));
    if let Err(runtime::Error::Prepare(error)) = outcome {
        let _ = std::fs::remove_dir_all(&record.spec.run_dir);
        return Err(anyhow::anyhow!(error));
    }
    let exit_code = match &outcome {
        Ok(o) => Some(o.exit_code),
        Err(runtime::Error::CommandNotFound { .. }) => Some(127),
        Err(runtime::Error::NotExecutable { .. }) => Some(126),
        Err(_) => None,
    };
    if let Some(code) = exit_code.filter(|_| outcome.is_ok()) {
        record_ended(ctx, record, code);
    }
    if record.auto_remove {
        let lock = ctx.store.lock()?;
        remove_locked(ctx, &lock, &record.id, true)?;
    } else {
        let mut state = ctx.store.read_container_state(&record.id);
        state.status = Status::Exited;
        state.pid = None;
        state.exit_code = exit_code;
        state.finished_at = Some(jiff::Timestamp::now().to_string());
        ctx.store.write_container_state(&record.id, &state)?;
    }
    if !record.networks.is_empty() {
        network::bridges::release_if_unused(ctx)?;
    }
    Ok(outcome?.exit_code)
}

/// Logs a start as Podman does: `init`, `start`, and `attach` when a terminal or the caller's
/// streams are joined to it.
pub(crate) fn record_started(ctx: &Context, record: &ContainerRecord, attached: bool) {
    let mut started = vec![
        Event::container(EventStatus::Init, record),
        Event::container(EventStatus::Start, record),
    ];
    if attached {
        started.push(Event::container(EventStatus::Attach, record));
    }
    events::record_all(&ctx.store, &started);
}

/// Logs a container's process ending (`died`, with its exit code) and its watcher tidying up
/// after it (`cleanup`), as Podman does.
pub(crate) fn record_ended(ctx: &Context, record: &ContainerRecord, exit_code: i32) {
    let died = Event::container(EventStatus::Died, record).with_exit_code(exit_code);
    events::record_all(
        &ctx.store,
        &[died, Event::container(EventStatus::Cleanup, record)],
    );
}

/// The spec a start runs: the stored one, with a shared network's namespace found now (the
/// other container's pid changes with each of its starts) and the published host ports checked
/// free, so a port in use is an error before anything runs.
pub(crate) fn runtime_spec<'a>(
    ctx: &Context,
    record: &'a ContainerRecord,
) -> Result<std::borrow::Cow<'a, ContainerSpec>, runtime::Error> {
    network::ports::check_free(&record.spec.ports)
        .map_err(|e| runtime::Error::Network(format!("{e:#}")))?;
    crate::volume::copy_up(ctx, record).map_err(|e| runtime::Error::Setup(format!("{e:#}")))?;
    let mut spec = std::borrow::Cow::Borrowed(&record.spec);
    let driver = ctx.driver_for(record.spec.storage_driver);
    if driver != spec.storage_driver {
        spec.to_mut().storage_driver = driver;
    }
    if let Some(other) = record.network_container() {
        let short = &other[..12.min(other.len())];
        if ctx.store.read_container(other).is_err() {
            return Err(runtime::Error::Network(format!(
                "container {short}, whose network this one shares, no longer exists"
            )));
        }
        let state = current_state(ctx, other);
        match (state.status, state.pid) {
            (Status::Running, Some(pid)) => {
                spec.to_mut().network = NetworkMode::Join(format!("/proc/{pid}/ns/net").into())
            }
            _ => {
                return Err(runtime::Error::Network(format!(
                "container {short}, whose network this one shares, is not running: start it first"
            )))
            }
        }
    }
    if !record.networks.is_empty() {
        spec.to_mut().network = network::bridges::start_mode(ctx, record)
            .map_err(|e| runtime::Error::Network(format!("{e:#}")))?;
    }
    Ok(spec)
}

/// Whether a state recorded as running still is: its watcher (the supervisor, or the foreground
/// `run`) is alive. Reads nothing but /proc, so shell completion can ask it of every container.
pub fn still_running(state: &ContainerState) -> bool {
    state.status == Status::Running
        && state
            .supervisor_pid
            .or(state.pid)
            .is_some_and(|pid| store::process_alive(pid as u32))
}

/// A container's state, with a container whose watcher died shown (and recorded) as exited: its
/// process died with it (the runtime ties it to its parent), and its mounts with its namespace.
pub fn current_state(ctx: &Context, id: &str) -> ContainerState {
    let mut state = ctx.store.read_container_state(id);
    if state.status == Status::Running && !still_running(&state) {
        state.status = Status::Exited;
        state.pid = None;
        state.supervisor_pid = None;
        // Killed with SIGKILL when its watcher went away; its pasta, which does not notice
        // the namespace go, goes now.
        runtime::network::stop_pid_file(&ctx.store.container_run_dir(id).join("pasta.pid"));
        state.exit_code = Some(137);
        state.finished_at = Some(jiff::Timestamp::now().to_string());
        let _ = ctx.store.write_container_state(id, &state);
    }
    state
}

/// Creates the container and starts it with `start`; a `--rm` container that fails to start
/// is removed again.
fn create_and_start<T>(
    ctx: &Context,
    options: &CreateOptions,
    start: impl FnOnce(&ContainerRecord) -> Result<T>,
) -> Result<T> {
    let record = create(ctx, options)?;
    let started = start(&record);
    if started.is_err() && record.auto_remove {
        let lock = ctx.store.lock()?;
        let _ = remove_locked(ctx, &lock, &record.id, true);
    }
    started
}

/// `run -d`: create and start under a supervisor; returns the container's id.
pub fn run_detached(ctx: &Context, options: &CreateOptions) -> Result<String> {
    create_and_start(ctx, options, |record| {
        detached::start_detached(ctx, record, None)?;
        Ok(record.id.clone())
    })
}

/// `run -it`: create, start under a supervisor, and attach to it, so the user can detach and
/// leave it running. Returns the container's exit code, or 0 once detached.
pub fn run_attached(
    ctx: &Context,
    options: &CreateOptions,
    session: &attach::SessionOptions,
) -> Result<i32> {
    create_and_start(ctx, options, |record| {
        attach::start_attached(ctx, record, session)
    })
}

/// `run`: create, start attached, and remove with `--rm`.
pub fn run(ctx: &Context, options: &CreateOptions) -> Result<i32> {
    let record = plan(ctx, options)?;
    start_attached(ctx, &record, Some(&options.image))
}

/// Removes a container's files; the caller holds the lock. The directory is renamed into tmp/
/// first (atomic), then deleted: as the user when it can, else inside the user namespace, where
/// files the container made as another user can be removed.
pub fn remove_locked(
    ctx: &Context,
    lock: &StoreLock,
    id: &str,
    anonymous_volumes: bool,
) -> Result<()> {
    let record = ctx.store.read_container(id).ok();
    let staged = ctx.store.staging_path("removed-container");
    match std::fs::rename(ctx.store.container_dir(id), &staged) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("removing container {id}")),
    }
    let _ = std::fs::remove_dir_all(ctx.store.container_run_dir(id));
    if let Some(record) = &record {
        events::record(&ctx.store, Event::container(EventStatus::Remove, record));
    }
    if remove_as_user(&staged).is_err() {
        image::remove_tree_in_userns(ctx, staged)?;
    }
    if let Some(record) =
        record.filter(|r| anonymous_volumes && r.volumes.iter().any(|v| v.anonymous))
    {
        let others = ctx.store.all_containers();
        for used in record.volumes.iter().filter(|v| v.anonymous) {
            // Kept while another container mounts it (--volumes-from).
            if !crate::volume::users(&others, &used.name).is_empty() {
                continue;
            }
            if let Ok(volume) = ctx.store.find_volume(&used.name) {
                crate::volume::remove_locked(ctx, lock, &volume)?;
            }
        }
    }
    Ok(())
}

/// Removal without the user namespace: enough when every directory belongs to the user.
fn remove_as_user(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // overlayfs leaves work/work with mode 000.
    let work = path.join("work/work");
    if work.exists() {
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700))?;
    }
    std::fs::remove_dir_all(path)
}

/// `rm`: removes stopped containers (running ones only with `force`, which kills them first),
/// and with `anonymous_volumes` (`-v`) the volumes made for them.
pub fn remove(
    ctx: &Context,
    references: &[String],
    force: bool,
    anonymous_volumes: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    // Who shares whose network, read once for all the references.
    let sharing: Vec<ContainerRecord> = ctx
        .store
        .all_containers()
        .into_iter()
        .filter(|c| c.network_container().is_some())
        .collect();
    for reference in references {
        let record = ctx.store.find_container(reference)?;
        let dependents: Vec<&str> = sharing
            .iter()
            .filter(|other| other.network_container() == Some(record.id.as_str()))
            // Unless they go in the same command.
            .filter(|other| {
                !references
                    .iter()
                    .any(|r| *r == other.name || *r == other.id)
            })
            .map(|other| other.name.as_str())
            .collect();
        if !dependents.is_empty() {
            bail!(
                "container {} has dependent containers which must be removed before it: {} (they share its network)",
                record.name,
                dependents.join(", ")
            );
        }
        let state = current_state(ctx, &record.id);
        if state.status == Status::Running {
            if !force {
                bail!("cannot remove container {} as it is running - running or paused containers cannot be removed without force", record.id);
            }
            // Killed first, and its watcher given time to record the exit, without the lock
            // (a `--rm` supervisor takes it to remove the container itself).
            lifecycle::stop(
                ctx,
                &record.id,
                nix::sys::signal::Signal::SIGKILL,
                std::time::Duration::from_secs(5),
            )?;
        }
        let lock = ctx.store.lock()?;
        remove_locked(ctx, &lock, &record.id, anonymous_volumes)?;
        drop(lock);
        if !record.networks.is_empty() {
            network::bridges::refresh_hosts(ctx, &record, true)?;
            // The supervisor of a killed container releases the network namespace too, but
            // after its own bookkeeping: when `rm` returns, the host is already clean.
            network::bridges::release_if_unused(ctx)?;
        }
        removed.push(record.id);
    }
    Ok(removed)
}

/// `rename`: under the lock, so two renames cannot take the same name.
pub fn rename(ctx: &Context, reference: &str, name: &str) -> Result<()> {
    names::validate(name).map_err(anyhow::Error::msg)?;
    let record = ctx.store.find_container(reference)?;
    let lock = ctx.store.lock()?;
    ctx.store.rename_container(&lock, &record.id, name)?;
    let renamed = ContainerRecord {
        name: name.to_string(),
        ..record
    };
    events::record(&ctx.store, Event::container(EventStatus::Rename, &renamed));
    Ok(())
}

/// `container prune`: removes every container that is not running and that `filters` match
/// (as Podman's: `until=` on when it was created, `label=`/`label!=` on its labels, the image's
/// included); returns their ids. Without filters a container whose record cannot be read goes
/// too; with them it stays, as it cannot be shown to match. The step containers of builds that
/// were killed go first, whatever the filters; those of a build that runs stay.
pub fn prune(ctx: &Context, filters: &PruneFilters) -> Result<Vec<String>> {
    let mut removed = build_lease::remove_abandoned(ctx)?;
    let wanted = |id: &str| match ctx.store.read_container(id) {
        Ok(c) => {
            !build_lease::of_running_build(ctx, &c)
                && (filters.is_empty() || filters.matches(Some(&c.created), &c.labels))
        }
        Err(_) => filters.is_empty(),
    };
    let stopped: Vec<String> = ctx
        .store
        .container_ids()
        .into_iter()
        .filter(|id| wanted(id))
        .filter(|id| current_state(ctx, id).status != Status::Running)
        .collect();
    removed.extend(remove(ctx, &stopped, false, false)?);
    Ok(removed)
}

/// The size of each container's writable layer (`ps -s`): the bytes of the files its upper
/// directory holds, a hard-linked file counted once; for a vfs container, of the files its
/// changes hold. Measured inside the user namespace (one child for all upper directories),
/// because directories the container's users made (a 0700 home of uid 1000, say) belong to
/// subordinate ids the user cannot enter.
pub fn writable_layer_sizes(ctx: &Context, ids: &[String]) -> Result<Vec<u64>> {
    let uppers: Vec<PathBuf> = ids
        .iter()
        .map(|id| ctx.store.container_dir(id).join("upper"))
        .collect();
    let mut sizes = tree_sizes(ctx, uppers)?;
    for (size, id) in sizes.iter_mut().zip(ids) {
        let Ok(record) = ctx.store.read_container(id) else {
            continue;
        };
        if record.spec.storage_driver == runtime::StorageDriver::Vfs {
            let spec = record.spec;
            *size = runtime::run_in_user_namespace(changes::namespace(&spec).as_ref(), || {
                Ok(changes::vfs_size(&spec))
            })?;
        }
    }
    Ok(sizes)
}

/// The bytes under each of `dirs` (in the store), measured as [`writable_layer_sizes`] does.
pub fn tree_sizes(ctx: &Context, dirs: Vec<PathBuf>) -> Result<Vec<u64>> {
    let sizes = runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        Ok(dirs.iter().map(|dir| tree_size(dir)).collect())
    })?;
    Ok(sizes)
}

/// Bytes of the non-directory entries under `root`; unreadable parts count as empty, as a
/// listing should not fail on a container that is being removed.
fn tree_size(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen_links = std::collections::HashSet::new();
    let mut pending = vec![root.to_path_buf()];
    let mut total = 0;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.nlink() < 2 || seen_links.insert((meta.dev(), meta.ino())) {
                total += meta.size();
            }
        }
    }
    total
}

/// Starts a stored container attached (`start -a`).
pub fn start(ctx: &Context, reference: &str, interactive: bool) -> Result<i32> {
    let mut record = ctx.store.find_container(reference)?;
    record.spec.process.interactive |= interactive;
    start_attached(ctx, &record, None)
}

/// The JSON `podman container inspect` prints, for the fields skiff knows.
pub fn inspect(ctx: &Context, reference: &str) -> Result<serde_json::Value> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    let process = &record.spec.process;
    let running = state.status == Status::Running;
    let restart = detached::RestartPolicy::parse(record.restart.as_deref().unwrap_or("no"))?;
    let network_mode = match (&record.spec.network, record.network_mode.as_str()) {
        (_, mode) if !mode.is_empty() => mode.to_string(),
        // Containers made before the mode was recorded.
        (NetworkMode::Private, _) => record.spec.network_backend.program().to_string(),
        (NetworkMode::None, _) => "none".to_string(),
        (NetworkMode::Host, _) => "host".to_string(),
        (NetworkMode::Join(path), _) => format!("ns:{}", path.display()),
        (NetworkMode::Bridge { .. }, _) => "bridge".to_string(),
    };
    let mut exposed = Vec::new();
    for key in &record.exposed_ports {
        exposed.extend(network::ports::parse_expose(key)?);
    }
    let port_bindings = network::ports::inspect_bindings(&record.spec.ports, &exposed);
    // Both overlays keep the kernel's on-disk form, and Podman calls a FUSE overlay (its
    // mount_program) "overlay" too; vfs has no upper directory to show.
    let graph_driver = match record.spec.storage_driver {
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
        "ExposedPorts": record.exposed_ports.iter().map(|key| (key.clone(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>(),
    });
    let host_config = serde_json::json!({
        "AutoRemove": record.auto_remove,
        "LogConfig": {
            "Type": record.log_driver.as_deref().unwrap_or("k8s-file"),
            "Size": record.log_max_size.map(|s| s.to_string()).unwrap_or_else(|| "0B".into()),
        },
        "PortBindings": port_bindings,
        "RestartPolicy": {
            "Name": restart.name(),
            "MaximumRetryCount": restart.maximum_retry_count(),
        },
        "NetworkMode": network_mode,
        "UsernsMode": record.userns_mode,
        "ReadonlyRootfs": record.spec.read_only,
        "SecurityOpt": process.seccomp.security_opt().into_iter().collect::<Vec<_>>(),
        "Tmpfs": crate::volume::inspect_tmpfs(&record),
    });
    // Podman's default capability set: skiff's containers get no other.
    let caps: Vec<String> = crate::runtime::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
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
            "Pid": state.pid.unwrap_or(0),
            "ExitCode": state.exit_code.unwrap_or(0),
            "StartedAt": state.started_at.unwrap_or_default(),
            "FinishedAt": state.finished_at.unwrap_or_default(),
        },
        "Image": record.image_id,
        "ImageDigest": image_digest,
        "ImageName": record.image_name,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": record.spec.run_dir.join("resolv.conf"),
        "HostnamePath": record.spec.run_dir.join("hostname"),
        "HostsPath": record.spec.run_dir.join("hosts"),
        "LogPath": detached::log_path(ctx, &record.id),
        "StaticDir": ctx.store.container_dir(&record.id),
        "OCIRuntime": "skiff",
        "ConmonPidFile": "",
        "PidFile": "",
        "Name": record.name,
        "RestartCount": state.restart_count,
        "Driver": graph_driver["Name"],
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": caps,
        "BoundingCaps": caps,
        "ExecIDs": [],
        "GraphDriver": graph_driver,
        "Mounts": crate::volume::inspect_mounts(&record),
        "Dependencies": [],
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn docker_rules_for_entrypoint_and_cmd() {
        let entry = strings(&["/entry"]);
        let cmd = strings(&["sh"]);
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), None, &[]),
            strings(&["/entry", "sh"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), None, &strings(&["ls"])),
            strings(&["/entry", "ls"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some("/other"), &[]),
            strings(&["/other"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some("/other"), &strings(&["-x"])),
            strings(&["/other", "-x"])
        );
        assert_eq!(
            compose_command(Some(&entry), Some(&cmd), Some(""), &strings(&["ls"])),
            strings(&["ls"])
        );
        assert!(compose_command(None, None, None, &[]).is_empty());
    }

    #[test]
    fn env_merging_and_files() {
        let merged = merge_env(strings(&["PATH=/bin", "A=1", "A=2", "B=3"]));
        assert_eq!(merged, strings(&["PATH=/bin", "A=2", "B=3"]));
        std::env::set_var("SKIFF_TEST_FROM_HOST", "yes");
        let parsed = parse_env_file("# c\nX=1\n\nSKIFF_TEST_FROM_HOST\nSKIFF_TEST_UNSET_VAR_ZZZ\n");
        assert_eq!(parsed, strings(&["X=1", "SKIFF_TEST_FROM_HOST=yes"]));
    }
}
