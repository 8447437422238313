//! TEMPORARY STAND-IN (not committed).
use serde_json::Value;
pub enum OutputFormat {
    Table,
    Json,
    Template { text: String, table: bool },
}
pub fn parse_format(s: &str) -> OutputFormat {
    if s.eq_ignore_ascii_case("json") {
        OutputFormat::Json
    } else if s == "table" {
        OutputFormat::Table
    } else if let Some(t) = s.strip_prefix("table ") {
        OutputFormat::Template {
            text: t.into(),
            table: true,
        }
    } else {
        OutputFormat::Template {
            text: s.into(),
            table: false,
        }
    }
}
pub fn render_each(t: &str, items: &[Value]) -> anyhow::Result<String> {
    let mut o = String::new();
    for i in items {
        let mut line = t.to_string();
        if let Some(obj) = i.as_object() {
            for (k, v) in obj {
                line = line.replace(
                    &format!("{{{{.{k}}}}}"),
                    &v.as_str().map(String::from).unwrap_or(v.to_string()),
                );
            }
        }
        o.push_str(&line);
        o.push('\n');
    }
    Ok(o)
}
pub fn render_table(h: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = h.join("  ");
    o.push('\n');
    for r in rows {
        o.push_str(&r.join("  "));
        o.push('\n');
    }
    o
}
pub fn render_table_template(
    t: &str,
    items: &[Value],
    _h: &[(&str, &str)],
) -> anyhow::Result<String> {
    render_each(t, items)
}
pub fn render_json(v: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}
