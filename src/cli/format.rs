//! `--format` handling and tables: every `images`, `ps`, `inspect`,
//! `history`, `volume ls` … listing is printed through this module.
//!
//! Contract: commands hand over their items as `serde_json::Value` objects
//! whose keys are the field names Podman's templates use (`Repository`, `ID`,
//! `CreatedSince`, or the inspect JSON with `Id`, `RootFS`…), in the order
//! Podman's structs declare them. This module returns the text to print, with
//! the same bytes Podman prints: Go `text/template` semantics (through the
//! `gotmpl` crate, wrapped here so it can be swapped), Podman's extra template
//! functions and its `table` handling (`go.podman.io/common/pkg/report`), Go
//! `text/tabwriter` alignment and Go `encoding/json` output. It never writes
//! to stdout or stderr itself, and never panics on user input: a bad template
//! is an `Err` with a one-line message.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use gotmpl::parse::{Expr, ListNode, Node, PipeNode};
use gotmpl::{Template, Value};

pub use super::yaml::render_yaml;

/// How a command should print its items, from its `--format` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// The command's default columns (no `--format`, or `--format table`).
    Table,
    /// Pretty-printed JSON of all items (`--format json`).
    Json,
    /// A Go template; `table: true` when it started with `table `, which
    /// adds a header row and tab alignment.
    Template { text: String, table: bool },
}

/// Parses a user's `--format` value.
///
/// `json` (any case; Podman itself only accepts lower case) and Podman's
/// `{{json}}` / `{{ json. }}` spellings give [`OutputFormat::Json`];
/// `{{json .}}` stays a template, one compact JSON line per item, as in
/// Podman and Docker (`report.IsJSON` deliberately leaves it to the template
/// engine). `table` alone is the default table; `table {{.A}}\t{{.B}}` is a
/// table template (the `table ` prefix is removed from `text`); anything else
/// is a plain template.
pub fn parse_format(s: &str) -> OutputFormat {
    let trimmed = s.trim();
    if trimmed.eq_ignore_ascii_case("json") || is_bare_json_action(trimmed) {
        return OutputFormat::Json;
    }
    if trimmed == "table" {
        return OutputFormat::Table;
    }
    // Podman tests the prefix on the raw value (`strings.HasPrefix(format,
    // "table ")`), so leading spaces make it a plain template.
    if let Some(rest) = s.strip_prefix("table ") {
        return OutputFormat::Template {
            text: rest.to_string(),
            table: true,
        };
    }
    OutputFormat::Template {
        text: s.to_string(),
        table: false,
    }
}

/// `{{json}}`, `{{ json }}`, `{{json.}}`: Podman's `jsonRegex`
/// `{{\s*json\.?\s*}}`.
fn is_bare_json_action(s: &str) -> bool {
    let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let inner = inner.trim_matches(is_go_space);
    inner == "json" || inner == "json."
}

/// Go regexp's `\s`: `[\t\n\f\r ]`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Renders a (non-table) Go template against each item, as Podman does for a
/// user's `--format`: `\t` and `\n` typed as two characters become a tab and a
/// newline, a newline is appended when the template does not end with one,
/// and the template runs once per item. If the template ranges over dot
/// itself (`{{range .}}…{{end}}`), it runs once with the whole list as dot,
/// as Podman's `report.EnforceRange` does. No tab alignment is applied
/// (Podman only aligns `table` templates).
pub fn render_each(template: &str, items: &[serde_json::Value]) -> anyhow::Result<String> {
    let text = normalize(template, false);
    let data = Data::new(items);
    let compiled = Compiled::new(template, &text, &data.order)?;
    let mut out = String::new();
    if ranges_over_dot(&text) {
        let all = Value::List(data.items.clone().into());
        compiled.execute(&all, &mut out)?;
        return Ok(out);
    }
    for item in &data.items {
        compiled.check_fields(item)?;
        compiled.execute(item, &mut out)?;
    }
    Ok(out)
}

/// A table: the header row, then the rows, aligned as Podman's tabwriter
/// aligns them. Each row holds one string per column; a cell may itself
/// contain `\t` to split into further columns.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    if !headers.is_empty() {
        text.push_str(&headers.join("\t"));
        text.push('\n');
    }
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    align_tabs(&text)
}

/// The default table of a listing: one column per (field, header), in order.
pub fn column_table(rows: &[serde_json::Value], columns: &[(&str, &str)]) -> String {
    let headers: Vec<&str> = columns.iter().map(|(_, header)| *header).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(field, _)| row[*field].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    render_table(&headers, &cells)
}

/// Prints a listing as `--format` asks: the `default` table, JSON, or a Go template, whose
/// `table` header row names fields as `headers` (field, header) says.
pub fn print_rows(
    rows: &[serde_json::Value],
    format_flag: Option<&str>,
    default: impl FnOnce(&[serde_json::Value]) -> String,
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    match parse_format(format_flag.unwrap_or("table")) {
        OutputFormat::Table => print!("{}", default(rows)),
        OutputFormat::Json => print!("{}", render_json(&serde_json::Value::Array(rows.to_vec()))?),
        OutputFormat::Template { text, table: true } => {
            print!("{}", render_table_template(&text, rows, headers)?)
        }
        OutputFormat::Template { text, table: false } => {
            print!("{}", render_each(&text, rows)?)
        }
    }
    Ok(())
}

/// Prints a `ls` of named objects: their names alone with `quiet`, else a table of `columns`
/// (field, header) or what `--format` asks.
pub fn print_named_listing(
    rows: &[serde_json::Value],
    quiet: bool,
    format_flag: Option<&str>,
    columns: &[(&str, &str)],
) -> anyhow::Result<()> {
    if quiet {
        for row in rows {
            println!("{}", row["Name"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    print_rows(
        rows,
        format_flag,
        |rows| column_table(rows, columns),
        columns,
    )
}

/// Prints `inspect` output: all items as one JSON array through `render` (Podman indents image
/// and container JSON differently from network JSON), or each through a `--format` template.
pub fn print_inspect(
    items: Vec<serde_json::Value>,
    format_flag: Option<&str>,
    render: fn(&serde_json::Value) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match format_flag.map(parse_format) {
        None | Some(OutputFormat::Json) | Some(OutputFormat::Table) => {
            print!("{}", render(&serde_json::Value::Array(items))?)
        }
        Some(OutputFormat::Template { text, .. }) => print!("{}", render_each(&text, &items)?),
    }
    Ok(())
}

/// Renders a `table {{.Repository}}\t{{.ID}}` template: a header row, then
/// one row per item, aligned. The `table ` prefix is optional here, so a
/// command can pass its default template too.
///
/// As in Podman's `report` package, the header row is the same template run
/// against a map from field name to header: `header_names` first (upper-cased,
/// like Podman's overrides: `("ID", "IMAGE ID")`), otherwise the field name
/// split at CamelCase boundaries and upper-cased (`CreatedAt` → `CREATED AT`).
/// Spaces outside `{{ }}` separate columns, like `\t`, because Podman's
/// table replacer turns them into tabs.
pub fn render_table_template(
    template: &str,
    items: &[serde_json::Value],
    header_names: &[(&str, &str)],
) -> anyhow::Result<String> {
    render_table_template_with(template, items, header_names, true)
}

/// [`render_table_template`] with the header row optional (`--noheading`).
pub fn render_table_template_with(
    template: &str,
    items: &[serde_json::Value],
    header_names: &[(&str, &str)],
    heading: bool,
) -> anyhow::Result<String> {
    let body = template.strip_prefix("table ").unwrap_or(template);
    let text = normalize(body, true);
    let data = Data::new(items);
    let compiled = Compiled::new(template, &text, &data.order)?;
    let mut out = String::new();
    if heading {
        let headers = header_map(&compiled, items, header_names);
        compiled.execute(&headers, &mut out)?;
    }
    for item in &data.items {
        compiled.check_fields(item)?;
        compiled.execute(item, &mut out)?;
    }
    Ok(align_tabs(&out))
}

/// JSON of a list as `podman images --format json` prints it: Go's
/// `json.MarshalIndent(v, "", "    ")` (four spaces, `<`, `>`, `&` escaped as
/// `\u003c`…) followed by a newline (`fmt.Println`).
pub fn render_json(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut out = to_json_indented(value, b"    ")?;
    out = escape_go_json(&out, true);
    out.push('\n');
    Ok(out)
}

/// One compact JSON line, as Go's `json.Marshal` writes it (`<`, `>`, `&` escaped) and
/// `fmt.Println` ends it: `podman events --format json` prints one per event.
pub fn render_json_line(value: &serde_json::Value) -> anyhow::Result<String> {
    let text = serde_json::to_string(value).context("encoding JSON output")?;
    let mut out = escape_go_json(&text, true);
    out.push('\n');
    Ok(out)
}

/// JSON as `podman inspect` prints it: an encoder with `SetIndent("", "     ")`
/// (five spaces) and `SetEscapeHTML(false)`, so `&&` in a healthcheck stays
/// readable; a newline ends it.
pub fn render_inspect_json(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut out = to_json_indented(value, b"     ")?;
    out = escape_go_json(&out, false);
    out.push('\n');
    Ok(out)
}

fn to_json_indented(value: &serde_json::Value, indent: &[u8]) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser).context("encoding JSON output")?;
    String::from_utf8(buf).context("encoding JSON output")
}

/// Applies the escapes Go's `encoding/json` adds to serde_json's: U+2028 and
/// U+2029 always, and `<`, `>`, `&` unless HTML escaping is off. These
/// characters can only occur inside JSON strings, so replacing them in the
/// whole document is safe.
fn escape_go_json(s: &str, html: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' if html => out.push_str("\\u003c"),
            '>' if html => out.push_str("\\u003e"),
            '&' if html => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// Go `text/tabwriter` as Podman configures it: `NewWriter(w, 12, 2, 2, ' ',
/// 0)`. Go counts the padding inside the minimum width (a cell is
/// `max(12, text+2)` wide) while the tabwriter crate adds it on top
/// (`max(minwidth, text) + 2`), hence minwidth 10 here.
fn align_tabs(text: &str) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(10)
        .padding(2);
    // Writing to a Vec cannot fail; fall back to the unaligned text if the
    // writer ever reports an error rather than losing output.
    if tw.write_all(text.as_bytes()).is_err() {
        return text.to_string();
    }
    match tw.into_inner() {
        Ok(buf) => String::from_utf8(buf).unwrap_or_else(|_| text.to_string()),
        Err(_) => text.to_string(),
    }
}

/// Podman's `NormalizeFormat`: the two-character escapes `\t` and `\n`
/// become a tab and a newline; in a table template spaces become tabs too
/// (its `tableReplacer`); a final newline is added if missing. We apply the
/// replacements outside `{{ }}` only: Podman applies them everywhere, which
/// breaks string literals such as `{{join .Names ", "}}` in tables.
fn normalize(template: &str, table: bool) -> String {
    let mut out = String::with_capacity(template.len() + 1);
    let push_text = |out: &mut String, text: &str| {
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        if table {
            out.push_str(&text.replace(' ', "\t"));
        } else {
            out.push_str(&text);
        }
    };
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        push_text(&mut out, &rest[..start]);
        out.push_str(&rest[start..end]);
        rest = &rest[end..];
    }
    push_text(&mut out, rest);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Podman's `rangeRegex`, `(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`:
/// does the template already range over its whole input?
fn ranges_over_dot(text: &str) -> bool {
    let mut search = 0;
    while let Some(found) = text[search..].find("{{") {
        let start = search + found + 2;
        let rest = text[start..].trim_start_matches(is_go_space);
        if let Some(r) = rest.strip_prefix("range") {
            let r = r.trim_start_matches(is_go_space);
            if let Some(r) = r.strip_prefix('.') {
                let r = r.trim_start_matches(is_go_space);
                if let Some(after) = r.strip_prefix("}}") {
                    if has_end_action(after) {
                        return true;
                    }
                }
            }
        }
        search = start;
    }
    false
}

fn has_end_action(text: &str) -> bool {
    let mut search = 0;
    while let Some(found) = text[search..].find("{{") {
        let start = search + found + 2;
        let r = text[start..].trim_start_matches(is_go_space);
        if let Some(r) = r.strip_prefix("end") {
            let r = r.trim_start_matches(is_go_space);
            let r = r.strip_prefix('-').unwrap_or(r);
            if r.trim_start_matches(is_go_space).starts_with("}}") {
                return true;
            }
        }
        search = start;
    }
    false
}

/// The items converted for the template engine, plus the key order of every
/// object in them (see [`KeyOrder`]).
struct Data {
    items: Vec<Value>,
    order: Arc<KeyOrder>,
}

impl Data {
    fn new(items: &[serde_json::Value]) -> Self {
        let mut order = KeyOrder::default();
        let items = items.iter().map(|v| order.convert(v)).collect();
        Data {
            items,
            order: Arc::new(order),
        }
    }
}

/// The engine keeps objects in sorted maps, which is right for printing a
/// map (`map[a:1 b:2]`, as Go sorts map keys) but loses the field order that
/// `{{json .Config}}` must keep (Go encodes a struct in declaration order).
/// Each converted object is remembered by the address of its shared map, so
/// the `json` function can restore the order of any object from the input,
/// however the template reached it. The converted items outlive every
/// template run, so an address cannot be reused while it is looked up.
#[derive(Default)]
struct KeyOrder {
    keys: HashMap<usize, Vec<Arc<str>>>,
}

type MapArc = Arc<BTreeMap<Arc<str>, Value>>;

fn map_addr(m: &MapArc) -> usize {
    Arc::as_ptr(m) as usize
}

impl KeyOrder {
    /// serde_json → engine value. Numbers that are whole become integers so
    /// they print as Go prints an int (`1000000`, never `1e+06` or `1.0`).
    fn convert(&mut self, v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => convert_number(n),
            serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
            serde_json::Value::Array(a) => {
                Value::List(a.iter().map(|x| self.convert(x)).collect::<Vec<_>>().into())
            }
            serde_json::Value::Object(o) => {
                let mut map = BTreeMap::new();
                let mut keys = Vec::with_capacity(o.len());
                for (k, x) in o {
                    let key: Arc<str> = Arc::from(k.as_str());
                    keys.push(Arc::clone(&key));
                    map.insert(key, self.convert(x));
                }
                let map = Arc::new(map);
                self.keys.insert(map_addr(&map), keys);
                Value::Map(map)
            }
        }
    }

    /// Engine value → serde_json, restoring recorded key order.
    fn to_json(&self, v: &Value) -> anyhow::Result<serde_json::Value> {
        Ok(match v {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Uint(n) => serde_json::Value::from(*n),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(l) => serde_json::Value::Array(
                l.iter()
                    .map(|x| self.to_json(x))
                    .collect::<anyhow::Result<_>>()?,
            ),
            Value::Map(m) => {
                let mut obj = serde_json::Map::new();
                match self.keys.get(&map_addr(m)) {
                    Some(keys) => {
                        for k in keys {
                            if let Some(x) = m.get(k) {
                                obj.insert(k.to_string(), self.to_json(x)?);
                            }
                        }
                    }
                    None => {
                        for (k, x) in m.iter() {
                            obj.insert(k.to_string(), self.to_json(x)?);
                        }
                    }
                }
                serde_json::Value::Object(obj)
            }
            other => return Err(anyhow!("json: unsupported type {}", other.type_name())),
        })
    }
}

fn convert_number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        return Value::Int(i);
    }
    if let Some(u) = n.as_u64() {
        return Value::Uint(u);
    }
    match n.as_f64() {
        // Whole floats in i64 range print as integers, as Go prints the int
        // fields these numbers came from.
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Value::Int(f as i64),
        Some(f) => Value::Float(f),
        None => Value::Nil,
    }
}

/// A parsed template with Podman's functions, ready to run.
struct Compiled {
    tmpl: Template,
    /// The user's template, for error messages.
    label: String,
    /// The normalized text that was parsed, for error positions.
    text: String,
    /// Fields read from the item itself (`.Foo`, `$.Foo`), with their byte
    /// offsets, checked before each run.
    top_fields: Vec<(String, usize)>,
}

/// The name the engine reports in errors; the user's template is quoted in
/// our own wrapper instead.
const TEMPLATE_NAME: &str = "format";

impl Compiled {
    fn new(user_text: &str, text: &str, order: &Arc<KeyOrder>) -> anyhow::Result<Self> {
        let label = format!("{user_text:?}");
        let tmpl = with_podman_funcs(Template::new(TEMPLATE_NAME), order)
            .parse(text)
            .map_err(|e| anyhow!("template {label}{}", strip_engine_prefix(&e)))?;
        let mut top_fields = Vec::new();
        if let Some(tree) = tmpl.lookup(TEMPLATE_NAME) {
            collect_list(tree, true, &mut top_fields);
        }
        Ok(Compiled {
            tmpl,
            label,
            text: text.to_string(),
            top_fields,
        })
    }

    fn execute(&self, dot: &Value, out: &mut String) -> anyhow::Result<()> {
        self.tmpl
            .execute_fmt(out, dot)
            .map_err(|e| anyhow!("template {}{}", self.label, strip_engine_prefix(&e)))
    }

    /// Go errors on a field a struct does not have (`can't evaluate field
    /// Foo in type images.imageReporter`); the engine sees our items as maps
    /// and would print `<no value>`. Check the item's own fields up front so
    /// a typo fails as it does in Podman.
    fn check_fields(&self, item: &Value) -> anyhow::Result<()> {
        let Value::Map(map) = item else {
            return Ok(());
        };
        for (name, offset) in &self.top_fields {
            if !map.contains_key(name.as_str()) {
                let (line, col) = line_col(&self.text, *offset);
                let mut known: Vec<&str> = map.keys().map(|k| &**k).collect();
                known.sort_unstable();
                return Err(anyhow!(
                    "template {}:{line}:{col}: can't evaluate field {name}: no such field (fields are {})",
                    self.label,
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// gotmpl prefixes its messages with `template: format:` or `execution
/// error:`; our wrapper names the template itself. Returns the text to put
/// after the quoted template: `:line:col: msg` or `: msg`.
fn strip_engine_prefix(e: &gotmpl::TemplateError) -> String {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(&format!("template: {TEMPLATE_NAME}:")) {
        return format!(":{rest}");
    }
    let msg = msg.strip_prefix("execution error: ").unwrap_or(&msg);
    format!(": {msg}")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let end = offset.min(text.len());
    let before = text.get(..end).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Fields read from the top-level dot. Inside `range` and `with` bodies dot
/// is something else, so only `$.Foo` counts there.
fn collect_list(list: &ListNode, dot_is_item: bool, out: &mut Vec<(String, usize)>) {
    for node in &list.nodes {
        match node {
            Node::Action(a) => collect_pipe(&a.pipe, dot_is_item, out),
            Node::If(b) => {
                collect_pipe(&b.pipe, dot_is_item, out);
                collect_list(&b.body, dot_is_item, out);
                if let Some(e) = &b.else_body {
                    collect_list(e, dot_is_item, out);
                }
            }
            Node::With(b) | Node::Range(b) => {
                collect_pipe(&b.pipe, dot_is_item, out);
                collect_list(&b.body, false, out);
                if let Some(e) = &b.else_body {
                    collect_list(e, dot_is_item, out);
                }
            }
            Node::List(l) => collect_list(l, dot_is_item, out),
            _ => {}
        }
    }
}

fn collect_pipe(pipe: &PipeNode, dot_is_item: bool, out: &mut Vec<(String, usize)>) {
    for cmd in &pipe.commands {
        for arg in &cmd.args {
            collect_expr(arg, dot_is_item, out);
        }
    }
}

fn collect_expr(expr: &Expr, dot_is_item: bool, out: &mut Vec<(String, usize)>) {
    match expr {
        Expr::Field(pos, names) if dot_is_item => {
            if let Some(first) = names.first() {
                out.push((first.to_string(), pos.offset));
            }
        }
        Expr::Variable(pos, var, names) if var.as_str() == "$" => {
            if let Some(first) = names.first() {
                out.push((first.to_string(), pos.offset));
            }
        }
        Expr::Pipe(_, p) => collect_pipe(p, dot_is_item, out),
        Expr::Chain(_, inner, _) => collect_expr(inner, dot_is_item, out),
        _ => {}
    }
}

/// The dot of the header row: every field the items or the template name,
/// mapped to its column header.
fn header_map(
    compiled: &Compiled,
    items: &[serde_json::Value],
    header_names: &[(&str, &str)],
) -> Value {
    let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    let mut add = |name: &str| {
        let header = header_names
            .iter()
            .find(|(field, _)| *field == name)
            .map_or_else(|| header_from_field(name), |(_, h)| h.to_uppercase());
        map.insert(Arc::from(name), Value::String(Arc::from(header.as_str())));
    };
    for (name, _) in &compiled.top_fields {
        add(name);
    }
    for item in items {
        if let serde_json::Value::Object(o) = item {
            for k in o.keys() {
                add(k);
            }
        }
    }
    for (name, _) in header_names {
        add(name);
    }
    Value::Map(Arc::new(map))
}

/// Podman's default header for a field: its CamelCase words joined with
/// spaces and upper-cased (`report.Headers` with `camelcase.Split`):
/// `CreatedAt` → `CREATED AT`, `ID` → `ID`, `GL11Version` → `GL 11 VERSION`.
pub fn header_from_field(name: &str) -> String {
    split_camel_case(name).join(" ").to_uppercase()
}

/// Splits at changes between lower case, upper case, digits and other
/// characters, then moves the last capital of an upper-case run onto a
/// following lower-case run (`PDFLoader` → `PDF`, `Loader`), the rules of
/// the camelcase package Podman vendors.
fn split_camel_case(s: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower {
            if let Some(c) = runs[i].pop() {
                runs[i + 1].insert(0, c);
            }
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// Registers the functions Podman adds to Go's built-ins
/// (`report.DefaultFuncs`): json, join, lower, pad, split, title, truncate,
/// upper.
fn with_podman_funcs(tmpl: Template, order: &Arc<KeyOrder>) -> Template {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // house style: unwrap is fine in tests
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect_item() -> serde_json::Value {
        // Keys deliberately out of alphabetical order, as Podman's structs are.
        json!({
            "Id": "sha256:abc",
            "RepoTags": ["docker.io/library/alpine:latest", "localhost/x:1"],
            "Size": 1000000,
            "VirtualSize": 7.0,
            "Ratio": 2.5,
            "Config": {
                "Env": ["PATH=/bin"],
                "Labels": {"zeta": "last", "alpha": "first"},
                "Cmd": ["sh", "-c", "a && b"]
            },
            "RootFS": {"Type": "layers", "Layers": ["sha256:l1", "sha256:l2"]},
            "Empty": [],
            "Nothing": null
        })
    }

    fn each(template: &str) -> String {
        render_each(template, &[inspect_item()]).unwrap()
    }

    #[test]
    fn parse_format_variants() {
        assert_eq!(parse_format("json"), OutputFormat::Json);
        assert_eq!(parse_format("JSON"), OutputFormat::Json);
        assert_eq!(parse_format(" json "), OutputFormat::Json);
        assert_eq!(parse_format("{{json}}"), OutputFormat::Json);
        assert_eq!(parse_format("{{ json. }}"), OutputFormat::Json);
        assert_eq!(parse_format("table"), OutputFormat::Table);
        assert_eq!(
            parse_format("table {{.A}}\t{{.B}}"),
            OutputFormat::Template {
                text: "{{.A}}\t{{.B}}".into(),
                table: true
            }
        );
        assert_eq!(
            parse_format("{{json .}}"),
            OutputFormat::Template {
                text: "{{json .}}".into(),
                table: false
            }
        );
        assert_eq!(
            parse_format("{{.ID}}"),
            OutputFormat::Template {
                text: "{{.ID}}".into(),
                table: false
            }
        );
    }

    #[test]
    fn one_line_per_item_with_trailing_newline() {
        let items = [json!({"ID": "a"}), json!({"ID": "b"})];
        assert_eq!(render_each("{{.ID}}", &items).unwrap(), "a\nb\n");
        // An explicit final newline is not doubled.
        assert_eq!(render_each("{{.ID}}\n", &items).unwrap(), "a\nb\n");
        assert_eq!(render_each("{{.ID}}", &[]).unwrap(), "");
    }

    #[test]
    fn fields_nested_fields_and_len() {
        assert_eq!(each("{{.Id}}"), "sha256:abc\n");
        assert_eq!(each("{{len .RootFS.Layers}}"), "2\n");
        assert_eq!(each("{{.RootFS.Type}}"), "layers\n");
        assert_eq!(each("{{index .RootFS.Layers 1}}"), "sha256:l2\n");
        assert_eq!(each(r#"{{index .Config.Labels "alpha"}}"#), "first\n");
    }

    #[test]
    fn bare_lists_and_maps_print_as_go() {
        assert_eq!(each("{{.RootFS.Layers}}"), "[sha256:l1 sha256:l2]\n");
        assert_eq!(each("{{.Empty}}"), "[]\n");
        // Map keys sorted, whatever the input order.
        assert_eq!(each("{{.Config.Labels}}"), "map[alpha:first zeta:last]\n");
    }

    #[test]
    fn missing_map_key_prints_no_value() {
        assert_eq!(each("{{.Config.Labels.nope}}"), "<no value>\n");
        assert_eq!(each("{{.Nothing}}"), "<no value>\n");
    }

    #[test]
    fn numbers_print_as_integers_when_integral() {
        assert_eq!(each("{{.Size}}"), "1000000\n");
        assert_eq!(each("{{.VirtualSize}}"), "7\n");
        assert_eq!(each("{{.Ratio}}"), "2.5\n");
        assert_eq!(
            each(r#"{{printf "%d-%s" .Size .Id}}"#),
            "1000000-sha256:abc\n"
        );
    }

    #[test]
    fn go_builtins_work() {
        assert_eq!(
            each("{{range .RepoTags}}{{.}} {{end}}"),
            "docker.io/library/alpine:latest localhost/x:1 \n"
        );
        assert_eq!(
            each("{{if eq .Size 1000000}}big{{else}}small{{end}}"),
            "big\n"
        );
        assert_eq!(each(r#"{{if ne .Id "x"}}ne{{end}}"#), "ne\n");
        assert_eq!(each("{{if and .Id .Size}}both{{end}}"), "both\n");
        assert_eq!(each("{{if or .Empty .Size}}one{{end}}"), "one\n");
        assert_eq!(each("{{if not .Empty}}none{{end}}"), "none\n");
        assert_eq!(
            each("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
            "alpha=first;zeta=last;\n"
        );
        assert_eq!(each("{{with .RootFS}}{{.Type}}{{end}}"), "layers\n");
        assert_eq!(
            each("{{range .RepoTags}}{{$.Id}}{{end}}"),
            "sha256:abcsha256:abc\n"
        );
    }

    #[test]
    fn json_function_is_compact_and_keeps_field_order() {
        assert_eq!(
            each("{{json .Config}}"),
            r#"{"Env":["PATH=/bin"],"Labels":{"zeta":"last","alpha":"first"},"Cmd":["sh","-c","a && b"]}"#
                .to_string()
                + "\n"
        );
        assert_eq!(
            each("{{json .RootFS.Layers}}"),
            "[\"sha256:l1\",\"sha256:l2\"]\n"
        );
        assert_eq!(each("{{json .Id}}"), "\"sha256:abc\"\n");
        assert_eq!(each("{{json .Size}}"), "1000000\n");
        let items = [json!({"ID": "a", "Names": ["x"]})];
        assert_eq!(
            render_each("{{json .}}", &items).unwrap(),
            "{\"ID\":\"a\",\"Names\":[\"x\"]}\n"
        );
    }

    #[test]
    fn podman_string_functions() {
        assert_eq!(each("{{upper .RootFS.Type}}"), "LAYERS\n");
        assert_eq!(each("{{lower \"AbC\"}}"), "abc\n");
        assert_eq!(
            each(r#"{{title "hello wide-world foo_bar"}}"#),
            "Hello Wide-World Foo_bar\n"
        );
        assert_eq!(each("{{truncate .Id 6}}"), "sha256\n");
        assert_eq!(each("{{truncate .Id 100}}"), "sha256:abc\n");
        assert_eq!(
            each(r#"{{join .RepoTags ", "}}"#),
            "docker.io/library/alpine:latest, localhost/x:1\n"
        );
        assert_eq!(each(r#"{{pad .RootFS.Type 2 3}}|"#), "  layers   |\n");
        assert_eq!(each(r#"{{pad "" 2 3}}|"#), "|\n");
        assert_eq!(each(r#"{{split "a:b:c" ":"}}"#), "[a b c]\n");
        assert_eq!(each(r#"{{index (split "a:b:c" ":") 2}}"#), "c\n");
        assert_eq!(each("{{.Id | upper}}"), "SHA256:ABC\n");
    }

    #[test]
    fn escapes_typed_on_the_command_line() {
        let items = [json!({"A": "x", "B": "y"})];
        // Non-table templates get real tabs but no alignment.
        assert_eq!(render_each(r"{{.A}}\t{{.B}}", &items).unwrap(), "x\ty\n");
        assert_eq!(render_each(r"{{.A}}\n{{.B}}", &items).unwrap(), "x\ny\n");
    }

    #[test]
    fn template_ranging_over_dot_runs_once() {
        let items = [json!({"ID": "a"}), json!({"ID": "b"})];
        assert_eq!(
            render_each("{{range .}}{{.ID}},{{end}}", &items).unwrap(),
            "a,b,\n"
        );
    }

    #[test]
    fn unknown_field_is_a_one_line_error() {
        let err = render_each("{{.Foo}}", &[inspect_item()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("can't evaluate field Foo"), "{err}");
        assert!(err.contains("\"{{.Foo}}\""), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = render_each("{{.RootFS.Type.Foo}}", &[inspect_item()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("can't evaluate field Foo in type string"),
            "{err}"
        );
    }

    #[test]
    fn syntax_and_function_errors_are_one_line() {
        for bad in [
            "{{.Id",
            "{{nosuchfunc .Id}}",
            "{{upper .Id .Id}}",
            "{{truncate .Id}}",
        ] {
            let err = render_each(bad, &[inspect_item()]).unwrap_err().to_string();
            assert!(err.starts_with("template "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = render_each("{{nosuchfunc .Id}}", &[inspect_item()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nosuchfunc"), "{err}");
    }

    #[test]
    fn plain_table_aligns_like_podman() {
        let out = render_table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &[vec![
                "docker.io/library/alpine".into(),
                "latest".into(),
                "c059bfaa849c".into(),
                "2 weeks ago".into(),
                "5.87 MB".into(),
            ]],
        );
        assert_eq!(
            out,
            "REPOSITORY                TAG         IMAGE ID      CREATED      SIZE\n\
             docker.io/library/alpine  latest      c059bfaa849c  2 weeks ago  5.87 MB\n"
        );
    }

    fn image_rows() -> Vec<serde_json::Value> {
        vec![
            json!({"Repository": "docker.io/library/alpine", "Tag": "latest", "ID": "c059bfaa849c", "CreatedSince": "2 weeks ago", "CreatedAt": "2024-01-02 15:04:05 +0000 UTC", "Size": "5.87 MB"}),
            json!({"Repository": "localhost/mine", "Tag": "1", "ID": "0123456789ab", "CreatedSince": "3 hours ago", "CreatedAt": "2024-01-03 15:04:05 +0000 UTC", "Size": "120 MB"}),
        ]
    }

    const IMAGE_HEADERS: &[(&str, &str)] = &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")];

    #[test]
    fn table_template_with_tab_escape_and_headers() {
        let out = render_table_template(
            r"table {{.Repository}}\t{{.ID}}\t{{.CreatedSince}}",
            &image_rows(),
            IMAGE_HEADERS,
        )
        .unwrap();
        assert_eq!(
            out,
            "REPOSITORY                IMAGE ID      CREATED\n\
             docker.io/library/alpine  c059bfaa849c  2 weeks ago\n\
             localhost/mine            0123456789ab  3 hours ago\n"
        );
    }

    #[test]
    fn table_template_with_real_tabs_spaces_and_derived_headers() {
        // Spaces between actions separate columns, as Podman's replacer
        // turns them into tabs; CreatedAt has no override.
        let out = render_table_template(
            "table {{.Tag}} {{.CreatedAt}}\t{{.Size}}",
            &image_rows(),
            IMAGE_HEADERS,
        )
        .unwrap();
        assert_eq!(
            out,
            "TAG         CREATED AT                     SIZE\n\
             latest      2024-01-02 15:04:05 +0000 UTC  5.87 MB\n\
             1           2024-01-03 15:04:05 +0000 UTC  120 MB\n"
        );
    }

    #[test]
    fn table_template_without_items_prints_header_only() {
        let out =
            render_table_template("table {{.ID}}\t{{.Repository}}", &[], IMAGE_HEADERS).unwrap();
        assert_eq!(out, "IMAGE ID    REPOSITORY\n");
        let out =
            render_table_template_with("{{.ID}}\t{{.Tag}}", &image_rows(), IMAGE_HEADERS, false)
                .unwrap();
        assert_eq!(out, "c059bfaa849c  latest\n0123456789ab  1\n");
    }

    #[test]
    fn header_names_split_camel_case() {
        assert_eq!(header_from_field("CreatedAt"), "CREATED AT");
        assert_eq!(header_from_field("ID"), "ID");
        assert_eq!(header_from_field("RepoTags"), "REPO TAGS");
        assert_eq!(header_from_field("PDFLoader"), "PDF LOADER");
        assert_eq!(header_from_field("GL11Version"), "GL 11 VERSION");
        assert_eq!(header_from_field("ReadOnly"), "READ ONLY");
    }

    #[test]
    fn json_list_uses_four_spaces_and_go_escaping() {
        let v = json!([{"Id": "a", "Names": ["x<y>&z"], "Empty": [], "Map": {}}]);
        assert_eq!(
            render_json(&v).unwrap(),
            "[\n    {\n        \"Id\": \"a\",\n        \"Names\": [\n            \"x\\u003cy\\u003e\\u0026z\"\n        ],\n        \"Empty\": [],\n        \"Map\": {}\n    }\n]\n"
        );
        assert_eq!(render_json(&json!([])).unwrap(), "[]\n");
    }

    #[test]
    fn inspect_json_uses_five_spaces_without_html_escaping() {
        let v = json!([{"Cmd": "a && b"}]);
        assert_eq!(
            render_inspect_json(&v).unwrap(),
            "[\n     {\n          \"Cmd\": \"a && b\"\n     }\n]\n"
        );
    }
}
