//! Dockerfiles and Containerfiles, read into stages of typed instructions.
//!
//! The text is tokenized by parse-dockerfile (line continuations, the `escape` and `syntax`
//! directives, heredocs, JSON forms); this module gives every instruction its meaning and
//! checks it, so an error names the file, the line and what is wrong, before anything runs.
//! Words keep their quotes and `$` references: substitution happens as the build reaches
//! each step, with the variables in scope there (`words::expand`).

use std::collections::BTreeMap;

use parse_dockerfile as syntax;

use super::{heredoc, words};

/// A parse error: `Dockerfile:3: unknown instruction 'FOO'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// `ARG`s before the first `FROM`: usable in `FROM` lines, and in a stage that declares
    /// them again.
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
    /// The escape character (`# escape=`), which substitution needs too.
    pub escape: char,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The base image or an earlier stage's name, unsubstituted.
    pub base: String,
    /// `AS name`, lowercased as Docker compares it.
    pub name: Option<String>,
    /// `--platform`, unsubstituted.
    pub platform: Option<String>,
    pub line: usize,
    /// The `FROM` line as written (continuations joined).
    pub text: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    /// The instruction as written, continuations joined: what `STEP n/m:` prints.
    pub text: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// The default, unsubstituted.
    pub default: Option<String>,
}

/// The shell form (run by the stage's `SHELL`) or the exec form (argv as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    Shell(String),
    Exec(Vec<String>),
}

/// A here-document: its delimiter, its body, and whether `$` references in it are substituted
/// (an unquoted delimiter) or kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDoc {
    pub name: String,
    pub body: String,
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Cache,
    Bind,
    Secret,
    Tmpfs,
}

/// `RUN --mount=type=…,…`: its kind and its other options as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    pub kind: MountKind,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// Paths, globs, or (ADD) URLs, unsubstituted.
    pub sources: Vec<String>,
    /// Files made from here-documents: `COPY <<EOF dest`.
    pub heredocs: Vec<HereDoc>,
    pub dest: String,
    /// `--from=stage|image|index`.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub command: CommandForm,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    Run {
        command: CommandForm,
        /// Here-documents the command runs as programs (a `#!` script alone on the line), which
        /// BuildKit puts at `/dev/pipes/NAME`. Any other document is already in `command`:
        /// the script itself, or part of the text the shell reads.
        heredocs: Vec<HereDoc>,
        mounts: Vec<RunMount>,
        network: RunNetwork,
    },
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    /// Name and value pairs, values unsubstituted.
    Env(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    Workdir(String),
    User(String),
    Copy(CopySpec),
    Add(CopySpec),
    Volume(Vec<String>),
    Shell(Vec<String>),
    Stopsignal(String),
    /// None: `HEALTHCHECK NONE`.
    Healthcheck(Option<Healthcheck>),
    /// The instruction as written, kept for images built on this one.
    Onbuild(String),
    Maintainer(String),
}

/// Where in the text an error is: the line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Reader<'t> {
    file: String,
    text: &'t str,
    escape: char,
    /// The here-documents, by the line their instruction starts on.
    documents: heredoc::Found,
}

impl Reader<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.clone(),
            line: line_of(self.text, at),
            message: message.into(),
        }
    }

    /// The text from `start` to `end` with its line continuations joined, and comment lines
    /// inside them dropped, as Docker reads an instruction.
    fn joined(&self, start: usize, end: usize) -> String {
        join_continuations(&self.text[start..end.min(self.text.len())], self.escape)
    }
}

/// Joins lines ending in the escape character (trailing blanks after it allowed) with the
/// next, skipping comment and blank lines in between.
fn join_continuations(raw: &str, escape: char) -> String {
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
fn escape_directive(text: &str) -> char {
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

/// Parses a Dockerfile; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let mut documents =
        heredoc::find(text, escape_directive(text)).map_err(|(line, message)| ParseError {
            file: file.to_string(),
            line,
            message,
        })?;
    let parser_text = std::mem::take(&mut documents.text);
    let parsed = syntax::parse(&parser_text).map_err(|e| ParseError {
        file: file.to_string(),
        line: e.line().max(1),
        message: match format!("{e:#}") {
            // Said where an instruction other than ARG comes first, or none does.
            expected if expected == "expected FROM" => {
                "only ARG may come before the first FROM, and there must be a FROM".into()
            }
            message => message,
        },
    })?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let reader = Reader {
        file: file.to_string(),
        text,
        escape,
        documents,
    };
    let mut dockerfile = Dockerfile {
        global_args: Vec::new(),
        stages: Vec::new(),
        escape,
    };
    for instruction in &parsed.instructions {
        let (start, end) = extent(instruction);
        let text = reader.joined(start, end);
        let line = line_of(reader.text, start);
        if let syntax::Instruction::From(from) = instruction {
            dockerfile.stages.push(stage_of(&reader, from, text, line)?);
            continue;
        }
        let step = Step {
            line,
            instruction: read_instruction(&reader, instruction, start)?,
            text,
        };
        match dockerfile.stages.last_mut() {
            Some(stage) => stage.steps.push(step),
            None => match step.instruction {
                Instruction::Arg(args) => dockerfile.global_args.extend(args),
                _ => return Err(reader.error(start, "only ARG may come before the first FROM")),
            },
        }
    }
    if dockerfile.stages.is_empty() {
        return Err(ParseError {
            file: file.to_string(),
            line: line_of(text, text.len()),
            message: "no FROM instruction: a Dockerfile must name a base image".into(),
        });
    }
    check_stage_names(&reader, &dockerfile)?;
    Ok(dockerfile)
}

fn check_stage_names(reader: &Reader<'_>, dockerfile: &Dockerfile) -> Result<(), ParseError> {
    let mut seen: Vec<&str> = Vec::new();
    for stage in &dockerfile.stages {
        if let Some(name) = &stage.name {
            if seen.contains(&name.as_str()) {
                return Err(ParseError {
                    file: reader.file.clone(),
                    line: stage.line,
                    message: format!("duplicate stage name {name:?}"),
                });
            }
            seen.push(name);
        }
    }
    Ok(())
}

/// The byte range an instruction covers, from its keyword to the end of its last part.
fn extent(instruction: &syntax::Instruction<'_>) -> (usize, usize) {
    use syntax::Instruction as I;
    let command_end = |command: &syntax::Command<'_>| match command {
        syntax::Command::Exec(list) => list.span.end,
        syntax::Command::Shell(shell) => shell.span.end,
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
                syntax::HealthcheckArguments::Cmd { arguments, .. } => command_end(arguments),
                syntax::HealthcheckArguments::None { none, .. } => none.span.end,
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
                syntax::JsonOrStringArray::Json(list) => list.span.end,
                syntax::JsonOrStringArray::String(list) => {
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

fn stage_of(
    reader: &Reader<'_>,
    from: &syntax::FromInstruction<'_>,
    text: String,
    line: usize,
) -> Result<Stage, ParseError> {
    let mut platform = None;
    for flag in &from.options {
        match (flag.name.value.as_ref(), &flag.value) {
            ("platform", Some(value)) => platform = Some(value.value.to_string()),
            (name, _) => {
                return Err(reader.error(
                    flag.name.span.start,
                    format!("FROM does not take --{name}: only --platform=OS/ARCH"),
                ))
            }
        }
    }
    let name = match &from.as_ {
        Some((_, name)) => {
            let name = name.value.to_lowercase();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(reader.error(
                    from.from.span.start,
                    format!("invalid stage name {name:?}: use letters, digits, '_', '-' and '.', starting with a letter"),
                ));
            }
            Some(name)
        }
        None => None,
    };
    Ok(Stage {
        base: from.image.value.to_string(),
        name,
        platform,
        line,
        text,
        steps: Vec::new(),
    })
}

fn command_form(
    reader: &Reader<'_>,
    command: &syntax::Command<'_>,
    at: usize,
) -> Result<CommandForm, ParseError> {
    Ok(match command {
        syntax::Command::Exec(list) => {
            CommandForm::Exec(list.value.iter().map(|s| s.value.to_string()).collect())
        }
        syntax::Command::Shell(shell) => {
            CommandForm::Shell(reader.joined(shell.span.start, shell.span.end))
        }
        _ => return Err(reader.error(at, "a command form skiff does not know")),
    })
}

/// RUN's command with its here-documents, as BuildKit runs them: a document alone on the line
/// is the script (run as a program when it starts with `#!`); otherwise the documents follow
/// the line, closing lines and all, for the shell to read.
fn run_command(
    reader: &Reader<'_>,
    command: CommandForm,
    start: usize,
) -> Result<(CommandForm, Vec<HereDoc>), ParseError> {
    let line = line_of(reader.text, start);
    let Some(documents) = reader.documents.run.get(&line) else {
        return Ok((command, Vec::new()));
    };
    let CommandForm::Shell(text) = command else {
        return Err(reader.error(start, "RUN's here-documents need the shell form"));
    };
    match documents.as_slice() {
        [document] if text.split_whitespace().count() == 1 => {
            if document.body.starts_with("#!") {
                let program = format!("/dev/pipes/{}", document.name);
                let file = HereDoc {
                    name: document.name.clone(),
                    body: document.body.clone(),
                    expand: false,
                };
                return Ok((CommandForm::Exec(vec![program]), vec![file]));
            }
            Ok((CommandForm::Shell(document.body.clone()), Vec::new()))
        }
        _ => {
            let mut script = text;
            for document in documents {
                script.push('\n');
                script.push_str(&document.body);
                script.push_str(&document.name);
            }
            Ok((CommandForm::Shell(script), Vec::new()))
        }
    }
}

/// The flags of an instruction as name and value; an unknown one is an error naming the
/// instruction and what it takes.
fn flags<'f>(
    reader: &Reader<'_>,
    instruction: &str,
    given: &'f [syntax::Flag<'_>],
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

fn run_mount(reader: &Reader<'_>, at: usize, value: &str) -> Result<RunMount, ParseError> {
    let mut options = BTreeMap::new();
    let mut kind = MountKind::Bind;
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field.split_once('=').unwrap_or((field, "true"));
        if key == "type" {
            kind = match value {
                "cache" => MountKind::Cache,
                "bind" => MountKind::Bind,
                "secret" => MountKind::Secret,
                "tmpfs" => MountKind::Tmpfs,
                _ => {
                    return Err(reader.error(
                        at,
                        format!("RUN --mount type={value} is not supported: use cache, bind, secret or tmpfs"),
                    ))
                }
            };
            continue;
        }
        let key = match key {
            "dst" | "destination" => "target",
            "src" => "source",
            "readonly" => "ro",
            "readwrite" => "rw",
            other => other,
        };
        options.insert(key.to_string(), value.to_string());
    }
    // Every option a kind takes (aliases already made canonical); any other is refused rather
    // than ignored.
    let known: &[&str] = match kind {
        MountKind::Bind => &["target", "source", "from", "rw"],
        MountKind::Cache => &[
            "target", "id", "sharing", "mode", "uid", "gid", "ro", "from", "source",
        ],
        MountKind::Secret => &["target", "id", "required", "mode", "uid", "gid", "env"],
        MountKind::Tmpfs => &["target", "size"],
    };
    if let Some(unknown) = options.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(reader.error(
            at,
            format!(
                "RUN --mount={value}: type={} takes no {unknown} option (it takes {})",
                format!("{kind:?}").to_lowercase(),
                known.join(", ")
            ),
        ));
    }
    let needs_target = !matches!(kind, MountKind::Secret);
    if needs_target && !options.contains_key("target") {
        return Err(reader.error(at, format!("RUN --mount={value} needs target=PATH")));
    }
    Ok(RunMount { kind, options })
}

fn copy_spec(
    reader: &Reader<'_>,
    start: usize,
    name: &str,
    options: &[syntax::Flag<'_>],
    sources: &[syntax::Source<'_>],
    dest: &syntax::UnescapedString<'_>,
    known: &[&str],
) -> Result<CopySpec, ParseError> {
    let mut spec = CopySpec {
        sources: Vec::new(),
        heredocs: Vec::new(),
        dest: dest.value.to_string(),
        from: None,
        chown: None,
        chmod: None,
        link: false,
    };
    for (flag, value) in flags(reader, name, options, known)? {
        let at = dest.span.start;
        let value_of = |value: Option<String>| {
            value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| reader.error(at, format!("{name} --{flag} needs a value")))
        };
        match flag {
            "from" => spec.from = Some(value_of(value)?),
            "chown" => spec.chown = Some(value_of(value)?),
            "chmod" => {
                let mode = value_of(value)?;
                if u32::from_str_radix(&mode, 8).is_err() {
                    return Err(reader.error(
                        at,
                        format!("{name} --chmod={mode}: expected an octal mode such as 0755"),
                    ));
                }
                spec.chmod = Some(mode);
            }
            "link" => spec.link = value.as_deref().is_none_or(|v| v != "false"),
            _ => {}
        }
    }
    let line = line_of(reader.text, start);
    let mut names = reader
        .documents
        .copy
        .get(&line)
        .into_iter()
        .flatten()
        .map(|delimiter| delimiter.name.clone());
    for source in sources {
        match source {
            syntax::Source::Path(path) => spec.sources.push(path.value.to_string()),
            syntax::Source::HereDoc(doc) => spec.heredocs.push(HereDoc {
                name: names.next().ok_or_else(|| {
                    reader.error(start, format!("{name}: a here-document without a name"))
                })?,
                body: doc.value.to_string(),
                expand: doc.expand,
            }),
            _ => return Err(reader.error(dest.span.start, "a source skiff does not know")),
        }
    }
    Ok(spec)
}

fn read_instruction(
    reader: &Reader<'_>,
    instruction: &syntax::Instruction<'_>,
    start: usize,
) -> Result<Instruction, ParseError> {
    use syntax::Instruction as I;
    let escape = reader.escape;
    Ok(match instruction {
        I::Run(run) => {
            let mut mounts = Vec::new();
            let mut network = RunNetwork::Default;
            for (flag, value) in flags(reader, "RUN", &run.options, &["mount", "network"])? {
                let value = value.unwrap_or_default();
                match flag {
                    "mount" => mounts.push(run_mount(reader, start, &value)?),
                    _ => {
                        network = match value.as_str() {
                            "default" => RunNetwork::Default,
                            "none" => RunNetwork::None,
                            "host" => RunNetwork::Host,
                            _ => {
                                return Err(reader.error(
                                    start,
                                    format!("RUN --network={value}: use default, none or host"),
                                ))
                            }
                        }
                    }
                }
            }
            let (command, heredocs) =
                run_command(reader, command_form(reader, &run.arguments, start)?, start)?;
            Instruction::Run {
                command,
                heredocs,
                mounts,
                network,
            }
        }
        I::Cmd(cmd) => Instruction::Cmd(command_form(reader, &cmd.arguments, start)?),
        I::Entrypoint(entrypoint) => {
            Instruction::Entrypoint(command_form(reader, &entrypoint.arguments, start)?)
        }
        I::Env(env) => {
            let text = reader.joined(env.arguments.span.start, env.arguments.span.end);
            let pairs = words::name_values(&text, escape, true)
                .ok_or_else(|| reader.error(start, "ENV needs NAME=VALUE pairs (or NAME VALUE)"))?;
            for (name, _) in &pairs {
                check_name(reader, start, "ENV", name)?;
            }
            Instruction::Env(pairs)
        }
        I::Label(label) => {
            let text = reader.joined(label.arguments.span.start, label.arguments.span.end);
            let pairs = words::name_values(&text, escape, true)
                .ok_or_else(|| reader.error(start, "LABEL needs KEY=VALUE pairs"))?;
            let pairs = pairs
                .into_iter()
                .map(|(key, value)| {
                    // Keys may be quoted too.
                    let key = words::expand(&key, &|_: &str| None, escape)
                        .map_err(|e| reader.error(start, format!("LABEL: {e}")))?;
                    Ok((key, value))
                })
                .collect::<Result<_, ParseError>>()?;
            Instruction::Label(pairs)
        }
        I::Arg(arg) => {
            let text = reader.joined(arg.arguments.span.start, arg.arguments.span.end);
            let mut decls = Vec::new();
            for word in words::split_words(&text, escape) {
                let (name, default) = match word.split_once('=') {
                    Some((name, default)) => (name.to_string(), Some(default.to_string())),
                    None => (word, None),
                };
                check_name(reader, start, "ARG", &name)?;
                decls.push(ArgDecl { name, default });
            }
            Instruction::Arg(decls)
        }
        I::Expose(expose) => {
            let ports: Vec<String> = expose
                .arguments
                .iter()
                .map(|p| p.value.to_string())
                .collect();
            Instruction::Expose(ports)
        }
        I::Workdir(workdir) => Instruction::Workdir(workdir.arguments.value.to_string()),
        I::User(user) => Instruction::User(user.arguments.value.to_string()),
        I::Copy(copy) => Instruction::Copy(copy_spec(
            reader,
            start,
            "COPY",
            &copy.options,
            &copy.src,
            &copy.dest,
            &["from", "chown", "chmod", "link"],
        )?),
        I::Add(add) => Instruction::Add(copy_spec(
            reader,
            start,
            "ADD",
            &add.options,
            &add.src,
            &add.dest,
            &["chown", "chmod", "link"],
        )?),
        I::Volume(volume) => Instruction::Volume(match &volume.arguments {
            syntax::JsonOrStringArray::Json(list) => {
                list.value.iter().map(|v| v.value.to_string()).collect()
            }
            syntax::JsonOrStringArray::String(list) => {
                list.iter().map(|v| v.value.to_string()).collect()
            }
        }),
        I::Shell(shell) => Instruction::Shell(
            shell
                .arguments
                .iter()
                .map(|s| s.value.to_string())
                .collect(),
        ),
        I::Stopsignal(signal) => Instruction::Stopsignal(signal.arguments.value.to_string()),
        I::Healthcheck(check) => Instruction::Healthcheck(match &check.arguments {
            syntax::HealthcheckArguments::None { .. } => {
                if !check.options.is_empty() {
                    return Err(reader.error(start, "HEALTHCHECK NONE takes no options"));
                }
                None
            }
            syntax::HealthcheckArguments::Cmd { arguments, .. } => {
                let mut healthcheck = Healthcheck {
                    command: command_form(reader, arguments, start)?,
                    interval: None,
                    timeout: None,
                    start_period: None,
                    start_interval: None,
                    retries: None,
                };
                let known = [
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ];
                for (flag, value) in flags(reader, "HEALTHCHECK", &check.options, &known)? {
                    let slot = match flag {
                        "interval" => &mut healthcheck.interval,
                        "timeout" => &mut healthcheck.timeout,
                        "start-period" => &mut healthcheck.start_period,
                        "start-interval" => &mut healthcheck.start_interval,
                        _ => &mut healthcheck.retries,
                    };
                    *slot = value;
                }
                Some(healthcheck)
            }
            _ => return Err(reader.error(start, "a HEALTHCHECK form skiff does not know")),
        }),
        I::Onbuild(onbuild) => {
            let (inner_start, inner_end) = extent(&onbuild.instruction);
            if let I::From(_) | I::Onbuild(_) | I::Maintainer(_) = onbuild.instruction.as_ref() {
                return Err(
                    reader.error(start, "ONBUILD cannot trigger FROM, ONBUILD or MAINTAINER")
                );
            }
            // Checked now, though it runs only in images built from this one.
            read_instruction(reader, &onbuild.instruction, inner_start)?;
            Instruction::Onbuild(reader.joined(inner_start, inner_end))
        }
        I::Maintainer(maintainer) => Instruction::Maintainer(maintainer.name.value.to_string()),
        // FROM starts a stage before this is reached.
        _ => return Err(reader.error(start, "an instruction skiff does not know")),
    })
}

/// Parses `text` and substitutes every word of it that the build would, with a fixed set of
/// variables: what the fuzz target and its in-tree test run on arbitrary input.
pub fn exercise(text: &str) {
    let Ok(file) = parse("Dockerfile", text) else {
        return;
    };
    let vars = |name: &str| name.len().is_multiple_of(2).then(|| name.to_lowercase());
    let expand = |word: &str| {
        let _ = words::expand(word, &vars, file.escape);
    };
    for stage in &file.stages {
        expand(&stage.base);
        for step in &stage.steps {
            match &step.instruction {
                Instruction::Env(pairs) | Instruction::Label(pairs) => {
                    pairs.iter().for_each(|(_, value)| expand(value))
                }
                Instruction::Copy(spec) | Instruction::Add(spec) => {
                    spec.sources.iter().for_each(|s| expand(s));
                    expand(&spec.dest);
                }
                Instruction::Workdir(word) | Instruction::User(word) => expand(word),
                Instruction::Expose(list) | Instruction::Volume(list) => {
                    list.iter().for_each(|w| expand(w))
                }
                _ => {}
            }
        }
    }
}

fn check_name(reader: &Reader<'_>, at: usize, what: &str, name: &str) -> Result<(), ParseError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '=') {
        return Err(reader.error(at, format!("{what}: invalid name {name:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Dockerfile {
        parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        parse("Containerfile", text).unwrap_err().to_string()
    }

    #[test]
    fn stages_steps_and_lines() {
        let file = parse_ok(
            "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM $BASE AS Build\n\
             RUN echo a \\\n  # a comment inside\n  && echo b\n\
             ENV A=1 B=\"two words\"\nENV LEGACY a value\n\
             FROM --platform=linux/amd64 build\nCOPY --from=build --chown=1:1 --chmod=0644 a b /dst/\n\
             CMD [\"sh\", \"-c\", \"echo hi\"]\n",
        );
        assert_eq!(
            file.global_args,
            [ArgDecl {
                name: "BASE".into(),
                default: Some("busybox".into())
            }]
        );
        assert_eq!(file.stages.len(), 2);
        let build = &file.stages[0];
        assert_eq!(
            (build.base.as_str(), build.name.as_deref(), build.line),
            ("$BASE", Some("build"), 3)
        );
        assert_eq!(build.steps[0].line, 4);
        assert_eq!(build.steps[0].text, "RUN echo a   && echo b");
        assert_eq!(
            build.steps[0].instruction,
            Instruction::Run {
                command: CommandForm::Shell("echo a   && echo b".into()),
                heredocs: vec![],
                mounts: vec![],
                network: RunNetwork::Default,
            }
        );
        assert_eq!(
            build.steps[1].instruction,
            Instruction::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ])
        );
        assert_eq!(
            build.steps[2].instruction,
            Instruction::Env(vec![("LEGACY".into(), "a value".into())])
        );
        let last = &file.stages[1];
        assert_eq!(last.platform.as_deref(), Some("linux/amd64"));
        let Instruction::Copy(copy) = &last.steps[0].instruction else {
            panic!("{:?}", last.steps[0]);
        };
        assert_eq!(copy.sources, ["a", "b"]);
        assert_eq!(copy.dest, "/dst/");
        assert_eq!(copy.from.as_deref(), Some("build"));
        assert_eq!(copy.chmod.as_deref(), Some("0644"));
        assert_eq!(
            last.steps[1].instruction,
            Instruction::Cmd(CommandForm::Exec(vec![
                "sh".into(),
                "-c".into(),
                "echo hi".into()
            ]))
        );
    }

    #[test]
    fn heredocs_mounts_and_the_escape_directive() {
        let file = parse_ok(
            "# escape=`\nFROM busybox\nRUN --mount=type=cache,target=/var/cache --network=none <<EOF\necho $HOME\nEOF\n\
             COPY <<'END' /greeting\nhello $NAME\nEND\nRUN echo a `\n b\n",
        );
        let steps = &file.stages[0].steps;
        let Instruction::Run {
            command,
            heredocs,
            mounts,
            network,
        } = &steps[0].instruction
        else {
            panic!("{steps:?}");
        };
        // A document alone on the line is the script; only a `#!` one is a program to mount.
        assert_eq!(*command, CommandForm::Shell("echo $HOME\n".into()));
        assert!(heredocs.is_empty());
        assert_eq!(mounts[0].kind, MountKind::Cache);
        assert_eq!(mounts[0].options["target"], "/var/cache");
        assert_eq!(*network, RunNetwork::None);
        let Instruction::Copy(copy) = &steps[1].instruction else {
            panic!("{steps:?}");
        };
        assert_eq!(copy.heredocs[0].name, "END");
        assert_eq!(copy.heredocs[0].body, "hello $NAME\n");
        assert!(!copy.heredocs[0].expand);
        assert_eq!(copy.dest, "/greeting");
        assert_eq!(file.escape, '`');
        assert_eq!(
            steps[2].instruction,
            Instruction::Run {
                command: CommandForm::Shell("echo a  b".into()),
                heredocs: vec![],
                mounts: vec![],
                network: RunNetwork::Default,
            }
        );
    }

    #[test]
    fn every_other_instruction() {
        let file = parse_ok(
            "FROM busybox\nMAINTAINER someone\nLABEL \"a key\"=v b=\"x y\"\nEXPOSE 80/tcp 53/udp\n\
             WORKDIR /app\nUSER 1000:1000\nADD --chown=1 a.tar /\nVOLUME [\"/data\", \"/logs\"]\n\
             SHELL [\"/bin/bash\", \"-c\"]\nSTOPSIGNAL SIGTERM\nHEALTHCHECK --interval=5s --retries=3 CMD true\n\
             ONBUILD RUN echo child\nARG ONE TWO=2\nENTRYPOINT echo\nHEALTHCHECK NONE\n",
        );
        let kinds: Vec<&Instruction> = file.stages[0]
            .steps
            .iter()
            .map(|s| &s.instruction)
            .collect();
        assert_eq!(kinds[0], &Instruction::Maintainer("someone".into()));
        assert_eq!(
            kinds[1],
            &Instruction::Label(vec![
                ("a key".into(), "v".into()),
                ("b".into(), "\"x y\"".into())
            ])
        );
        assert_eq!(
            kinds[2],
            &Instruction::Expose(vec!["80/tcp".into(), "53/udp".into()])
        );
        assert_eq!(kinds[3], &Instruction::Workdir("/app".into()));
        assert_eq!(kinds[4], &Instruction::User("1000:1000".into()));
        assert!(matches!(kinds[5], Instruction::Add(spec) if spec.chown.as_deref() == Some("1")));
        assert_eq!(
            kinds[6],
            &Instruction::Volume(vec!["/data".into(), "/logs".into()])
        );
        assert_eq!(
            kinds[7],
            &Instruction::Shell(vec!["/bin/bash".into(), "-c".into()])
        );
        assert_eq!(kinds[8], &Instruction::Stopsignal("SIGTERM".into()));
        let Instruction::Healthcheck(Some(check)) = kinds[9] else {
            panic!("{:?}", kinds[9]);
        };
        assert_eq!(check.interval.as_deref(), Some("5s"));
        assert_eq!(check.retries.as_deref(), Some("3"));
        assert_eq!(kinds[10], &Instruction::Onbuild("RUN echo child".into()));
        assert_eq!(
            kinds[11],
            &Instruction::Arg(vec![
                ArgDecl {
                    name: "ONE".into(),
                    default: None
                },
                ArgDecl {
                    name: "TWO".into(),
                    default: Some("2".into())
                }
            ])
        );
        assert_eq!(
            kinds[12],
            &Instruction::Entrypoint(CommandForm::Shell("echo".into()))
        );
        assert_eq!(kinds[13], &Instruction::Healthcheck(None));
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_fault() {
        assert_eq!(
            error("FROM busybox\nFOO bar\n"),
            "Containerfile:2: unknown instruction 'FOO'"
        );
        assert_eq!(
            error("RUN true\nFROM busybox\n"),
            "Containerfile:1: only ARG may come before the first FROM, and there must be a FROM"
        );
        assert!(error("# just a comment\n").contains("FROM"));
        assert_eq!(
            error("FROM busybox\nCOPY --own=1 a /b\n"),
            "Containerfile:2: COPY does not take --own (it takes --from, --chown, --chmod, --link)"
        );
        assert!(error("FROM busybox\nADD --from=x a /b\n")
            .starts_with("Containerfile:2: ADD does not take --from"));
        assert!(error("FROM busybox\nCOPY --chmod=rwx a /b\n").contains("octal"));
        assert!(error("FROM busybox\nRUN --mount=type=nfs,target=/x true\n").contains("type=nfs"));
        assert!(error("FROM busybox\nRUN --mount=type=cache true\n").contains("target"));
        assert_eq!(
            error("FROM busybox\nRUN --mount=type=tmpfs,target=/t,mode=0700 true\n"),
            "Containerfile:2: RUN --mount=type=tmpfs,target=/t,mode=0700: type=tmpfs takes no mode option (it takes target, size)"
        );
        assert!(error("FROM busybox\nRUN --network=bridge true\n").contains("none or host"));
        assert!(error("FROM a AS x\nFROM b AS X\n").starts_with("Containerfile:2: duplicate stage"));
        assert!(error("FROM a AS 9x\n").contains("invalid stage name"));
        assert!(error("FROM busybox\nENV A=1 B\n").contains("NAME=VALUE"));
        assert_eq!(
            error("FROM busybox\nONBUILD FROM x\n"),
            "Containerfile:2: ONBUILD cannot trigger FROM, ONBUILD or MAINTAINER"
        );
        assert!(error("FROM busybox\nRUN <<EOF\necho\n").starts_with("Containerfile:"));
        assert!(error("FROM --pull=always busybox\n").contains("--platform"));
    }

    /// The fuzz target's work over mutations of sample files: a panic fails the test.
    #[test]
    fn mutated_dockerfiles_never_panic() {
        let seeds = [
            "ARG B=x\nFROM $B AS a\nRUN echo ${B:-y} \\\n && true\nCOPY --from=a <<EOF /f\nhi\nEOF\n",
            "# escape=`\nFROM a\nENV A=\"1 2\" B='${C:+d}'\nLABEL \"k\"=v\nONBUILD RUN x\n",
            "FROM a\nHEALTHCHECK --interval=1s CMD [\"true\"]\nSHELL [\"sh\",\"-c\"]\nVOLUME /v\n",
        ];
        let alphabet: Vec<char> = "\\\n\"'${}[]<>#=:-+? \t`aZ0EOFRUNFROMCOPY"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut parsed = 0;
        for round in 0..3000 {
            let mut text: Vec<char> = seeds[round % seeds.len()].chars().collect();
            for _ in 0..1 + next(3) {
                let at = next(text.len() + 1);
                match next(3) {
                    0 => text.insert(at, alphabet[next(alphabet.len())]),
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ if at < text.len() => text[at] = alphabet[next(alphabet.len())],
                    _ => {}
                }
            }
            let text: String = text.into_iter().collect();
            parsed += usize::from(parse("Dockerfile", &text).is_ok());
            exercise(&text);
        }
        // Many mutations still parse, so substitution is exercised too.
        assert!(parsed > 600, "only {parsed} of 3000 parsed");
    }

    #[test]
    fn continuation_rules() {
        assert_eq!(join_continuations("a \\\n b", '\\'), "a  b");
        assert_eq!(join_continuations("a \\  \n\n# c\n b", '\\'), "a  b");
        assert_eq!(join_continuations("a\nb", '\\'), "a\nb");
    }
}
