//! `--ulimit NAME=SOFT[:HARD]` and containers.conf `default_ulimits`, read as Podman reads
//! them (docker/go-units' names and rules, and Podman's error words).

use anyhow::{bail, Result};

use crate::runtime::{Rlimit, Rlimits};

/// The names `--ulimit` takes, and the limit each sets.
const NAMES: &[(&str, &str)] = &[
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

/// The limits of `--ulimit` (repeatable; a later one of the same name wins) over
/// containers.conf's; `host` alone keeps skiff's own limits.
pub fn rlimits(given: &[String], defaults: &[String]) -> Result<Rlimits> {
    if given.iter().any(|g| g == "host") {
        if given.len() > 1 {
            bail!("--ulimit host cannot be combined with other --ulimit options");
        }
        return Ok(Rlimits::Host);
    }
    let mut limits: Vec<Rlimit> = Vec::new();
    for text in defaults.iter().chain(given) {
        let limit = parse(text).map_err(|reason| {
            anyhow::anyhow!(
                "ulimit option {text:?} requires name=SOFT:HARD, failed to be parsed: {reason}"
            )
        })?;
        limits.retain(|l| l.name != limit.name);
        limits.push(limit);
    }
    Ok(Rlimits::Set(limits))
}

/// One `NAME=SOFT[:HARD]`; -1 is unlimited, and HARD defaults to SOFT.
fn parse(text: &str) -> Result<Rlimit, String> {
    let Some((name, values)) = text.split_once('=') else {
        return Err(format!("invalid ulimit argument: {text}"));
    };
    let Some((_, rlimit)) = NAMES.iter().find(|(n, _)| *n == name) else {
        return Err(format!("invalid ulimit type: {name}"));
    };
    let number = |value: &str| -> Result<i64, String> {
        value
            .parse::<i64>()
            .map_err(|_| format!("invalid ulimit value: {value:?} is not a number"))
    };
    let (soft, hard) = match values.split(':').collect::<Vec<_>>()[..] {
        [soft] => (number(soft)?, number(soft)?),
        [soft, hard] => (number(soft)?, number(hard)?),
        _ => {
            return Err(format!(
                "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
            ))
        }
    };
    let unlimited = |value: i64| if value < 0 { u64::MAX } else { value as u64 };
    if unlimited(soft) > unlimited(hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Rlimit {
        name: rlimit.to_string(),
        soft: unlimited(soft),
        hard: unlimited(hard),
    })
}

/// inspect's HostConfig.Ulimits.
pub fn inspected(rlimits: &Rlimits) -> serde_json::Value {
    match rlimits {
        Rlimits::Host => serde_json::json!([]),
        Rlimits::Set(limits) => limits
            .iter()
            .map(|l| serde_json::json!({"Name": l.name, "Soft": shown(l.soft), "Hard": shown(l.hard)}))
            .collect(),
    }
}

/// A limit as Podman's inspect shows it: unlimited (RLIM_INFINITY) as -1.
fn shown(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn limits_parse_as_podmans_and_a_later_one_wins() {
        let Rlimits::Set(limits) = rlimits(
            &strings(&["nofile=100:200", "nproc=50", "core=-1", "nproc=60:70"]),
            &strings(&["nofile=5"]),
        )
        .unwrap() else {
            panic!("not a set")
        };
        let limit = |name: &str, soft, hard| Rlimit {
            name: name.into(),
            soft,
            hard,
        };
        assert_eq!(
            limits,
            vec![
                limit("RLIMIT_NOFILE", 100, 200),
                limit("RLIMIT_CORE", u64::MAX, u64::MAX),
                limit("RLIMIT_NPROC", 60, 70),
            ]
        );
        assert_eq!(rlimits(&strings(&["host"]), &[]).unwrap(), Rlimits::Host);
    }

    #[test]
    fn bad_limits_fail_with_podmans_words() {
        let error = |text: &str| rlimits(&strings(&[text]), &[]).unwrap_err().to_string();
        assert_eq!(
            error("bogus=1"),
            "ulimit option \"bogus=1\" requires name=SOFT:HARD, failed to be parsed: invalid ulimit type: bogus"
        );
        assert_eq!(
            error("nofile=200:100"),
            "ulimit option \"nofile=200:100\" requires name=SOFT:HARD, failed to be parsed: ulimit soft limit must be less than or equal to hard limit: 200 > 100"
        );
        assert!(error("nofile").contains("invalid ulimit argument: nofile"));
        assert!(error("nofile=x").contains("not a number"));
        assert!(error("nofile=1:2:3").contains("too many limit value arguments"));
    }
}
