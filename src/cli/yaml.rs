//! YAML output, for `system info` (Podman prints its info as YAML by default); reached through
//! `format::render_yaml`, so that every output still goes through the format module. It never
//! writes anything itself.

use serde_json::Value;

/// YAML as `podman info` prints it (sigs.k8s.io/yaml: the JSON re-encoded by Go's yaml.v2 with
/// two-space indentation): maps with their keys sorted as yaml.v2 sorts them, lists as `- ` items at the map's indentation, multi-line strings as `|-`
/// blocks, and strings quoted only where YAML would read them as something else.
pub fn render_yaml(value: &Value) -> String {
    let mut out = String::new();
    yaml_value(value, 0, &mut out);
    out
}

fn yaml_value(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| yaml_key_order(a.0, b.0));
            for (key, inner) in entries {
                out.push_str(&format!("{pad}{}:", scalar_text(key)));
                nested(inner, indent, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first key goes on the dash's line, the rest under it.
                        let mut block = String::new();
                        yaml_value(item, indent + 2, &mut block);
                        out.push(' ');
                        out.push_str(block.trim_start());
                    }
                    _ => nested(item, indent, out),
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_value(scalar, indent));
            out.push('\n');
        }
    }
}

/// yaml.v2's order of map keys: character by character, letters by code point and before
/// anything else, and runs of digits by their number (`a2` before `a10`).
fn yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let number = |chars: &[char], from: usize| {
        let digits: String = chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        (digits.parse::<u128>().unwrap_or(0), digits.len())
    };
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (a_letter, b_letter) = (a[i].is_alphabetic(), b[i].is_alphabetic());
        if a_letter && b_letter {
            return a[i].cmp(&b[i]);
        }
        if a_letter != b_letter {
            return if b_letter {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (a_number, a_len) = number(&a, i);
        let (b_number, b_len) = number(&b, i);
        return a_number
            .cmp(&b_number)
            .then(a_len.cmp(&b_len))
            .then(a[i].cmp(&b[i]));
    }
    a.len().cmp(&b.len())
}

/// What follows `key:` or `-`: a nested block on the next lines, or the scalar on this one.
fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            yaml_value(value, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml_value(value, indent, out);
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            out.push_str(&scalar_value(scalar, indent));
            out.push('\n');
        }
    }
}

fn scalar_value(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(text) if text.contains('\n') => {
            let pad = " ".repeat(indent + 2);
            let lines: Vec<String> = text.lines().map(|l| format!("{pad}{l}")).collect();
            format!("|-\n{}", lines.join("\n"))
        }
        Value::String(text) => scalar_text(text),
        other => other.to_string(),
    }
}

/// A string as YAML: plain where it reads back as the same string, else quoted.
fn scalar_text(text: &str) -> String {
    let special_word = matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
    );
    if text.is_empty() || special_word || text.parse::<f64>().is_ok() {
        return format!("\"{text}\"");
    }
    let awkward = text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.ends_with(' ')
        || text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c));
    if awkward {
        return format!("'{}'", text.replace('\'', "''"));
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_as_podman_info_prints_it() {
        let value = serde_json::json!({
            "host": {
                "arch": "amd64",
                "idMappings": {"gidmap": null, "uidmap": [{"container_id": 0, "host_id": 1000, "size": 1}]},
                "version": "12",
                "empty": "",
                "note": "a: b",
                "lines": "one\ntwo",
                "list": ["k8s-file", "none"],
                "opts": {},
            },
        });
        assert_eq!(
            render_yaml(&value),
            "host:\n  arch: amd64\n  empty: \"\"\n  idMappings:\n    gidmap: null\n    uidmap:\n    - container_id: 0\n      host_id: 1000\n      size: 1\n  lines: |-\n    one\n    two\n  list:\n  - k8s-file\n  - none\n  note: 'a: b'\n  opts: {}\n  version: \"12\"\n"
        );
    }

    #[test]
    fn keys_sort_as_yaml_v2_sorts_them() {
        let mut keys = vec![
            "cpus",
            "cpuUtilization",
            "APIVersion",
            "Built",
            "a10",
            "a2",
            "a_b",
            "ab",
            "search",
            "localhost:5000",
        ];
        keys.sort_by(|a, b| yaml_key_order(a, b));
        assert_eq!(
            keys,
            [
                "APIVersion",
                "Built",
                "a_b",
                "a2",
                "a10",
                "ab",
                "cpuUtilization",
                "cpus",
                "localhost:5000",
                "search"
            ]
        );
    }
}
