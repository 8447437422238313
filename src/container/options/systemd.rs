//! `--systemd` and `--sdnotify`: how a container meets systemd, inside it (an init that is
//! systemd) and outside it (a unit of `Type=notify` that runs skiff).

use anyhow::{bail, Result};

/// `--systemd`: when the container is made ready for systemd as its init.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SystemdMode {
    /// When the command is systemd or an init (Podman's default).
    #[default]
    WhenInit,
    Never,
    Always,
}

impl SystemdMode {
    pub fn parse(text: Option<&str>) -> Result<SystemdMode> {
        Ok(match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("true") => SystemdMode::WhenInit,
            Some("false") => SystemdMode::Never,
            Some("always") => SystemdMode::Always,
            Some(_) => bail!("--systemd values must be one of \"true, false, always\""),
        })
    }

    /// Whether a container running `argv` gets systemd's mode: always, or when its program is
    /// an init (`/sbin/init`, `/usr/sbin/init`, `/usr/local/sbin/init`) or systemd (by name, or
    /// a path ending in `/systemd`).
    pub fn applies_to(self, argv: &[String]) -> bool {
        const INITS: [&str; 3] = ["/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init"];
        let program = argv.first().map(String::as_str).unwrap_or_default();
        match self {
            SystemdMode::Always => true,
            SystemdMode::Never => false,
            SystemdMode::WhenInit => {
                INITS.contains(&program) || program == "systemd" || program.ends_with("/systemd")
            }
        }
    }
}

pub use crate::store::policies::SdNotifyMode;

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(program: &str) -> Vec<String> {
        vec![program.to_string(), "--flag".to_string()]
    }

    #[test]
    fn systemd_mode_follows_the_program_unless_forced() {
        let when_init = SystemdMode::parse(None).unwrap();
        for program in [
            "/sbin/init",
            "/usr/sbin/init",
            "/usr/local/sbin/init",
            "systemd",
            "/lib/systemd/systemd",
        ] {
            assert!(when_init.applies_to(&argv(program)), "{program}");
        }
        for program in ["init", "/bin/sh", "/usr/bin/systemd-notify", "/sbin/initx"] {
            assert!(!when_init.applies_to(&argv(program)), "{program}");
        }
        assert!(SystemdMode::parse(Some("always"))
            .unwrap()
            .applies_to(&argv("/bin/sh")));
        assert!(!SystemdMode::parse(Some("false"))
            .unwrap()
            .applies_to(&argv("/sbin/init")));
        let error = SystemdMode::parse(Some("maybe")).unwrap_err().to_string();
        assert!(!error.contains('\n') && error.contains("true, false, always"));
    }
}
