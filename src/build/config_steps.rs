//! The steps that change only the image's config (ENV, LABEL, USER, CMD, …), each a new image
//! with the same layers, and WORKDIR, which adds a layer when the directory is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::dockerfile::{CommandForm, Healthcheck};
use super::engine::{BuildOutcome, Builder, StageState};
use crate::image::config::{History, RunConfig};
use crate::store::images::ImageIndex;

impl Builder<'_> {
    /// A step that changed only `state`'s config (described as `described`, substituted):
    /// its image from the cache, or made. The parent image, the substituted instruction and
    /// the arguments in scope decide the new config, so they make the key.
    pub(super) fn config_only_step(
        &mut self,
        state: &mut StageState,
        described: &str,
    ) -> Result<()> {
        let key = self.key(state, described, "");
        state.image_id = match self.reuse(&key) {
            Some(id) => id,
            None => self.metadata_step(state, &key, described)?,
        };
        Ok(())
    }

    /// ENV: each value substituted with what is in scope, earlier pairs of the line included.
    pub(super) fn set_env(
        &self,
        state: &mut StageState,
        pairs: &[(String, String)],
    ) -> Result<String> {
        let mut shown = Vec::new();
        for (name, value) in pairs {
            let value = self.substitute(state, value)?;
            state.config.config.set_env(name, &value);
            shown.push(format!("{name}={value}"));
        }
        Ok(format!("ENV {}", shown.join(" ")))
    }

    pub(super) fn set_labels(
        &self,
        state: &mut StageState,
        pairs: &[(String, String)],
    ) -> Result<String> {
        let mut shown = Vec::new();
        for (key, value) in pairs {
            let value = self.substitute(state, value)?;
            let run = &mut state.config.config;
            run.labels
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), value.clone());
            shown.push(format!("{key}={value}"));
        }
        Ok(format!("LABEL {}", shown.join(" ")))
    }

    /// EXPOSE: a port without a protocol is TCP.
    pub(super) fn expose(&self, state: &mut StageState, ports: &[String]) -> Result<String> {
        let mut shown = Vec::new();
        for port in ports {
            let port = with_protocol(self.substitute(state, port)?);
            let run = &mut state.config.config;
            run.exposed_ports
                .get_or_insert_with(BTreeMap::new)
                .insert(port.clone(), serde_json::json!({}));
            shown.push(port);
        }
        Ok(format!("EXPOSE {}", shown.join(" ")))
    }

    /// WORKDIR: the directory set (relative to the current one), and the directories of it
    /// the image lacks, which the step must make.
    pub(super) fn set_workdir(
        &self,
        state: &mut StageState,
        dir: &str,
    ) -> Result<(String, Vec<PathBuf>)> {
        let dir = self.substitute(state, dir)?;
        let run = &mut state.config.config;
        let current = run.working_dir.clone().unwrap_or_else(|| "/".into());
        let joined = Path::new(&current).join(&dir);
        run.working_dir = Some(joined.display().to_string());
        let described = format!("WORKDIR {}", joined.display());
        let missing = self.missing_directories(state, &joined)?;
        Ok((described, missing))
    }

    pub(super) fn set_user(&self, state: &mut StageState, user: &str) -> Result<String> {
        let user = self.substitute(state, user)?;
        state.config.config.user = Some(user.clone());
        Ok(format!("USER {user}"))
    }

    pub(super) fn set_cmd(&self, state: &mut StageState, form: &CommandForm) -> String {
        state.config.config.cmd = Some(self.command_argv(state, form));
        state.cmd_set = true;
        format!("CMD {}", argv_json(state.config.config.cmd.as_deref()))
    }

    pub(super) fn set_entrypoint(&self, state: &mut StageState, form: &CommandForm) -> String {
        let argv = self.command_argv(state, form);
        let run = &mut state.config.config;
        run.entrypoint = Some(argv);
        // As in Docker: a new ENTRYPOINT drops the CMD inherited from the base image.
        if !state.cmd_set {
            run.cmd = None;
        }
        format!(
            "ENTRYPOINT {}",
            argv_json(state.config.config.entrypoint.as_deref())
        )
    }

    pub(super) fn declare_volumes(
        &self,
        state: &mut StageState,
        paths: &[String],
    ) -> Result<String> {
        let mut shown = Vec::new();
        for path in paths {
            let path = self.substitute(state, path)?;
            let run = &mut state.config.config;
            run.volumes
                .get_or_insert_with(BTreeMap::new)
                .insert(path.clone(), serde_json::json!({}));
            shown.push(path);
        }
        Ok(format!("VOLUME {shown:?}"))
    }

    pub(super) fn set_stop_signal(&self, state: &mut StageState, signal: &str) -> Result<String> {
        let signal = self.substitute(state, signal)?;
        state.config.config.stop_signal = Some(signal.clone());
        Ok(format!("STOPSIGNAL {signal}"))
    }

    /// A config-only step: a new image with the same layers and `state.config`.
    pub(super) fn metadata_step(
        &self,
        state: &StageState,
        key: &str,
        created_by: &str,
    ) -> Result<String> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let base = index
            .by_id(&state.image_id)
            .context("the image vanished")?
            .clone();
        // The parent's own config holds the whole history and rootfs (RUN and COPY steps
        // commit on top of it); the step changes only the run config and the author.
        let mut config = crate::image::read_config(&self.ctx.store, &base)?;
        config.config = state.config.config.clone();
        config.author = state.config.author.clone();
        let created = crate::clock::now_rfc3339();
        config.created = Some(created.clone());
        config.history.push(History {
            created: Some(created),
            created_by: Some(format!("/bin/sh -c #(nop) {created_by}")),
            empty_layer: true,
            ..History::default()
        });
        let id = crate::image::add_config_image(
            self.ctx,
            &base.layers,
            &config,
            self.options.docker_format,
        )?;
        self.remember(key, &id)?;
        Ok(id)
    }

    /// The first directory of `path` the image lacks, and those below it (relative): what
    /// WORKDIR makes. Empty when the image has them all.
    pub(super) fn missing_directories(
        &self,
        state: &StageState,
        path: &Path,
    ) -> Result<Vec<PathBuf>> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(&state.image_id).context("the image vanished")?;
        let layers: Vec<String> = image.layers.iter().rev().cloned().collect();
        let layers_dir = self.ctx.store.layers_dir();
        let mut prefix = PathBuf::new();
        let mut missing = Vec::new();
        for part in path.components().skip(1) {
            prefix.push(part);
            if missing.is_empty()
                && crate::archive::layer_entry(&layers_dir, &layers, &prefix).is_some()
            {
                continue;
            }
            missing.push(prefix.clone());
        }
        Ok(missing)
    }

    /// WORKDIR of a directory the image lacks: the `missing` directories made (0755, owned by
    /// the stage's USER, as BuildKit makes them) in a layer of their own.
    pub(super) fn make_workdir(
        &mut self,
        state: &mut StageState,
        missing: &[PathBuf],
        described: &str,
    ) -> Result<Option<BuildOutcome>> {
        let key = self.key(state, described, "mkdir");
        if let Some(id) = self.reuse(&key) {
            state.image_id = id;
            return Ok(None);
        }
        let (uid, gid) = match state.config.config.user.clone() {
            Some(user) if !user.is_empty() => self.resolve_owner(state, &user)?,
            _ => (0, 0),
        };
        let mut archive = tar::Builder::new(Vec::new());
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        for directory in missing {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_uid(uid.into());
            header.set_gid(gid.into());
            header.set_mtime(now);
            header.set_size(0);
            header.set_path(directory)?;
            header.set_cksum();
            archive.append(&header, std::io::empty())?;
        }
        let bytes = archive.into_inner()?;
        let id = self.with_idle_container(&state.image_id, |container| {
            crate::container::copy::put_archive(self.ctx, container, &mut &bytes[..])?;
            self.commit(container, state, format!("/bin/sh -c #(nop) {described}"))
        })?;
        self.remember(&key, &id)?;
        state.image_id = id;
        Ok(None)
    }

    /// The argv of a CMD, ENTRYPOINT or RUN: the exec form as written, the shell form through
    /// the stage's SHELL (default `/bin/sh -c`).
    pub(super) fn command_argv(&self, state: &StageState, form: &CommandForm) -> Vec<String> {
        match form {
            CommandForm::Exec(argv) => argv.clone(),
            CommandForm::Shell(text) => {
                let mut argv: Vec<String> = state
                    .config
                    .config
                    .other
                    .get("Shell")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(text.clone());
                argv
            }
        }
    }
}

pub(super) fn argv_json(argv: Option<&[String]>) -> String {
    serde_json::to_string(&argv.unwrap_or_default()).unwrap_or_default()
}

/// `port`, with `/tcp` when it names no protocol.
fn with_protocol(port: String) -> String {
    if port.contains('/') {
        port
    } else {
        format!("{port}/tcp")
    }
}

/// SHELL: kept in the config (as Docker keeps it) for the shell forms of later steps.
pub(super) fn set_shell(run: &mut RunConfig, shell: &[String]) -> String {
    run.other.insert("Shell".into(), serde_json::json!(shell));
    format!("SHELL {}", argv_json(Some(shell)))
}

/// ONBUILD: the trigger added to those images built on this one run first.
pub(super) fn add_onbuild_trigger(run: &mut RunConfig, trigger: &str) {
    let list = run
        .other
        .entry("OnBuild")
        .or_insert_with(|| serde_json::json!([]));
    if let Some(list) = list.as_array_mut() {
        list.push(serde_json::json!(trigger));
    }
}

/// HEALTHCHECK as the image config holds it: the test with CMD or CMD-SHELL, the durations in
/// nanoseconds, and the retries; `{"Test": ["NONE"]}` for `HEALTHCHECK NONE`.
pub(super) fn healthcheck_config(check: Option<&Healthcheck>) -> Result<serde_json::Value> {
    let Some(check) = check else {
        return Ok(serde_json::json!({"Test": ["NONE"]}));
    };
    let test = match &check.command {
        CommandForm::Exec(argv) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(argv.iter().cloned());
            test
        }
        CommandForm::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
    };
    let mut value = serde_json::json!({"Test": test});
    for (key, given) in [
        ("Interval", &check.interval),
        ("Timeout", &check.timeout),
        ("StartPeriod", &check.start_period),
        ("StartInterval", &check.start_interval),
    ] {
        if let Some(given) = given {
            let nanos = crate::clock::go_duration(given).map_err(|e| anyhow::anyhow!(e))?;
            value[key] = serde_json::json!(nanos);
        }
    }
    if let Some(retries) = &check.retries {
        let retries: u64 = retries
            .parse()
            .map_err(|_| anyhow::anyhow!("HEALTHCHECK --retries={retries}: expected a number"))?;
        value["Retries"] = serde_json::json!(retries);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: CommandForm) -> Healthcheck {
        Healthcheck {
            command,
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        }
    }

    #[test]
    fn healthchecks_take_the_form_docker_stores() {
        assert_eq!(
            healthcheck_config(None).unwrap(),
            serde_json::json!({"Test": ["NONE"]})
        );
        let mut shell = check(CommandForm::Shell("curl -f localhost".into()));
        shell.interval = Some("30s".into());
        shell.retries = Some("3".into());
        assert_eq!(
            healthcheck_config(Some(&shell)).unwrap(),
            serde_json::json!({
                "Test": ["CMD-SHELL", "curl -f localhost"],
                "Interval": 30_000_000_000u64,
                "Retries": 3,
            })
        );
        let exec = check(CommandForm::Exec(vec!["/ok".into(), "-q".into()]));
        assert_eq!(
            healthcheck_config(Some(&exec)).unwrap()["Test"],
            serde_json::json!(["CMD", "/ok", "-q"])
        );
        let mut bad = check(CommandForm::Shell("true".into()));
        bad.retries = Some("many".into());
        let error = healthcheck_config(Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("--retries=many"), "{error}");
        bad.retries = None;
        bad.timeout = Some("soon".into());
        assert!(healthcheck_config(Some(&bad)).is_err());
    }

    #[test]
    fn exposed_ports_are_tcp_unless_they_say() {
        assert_eq!(with_protocol("80".into()), "80/tcp");
        assert_eq!(with_protocol("53/udp".into()), "53/udp");
    }

    #[test]
    fn shell_and_onbuild_land_in_the_config() {
        let mut run = RunConfig::default();
        let shell = vec!["/bin/bash".to_string(), "-c".to_string()];
        assert_eq!(set_shell(&mut run, &shell), r#"SHELL ["/bin/bash","-c"]"#);
        assert_eq!(run.other["Shell"], serde_json::json!(shell));
        add_onbuild_trigger(&mut run, "RUN a");
        add_onbuild_trigger(&mut run, "RUN b");
        assert_eq!(run.other["OnBuild"], serde_json::json!(["RUN a", "RUN b"]));
    }
}
