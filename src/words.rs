//! The shell word rules of Docker's builder, which builds and `--env-merge` share (Podman
//! processes `--env-merge` with the same rules): splitting `ENV`, `LABEL` and `ARG` arguments into
//! words (quotes keep spaces, and stay in the word until substitution removes them), and
//! substitution of `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?message}` and `${VAR?message}`, with quote removal and the escape
//! character.

/// Splits `text` at whitespace outside quotes, as Docker's `parseWords`; quotes and escapes are
/// kept, for [`expand`] to remove.
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (Some('\''), '\'') | (Some('"'), '"') => {
                quote = None;
                word.push(c);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                word.push(c);
            }
            (Some('\''), c) => word.push(c),
            (_, c) if c == escape => {
                word.push(c);
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `NAME=value` pairs of `ENV`/`LABEL` (values still quoted), or the legacy `ENV NAME value`
/// form, where the rest of the line is the value. None: a word without `=` in the new form.
pub fn name_values(
    text: &str,
    escape: char,
    legacy_allowed: bool,
) -> Option<Vec<(String, String)>> {
    let words = split_words(text, escape);
    let first = words.first()?;
    if !first.contains('=') {
        if !legacy_allowed {
            return None;
        }
        let trimmed = text.trim_start();
        let rest = trimmed[first.len()..].trim();
        return Some(vec![(first.clone(), rest.to_string())]);
    }
    words
        .into_iter()
        .map(|word| {
            let (name, value) = word.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// How a variable is looked up during substitution.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Substitutes variables in `word` and removes its quotes and escapes, as Docker does for the
/// arguments of ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR.
/// Inside single quotes nothing is substituted. An error is a `${VAR:?message}` whose variable
/// is unset (or empty), or a `${` left open.
pub fn expand(word: &str, vars: &dyn Lookup, escape: char) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (Some('\''), c) => out.push(c),
            (_, c) if c == escape => {
                i += 1;
                match chars.get(i) {
                    // In double quotes the escape only escapes what is special there.
                    Some(&next)
                        if quote == Some('"') && !matches!(next, '"' | '$') && next != escape =>
                    {
                        out.push(c);
                        out.push(next);
                    }
                    Some(&next) => out.push(next),
                    None => out.push(c),
                }
            }
            (_, '$') => {
                let (text, used) = substitute(&chars[i + 1..], vars, escape)?;
                out.push_str(&text);
                i += used;
            }
            (_, c) => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Substitutes variables in a here-document's body as a shell does for an unquoted delimiter:
/// quotes are plain characters, and the escape character keeps a `$` (or itself) literal.
pub fn expand_document(text: &str, vars: &dyn Lookup, escape: char) -> Result<String, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c == escape && matches!(chars.get(i + 1), Some(&n) if n == '$' || n == escape) => {
                out.push(chars[i + 1]);
                i += 1;
            }
            '$' => {
                let (value, used) = substitute(&chars[i + 1..], vars, escape)?;
                out.push_str(&value);
                i += used;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What a `$` followed by `rest` stands for, and how many characters of `rest` it took.
fn substitute(rest: &[char], vars: &dyn Lookup, escape: char) -> Result<(String, usize), String> {
    match rest.first() {
        Some('{') => {
            let close = closing_brace(rest).ok_or_else(|| "missing '}' in ${...}".to_string())?;
            let inner: String = rest[1..close].iter().collect();
            let name_len = inner.chars().take_while(|c| is_name_char(*c)).count();
            let name = &inner[..name_len];
            if name.is_empty() {
                return Err(format!("bad substitution: ${{{inner}}}"));
            }
            let value = vars.get(name);
            let operator = &inner[name_len..];
            let text = match operator {
                "" => value.unwrap_or_default(),
                _ => {
                    let (op, word) = split_operator(operator)
                        .ok_or_else(|| format!("bad substitution: ${{{inner}}}"))?;
                    let set = value.is_some();
                    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
                    match op {
                        ":-" if non_empty => value.unwrap_or_default(),
                        "-" if set => value.unwrap_or_default(),
                        ":-" | "-" => expand(word, vars, escape)?,
                        ":+" if non_empty => expand(word, vars, escape)?,
                        "+" if set => expand(word, vars, escape)?,
                        ":+" | "+" => String::new(),
                        ":?" if non_empty => value.unwrap_or_default(),
                        "?" if set => value.unwrap_or_default(),
                        _ => {
                            let message = expand(word, vars, escape)?;
                            return Err(match message.is_empty() {
                                true => format!("{name}: is not allowed to be unset"),
                                false => format!("{name}: {message}"),
                            });
                        }
                    }
                }
            };
            Ok((text, close + 1))
        }
        Some(c) if is_name_char(*c) && !c.is_ascii_digit() => {
            let len = rest.iter().take_while(|c| is_name_char(**c)).count();
            let name: String = rest[..len].iter().collect();
            Ok((vars.get(&name).unwrap_or_default(), len))
        }
        // A lone `$` stays.
        _ => Ok(("$".to_string(), 0)),
    }
}

fn split_operator(operator: &str) -> Option<(&str, &str)> {
    // The two-character operators first: `:-` is not `:` then `-word`.
    [":-", ":+", ":?", "-", "+", "?"]
        .iter()
        .find_map(|op| operator.strip_prefix(op).map(|word| (*op, word)))
}

/// The index in `rest` (which starts with `{`) of the `}` that closes it, nested ones skipped.
fn closing_brace(rest: &[char]) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in rest.iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "NAME" => Some("skiff".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b".into()),
            _ => None,
        }
    }

    fn ex(word: &str) -> String {
        expand(word, &vars, '\\').unwrap()
    }

    #[test]
    fn substitutes_like_docker() {
        assert_eq!(ex("$NAME/${NAME}x"), "skiff/skiffx");
        assert_eq!(ex("${UNSET:-fallback}"), "fallback");
        assert_eq!(ex("${EMPTY:-fallback}"), "fallback");
        assert_eq!(ex("${EMPTY-fallback}"), "");
        assert_eq!(ex("${UNSET-fallback}"), "fallback");
        assert_eq!(ex("${NAME:+alt}"), "alt");
        assert_eq!(ex("${EMPTY:+alt}"), "");
        assert_eq!(ex("${EMPTY+alt}"), "alt");
        assert_eq!(ex("${UNSET:+alt}"), "");
        assert_eq!(ex("${UNSET:-${NAME}}"), "skiff");
        assert_eq!(ex("'$NAME' \"$NAME\""), "$NAME skiff");
        assert_eq!(ex("\\$NAME"), "$NAME");
        assert_eq!(ex("cost: $5 $"), "cost: $5 $");
        assert_eq!(ex("\"a\\\"b\" \"c\\d\""), "a\"b c\\d");
        assert_eq!(expand("`$NAME", &vars, '`').unwrap(), "$NAME");
        assert!(expand("${UNSET:?must be set}", &vars, '\\')
            .unwrap_err()
            .contains("must be set"));
        assert!(expand("${NAME", &vars, '\\').is_err());
        assert!(expand("${:-x}", &vars, '\\').is_err());
    }

    #[test]
    fn splits_words_keeping_quoted_spaces() {
        assert_eq!(
            split_words(r#"A=1 B="two words" C='x y' D=e\ f"#, '\\'),
            ["A=1", "B=\"two words\"", "C='x y'", r"D=e\ f"]
        );
        assert_eq!(
            name_values("A=1 B=\"two words\"", '\\', true).unwrap(),
            [
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ]
        );
        assert_eq!(
            name_values("PATH /usr/bin:/bin  extra", '\\', true).unwrap(),
            [("PATH".to_string(), "/usr/bin:/bin  extra".to_string())]
        );
        assert!(name_values("A=1 B", '\\', true).is_none());
        assert!(name_values("KEY value", '\\', false).is_none());
    }
}
