//! What reads an instruction that parse-dockerfile tokenized: the original text (for errors
//! that name a line, and for an instruction's words with continuations joined), the byte range
//! an instruction covers, and its flags checked against those it takes.

use parse_dockerfile as tokens;

use super::heredoc;
use super::syntax::{join_continuations, line_of};
use super::ParseError;

/// The Dockerfile as written, beside the tokens parse-dockerfile made of a copy of it.
pub(super) struct Reader<'t> {
    pub(super) file: String,
    pub(super) text: &'t str,
    pub(super) escape: char,
    /// The here-documents, by the line their instruction starts on.
    pub(super) documents: heredoc::Found,
}

impl Reader<'_> {
    pub(super) fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.clone(),
            line: line_of(self.text, at),
            message: message.into(),
        }
    }

    /// The text from `start` to `end` with its line continuations joined, and comment lines
    /// inside them dropped, as Docker reads an instruction.
    pub(super) fn joined(&self, start: usize, end: usize) -> String {
        join_continuations(&self.text[start..end.min(self.text.len())], self.escape)
    }
}

/// The byte range an instruction covers, from its keyword to the end of its last part.
pub(super) fn extent(instruction: &tokens::Instruction<'_>) -> (usize, usize) {
    use tokens::Instruction as I;
    let command_end = |command: &tokens::Command<'_>| match command {
        tokens::Command::Exec(list) => list.span.end,
        tokens::Command::Shell(shell) => shell.span.end,
        _ => 0,
    };
    match instruction {
        I::Add(i) => (i.add.span.start, i.dest.span.end),
        I::Arg(i) => (i.arg.span.start, i.arguments.span.end),
        I::Cmd(i) => (i.cmd.span.start, command_end(&i.arguments)),
        I::Copy(i) => (i.copy.span.start, i.dest.span.end),
        I::Entrypoint(i) => (i.entrypoint.span.start, command_end(&i.arguments)),
        I::Env(i) => (i.env.span.start, i.arguments.span.end),
        I::Expose(i) => (
            i.expose.span.start,
            i.arguments.last().map_or(i.expose.span.end, |a| a.span.end),
        ),
        I::From(i) => (
            i.from.span.start,
            i.as_
                .as_ref()
                .map_or(i.image.span.end, |(_, name)| name.span.end),
        ),
        I::Healthcheck(i) => (
            i.healthcheck.span.start,
            match &i.arguments {
                tokens::HealthcheckArguments::Cmd { arguments, .. } => command_end(arguments),
                tokens::HealthcheckArguments::None { none, .. } => none.span.end,
                _ => i.healthcheck.span.end,
            },
        ),
        I::Label(i) => (i.label.span.start, i.arguments.span.end),
        I::Maintainer(i) => (i.maintainer.span.start, i.name.span.end),
        I::Onbuild(i) => (i.onbuild.span.start, extent(&i.instruction).1),
        I::Run(i) => (i.run.span.start, command_end(&i.arguments)),
        I::Shell(i) => (
            i.shell.span.start,
            i.arguments
                .last()
                .map_or(i.shell.span.end, |a| a.span.end + 1),
        ),
        I::Stopsignal(i) => (i.stopsignal.span.start, i.arguments.span.end),
        I::User(i) => (i.user.span.start, i.arguments.span.end),
        I::Volume(i) => (
            i.volume.span.start,
            match &i.arguments {
                tokens::JsonOrStringArray::Json(list) => list.span.end,
                tokens::JsonOrStringArray::String(list) => {
                    list.last().map_or(i.volume.span.end, |a| a.span.end)
                }
            },
        ),
        I::Workdir(i) => (i.workdir.span.start, i.arguments.span.end),
        // A parse-dockerfile release with instructions this one lacks: the keyword alone.
        #[allow(unreachable_patterns)]
        _ => (0, 0),
    }
}

/// The flags of an instruction as name and value; an unknown one is an error naming the
/// instruction and what it takes.
pub(super) fn flags<'f>(
    reader: &Reader<'_>,
    instruction: &str,
    given: &'f [tokens::Flag<'_>],
    known: &[&str],
) -> Result<Vec<(&'f str, Option<String>)>, ParseError> {
    let mut out = Vec::new();
    for flag in given {
        let name = flag.name.value.as_ref();
        if !known.contains(&name) {
            let takes = match known {
                [] => "no flags".to_string(),
                _ => known
                    .iter()
                    .map(|k| format!("--{k}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            return Err(reader.error(
                flag.name.span.start,
                format!("{instruction} does not take --{name} (it takes {takes})"),
            ));
        }
        out.push((name, flag.value.as_ref().map(|v| v.value.to_string())));
    }
    Ok(out)
}
