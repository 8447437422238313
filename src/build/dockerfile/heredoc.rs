//! Here-documents, found before parse-dockerfile reads the text. It knows RUN's only at the
//! start of the command (`RUN <<EOF`) and keeps no delimiter, while Docker takes them anywhere
//! in RUN's command (`RUN python3 <<EOF`, `RUN cat <<A <<B`) and names COPY's files after
//! their delimiters. So RUN's documents are taken out here, and the text parse-dockerfile gets
//! keeps every byte offset and line of the original: the bodies become blanks and each `<<`
//! two underscores, so the spans it returns still point into the original text.

use std::collections::BTreeMap;

/// A `<<WORD` in a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delimiter {
    pub name: String,
    /// `<<-WORD`: leading tabs are stripped from the body and the closing line.
    pub strip_tabs: bool,
    /// `<<'WORD'` or `<<"WORD"`: the body is taken as it is, never substituted.
    pub quoted: bool,
    /// The byte offset of `<<` in the text searched.
    at: usize,
}

/// A RUN here-document: its delimiter and its body (each line ending in a newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDocument {
    pub name: String,
    pub body: String,
}

/// The Dockerfile's here-documents.
#[derive(Debug, Default)]
pub struct Found {
    /// The text for parse-dockerfile, without RUN's here-documents.
    pub text: String,
    /// RUN's documents by the line their instruction starts on.
    pub run: BTreeMap<usize, Vec<RunDocument>>,
    /// COPY's and ADD's delimiters by the line their instruction starts on, in order.
    pub copy: BTreeMap<usize, Vec<Delimiter>>,
}

/// The words of `text` with their byte offsets, split on blanks outside quotes; an escaped
/// newline (a line continuation) separates words too.
fn words(text: &str, escape: char) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            out.extend(current.take());
            continue;
        }
        if quote.is_none() && c == escape {
            match chars.next() {
                Some((_, '\n')) | None => out.extend(current.take()),
                Some((_, next)) => {
                    let word = current.get_or_insert_with(|| (at, String::new()));
                    word.1.push(c);
                    word.1.push(next);
                }
            }
            continue;
        }
        let word = current.get_or_insert_with(|| (at, String::new()));
        word.1.push(c);
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '\'' || c == '"' => quote = Some(c),
            _ => {}
        }
    }
    out.extend(current);
    out
}

/// The here-document words among a command's words (BuildKit's rule: a whole word of the
/// form `[n]<<[-]WORD`, whose WORD has no `<`).
pub fn delimiters(text: &str, escape: char) -> Vec<Delimiter> {
    words(text, escape)
        .into_iter()
        .filter_map(|(at, word)| {
            let digits = word.chars().take_while(char::is_ascii_digit).count();
            let rest = word[digits..].strip_prefix("<<")?;
            let (strip_tabs, rest) = match rest.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let quoted = rest.contains(['\'', '"']);
            let name: String = rest.chars().filter(|c| !matches!(c, '\'' | '"')).collect();
            (!name.is_empty() && !name.contains('<')).then_some(Delimiter {
                name,
                strip_tabs,
                quoted,
                at: at + digits,
            })
        })
        .collect()
}

/// A line's byte range, without its newline.
struct Line {
    start: usize,
    end: usize,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let end = start + piece.trim_end_matches('\n').len();
        out.push(Line { start, end });
        start += piece.len();
    }
    out
}

/// Finds every RUN, COPY and ADD here-document of `text`. An error is a document without its
/// closing line: (the line its instruction starts on, the message).
pub fn find(text: &str, escape: char) -> Result<Found, (usize, String)> {
    let lines = lines(text);
    let mut blanked = text.as_bytes().to_vec();
    let mut found = Found::default();
    let mut index = 0;
    while index < lines.len() {
        let first = &lines[index];
        let line_text = &text[first.start..first.end];
        let trimmed = line_text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            index += 1;
            continue;
        }
        // The instruction's physical lines: on while one ends in the escape character.
        let mut last = index;
        while text[lines[last].start..lines[last].end]
            .trim_end()
            .ends_with(escape)
            && last + 1 < lines.len()
        {
            last += 1;
        }
        let keyword = trimmed
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let arguments_at = first.start + (line_text.len() - trimmed.len()) + keyword.len();
        let arguments = &text[arguments_at..lines[last].end];
        let mut next = last + 1;
        let is_run = keyword == "RUN";
        if is_run || keyword == "COPY" || keyword == "ADD" {
            let after_flags = words(arguments, escape)
                .into_iter()
                .find(|(_, word)| !word.starts_with("--"));
            let exec_form = is_run && after_flags.is_some_and(|(_, word)| word.starts_with('['));
            let marks = match exec_form {
                true => Vec::new(),
                false => delimiters(arguments, escape),
            };
            let mut documents = Vec::new();
            for mark in &marks {
                let mut body = String::new();
                loop {
                    let Some(line) = lines.get(next) else {
                        return Err((
                            index + 1,
                            format!("here-document <<{0} has no closing {0} line", mark.name),
                        ));
                    };
                    next += 1;
                    let mut content = &text[line.start..line.end];
                    if mark.strip_tabs {
                        content = content.trim_start_matches('\t');
                    }
                    if is_run {
                        blanked[line.start..line.end].fill(b' ');
                    }
                    if content == mark.name {
                        break;
                    }
                    body.push_str(content);
                    body.push('\n');
                }
                documents.push(RunDocument {
                    name: mark.name.clone(),
                    body,
                });
            }
            if is_run && !documents.is_empty() {
                for mark in &marks {
                    let at = arguments_at + mark.at;
                    blanked[at..at + 2].copy_from_slice(b"__");
                }
                found.run.insert(index + 1, documents);
            } else if !marks.is_empty() {
                found.copy.insert(index + 1, marks);
            }
        }
        index = next;
    }
    // Only ASCII bytes were replaced, and only whole characters.
    found.text = String::from_utf8(blanked).unwrap_or_else(|_| text.to_string());
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_as_buildkit_finds_them() {
        let found = delimiters(
            r#"python3 <<EOF && cat <<-'A' 2<<"B" echo "<<C" $((1<<2)) <<<x"#,
            '\\',
        );
        let names: Vec<(&str, bool, bool)> = found
            .iter()
            .map(|d| (d.name.as_str(), d.strip_tabs, d.quoted))
            .collect();
        assert_eq!(
            names,
            [("EOF", false, false), ("A", true, true), ("B", false, true)]
        );
    }

    #[test]
    fn run_documents_leave_offsets_and_lines_alone() {
        let text = "FROM x\nRUN python3 <<EOF\nprint(1)\nRUN not an instruction\nEOF\nCOPY <<A <<B /d/\na\nA\nb\nB\nRUN <<-X cat\n\tone\n\tX\n";
        let found = find(text, '\\').unwrap();
        assert_eq!(found.text.len(), text.len());
        assert_eq!(found.text.lines().count(), text.lines().count());
        assert!(found.text.contains("RUN python3 __EOF\n"));
        assert!(!found.text.contains("print"));
        // COPY's bodies stay for parse-dockerfile.
        assert!(found.text.contains("COPY <<A <<B /d/\na\nA\n"));
        assert_eq!(
            found.run[&2],
            [RunDocument {
                name: "EOF".into(),
                body: "print(1)\nRUN not an instruction\n".into()
            }]
        );
        let copy: Vec<&str> = found.copy[&6].iter().map(|d| d.name.as_str()).collect();
        assert_eq!(copy, ["A", "B"]);
        assert_eq!(found.run[&11][0].body, "one\n");
        assert!(found.text.ends_with("RUN __-X cat\n    \n  \n"));
    }

    #[test]
    fn an_unclosed_document_names_its_line() {
        let error = find("FROM x\n\nRUN cat <<EOF\nhello\n", '\\').unwrap_err();
        assert_eq!(error.0, 3);
        assert!(
            error.1.contains("<<EOF has no closing EOF line"),
            "{}",
            error.1
        );
    }

    #[test]
    fn exec_form_and_quoted_markers_are_not_documents() {
        let found = find(
            "FROM x\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN echo '<<EOF'\n",
            '\\',
        )
        .unwrap();
        assert!(found.run.is_empty());
    }
}
