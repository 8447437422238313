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

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use gotmpl::parse::{Expr, ListNode, Node, PipeNode};
use gotmpl::{Template, Value};

pub use super::yaml::render_yaml;
mod data;
mod funcs;
pub use data::GoStruct;
use data::{Data, KeyOrder};
use funcs::with_podman_funcs;

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
    run_each(template, &Data::new(items))
}

/// [`render_each`] for one Go struct encoded with JSON names other than its field names
/// (`podman info`): templates read the Go names, `{{json .X}}` prints the JSON names, and a
/// field the struct or a nested struct lacks is an error, as in Go.
pub fn render_struct(
    template: &str,
    item: &serde_json::Value,
    names: &GoStruct<'_>,
) -> anyhow::Result<String> {
    run_each(
        template,
        &Data::new_struct(std::slice::from_ref(item), names),
    )
}

fn run_each(template: &str, data: &Data) -> anyhow::Result<String> {
    let text = normalize(template, false);
    let compiled = Compiled::new(template, &text, &data.order)?;
    let mut out = String::new();
    if ranges_over_dot(&text) {
        let all = Value::List(data.items.clone().into());
        compiled.execute(&all, &mut out)?;
        return Ok(out);
    }
    for item in &data.items {
        compiled.check_fields(item, &data.order)?;
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
                .map(|(field, _)| match &row[*field] {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Null => String::new(),
                    // Numbers and booleans print as Go prints them (`1`, `true`).
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    render_table(&headers, &cells)
}

/// A listing's items in the two shapes `--format` needs. Podman's templates read one Go
/// struct, whose methods print for people (`{{.Created}}` is "2 years ago", `{{.CreatedAt}}`
/// Go's `time.Time` string), while `--format json` encodes another (Unix seconds, RFC 3339),
/// so a command hands over both views of its items and this module picks.
pub struct Listing<'a> {
    /// What templates and the default table read, one object per row.
    pub rows: Vec<serde_json::Value>,
    /// What `--format json` prints, in Podman's field order.
    pub json: Vec<serde_json::Value>,
    /// How the command's Podman counterpart encodes `json`.
    pub json_style: JsonStyle,
    /// Header overrides for `table` templates: (field, header), beyond the CamelCase split.
    pub headers: &'a [(&'a str, &'a str)],
    /// `--noheading`: no header row, for the default table and `table` templates alike.
    pub noheading: bool,
}

impl<'a> Listing<'a> {
    /// A listing whose JSON is its rows, as for commands whose Podman counterpart encodes
    /// the very struct its templates read.
    pub fn same(
        rows: Vec<serde_json::Value>,
        json_style: JsonStyle,
        headers: &'a [(&'a str, &'a str)],
    ) -> Self {
        Listing {
            json: rows.clone(),
            rows,
            json_style,
            headers,
            noheading: false,
        }
    }

    /// Prints the listing as `--format` asks: the `default` table, JSON, or a Go template
    /// (`table` templates get a header row).
    pub fn print(
        &self,
        format_flag: Option<&str>,
        default: impl FnOnce(&[serde_json::Value]) -> String,
    ) -> anyhow::Result<()> {
        print!("{}", self.render(format_flag, default)?);
        Ok(())
    }

    /// The text [`Listing::print`] prints.
    pub fn render(
        &self,
        format_flag: Option<&str>,
        default: impl FnOnce(&[serde_json::Value]) -> String,
    ) -> anyhow::Result<String> {
        Ok(match parse_format(format_flag.unwrap_or("table")) {
            OutputFormat::Table => {
                let text = default(&self.rows);
                if self.noheading {
                    text.split_once('\n')
                        .map(|(_, rest)| rest.to_string())
                        .unwrap_or_default()
                } else {
                    text
                }
            }
            OutputFormat::Json => render_json_styled(
                &serde_json::Value::Array(self.json.clone()),
                self.json_style,
            )?,
            OutputFormat::Template { text, table: true } => {
                render_table_template_with(&text, &self.rows, self.headers, !self.noheading)?
            }
            OutputFormat::Template { text, table: false } => render_each(&text, &self.rows)?,
        })
    }
}

/// Prints the `ls` of named objects (`network ls`, `volume ls`): `rows` for templates and the
/// table, `json` for `--format json` (indented by two spaces, as Podman's); their names alone
/// with `quiet`, else a table of `columns` (field, header) or what `--format` asks.
pub fn print_named_listing(
    rows: Vec<serde_json::Value>,
    json: Vec<serde_json::Value>,
    quiet: bool,
    format_flag: Option<&str>,
    columns: &[(&str, &str)],
) -> anyhow::Result<()> {
    if quiet {
        for row in &rows {
            println!("{}", row["Name"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let listing = Listing {
        rows,
        json,
        json_style: JsonStyle::Indented("  "),
        headers: columns,
        noheading: false,
    };
    listing.print(format_flag, |rows| column_table(rows, columns))
}

/// Prints `inspect` output: all items as one JSON array through `render` (Podman indents image
/// and container JSON differently from network JSON), or each through a `--format` template,
/// which reads `view` of the item: the Go struct behind the JSON (see [`with_go_times`]).
pub fn print_inspect(
    items: Vec<serde_json::Value>,
    format_flag: Option<&str>,
    render: fn(&serde_json::Value) -> anyhow::Result<String>,
    view: impl Fn(&serde_json::Value) -> serde_json::Value,
) -> anyhow::Result<()> {
    match format_flag.map(parse_format) {
        None | Some(OutputFormat::Json) | Some(OutputFormat::Table) => {
            print!("{}", render(&serde_json::Value::Array(items))?)
        }
        Some(OutputFormat::Template { text, .. }) => {
            let views: Vec<serde_json::Value> = items.iter().map(view).collect();
            print!("{}", render_each(&text, &views)?)
        }
    }
    Ok(())
}

/// How a Go template prints a `time.Time` given here in RFC 3339: Go's `Time.String`,
/// `2024-01-02 03:04:05.5 +0000 UTC` (in UTC, as skiff records times). An empty or
/// unreadable time prints as Go's zero time, as Podman's unset times do.
pub fn go_time_text(rfc3339: &str) -> String {
    let time = crate::cli::human::parse_timestamp(rfc3339).unwrap_or(GO_ZERO_TIME);
    crate::cli::human::format_created_at(time)
}

/// Go's zero `time.Time`, 0001-01-01 00:00:00 UTC.
const GO_ZERO_TIME: jiff::Timestamp = jiff::Timestamp::constant(-62_135_596_800, 0);

/// A copy of `item` whose RFC 3339 strings at `paths` (keys, `.` between nested ones) read as
/// [`go_time_text`] prints them: the item a template sees where Podman's struct holds a
/// `time.Time` that its JSON encodes in RFC 3339. Paths the item lacks are left alone.
pub fn with_go_times(item: &serde_json::Value, paths: &[&str]) -> serde_json::Value {
    let mut view = item.clone();
    for path in paths {
        let pointer = format!("/{}", path.replace('.', "/"));
        if let Some(slot) = view.pointer_mut(&pointer) {
            if let Some(text) = slot.as_str() {
                *slot = serde_json::Value::String(go_time_text(text));
            }
        }
    }
    view
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
        compiled.check_fields(item, &data.order)?;
        compiled.execute(item, &mut out)?;
    }
    Ok(align_tabs(&out))
}

/// How a Podman command encodes its `--format json`; they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// `json.MarshalIndent(v, "", indent)` (HTML-escaped) and a newline: `images` indents
    /// with four spaces, `ps`, `volume ls` and `network ls` with two.
    Indented(&'static str),
    /// `json.NewEncoder(os.Stdout).Encode(v)`: one compact HTML-escaped line (`history`, and
    /// each event of `events`).
    Compact,
}

/// JSON of a list as `podman images --format json` prints it: Go's
/// `json.MarshalIndent(v, "", "    ")` (four spaces, `<`, `>`, `&` escaped as
/// `\u003c`…) followed by a newline (`fmt.Println`).
pub fn render_json(value: &serde_json::Value) -> anyhow::Result<String> {
    render_json_styled(value, JsonStyle::Indented("    "))
}

/// JSON of a value encoded as `style` says, with Go's escapes and a final newline.
pub fn render_json_styled(value: &serde_json::Value, style: JsonStyle) -> anyhow::Result<String> {
    let mut out = match style {
        JsonStyle::Indented(indent) => to_json_indented(value, indent.as_bytes())?,
        JsonStyle::Compact => serde_json::to_string(value).context("encoding JSON output")?,
    };
    out = escape_go_json(&out, true);
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

/// A parsed template with Podman's functions, ready to run.
struct Compiled {
    tmpl: Template,
    /// The user's template, for error messages.
    label: String,
    /// The normalized text that was parsed, for error positions.
    text: String,
    /// Field chains read from the item itself (`.Foo.Bar`, `$.Foo`), with
    /// their byte offsets, checked before each run.
    top_fields: Vec<(Vec<String>, usize)>,
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
    /// a typo fails as it does in Podman, and the fields of nested objects
    /// known to be structs too (`.Host.Os` where the struct has `OS`).
    fn check_fields(&self, item: &Value, order: &KeyOrder) -> anyhow::Result<()> {
        for (chain, offset) in &self.top_fields {
            let mut current = item;
            for (depth, name) in chain.iter().enumerate() {
                let Value::Map(map) = current else {
                    break;
                };
                if depth > 0 && !order.is_struct(map) {
                    break;
                }
                let Some(next) = map.get(name.as_str()) else {
                    let (line, col) = line_col(&self.text, *offset);
                    let mut known: Vec<&str> = map.keys().map(|k| &**k).collect();
                    known.sort_unstable();
                    return Err(anyhow!(
                        "template {}:{line}:{col}: can't evaluate field {name}: no such field (fields are {})",
                        self.label,
                        known.join(", ")
                    ));
                };
                current = next;
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
fn collect_list(list: &ListNode, dot_is_item: bool, out: &mut Vec<(Vec<String>, usize)>) {
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

fn collect_pipe(pipe: &PipeNode, dot_is_item: bool, out: &mut Vec<(Vec<String>, usize)>) {
    for cmd in &pipe.commands {
        for arg in &cmd.args {
            collect_expr(arg, dot_is_item, out);
        }
    }
}

fn collect_expr(expr: &Expr, dot_is_item: bool, out: &mut Vec<(Vec<String>, usize)>) {
    let chain = |names: &[_]| names.iter().map(|n: &_| format!("{n}")).collect::<Vec<_>>();
    match expr {
        Expr::Field(pos, names) if dot_is_item && !names.is_empty() => {
            out.push((chain(names), pos.offset));
        }
        Expr::Variable(pos, var, names) if var.as_str() == "$" && !names.is_empty() => {
            out.push((chain(names), pos.offset));
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
    for (chain, _) in &compiled.top_fields {
        add(&chain[0]);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // house style: unwrap is fine in tests
mod tests;
