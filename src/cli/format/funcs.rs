//! The functions Podman adds to Go's template built-ins (`report.DefaultFuncs` of
//! go.podman.io/common): `json`, `upper`, `lower`, `title`, `truncate`, `join`, `pad`,
//! `split`. Each returns Go's text for the same input and reports a wrong argument as a
//! template execution error, never a panic.

use std::sync::Arc;

use gotmpl::{Template, Value};

use super::{escape_go_json, KeyOrder};

/// Registers the functions Podman adds to Go's built-ins
/// (`report.DefaultFuncs`): json, join, lower, pad, split, title, truncate,
/// upper.
pub(super) fn with_podman_funcs(tmpl: Template, order: &Arc<KeyOrder>) -> Template {
    let order = Arc::clone(order);
    tmpl.func("json", move |args| {
        let [v] = args else {
            return Err(arg_count("json", 1, args.len()));
        };
        // Podman: an Encoder with SetEscapeHTML(false), trailing newline
        // trimmed, so compact JSON with only U+2028/U+2029 escaped.
        let json = order.to_json(v).map_err(|e| exec_err(&e.to_string()))?;
        let text = serde_json::to_string(&json).map_err(|e| exec_err(&e.to_string()))?;
        Ok(str_value(&escape_go_json(&text, false)))
    })
    .func("upper", |args| {
        let s = one_string("upper", args)?;
        Ok(str_value(&s.to_uppercase()))
    })
    .func("lower", |args| {
        let s = one_string("lower", args)?;
        Ok(str_value(&s.to_lowercase()))
    })
    .func("title", |args| {
        let s = one_string("title", args)?;
        Ok(str_value(&go_title(&s)))
    })
    .func("truncate", |args| {
        let [s, n] = args else {
            return Err(arg_count("truncate", 2, args.len()));
        };
        let s = stringify(s);
        let n = int_arg("truncate", n)?;
        // Go slices bytes (`source[:length]`); we stop at the char boundary
        // at or before it rather than cut a UTF-8 sequence.
        let mut cut = usize::try_from(n).unwrap_or(0).min(s.len());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        Ok(str_value(&s[..cut]))
    })
    .func("pad", |args| {
        let [s, prefix, suffix] = args else {
            return Err(arg_count("pad", 3, args.len()));
        };
        let s = stringify(s);
        let prefix = usize::try_from(int_arg("pad", prefix)?).unwrap_or(0);
        let suffix = usize::try_from(int_arg("pad", suffix)?).unwrap_or(0);
        // Podman's padWithSpace leaves an empty string empty.
        if s.is_empty() {
            return Ok(str_value(""));
        }
        Ok(str_value(&format!(
            "{}{s}{}",
            " ".repeat(prefix),
            " ".repeat(suffix)
        )))
    })
    .func("join", |args| {
        let [list, sep] = args else {
            return Err(arg_count("join", 2, args.len()));
        };
        let sep = stringify(sep);
        let parts: Vec<String> = match list {
            Value::List(l) => l.iter().map(stringify).collect(),
            Value::Nil => Vec::new(),
            other => {
                return Err(exec_err(&format!(
                    "join: expected a list, got {}",
                    other.type_name()
                )))
            }
        };
        Ok(str_value(&parts.join(&sep)))
    })
    .func("split", |args| {
        let [s, sep] = args else {
            return Err(arg_count("split", 2, args.len()));
        };
        let (s, sep) = (stringify(s), stringify(sep));
        // strings.Split with an empty separator splits into characters.
        let parts: Vec<Value> = if sep.is_empty() {
            s.chars().map(|c| str_value(&c.to_string())).collect()
        } else {
            s.split(sep.as_str()).map(str_value).collect()
        };
        Ok(Value::List(parts.into()))
    })
}

fn str_value(s: &str) -> Value {
    Value::String(Arc::from(s))
}

/// Text of a value as Go's `fmt.Sprint` prints it; strings stay raw.
fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn one_string(name: &str, args: &[Value]) -> gotmpl::Result<String> {
    match args {
        [v] => Ok(stringify(v)),
        _ => Err(arg_count(name, 1, args.len())),
    }
}

fn int_arg(name: &str, v: &Value) -> gotmpl::Result<i64> {
    match v {
        Value::Int(_) | Value::Uint(_) => v.as_int().ok_or_else(|| exec_err(name)),
        other => Err(exec_err(&format!(
            "{name}: expected an integer, got {}",
            other.type_name()
        ))),
    }
}

fn arg_count(name: &str, want: usize, got: usize) -> gotmpl::TemplateError {
    // Go's wording: "wrong number of args for upper: want 1 got 2".
    exec_err(&format!(
        "wrong number of args for {name}: want {want} got {got}"
    ))
}

fn exec_err(msg: &str) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(msg.to_string())
}

/// Go's deprecated `strings.Title`, which Podman still uses: upper-case
/// every letter that follows a separator (anything but a letter, digit or
/// `_`; non-ASCII counts as a separator only when it is white space).
fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_is_sep = true;
    for c in s.chars() {
        if prev_is_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_is_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        };
    }
    out
}
