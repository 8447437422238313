//! RUN: the command run in a container of the stage's image, with its mounts, and its changes
//! committed as the step's image.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::config_steps::argv_json;
use super::dockerfile::{self, CommandForm, RunNetwork};
use super::engine::{BuildOutcome, Builder, StageState};

/// A RUN instruction's parts.
pub(super) struct RunWhat<'a> {
    pub(super) form: &'a CommandForm,
    /// Here-documents run as programs, at /dev/pipes/NAME.
    pub(super) programs: &'a [dockerfile::HereDoc],
    pub(super) mounts: &'a [dockerfile::RunMount],
    pub(super) network: RunNetwork,
}

impl Builder<'_> {
    /// What a RUN step's mounts give the build: its files are made only when `plan` is given
    /// back to `prepare` (`run_mounts` explains the two steps).
    fn mount_sources<'s>(&'s self, scratch: &'s Path) -> super::run_mounts::MountSources<'s> {
        super::run_mounts::MountSources {
            ctx: self.ctx,
            context: &self.options.context,
            ignore: &self.ignore,
            secrets: &self.options.secrets,
            scratch,
        }
    }

    pub(super) fn run_step(
        &mut self,
        state: &mut StageState,
        run: &RunWhat<'_>,
        text: &str,
    ) -> Result<Option<BuildOutcome>> {
        let scratch = self.ctx.store.staging_path("run-mounts");
        let result = self.run_step_with(state, run, text, &scratch);
        if scratch.exists() {
            crate::image::remove_tree_in_userns(self.ctx, scratch)?;
        }
        result
    }

    fn run_step_with(
        &mut self,
        state: &mut StageState,
        run: &RunWhat<'_>,
        text: &str,
        scratch: &Path,
    ) -> Result<Option<BuildOutcome>> {
        let form = run.form;
        let network = run.network;
        let argv = self.command_argv(state, form);
        let sources = self.mount_sources(scratch);
        let mut image_of = |from: &str| self.image_of_from(state, from);
        let plan = super::run_mounts::plan(&sources, run.mounts, run.programs, &mut image_of)?;
        let key = self.key(
            state,
            &format!("RUN {}", argv_json(Some(&argv))),
            &format!("{network:?}\n{}", plan.key),
        );
        if let Some(id) = self.reuse(&key) {
            state.image_id = id;
            return Ok(None);
        }
        let mut copies = 0;
        let mut copy_out = |image: &str, source: &str| -> Result<PathBuf> {
            copies += 1;
            let holder = scratch.join(format!("from-{copies}"));
            let copied = self.copy_out_of(image, &[source.to_string()], &holder)?;
            let first = copied.into_iter().next();
            first.map(|s| s.path()).context("nothing was copied out")
        };
        let sources = self.mount_sources(scratch);
        let mounts =
            super::run_mounts::prepare(&sources, run.mounts, run.programs, &plan, &mut copy_out)?;
        // Build arguments reach the command as environment, but not the image.
        let mut env: Vec<String> = state
            .args
            .iter()
            .filter(|(name, _)| {
                !state
                    .config
                    .config
                    .env
                    .iter()
                    .flatten()
                    .any(|e| e.starts_with(&format!("{name}=")))
            })
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        env.extend(mounts.env);
        let defaults = &self.options.step_defaults;
        let mut requests = defaults.volumes.clone();
        requests.extend(mounts.requests);
        let options = crate::container::CreateOptions {
            image: state.image_id.clone(),
            command: argv.clone(),
            entrypoint: Some(String::new()),
            env,
            mounts: requests,
            add_hosts: defaults.add_hosts.clone(),
            dns: defaults.dns.clone(),
            no_hosts: defaults.no_hosts,
            // A step's /etc/passwd is the image's to change (`RUN adduser`), never a file
            // bound over it.
            user_entries: crate::container::UserEntries {
                passwd: false,
                ..Default::default()
            },
            confinement: crate::container::Confinement {
                seccomp: defaults.seccomp.clone(),
                ..Default::default()
            },
            workdir: state.config.config.working_dir.clone(),
            user: state.config.config.user.clone(),
            network: match network {
                RunNetwork::Default if self.options.network != RunNetwork::Default => {
                    match self.options.network {
                        RunNetwork::None => crate::network::NetworkRequest::None,
                        _ => crate::network::NetworkRequest::Host,
                    }
                }
                RunNetwork::Default => crate::network::NetworkRequest::default(),
                RunNetwork::None => crate::network::NetworkRequest::None,
                RunNetwork::Host => crate::network::NetworkRequest::Host,
            },
            build: Some(self.lease.id.clone()),
            ..Default::default()
        };
        let record = crate::container::create(self.ctx, &options)?;
        self.removing_step_container(&record.id, || {
            let code = crate::container::start(self.ctx, &record.id, false)?;
            if code != 0 {
                return Ok(Some(BuildOutcome::StepFailed {
                    step: text.to_string(),
                    code,
                }));
            }
            let created_by = match form {
                CommandForm::Shell(_) => argv.join(" "),
                CommandForm::Exec(_) => format!("/bin/sh -c #(nop) RUN {}", argv_json(Some(&argv))),
            };
            let id = self.commit(&record.id, state, created_by)?;
            self.remember(&key, &id)?;
            state.image_id = id;
            Ok(None)
        })
    }
}
