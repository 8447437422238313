//! TEMPORARY STAND-IN (not committed).
pub fn human_size(b: u64) -> String {
    format!("{b} B")
}
pub fn human_duration_since(t: jiff::Timestamp, now: jiff::Timestamp) -> String {
    format!("{} seconds ago", now.as_second() - t.as_second())
}
pub fn format_created_at(t: jiff::Timestamp) -> String {
    t.to_string()
}
pub fn parse_timestamp(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}
pub fn format_rfc3339_nano(t: jiff::Timestamp) -> String {
    t.to_string()
}
