//! auth.json and credential helpers (being written).
