//! Build arguments and variables: the arguments every build has (proxies, platforms), and the
//! words of a step substituted with what is in scope there.

use std::collections::BTreeMap;

use anyhow::Result;

use super::engine::{Builder, StageState};
use super::words;

/// The arguments Docker predefines: usable without an ARG line, kept out of the image.
pub(super) const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and their BUILD… twins, for this host.
pub(super) fn platform_args() -> Vec<(String, String)> {
    let host = crate::image::pull::Platform::host();
    let variant = host.variant.clone().unwrap_or_default();
    let platform = match &host.variant {
        Some(variant) => format!("{}/{}/{variant}", host.os, host.architecture),
        None => format!("{}/{}", host.os, host.architecture),
    };
    ["TARGET", "BUILD"]
        .into_iter()
        .flat_map(|prefix| {
            [
                (format!("{prefix}PLATFORM"), platform.clone()),
                (format!("{prefix}OS"), host.os.clone()),
                (format!("{prefix}ARCH"), host.architecture.clone()),
                (format!("{prefix}VARIANT"), variant.clone()),
            ]
        })
        .collect()
}

impl Builder<'_> {
    pub(super) fn lookup_global(&self, name: &str) -> Option<String> {
        self.global_args.get(name).cloned()
    }

    /// What variables a step sees: the stage's ARGs, then its ENV (which wins, as in Docker).
    fn variables(&self, state: &StageState) -> BTreeMap<String, String> {
        let mut vars = state.args.clone();
        for entry in state.config.config.env.iter().flatten() {
            if let Some((name, value)) = entry.split_once('=') {
                vars.insert(name.to_string(), value.to_string());
            }
        }
        vars
    }

    pub(super) fn substitute_document(&self, state: &StageState, text: &str) -> Result<String> {
        let vars = self.variables(state);
        let lookup = |name: &str| vars.get(name).cloned();
        words::expand_document(text, &lookup, self.file.escape).map_err(anyhow::Error::msg)
    }

    pub(super) fn substitute(&self, state: &StageState, word: &str) -> Result<String> {
        let vars = self.variables(state);
        let lookup = |name: &str| vars.get(name).cloned();
        words::expand(word, &lookup, self.file.escape).map_err(anyhow::Error::msg)
    }
}
