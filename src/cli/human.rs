//! Human-readable sizes, printed the way Podman and Docker print them (durations and
//! timestamps are formatted in `clock::format`, re-exported here for the command line).
//!
//! Contract: every function here is pure (the current time is a parameter) and
//! reproduces, character for character, the Go function named in its doc
//! comment: `go-units` for sizes and durations, Go's `time.Time` formatting for
//! timestamps. Scripts parse these strings (`podman images --format
//! '{{.Size}}'`), so a change of wording here is a compatibility break. This
//! module never reads the clock or the local time zone: all output is UTC.

pub use crate::clock::format::{
    format_created_at, format_rfc3339_nano, human_duration_between, human_duration_since,
    parse_timestamp,
};

/// Decimal unit names of go-units (`decimapAbbrs`): note the lower-case `kB`.
const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// A size as the SIZE column of `podman images` prints it.
///
/// Podman calls go-units `HumanSizeWithPrecision(size, 3)` (1000-steps, Go's
/// `%.3g`) and then inserts a space between the number and the unit
/// (`cmd/podman/images/list.go`, `imageReporter.Size`): `4261412` gives
/// `4.26 MB`. Go's `%g` switches to exponent form when the rounded value
/// reaches 1000 of a unit, so 999_999 bytes print as `1e+03 kB`; Podman prints
/// exactly that, and so do we.
pub fn human_size(bytes: u64) -> String {
    let (number, unit) = go_units_size(bytes);
    format!("{number} {unit}")
}

/// A size as go-units `HumanSizeWithPrecision(size, 3)` prints it, with no
/// space: `12B`, `1.98MB`, as in the SIZE column of `podman ps -s`.
pub fn human_size_unspaced(bytes: u64) -> String {
    let (number, unit) = go_units_size(bytes);
    format!("{number}{unit}")
}

/// A size as go-units `HumanSize` prints it (`HumanSizeWithPrecision(size, 4)`): `2.139MB`,
/// as `podman system df` prints its sizes.
pub fn human_size_4(bytes: u64) -> String {
    let (number, unit) = go_units_size_with(bytes, 4);
    format!("{number}{unit}")
}

fn go_units_size(bytes: u64) -> (String, &'static str) {
    go_units_size_with(bytes, 3)
}

fn go_units_size_with(bytes: u64, precision: usize) -> (String, &'static str) {
    // go-units works on float64, so do we: the division steps must round the
    // same way for the output to match.
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < DECIMAL_UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    (format_go_g(size, precision), DECIMAL_UNITS[unit])
}

/// Go's `fmt.Sprintf("%.*g", prec, x)` for a finite, non-negative `x`.
///
/// Follows `strconv.FormatFloat(x, 'g', prec, 64)`: round to `prec`
/// significant digits, drop trailing zeros, then use `%e` form when the
/// decimal exponent is below -4 or at least the precision, else `%f` form.
fn format_go_g(x: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".to_string()
        } else {
            x.to_string()
        };
    }
    // Rust's exact `{:e}` formatting rounds the true binary value, as Go's
    // strconv does; we only re-arrange the digits it gives.
    let sci = format!("{:.*e}", prec - 1, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i64;
    let dp = exp + 1; // position of the decimal point, as in Go's decimalSlice
    let prec = prec as i64;

    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if exp < -4 || exp >= eprec {
        let p = prec.min(nd);
        let mut out = String::new();
        out.push(char::from(digits[0]));
        if p > 1 {
            out.push('.');
            for i in 1..p {
                out.push(char::from(*digits.get(i as usize).unwrap_or(&b'0')));
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        return out;
    }
    let p = if prec > dp { nd } else { prec };
    let decimals = (p - dp).max(0);
    let digit_at = |i: i64| -> char {
        if i >= 0 && i < nd {
            char::from(digits[i as usize])
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if dp > 0 {
        for i in 0..dp {
            out.push(digit_at(i));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals {
            out.push(digit_at(dp + i));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // house style: unwrap is fine in tests
mod tests {
    use super::*;

    #[test]
    fn sizes_match_podman_images() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1), "1 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1 kB");
        assert_eq!(human_size(1500), "1.5 kB");
        assert_eq!(human_size(1_234_567), "1.23 MB");
        assert_eq!(human_size(4_261_412), "4.26 MB");
        assert_eq!(human_size(5_830_000), "5.83 MB");
        assert_eq!(human_size(77_800_000), "77.8 MB");
        assert_eq!(human_size(123_456_789), "123 MB");
        assert_eq!(human_size(1_500_000_000), "1.5 GB");
        assert_eq!(human_size(2_000_000_000_000), "2 TB");
        // podman ps -s prints the same numbers without the space.
        assert_eq!(human_size_unspaced(12), "12B");
        assert_eq!(human_size_unspaced(1_984_228), "1.98MB");
        // podman system df: four significant digits.
        assert_eq!(human_size_4(2_139_377), "2.139MB");
        assert_eq!(human_size_4(0), "0B");
        assert_eq!(human_size_4(12_345_678_901), "12.35GB");
    }

    #[test]
    fn sizes_keep_go_exponent_quirk() {
        // %.3g of 999.999 rounds to 1000, which Go prints in exponent form.
        assert_eq!(human_size(999_999), "1e+03 kB");
        assert_eq!(human_size(u64::MAX), "18.4 EB");
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(format_go_g(0.5, 3), "0.5");
        assert_eq!(format_go_g(100.0, 3), "100");
        assert_eq!(format_go_g(10.05, 3), "10.1");
        assert_eq!(format_go_g(0.00001234, 3), "1.23e-05");
        assert_eq!(format_go_g(0.0001234, 3), "0.000123");
        assert_eq!(format_go_g(1234.0, 3), "1.23e+03");
    }
}
