//! The Dockerfile's text as lines: continuations joined with the escape character, comment
//! lines inside them dropped, the `# escape=` parser directive, and the line of an offset.

/// Where in the text an error is: the line of byte offset `at`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Joins lines ending in the escape character (trailing blanks after it allowed) with the
/// next, skipping comment and blank lines in between.
pub(super) fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::new();
    let mut continuing = false;
    for line in raw.split('\n') {
        let trimmed = line.trim_start();
        if continuing && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        let body = line.trim_end();
        match body.strip_suffix(escape) {
            Some(head) => {
                out.push_str(head);
                continuing = true;
            }
            None => {
                out.push_str(line);
                continuing = false;
                out.push('\n');
            }
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The `# escape=` directive's character: directives are the comment lines of the form
/// `# key=value` at the very top.
pub(super) fn escape_directive(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        let value = value.trim();
        if key.trim().eq_ignore_ascii_case("escape") && value.chars().count() == 1 {
            return value.chars().next().unwrap_or('\\');
        }
    }
    '\\'
}
