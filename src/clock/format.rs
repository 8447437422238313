//! Times as Podman and Docker print them: go-units' `HumanDuration` ("3 hours ago"), Go's
//! `time.Time.String()` and `time.RFC3339Nano`.
//!
//! Contract: every function here is pure (the current time is a parameter) and reproduces,
//! character for character, the Go function named in its doc comment. Scripts parse these
//! strings (`podman ps --format '{{.CreatedAt}}'`), so a change of wording here is a
//! compatibility break. Nothing here reads the clock or the local time zone: all output is UTC.

use jiff::tz::Offset;
use jiff::Timestamp;

/// The time between `then` and `now` as Docker's `units.HumanDuration`
/// prints it, followed by `" ago"`, as in the CREATED column of `podman
/// images` and `podman ps` (`"3 hours ago"`).
///
/// The cut-offs are go-units': whole seconds below a minute, minutes below an
/// hour, hours (rounded to nearest) below 48 hours, then days below two
/// weeks, weeks below two 30-day months, 30-day months below two 365-day
/// years, then years. A `then` in the future counts as "Less than a second",
/// as go-units does for a negative duration.
pub fn human_duration_since(then: Timestamp, now: Timestamp) -> String {
    format!("{} ago", human_duration(duration_nanos(then, now)))
}

/// The `Up 3 seconds` of `podman ps`: the running time without " ago".
pub fn human_duration_between(then: Timestamp, now: Timestamp) -> String {
    human_duration(duration_nanos(then, now))
}

/// `now - then` in nanoseconds, saturated to Go's `time.Duration` range
/// (`time.Time.Sub` saturates the same way).
fn duration_nanos(then: Timestamp, now: Timestamp) -> i64 {
    let diff = now.as_nanosecond() - then.as_nanosecond();
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

/// go-units `HumanDuration` on a duration in nanoseconds.
fn human_duration(nanos: i64) -> String {
    const SECOND: i64 = 1_000_000_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;

    // Go converts with int(d.Seconds()) and int(d.Minutes()): truncation.
    let seconds = nanos / SECOND;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = nanos / MINUTE;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go uses int(math.Round(d.Hours())) here: round half away from zero.
    let hours = (nanos + HOUR / 2) / HOUR;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    // The years branch truncates the hours again (int(d.Hours())).
    format!("{} years", nanos / HOUR / 24 / 365)
}

/// Podman's `CreatedAt` form, Go's `time.Time.String()` for a UTC time:
/// `2024-01-02 15:04:05 +0000 UTC`, with `.123456789`-style fractional
/// seconds (trailing zeros dropped) only when they are not zero.
pub fn format_created_at(t: Timestamp) -> String {
    format!(
        "{} {}{} +0000 UTC",
        date_part(t),
        time_part(t),
        fraction_part(t)
    )
}

/// Go's `time.RFC3339Nano` for a UTC time, the form `podman inspect` prints
/// for `Created`: `2024-01-02T15:04:05.5Z`. Trailing zeros of the fraction
/// are dropped and a whole second has no fraction at all.
pub fn format_rfc3339_nano(t: Timestamp) -> String {
    format!("{}T{}{}Z", date_part(t), time_part(t), fraction_part(t))
}

/// Parses an RFC 3339 timestamp as image configs carry it in `created`:
/// `2024-01-02T15:04:05Z`, `2024-01-02T15:04:05.123456789Z` or with a
/// numeric offset such as `+02:00`. Returns `None` for anything else.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    s.trim().parse::<Timestamp>().ok()
}

fn date_part(t: Timestamp) -> String {
    let dt = Offset::UTC.to_datetime(t);
    // Go pads the year to four digits and prints a sign only when negative.
    format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
}

fn time_part(t: Timestamp) -> String {
    let dt = Offset::UTC.to_datetime(t);
    format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second())
}

/// `.999999999` of Go's layouts: nanoseconds with trailing zeros removed, or
/// nothing for a whole second.
fn fraction_part(t: Timestamp) -> String {
    let nanos = Offset::UTC.to_datetime(t).subsec_nanosecond();
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // house style: unwrap is fine in tests
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn since(secs: i64) -> String {
        let now = ts("2024-06-01T00:00:00Z");
        let then = Timestamp::from_second(now.as_second() - secs).unwrap();
        human_duration_since(then, now)
    }

    #[test]
    fn durations_cross_go_units_cut_offs() {
        const H: i64 = 3600;
        assert_eq!(since(-5), "Less than a second ago");
        assert_eq!(since(0), "Less than a second ago");
        assert_eq!(since(1), "1 second ago");
        assert_eq!(since(2), "2 seconds ago");
        assert_eq!(since(59), "59 seconds ago");
        assert_eq!(since(60), "About a minute ago");
        assert_eq!(since(119), "About a minute ago");
        assert_eq!(since(120), "2 minutes ago");
        assert_eq!(since(3599), "59 minutes ago");
        assert_eq!(since(H), "About an hour ago");
        // Hours are rounded: 1h29m is still about an hour, 1h30m is 2 hours.
        assert_eq!(since(H + 29 * 60), "About an hour ago");
        assert_eq!(since(H + 30 * 60), "2 hours ago");
        assert_eq!(since(3 * H), "3 hours ago");
        assert_eq!(since(47 * H), "47 hours ago");
        assert_eq!(since(48 * H), "2 days ago");
        assert_eq!(since(13 * 24 * H), "13 days ago");
        assert_eq!(since(14 * 24 * H), "2 weeks ago");
        assert_eq!(since(59 * 24 * H), "8 weeks ago");
        assert_eq!(since(60 * 24 * H), "2 months ago");
        assert_eq!(since(729 * 24 * H), "24 months ago");
        assert_eq!(since(730 * 24 * H), "2 years ago");
        assert_eq!(since(3650 * 24 * H), "10 years ago");
    }

    #[test]
    fn sub_second_precision_counts() {
        let now = ts("2024-06-01T00:00:01.999Z");
        let then = ts("2024-06-01T00:00:00Z");
        assert_eq!(human_duration_since(then, now), "1 second ago");
    }

    #[test]
    fn created_at_is_go_time_string() {
        assert_eq!(
            format_created_at(ts("2024-01-02T15:04:05Z")),
            "2024-01-02 15:04:05 +0000 UTC"
        );
        assert_eq!(
            format_created_at(ts("2024-01-02T15:04:05.120Z")),
            "2024-01-02 15:04:05.12 +0000 UTC"
        );
        // A numeric offset is converted to UTC.
        assert_eq!(
            format_created_at(ts("2024-01-02T17:04:05+02:00")),
            "2024-01-02 15:04:05 +0000 UTC"
        );
    }

    #[test]
    fn rfc3339_nano_drops_trailing_zeros() {
        assert_eq!(
            format_rfc3339_nano(ts("2024-01-02T15:04:05Z")),
            "2024-01-02T15:04:05Z"
        );
        assert_eq!(
            format_rfc3339_nano(ts("2024-01-02T15:04:05.500Z")),
            "2024-01-02T15:04:05.5Z"
        );
        assert_eq!(
            format_rfc3339_nano(ts("2024-01-02T15:04:05.123456789Z")),
            "2024-01-02T15:04:05.123456789Z"
        );
    }

    #[test]
    fn parses_image_config_timestamps() {
        let want = ts("2024-01-02T15:04:05Z");
        assert_eq!(parse_timestamp("2024-01-02T15:04:05Z"), Some(want));
        assert_eq!(parse_timestamp("2024-01-02T16:04:05+01:00"), Some(want));
        assert_eq!(parse_timestamp("2024-01-02T10:04:05-05:00"), Some(want));
        let frac = parse_timestamp("2024-01-02T15:04:05.123456789Z").unwrap();
        assert_eq!(frac.subsec_nanosecond(), 123_456_789);
        assert_eq!(
            format_rfc3339_nano(parse_timestamp("2023-10-05T08:09:10.5+00:00").unwrap()),
            "2023-10-05T08:09:10.5Z"
        );
        assert_eq!(parse_timestamp("2024-01-02T15:04:05"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
