//! Sizes as Docker and Podman flags write them (`--log-opt max-size=`, `--tmpfs size=`,
//! `--mount type=tmpfs,tmpfs-size=`, a build's `RUN --mount type=tmpfs,size=`): bytes, or a
//! number with k, m or g (powers of 1024), in either case, with an optional trailing b (`10MB`);
//! the number may have a fraction (`1.5g`).
//! The one size parser; uses nothing of skiff's.

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {0:?}: use a number of bytes, or one with k, m or g, such as 10k, 5m, 1g")]
pub struct InvalidSize(pub String);

/// Bytes from `10k`, `5m`, `1g`, `512`, `64MB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, InvalidSize> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (number, factor) = match lower.char_indices().last() {
        Some((i, 'k')) => (&lower[..i], 1u64 << 10),
        Some((i, 'm')) => (&lower[..i], 1 << 20),
        Some((i, 'g')) => (&lower[..i], 1 << 30),
        _ => (lower, 1),
    };
    let whole = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor));
    // A fraction (`9.5m`), as Docker's and Podman's units take it: the bytes it comes to,
    // rounded down.
    let fraction = || {
        let digits = number.split_once('.')?;
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if digits.0.is_empty()
            || digits.1.is_empty()
            || !all_digits(digits.0)
            || !all_digits(digits.1)
        {
            return None;
        }
        let bytes = number.parse::<f64>().ok()? * factor as f64;
        (bytes < u64::MAX as f64).then_some(bytes as u64)
    };
    whole
        .or_else(fraction)
        .ok_or_else(|| InvalidSize(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_k_m_g_in_either_case_with_an_optional_b() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("10k"), Ok(10 << 10));
        assert_eq!(parse_size("65536k"), Ok(64 << 20));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert_eq!(parse_size(" 2g "), Ok(2 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("9.027m"), Ok(9_465_495));
    }

    #[test]
    fn what_is_not_a_size_is_refused_not_wrapped() {
        for bad in [
            "lots",
            "",
            "k",
            "-1m",
            "1.g",
            ".5m",
            "1e3k",
            "99999999999999999g",
        ] {
            assert_eq!(parse_size(bad), Err(InvalidSize(bad.to_string())), "{bad}");
        }
    }
}
