//! registries.conf (being written).
