//! The platform an image is pulled for (`--platform`, `--os`, `--arch`, `--variant`, else the
//! host's), and the choice of an image index's entry for it.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::config;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn host() -> Self {
        let architecture = config::host_architecture().to_string();
        let variant = match architecture.as_str() {
            "arm64" => Some("v8".to_string()),
            "arm" => Some("v7".to_string()),
            _ => None,
        };
        Platform {
            os: "linux".into(),
            architecture,
            variant,
        }
    }

    /// `--platform os/arch[/variant]`, with `--os`/`--arch`/`--variant` overriding parts.
    pub fn from_flags(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<Self> {
        let mut chosen = Platform::host();
        if let Some(text) = platform {
            let parts: Vec<&str> = text.split('/').collect();
            match parts.as_slice() {
                [os, arch] => {
                    chosen = Platform {
                        os: os.to_string(),
                        architecture: arch.to_string(),
                        variant: None,
                    }
                }
                [os, arch, variant] => {
                    chosen = Platform {
                        os: os.to_string(),
                        architecture: arch.to_string(),
                        variant: Some(variant.to_string()),
                    }
                }
                _ => bail!("invalid platform {text:?}: expected os/arch or os/arch/variant"),
            }
        }
        if let Some(os) = os {
            chosen.os = os.to_string();
        }
        if let Some(arch) = arch {
            if arch != chosen.architecture {
                chosen.variant = None;
            }
            chosen.architecture = arch.to_string();
        }
        if let Some(variant) = variant {
            chosen.variant = Some(variant.to_string());
        }
        Ok(chosen)
    }
}

pub(super) fn choose_platform(index: &[u8], platform: &Platform, what: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        digest: String,
        platform: Option<EntryPlatform>,
    }
    #[derive(Deserialize)]
    struct EntryPlatform {
        architecture: String,
        os: String,
        variant: Option<String>,
    }
    let index: Index =
        serde_json::from_slice(index).with_context(|| format!("{what}: parsing the index"))?;
    let fits = |d: &&Entry, strict_variant: bool| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == platform.os
                && p.architecture == platform.architecture
                && (!strict_variant || platform.variant.is_none() || p.variant == platform.variant)
        })
    };
    let chosen = index
        .manifests
        .iter()
        .find(|d| fits(d, true))
        .or_else(|| index.manifests.iter().find(|d| fits(d, false)));
    match chosen {
        Some(d) => Ok(d.digest.clone()),
        None => bail!(
            "{what}: no image found in image index for architecture {}, variant {:?}, OS {}",
            platform.architecture,
            platform.variant.clone().unwrap_or_default(),
            platform.os
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_flags_combine() {
        let p = Platform::from_flags(Some("linux/arm64/v8"), None, None, None).unwrap();
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.variant.as_deref(), Some("v8"));
        let p = Platform::from_flags(None, Some("linux"), Some("arm"), Some("v6")).unwrap();
        assert_eq!(
            (p.architecture.as_str(), p.variant.as_deref()),
            ("arm", Some("v6"))
        );
        assert!(Platform::from_flags(Some("linux"), None, None, None).is_err());
    }

    #[test]
    fn the_index_entry_for_the_platform_is_chosen() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
        let amd64 = Platform::from_flags(Some("linux/amd64"), None, None, None).unwrap();
        assert_eq!(choose_platform(index, &amd64, "x").unwrap(), "sha256:bb");
        let arm64 = Platform::from_flags(Some("linux/arm64"), None, None, None).unwrap();
        assert_eq!(choose_platform(index, &arm64, "x").unwrap(), "sha256:aa");
        let s390 = Platform::from_flags(Some("linux/s390x"), None, None, None).unwrap();
        let error = choose_platform(index, &s390, "x").unwrap_err().to_string();
        assert!(error.contains("architecture s390x"), "{error}");
    }
}
