//! The typed settings a container record keeps: its restart policy, its log driver and its stop
//! signal. Each is parsed once, where the flag (or containers.conf, or the image) gives it, and
//! is written to `config.json` as the text the user would type, so records written before these
//! types existed still load.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Text that names no such setting: the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(String);

/// `--restart`: when the supervisor starts the container again after it exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// The policy's name in `inspect` (HostConfig.RestartPolicy.Name): "" for no, as Podman.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// `on-failure:N`'s N; 0 for no limit and for the other policies.
    pub fn maximum_retry_count(self) -> u32 {
        match self {
            RestartPolicy::OnFailure(Some(limit)) => limit,
            _ => 0,
        }
    }

    pub fn is_no(&self) -> bool {
        *self == RestartPolicy::No
    }

    /// Whether a container that ended with `exit_code`, restarted `restarts` times so far and
    /// not stopped by the user, is started again.
    pub fn restarts(self, exit_code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(limit) => {
                exit_code != 0 && limit.is_none_or(|limit| restarts < limit)
            }
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = InvalidSetting;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.split_once(':') {
            None if text == "no" || text.is_empty() => RestartPolicy::No,
            None if text == "always" => RestartPolicy::Always,
            None if text == "unless-stopped" => RestartPolicy::UnlessStopped,
            None if text == "on-failure" => RestartPolicy::OnFailure(None),
            Some(("on-failure", n)) => RestartPolicy::OnFailure(Some(n.parse().map_err(|_| {
                InvalidSetting(format!(
                    "invalid restart policy {text:?}: the retry count must be a number"
                ))
            })?)),
            _ => {
                return Err(InvalidSetting(format!(
                "invalid restart policy {text:?}: use no, on-failure[:N], always or unless-stopped"
            )))
            }
        })
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::OnFailure(None) => f.write_str("on-failure"),
            RestartPolicy::OnFailure(Some(limit)) => write!(f, "on-failure:{limit}"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

/// `--log-driver`: where a detached container's output goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LogDriver {
    /// Podman's default: `<time> <stream> <F|P> <text>` lines.
    #[default]
    K8sFile,
    /// Docker's: `{"log":…,"stream":…,"time":…}` lines.
    JsonFile,
    None,
}

impl LogDriver {
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::K8sFile => "k8s-file",
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == LogDriver::K8sFile
    }
}

impl FromStr for LogDriver {
    type Err = InvalidSetting;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "k8s-file" => LogDriver::K8sFile,
            "json-file" => LogDriver::JsonFile,
            "none" => LogDriver::None,
            other => {
                return Err(InvalidSetting(format!(
                    "invalid log driver {other:?}: use k8s-file, json-file or none"
                )))
            }
        })
    }
}

impl fmt::Display for LogDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signal as `--stop-signal`, `kill -s` and STOPSIGNAL name it: a name with or without `SIG`
/// (any case), a real-time one as `RTMIN+N` or `RTMAX-N` (systemd halts on SIGRTMIN+3), or a
/// number. Kept as its number, since the real-time ones have no name of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Signal(pub i32);

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// SIGRTMIN+`offset`, as the C library numbers it (34+offset with glibc, as Go's).
    pub fn rtmin_plus(offset: i32) -> Signal {
        Signal(libc::SIGRTMIN() + offset)
    }

    /// The signal `nix` names, when it is not a real-time one.
    pub fn standard(self) -> Option<nix::sys::signal::Signal> {
        nix::sys::signal::Signal::try_from(self.0).ok()
    }

    /// `RTMIN`, `RTMIN+N`, `RTMAX` or `RTMAX-N` (without `SIG`), as a number in range.
    fn real_time(name: &str) -> Option<Signal> {
        let (base, offset) = match name.strip_prefix("RTMIN") {
            Some("") => (libc::SIGRTMIN(), 0),
            Some(rest) => (
                libc::SIGRTMIN(),
                rest.strip_prefix('+')?.parse::<i32>().ok()?,
            ),
            None => match name.strip_prefix("RTMAX")? {
                "" => (libc::SIGRTMAX(), 0),
                rest => (
                    libc::SIGRTMAX(),
                    -rest.strip_prefix('-')?.parse::<i32>().ok()?,
                ),
            },
        };
        Some(Signal(base + offset)).filter(|s| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&s.0))
    }
}

impl From<nix::sys::signal::Signal> for Signal {
    fn from(signal: nix::sys::signal::Signal) -> Signal {
        Signal(signal as i32)
    }
}

impl FromStr for Signal {
    type Err = InvalidSetting;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use nix::sys::signal::Signal as Raw;
        let invalid = || InvalidSetting(format!("invalid signal: {text}"));
        if let Ok(number) = text.parse::<i32>() {
            let real_time = (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&number);
            return match Raw::try_from(number) {
                Ok(raw) => Ok(raw.into()),
                Err(_) if real_time => Ok(Signal(number)),
                Err(_) => Err(invalid()),
            };
        }
        let upper = text.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(signal) = Signal::real_time(bare) {
            return Ok(signal);
        }
        format!("SIG{bare}")
            .parse::<Raw>()
            .map(Signal::from)
            .map_err(|_| invalid())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard() {
            Some(raw) => f.write_str(raw.as_str()),
            None => write!(f, "SIGRTMIN+{}", self.0 - libc::SIGRTMIN()),
        }
    }
}

/// `--sdnotify`: what becomes of the NOTIFY_SOCKET skiff is given (a systemd unit of
/// `Type=notify`). Podman 4.3.1's three modes, its default `container`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotifyMode {
    /// The socket is passed into the container, whose process says READY=1 itself; skiff
    /// sends MAINPID (the process that watches the container).
    #[default]
    Container,
    /// skiff sends MAINPID and READY=1 once the container has started; the container never
    /// sees the socket.
    Conmon,
    /// Nobody is told: the socket is left out of the container and skiff sends nothing.
    Ignore,
}

impl SdNotifyMode {
    pub fn parse(text: Option<&str>) -> Result<SdNotifyMode, InvalidSetting> {
        Ok(match text {
            None | Some("container") => SdNotifyMode::Container,
            Some("conmon") => SdNotifyMode::Conmon,
            Some("ignore") => SdNotifyMode::Ignore,
            Some(other) => {
                return Err(InvalidSetting(format!(
                    "invalid sdnotify value {other:?}: must be container, conmon or ignore"
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SdNotifyMode::Container => "container",
            SdNotifyMode::Conmon => "conmon",
            SdNotifyMode::Ignore => "ignore",
        }
    }
}

/// `--sdnotify` as a container keeps it: the mode, and the NOTIFY_SOCKET skiff was given when
/// the container was made (none with `ignore`, or when there was none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdNotify {
    #[serde(default)]
    pub mode: SdNotifyMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}

impl SdNotify {
    pub fn is_default(&self) -> bool {
        *self == SdNotify::default()
    }
}

/// A record's stop signal: one that no longer parses (an image's STOPSIGNAL stored before
/// signals were checked at create) reads as none, so the record still loads and `stop` sends
/// SIGTERM.
pub fn lenient_signal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Signal>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.and_then(|text| text.parse().ok()))
}

macro_rules! text_conversions {
    ($($kind:ty),*) => {$(
        impl TryFrom<String> for $kind {
            type Error = InvalidSetting;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
        impl From<$kind> for String {
            fn from(value: $kind) -> String {
                value.to_string()
            }
        }
    )*};
}
text_conversions!(RestartPolicy, LogDriver, Signal);

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal as Raw;

    #[test]
    fn restart_policies_parse_and_print_as_typed() {
        assert_eq!(
            "on-failure:3".parse::<RestartPolicy>(),
            Ok(RestartPolicy::OnFailure(Some(3)))
        );
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
        for text in [
            "no",
            "on-failure",
            "on-failure:3",
            "always",
            "unless-stopped",
        ] {
            assert_eq!(text.parse::<RestartPolicy>().unwrap().to_string(), text);
        }
        let three = RestartPolicy::OnFailure(Some(3));
        assert!(three.restarts(1, 2) && !three.restarts(1, 3) && !three.restarts(0, 0));
        assert!(RestartPolicy::Always.restarts(0, 100));
        assert!(!RestartPolicy::No.restarts(1, 0));
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!("TERM".parse(), Ok(Signal::from(Raw::SIGTERM)));
        assert_eq!("sigkill".parse(), Ok(Signal::KILL));
        assert_eq!("9".parse(), Ok(Signal::KILL));
        assert!("NOPE".parse::<Signal>().is_err());
        assert_eq!(Signal::from(Raw::SIGHUP).to_string(), "SIGHUP");
        let halt = Signal::rtmin_plus(3);
        assert_eq!(halt.0, 37, "glibc's SIGRTMIN is 34");
        for text in ["SIGRTMIN+3", "rtmin+3", "37"] {
            assert_eq!(text.parse(), Ok(halt), "{text}");
        }
        assert_eq!(halt.to_string(), "SIGRTMIN+3");
        assert_eq!("RTMAX".parse::<Signal>().unwrap().0, libc::SIGRTMAX());
        assert!("RTMIN+99".parse::<Signal>().is_err());
        assert!("RTMIN3".parse::<Signal>().is_err());
    }

    #[test]
    fn sdnotify_modes_are_podmans_three() {
        assert_eq!(SdNotifyMode::parse(None).unwrap(), SdNotifyMode::Container);
        for mode in [
            SdNotifyMode::Container,
            SdNotifyMode::Conmon,
            SdNotifyMode::Ignore,
        ] {
            assert_eq!(SdNotifyMode::parse(Some(mode.name())).unwrap(), mode);
        }
        assert!(SdNotifyMode::parse(Some("healthy")).is_err());
    }

    #[test]
    fn log_drivers() {
        assert_eq!("json-file".parse(), Ok(LogDriver::JsonFile));
        assert!("journald".parse::<LogDriver>().is_err());
        assert_eq!(LogDriver::None.to_string(), "none");
    }
}
