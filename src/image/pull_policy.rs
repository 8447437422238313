//! `--pull`: when an image is fetched from its registry rather than taken from the store, and
//! the one step that gets `run`'s and `create`'s image as the policy says, before anything is
//! planned.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;

use super::pull::{self, PullOptions};
use crate::context::Context;
use crate::store::images::{ImageIndex, ImageRecord};

/// When an image is pulled, as Podman's `--pull` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Every time.
    Always,
    /// When the store does not have it (the default).
    Missing,
    /// Never: the store must have it.
    Never,
    /// When the registry has a newer image than the store.
    Newer,
}

impl FromStr for PullPolicy {
    type Err = anyhow::Error;

    /// Podman's spellings, Kubernetes' (`IfNotPresent`, `IfNewer`) among them.
    fn from_str(text: &str) -> Result<Self> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "always" => PullPolicy::Always,
            "missing" | "ifnotpresent" | "" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            "newer" | "ifnewer" => PullPolicy::Newer,
            _ => anyhow::bail!("invalid pull policy {text:?}: use always, missing, never or newer"),
        })
    }
}

impl PullPolicy {
    pub fn name(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
            PullPolicy::Newer => "newer",
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy and how to pull when it asks for a pull.
#[derive(Debug, Clone)]
pub struct ImagePull {
    pub policy: PullPolicy,
    pub options: PullOptions,
}

/// The stored image `reference` names, pulled first as `pull` says: always and newer pull
/// before looking, missing only when the store has no such image; with no `pull` (or never),
/// the store must have it. A reference that cannot be pulled (an ID) is only looked up.
pub fn stored_or_pulled(
    ctx: &Context,
    reference: &str,
    pull: Option<&ImagePull>,
) -> Result<ImageRecord> {
    let pullable = super::reference::Reference::parse(reference).is_ok();
    let pull = pull.filter(|pull| pullable && pull.policy != PullPolicy::Never);
    if let Some(pull) = pull.filter(|p| matches!(p.policy, PullPolicy::Always | PullPolicy::Newer))
    {
        pull::pull(ctx, reference, &pull.options)?;
    }
    let index = ImageIndex::load(&ctx.store)?;
    let missing = pull.filter(|p| p.policy == PullPolicy::Missing);
    match (super::find(&index, reference), missing) {
        (Ok(image), _) => Ok(image.clone()),
        (Err(crate::store::Error::ImageNotFound { .. }), Some(pull)) => {
            pull::pull(ctx, reference, &pull.options)?;
            let index = ImageIndex::load(&ctx.store)?;
            Ok(super::find(&index, reference)?.clone())
        }
        (Err(error), _) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_podman_spells_them() {
        for policy in [
            PullPolicy::Always,
            PullPolicy::Missing,
            PullPolicy::Never,
            PullPolicy::Newer,
        ] {
            assert_eq!(policy.to_string().parse::<PullPolicy>().unwrap(), policy);
        }
        assert_eq!(
            "IfNotPresent".parse::<PullPolicy>().unwrap(),
            PullPolicy::Missing
        );
        assert!("sometimes".parse::<PullPolicy>().is_err());
    }
}
