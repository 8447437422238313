//! Container names: generated Docker-style (`adjective_surname`) when none is given, and checked
//! against Docker's rule for names given.

use anyhow::Result;

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::store::containers::ContainerRecord;

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "daring", "eager",
    "elated", "fervent", "focused", "gallant", "gentle", "happy", "hopeful", "jolly", "keen",
    "kind", "lucid", "merry", "modest", "nifty", "noble", "quiet", "quirky", "relaxed", "serene",
    "sharp", "steady", "sweet", "tender", "trusting", "upbeat", "vibrant", "vigilant", "wise",
    "witty", "zealous",
];

const SURNAMES: &[&str] = &[
    "allen",
    "babbage",
    "bardeen",
    "bell",
    "boole",
    "cerf",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermat",
    "feynman",
    "franklin",
    "gauss",
    "goldberg",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "maxwell",
    "meitner",
    "mirzakhani",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "wilson",
    "wozniak",
    "yonath",
];

/// A name from two random words; `random` supplies the entropy.
pub fn generate(random: &[u8; 4]) -> String {
    let a = u16::from_le_bytes([random[0], random[1]]) as usize % ADJECTIVES.len();
    let s = u16::from_le_bytes([random[2], random[3]]) as usize % SURNAMES.len();
    format!("{}_{}", ADJECTIVES[a], SURNAMES[s])
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        Ok(())
    } else {
        Err(format!(
            "invalid container name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        ))
    }
}

/// `rename`: under the lock, so two renames cannot take the same name.
pub fn rename(ctx: &Context, reference: &str, name: &str) -> Result<()> {
    validate(name).map_err(anyhow::Error::msg)?;
    let record = ctx.store.find_container(reference)?;
    let lock = ctx.store.lock()?;
    ctx.store.rename_container(&lock, &record.id, name)?;
    let renamed = ContainerRecord {
        name: name.to_string(),
        ..record
    };
    events::record(&ctx.store, Event::container(EventStatus::Rename, &renamed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid() {
        let name = generate(&[1, 2, 3, 4]);
        assert!(name.contains('_'));
        assert!(validate(&name).is_ok());
        assert!(validate("-bad").is_err());
        assert!(validate("ok.name-1").is_ok());
        assert!(validate("").is_err());
    }
}
