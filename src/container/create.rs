//! `create`: planning a container from an image and recording it in the store.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::{
    compose_command, expand_env_entry, merge_env, names, parse_env_file, random_bytes, userns,
    CreateOptions,
};
use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::image;
use crate::network::{self, NetworkRequest};
use crate::runtime::{self, ContainerSpec, NetworkBackend, NetworkMode, ProcessSpec};
use crate::store::containers::ContainerRecord;
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::{self};

/// Creates a container from an image: its store entry and its runtime spec.
pub fn create(ctx: &Context, options: &CreateOptions) -> Result<ContainerRecord> {
    let image = image::stored_or_pulled(ctx, &options.image, options.pull.as_ref())?;
    let record = plan(ctx, options, &image)?;
    store_container(ctx, &record, &options.image)?;
    Ok(record)
}

/// Records a planned container in the store, checking under the lock that its image is still
/// there and its name free.
pub(super) fn store_container(
    ctx: &Context,
    record: &ContainerRecord,
    image_reference: &str,
) -> Result<()> {
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
pub(super) fn plan(
    ctx: &Context,
    options: &CreateOptions,
    image: &ImageRecord,
) -> Result<ContainerRecord> {
    if let Some(user) = &options.user {
        runtime::check_user_ids(user).map_err(anyhow::Error::msg)?;
    }
    let config = image::read_config(&ctx.store, image)?;
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
    // As Podman, an image whose STOPSIGNAL names no signal cannot make a container.
    let stop_signal = match (options.stop_signal, &run.stop_signal) {
        (Some(signal), _) => Some(signal),
        (None, Some(text)) => Some(
            text.parse()
                .map_err(anyhow::Error::new)
                .context("the image's STOPSIGNAL")?,
        ),
        (None, None) => None,
    };
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
        stop_signal,
        stop_timeout: options.stop_timeout,
        restart: options.restart,
        log_driver: options.log_driver,
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
