//! Seccomp profiles in Docker's JSON format (the format of Podman's seccomp.json and of
//! `--security-opt seccomp=FILE`), and their reduction to a [`Filter`] for this machine: the
//! rules whose `includes` and `excludes` fit its architecture, kernel and the container's
//! capabilities, with the calls it knows, each rule tried in the profile's order.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

use super::bpf::{Compare, Condition, Filter, Rule};
use super::syscalls;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The errno by name, as Podman's profiles also write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno: Option<String>,
    /// Architectures other than the native one are always refused (see the module `bpf`), so
    /// these lists are only read to be kept.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    /// Docker's older form: one name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<ArgumentRule>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub includes: Scope,
    #[serde(default, deserialize_with = "null_as_default")]
    pub excludes: Scope,
}

/// Where a rule applies (`includes`: all of it must be true) or does not (`excludes`: any of
/// it is enough).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    /// `MAJOR.MINOR`: the kernel must be at least that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgumentRule {
    pub index: u8,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_KILL")]
    Kill,
    #[serde(rename = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = "SCMP_CMP_EQ")]
    Equal,
    #[serde(rename = "SCMP_CMP_NE")]
    NotEqual,
    #[serde(rename = "SCMP_CMP_LT")]
    Less,
    #[serde(rename = "SCMP_CMP_LE")]
    LessOrEqual,
    #[serde(rename = "SCMP_CMP_GT")]
    Greater,
    #[serde(rename = "SCMP_CMP_GE")]
    GreaterOrEqual,
    /// `(argument & value) == valueTwo`.
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEqual,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The errno a rule without `errnoRet` returns, as runc does.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// Errnos by name, for `errno` and `defaultErrno`: those profiles use.
const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EIO", libc::EIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EINVAL", libc::EINVAL),
    ("ENOSPC", libc::ENOSPC),
    ("EROFS", libc::EROFS),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
];

fn errno_value(number: Option<u32>, name: Option<&str>) -> Result<u32, String> {
    if let Some(number) = number {
        return Ok(number);
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(DEFAULT_ERRNO);
    };
    if let Ok(number) = name.parse() {
        return Ok(number);
    }
    ERRNO_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, value)| *value as u32)
        .ok_or_else(|| format!("unknown errno {name:?}"))
}

/// `SECCOMP_RET_*` for an action; `data` is the errno (or the tracer's message).
fn return_value(action: Action, data: u32) -> u32 {
    const DATA: u32 = 0xffff;
    match action {
        Action::Allow => 0x7fff_0000,
        Action::Errno => 0x0005_0000 | (data & DATA),
        // libseccomp's SCMP_ACT_KILL is the thread's.
        Action::Kill | Action::KillThread => 0,
        Action::KillProcess => super::bpf::RET_KILL_PROCESS,
        Action::Trap => 0x0003_0000,
        Action::Trace => 0x7ff0_0000 | (data & DATA),
        Action::Log => 0x7ffc_0000,
    }
}

/// The machine a filter is made for.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// The container's capabilities, `CAP_…`.
    pub capabilities: BTreeSet<String>,
    /// (major, minor) of the running kernel.
    pub kernel: (u32, u32),
}

/// The names `includes.arches` and `excludes.arches` give the native architecture (Go's, as
/// Docker and Podman write them, and the kernel's).
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH_NAMES: &[&str] = &["amd64", "x86_64"];
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH_NAMES: &[&str] = &["arm64", "aarch64"];

/// `MAJOR.MINOR` from a version or a kernel release (`6.1.0-18-amd64`).
pub(super) fn parse_kernel_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl Profile {
    /// Reads and checks a profile: one that parses but cannot be applied (an unknown errno,
    /// `name` with `names`, an argument index past 5) is refused here, not when a container
    /// starts.
    pub fn from_json(text: &str) -> Result<Profile, String> {
        let profile: Profile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
            return Err("'architectures' and 'archMap' are both given: use one".into());
        }
        errno_value(profile.default_errno_ret, profile.default_errno.as_deref())?;
        for rule in &profile.syscalls {
            if rule.name.is_some() && !rule.names.is_empty() {
                return Err("a rule gives both 'name' and 'names': use one".into());
            }
            errno_value(rule.errno_ret, rule.errno.as_deref())?;
            if let Some(arg) = rule.args.iter().find(|a| a.index > 5) {
                return Err(format!("argument index {} is past the sixth", arg.index));
            }
            for version in [&rule.includes.min_kernel, &rule.excludes.min_kernel]
                .into_iter()
                .flatten()
            {
                parse_kernel_version(version)
                    .ok_or_else(|| format!("invalid minKernel {version:?}"))?;
            }
        }
        Ok(profile)
    }

    /// The filter for `target`: every rule that applies there, for every call it names that
    /// this architecture has.
    pub(super) fn filter(&self, target: &Target) -> Result<Filter, String> {
        let default_errno = errno_value(self.default_errno_ret, self.default_errno.as_deref())?;
        let mut filter = Filter {
            default_action: return_value(self.default_action, default_errno),
            ..Filter::default()
        };
        for rule in self.syscalls.iter().filter(|r| r.applies_to(target)) {
            let data = errno_value(rule.errno_ret, rule.errno.as_deref())?;
            let action = return_value(rule.action, data);
            let alternatives = rule.condition_sets();
            let names = rule.names.iter().chain(&rule.name);
            for number in names.filter_map(|name| syscalls::number(name)) {
                let rules = filter.calls.entry(number).or_default();
                rules.extend(alternatives.iter().map(|conditions| Rule {
                    conditions: conditions.clone(),
                    action,
                }));
            }
        }
        Ok(filter)
    }
}

impl SyscallRule {
    fn applies_to(&self, target: &Target) -> bool {
        let has = |cap: &String| target.capabilities.contains(cap);
        let native = |arches: &[String]| {
            arches
                .iter()
                .any(|arch| NATIVE_ARCH_NAMES.contains(&arch.as_str()))
        };
        let kernel_at_least = |version: &Option<String>| {
            version
                .as_deref()
                .and_then(parse_kernel_version)
                .is_none_or(|minimum| target.kernel >= minimum)
        };
        let included = self.includes.caps.iter().all(has)
            && (self.includes.arches.is_empty() || native(&self.includes.arches))
            && kernel_at_least(&self.includes.min_kernel);
        let excluded = self.excludes.caps.iter().any(has)
            || native(&self.excludes.arches)
            || (self.excludes.min_kernel.is_some() && kernel_at_least(&self.excludes.min_kernel));
        included && !excluded
    }

    /// The rule's arguments as conditions that must all hold; when one argument is tested
    /// more than once, as runc does, each test is a rule of its own (any of them is enough).
    fn condition_sets(&self) -> Vec<Vec<Condition>> {
        let conditions: Vec<Condition> = self.args.iter().map(ArgumentRule::condition).collect();
        let mut seen = BTreeSet::new();
        if conditions.iter().all(|c| seen.insert(c.argument)) {
            vec![conditions]
        } else {
            conditions.into_iter().map(|c| vec![c]).collect()
        }
    }
}

impl ArgumentRule {
    fn condition(&self) -> Condition {
        let (compare, value) = match self.op {
            Operator::Equal => (Compare::Equal, self.value),
            Operator::NotEqual => (Compare::NotEqual, self.value),
            Operator::Less => (Compare::Less, self.value),
            Operator::LessOrEqual => (Compare::LessOrEqual, self.value),
            Operator::Greater => (Compare::Greater, self.value),
            Operator::GreaterOrEqual => (Compare::GreaterOrEqual, self.value),
            Operator::MaskedEqual => (Compare::MaskedEqual { mask: self.value }, self.value_two),
        };
        Condition {
            argument: self.index,
            compare,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bpf::tests::{run, Call};
    use super::*;

    fn target(caps: &[&str]) -> Target {
        Target {
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            kernel: (6, 1),
        }
    }

    fn number(name: &str) -> u32 {
        syscalls::number(name).unwrap()
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat", "not_a_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": null},
            {"name": "uname", "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS", "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS", "includes": {"minKernel": "99.0"}},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64", "arm64"]}},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}
            ]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]}
        ]
    }"#;

    #[test]
    fn reads_docker_profiles_and_keeps_what_applies_here() {
        let profile = Profile::from_json(PROFILE).unwrap();
        let program = profile.filter(&target(&[])).unwrap().compile().unwrap();
        let call = |name: &str, args: &[u64]| run(&program, &Call::native(number(name), args));
        let errno = |value: u32| 0x0005_0000 | value;
        assert_eq!(call("mkdirat", &[]), errno(13));
        assert_eq!(call("uname", &[]), errno(38));
        assert_eq!(call("sethostname", &[]), 0x7fff_0000, "kernel too old");
        assert_eq!(call("getpid", &[]), errno(1));
        assert_eq!(call("getppid", &[]), 0x7fff_0000, "other architecture");
        assert_eq!(call("kill", &[1, 9]), errno(1));
        assert_eq!(call("kill", &[1, 15]), errno(1));
        assert_eq!(call("kill", &[1, 2]), 0x7fff_0000);
        let with_admin = profile.filter(&target(&["CAP_SYS_ADMIN"])).unwrap();
        let program = with_admin.compile().unwrap();
        assert_eq!(
            run(&program, &Call::native(number("uname"), &[])),
            0x7fff_0000
        );
    }

    #[test]
    fn refuses_malformed_profiles() {
        for (text, expected) in [
            ("{", "EOF"),
            (r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#, "unknown variant"),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EWHAT"}"#,
                "unknown errno",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#,
                "both 'name' and 'names'",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                "past the sixth",
            ),
        ] {
            let error = Profile::from_json(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn survives_a_round_trip_through_the_container_record() {
        let profile = Profile::from_json(PROFILE).unwrap();
        let stored = serde_json::to_string(&profile).unwrap();
        assert_eq!(Profile::from_json(&stored).unwrap(), profile);
    }
}
