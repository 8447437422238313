//! Times and durations as Podman's flags write them: Go durations (`1m30s`), and points in
//! time given as an RFC 3339 time, a Unix time or an age (`--filter until=`, `logs --since`);
//! the time stamps skiff records; and (in `format`) times as Podman prints them.

pub mod format;

pub use format::parse_timestamp;

/// Now, as skiff records times in its store (RFC 3339, UTC, nanoseconds).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// A point in time in one of Podman's three forms: an RFC 3339 time (`2024-05-01T12:00:00Z`),
/// a Unix time in seconds (`1714564800`, a fraction allowed), or a Go duration before now
/// (`24h`, `1h30m`).
pub fn point_in_time(value: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(time) = value.parse::<jiff::Timestamp>() {
        return Ok(time);
    }
    if let Some(time) = unix_time(value) {
        return time;
    }
    let nanos = go_duration(value)
        .map_err(|e| format!("{e}; use a duration such as 24h, a Unix time or an RFC 3339 time"))?;
    let span = jiff::SignedDuration::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX));
    jiff::Timestamp::now()
        .checked_sub(span)
        .map_err(|e| e.to_string())
}

/// `SECONDS` or `SECONDS.FRACTION` since the epoch; None when `value` is not of that shape.
fn unix_time(value: &str) -> Option<Result<jiff::Timestamp, String>> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if seconds.is_empty() || !digits(seconds) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let seconds = match seconds.parse::<i64>() {
        Ok(seconds) => seconds,
        Err(e) => return Some(Err(e.to_string())),
    };
    let nanos: i32 = format!("{fraction:0<9}").parse().unwrap_or(0);
    Some(jiff::Timestamp::new(seconds, nanos).map_err(|e| e.to_string()))
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds: HEALTHCHECK's options, and an age
/// in [`point_in_time`].
pub fn go_duration(text: &str) -> Result<u64, String> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err("an empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {text:?}: a unit is missing"))?;
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            unit => return Err(format!("invalid duration {text:?}: unknown unit {unit:?}")),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(go_duration("500ms").unwrap(), 500_000_000);
        assert!(go_duration("5").is_err());
        assert!(go_duration("5y").is_err());
    }
}
