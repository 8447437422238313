//! Reading Rust source well enough for the layering check: comments, strings and character
//! literals are blanked out first (a path named in a doc comment or an error message is not a
//! call), then every path that leaves its own top-level module is listed with its line.
//! This is not a Rust parser: it knows `crate::`, `use crate::{…}` groups, `super::` chains and
//! inline `mod NAME {` blocks, which is all that can name another top-level module.

/// A top-level module that a line of code names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// 1-based line number.
    pub line: usize,
    /// The top-level module named (`container` for `crate::container::remove`).
    pub module: String,
}

/// `source` with every comment, string literal and character literal replaced by spaces. Line
/// breaks are kept, so line numbers still hold.
pub fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let end = match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => line_comment_end(&chars, i),
            '/' if chars.get(i + 1) == Some(&'*') => block_comment_end(&chars, i),
            '"' => string_end(&chars, i + 1),
            '\'' => char_literal_end(&chars, i).unwrap_or(i),
            'r' | 'b' | 'c' if !follows_identifier(&chars, i) => raw_string_end(&chars, i)
                .or_else(|| prefixed_string_end(&chars, i))
                .unwrap_or(i),
            _ => i,
        };
        if end == i {
            out.push(chars[i]);
            i += 1;
        } else {
            out.extend(
                chars[i..end]
                    .iter()
                    .map(|&c| if c == '\n' { '\n' } else { ' ' }),
            );
            i = end;
        }
    }
    out.into_iter().collect()
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn follows_identifier(chars: &[char], i: usize) -> bool {
    i > 0 && is_identifier_char(chars[i - 1])
}

fn line_comment_end(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |offset| start + offset)
}

/// Block comments nest in Rust.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The index just past the closing quote of a string whose contents start at `from`.
fn string_end(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// `'x'`, `'\n'`, `'\u{1F600}'` (and `b'x'` through its quote); None for a lifetime or label.
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start + 1)? {
        // The escaped character itself may be a quote (`'\''`): the search starts after it.
        '\\' => {
            let close = chars.get(start + 3..)?.iter().position(|&c| c == '\'')?;
            Some(start + 3 + close + 1)
        }
        _ if chars.get(start + 2) == Some(&'\'') => Some(start + 3),
        _ => None,
    }
}

/// `r"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`: the index past the closing quote and hashes.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    if chars[i] != 'r' {
        i += 1;
        if chars.get(i) != Some(&'r') {
            return None;
        }
    }
    i += 1;
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(chars.len())
}

/// `b"…"` and `c"…"`.
fn prefixed_string_end(chars: &[char], start: usize) -> Option<usize> {
    (matches!(chars[start], 'b' | 'c') && chars.get(start + 1) == Some(&'"'))
        .then(|| string_end(chars, start + 2))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    PathSeparator,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(code: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_identifier_char(c) || c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && is_identifier_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push((line, Token::Word(word.trim_start_matches('$').to_owned())));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push((line, Token::PathSeparator));
            i += 2;
        } else {
            let token = match c {
                '{' => Token::Open,
                '}' => Token::Close,
                ',' => Token::Comma,
                _ => Token::Other,
            };
            tokens.push((line, token));
            i += 1;
        }
    }
    tokens
}

fn word(token: Option<&(usize, Token)>) -> Option<&str> {
    match token {
        Some((_, Token::Word(w))) => Some(w),
        _ => None,
    }
}

/// Every top-level module that `code` (already blanked) names outside its own module path
/// `module_path` (`["image", "pull"]` for src/image/pull.rs): `crate::a::…`, each item of
/// `use crate::{a, b::c}`, and a `super::super::…` chain that climbs to the crate root.
pub fn top_level_references(code: &str, module_path: &[String]) -> Vec<Reference> {
    let tokens = tokens(code);
    let separator_at = |at: usize| tokens.get(at).map(|t| &t.1) == Some(&Token::PathSeparator);
    let opens_at = |at: usize| tokens.get(at).map(|t| &t.1) == Some(&Token::Open);
    let mut references = Vec::new();
    // Inline `mod NAME {` blocks: the brace depth inside each.
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut depth = 0;
    for (i, (line, token)) in tokens.iter().enumerate() {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                if inline_modules.last() == Some(&depth) {
                    inline_modules.pop();
                }
                depth -= 1;
            }
            Token::Word(w)
                if w == "mod" && word(tokens.get(i + 1)).is_some() && opens_at(i + 2) =>
            {
                inline_modules.push(depth + 1);
            }
            Token::Word(w) if w == "crate" && separator_at(i + 1) => {
                references.extend(path_heads(&tokens, i + 2, *line));
            }
            // The start of a `super::super::…` chain (not `self::super::`, which starts earlier).
            Token::Word(w) if w == "super" && !(i > 0 && separator_at(i - 1)) => {
                let mut next = i;
                while word(tokens.get(next)) == Some("super") && separator_at(next + 1) {
                    next += 2;
                }
                let climbs = (next - i) / 2;
                if climbs >= module_path.len() + inline_modules.len() {
                    references.extend(path_heads(&tokens, next, *line));
                }
            }
            _ => {}
        }
    }
    references
}

/// The first segment of the path (or of each item of the `{…}` group) that starts at `at`.
fn path_heads(tokens: &[(usize, Token)], at: usize, line: usize) -> Vec<Reference> {
    match tokens.get(at) {
        Some((_, Token::Word(module))) => vec![Reference {
            line,
            module: module.clone(),
        }],
        Some((_, Token::Open)) => {
            let mut heads = Vec::new();
            let mut depth = 0;
            let mut expect_head = true;
            for (item_line, token) in &tokens[at..] {
                match token {
                    Token::Open => depth += 1,
                    Token::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Token::Comma if depth == 1 => expect_head = true,
                    Token::Word(module) if depth == 1 && expect_head => {
                        expect_head = false;
                        if module != "self" {
                            heads.push(Reference {
                                line: *item_line,
                                module: module.clone(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            heads
        }
        _ => Vec::new(),
    }
}

/// The module path of a file under src/: `src/image/pull.rs` → `["image", "pull"]`,
/// `src/image/mod.rs` → `["image"]`, `src/lib.rs` → `[]`.
pub fn module_path(relative: &str) -> Vec<String> {
    let inside = relative.strip_prefix("src/").unwrap_or(relative);
    let inside = inside.strip_suffix(".rs").unwrap_or(inside);
    let mut path: Vec<String> = inside.split('/').map(str::to_owned).collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// Whether blanked `code` reads a field `field` of a variable `variable` (`ctx.store`), not
/// counting longer names (`ctx.stores`, `my_ctx.store`).
pub fn reads_field(code: &str, variable: &str, field: &str) -> Vec<usize> {
    let needle = format!("{variable}.{field}");
    let mut lines = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let mut from = 0;
        while let Some(offset) = line[from..].find(&needle) {
            let start = from + offset;
            let end = start + needle.len();
            let before = line[..start].chars().next_back();
            let after = line[end..].chars().next();
            let whole_name =
                !before.is_some_and(is_identifier_char) && !after.is_some_and(is_identifier_char);
            if whole_name && lines.last() != Some(&(number + 1)) {
                lines.push(number + 1);
            }
            from = end;
        }
    }
    lines
}
