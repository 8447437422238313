//! Build arguments and variables: the arguments every build has (proxies, platforms), and the
//! words of a step substituted with what is in scope there.

use std::collections::BTreeMap;

use anyhow::Result;

use super::dockerfile::{ArgDecl, Dockerfile};
use super::engine::{Builder, StageState};
use crate::words;

/// The arguments Docker predefines: usable without an ARG line, kept out of the image.
const PROXY_ARGS: [&str; 8] = [
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
fn platform_args() -> Vec<(String, String)> {
    let host = crate::image::platform::Platform::host();
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

/// The ARGs before the first FROM with their values (`--build-arg`, else the default), the
/// proxy arguments `--build-arg` gives, and the platform arguments.
pub(super) fn global_args(
    file: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut global_args = BTreeMap::new();
    for decl in &file.global_args {
        let value = match build_args.get(&decl.name) {
            Some(given) => Some(given.clone()),
            None => decl.default.clone(),
        };
        if let Some(value) = value {
            global_args.insert(decl.name.clone(), value);
        }
    }
    for proxy in PROXY_ARGS {
        if let Some(value) = build_args.get(proxy) {
            global_args.insert(proxy.to_string(), value.clone());
        }
    }
    // As with BuildKit, the platform arguments are in the global scope without an ARG line
    // (so FROM may use them); a stage sees one after `ARG NAME`. Build and target platform are
    // the same: skiff builds for this host only.
    for (name, value) in platform_args() {
        global_args.entry(name).or_insert(value);
    }
    global_args
}

impl Builder<'_> {
    /// ARG: each name in scope from here on, with the value `--build-arg` gives, else its
    /// default (substituted), else the global ARG's value; with none of them, out of scope.
    pub(super) fn declare_args(&self, state: &mut StageState, decls: &[ArgDecl]) -> Result<()> {
        for decl in decls {
            let value = match self.options.build_args.get(&decl.name) {
                Some(given) => Some(given.clone()),
                None => match &decl.default {
                    Some(default) => Some(self.substitute(state, default)?),
                    // A global ARG of the same name lends its value.
                    None => self.global_args.get(&decl.name).cloned(),
                },
            };
            if let Some(value) = value {
                state.args.insert(decl.name.clone(), value);
            } else {
                state.args.remove(&decl.name);
            }
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_args_take_build_args_defaults_proxies_and_the_platform() {
        let text = "ARG A=1\nARG B\nARG C=3\nARG TARGETOS\nFROM scratch\n";
        let file = super::super::dockerfile::parse("Dockerfile", text).unwrap();
        let given: BTreeMap<String, String> = [
            ("A", "9"),
            ("HTTP_PROXY", "http://proxy"),
            ("OTHER", "o"),
            ("TARGETOS", "plan9"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let args = global_args(&file, &given);
        assert_eq!(args["A"], "9");
        assert!(!args.contains_key("B"));
        assert_eq!(args["C"], "3");
        assert_eq!(args["HTTP_PROXY"], "http://proxy");
        // Only declared ARGs and the predefined ones take --build-arg.
        assert!(!args.contains_key("OTHER"));
        // A declared platform argument keeps the given value; the others are this host's.
        assert_eq!(args["TARGETOS"], "plan9");
        assert_eq!(args["BUILDOS"], "linux");
        assert_eq!(
            args["TARGETARCH"],
            crate::image::platform::Platform::host().architecture
        );
    }
}
