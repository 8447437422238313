//! Each instruction's arguments and flags read into its typed form (`Instruction`, `Stage`),
//! and checked, so that a fault is found before anything runs.

use std::collections::BTreeMap;

use parse_dockerfile as tokens;

use super::reader::{extent, flags, Reader};
use super::syntax::line_of;
use super::{
    ArgDecl, CommandForm, CopySpec, Healthcheck, HereDoc, Instruction, MountKind, ParseError,
    RunMount, RunNetwork, Stage,
};
use crate::words;

pub(super) fn stage_of(
    reader: &Reader<'_>,
    from: &tokens::FromInstruction<'_>,
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
    command: &tokens::Command<'_>,
    at: usize,
) -> Result<CommandForm, ParseError> {
    Ok(match command {
        tokens::Command::Exec(list) => {
            CommandForm::Exec(list.value.iter().map(|s| s.value.to_string()).collect())
        }
        tokens::Command::Shell(shell) => {
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
    options: &[tokens::Flag<'_>],
    sources: &[tokens::Source<'_>],
    dest: &tokens::UnescapedString<'_>,
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
            tokens::Source::Path(path) => spec.sources.push(path.value.to_string()),
            tokens::Source::HereDoc(doc) => spec.heredocs.push(HereDoc {
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

/// An instruction other than FROM in its typed form; `start` is where it begins.
pub(super) fn read_instruction(
    reader: &Reader<'_>,
    instruction: &tokens::Instruction<'_>,
    start: usize,
) -> Result<Instruction, ParseError> {
    use tokens::Instruction as I;
    Ok(match instruction {
        I::Run(run) => run_instruction(reader, run, start)?,
        I::Cmd(cmd) => Instruction::Cmd(command_form(reader, &cmd.arguments, start)?),
        I::Entrypoint(entrypoint) => {
            Instruction::Entrypoint(command_form(reader, &entrypoint.arguments, start)?)
        }
        I::Env(env) => Instruction::Env(env_pairs(reader, &env.arguments, start)?),
        I::Label(label) => Instruction::Label(label_pairs(reader, &label.arguments, start)?),
        I::Arg(arg) => Instruction::Arg(arg_decls(reader, &arg.arguments, start)?),
        I::Expose(expose) => Instruction::Expose(
            expose
                .arguments
                .iter()
                .map(|p| p.value.to_string())
                .collect(),
        ),
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
            tokens::JsonOrStringArray::Json(list) => {
                list.value.iter().map(|v| v.value.to_string()).collect()
            }
            tokens::JsonOrStringArray::String(list) => {
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
        I::Healthcheck(check) => Instruction::Healthcheck(healthcheck(reader, check, start)?),
        I::Onbuild(onbuild) => Instruction::Onbuild(onbuild_trigger(reader, onbuild, start)?),
        I::Maintainer(maintainer) => Instruction::Maintainer(maintainer.name.value.to_string()),
        // FROM starts a stage before this is reached.
        _ => return Err(reader.error(start, "an instruction skiff does not know")),
    })
}

/// RUN: its `--mount`s and `--network`, and its command with its here-documents.
fn run_instruction(
    reader: &Reader<'_>,
    run: &tokens::RunInstruction<'_>,
    start: usize,
) -> Result<Instruction, ParseError> {
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
    Ok(Instruction::Run {
        command,
        heredocs,
        mounts,
        network,
    })
}

/// ENV's name and value pairs (`NAME=VALUE …`, or the old `NAME VALUE`), values unsubstituted.
fn env_pairs(
    reader: &Reader<'_>,
    arguments: &tokens::UnescapedString<'_>,
    start: usize,
) -> Result<Vec<(String, String)>, ParseError> {
    let text = reader.joined(arguments.span.start, arguments.span.end);
    let pairs = words::name_values(&text, reader.escape, true)
        .ok_or_else(|| reader.error(start, "ENV needs NAME=VALUE pairs (or NAME VALUE)"))?;
    for (name, _) in &pairs {
        check_name(reader, start, "ENV", name)?;
    }
    Ok(pairs)
}

/// LABEL's key and value pairs: keys unquoted, values unsubstituted.
fn label_pairs(
    reader: &Reader<'_>,
    arguments: &tokens::UnescapedString<'_>,
    start: usize,
) -> Result<Vec<(String, String)>, ParseError> {
    let escape = reader.escape;
    let text = reader.joined(arguments.span.start, arguments.span.end);
    let pairs = words::name_values(&text, escape, true)
        .ok_or_else(|| reader.error(start, "LABEL needs KEY=VALUE pairs"))?;
    pairs
        .into_iter()
        .map(|(key, value)| {
            // Keys may be quoted too.
            let key = words::expand(&key, &|_: &str| None, escape)
                .map_err(|e| reader.error(start, format!("LABEL: {e}")))?;
            Ok((key, value))
        })
        .collect()
}

/// ARG's declarations: `NAME` or `NAME=DEFAULT`, defaults unsubstituted.
fn arg_decls(
    reader: &Reader<'_>,
    arguments: &tokens::UnescapedString<'_>,
    start: usize,
) -> Result<Vec<ArgDecl>, ParseError> {
    let text = reader.joined(arguments.span.start, arguments.span.end);
    let mut decls = Vec::new();
    for word in words::split_words(&text, reader.escape) {
        let (name, default) = match word.split_once('=') {
            Some((name, default)) => (name.to_string(), Some(default.to_string())),
            None => (word, None),
        };
        check_name(reader, start, "ARG", &name)?;
        decls.push(ArgDecl { name, default });
    }
    Ok(decls)
}

/// HEALTHCHECK: None for `HEALTHCHECK NONE`, else the command and its timing flags as written.
fn healthcheck(
    reader: &Reader<'_>,
    check: &tokens::HealthcheckInstruction<'_>,
    start: usize,
) -> Result<Option<Healthcheck>, ParseError> {
    match &check.arguments {
        tokens::HealthcheckArguments::None { .. } => {
            if !check.options.is_empty() {
                return Err(reader.error(start, "HEALTHCHECK NONE takes no options"));
            }
            Ok(None)
        }
        tokens::HealthcheckArguments::Cmd { arguments, .. } => {
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
            Ok(Some(healthcheck))
        }
        _ => Err(reader.error(start, "a HEALTHCHECK form skiff does not know")),
    }
}

/// ONBUILD's trigger as written, checked now though it runs only in images built from this one.
fn onbuild_trigger(
    reader: &Reader<'_>,
    onbuild: &tokens::OnbuildInstruction<'_>,
    start: usize,
) -> Result<String, ParseError> {
    use tokens::Instruction as I;
    let (inner_start, inner_end) = extent(&onbuild.instruction);
    if let I::From(_) | I::Onbuild(_) | I::Maintainer(_) = onbuild.instruction.as_ref() {
        return Err(reader.error(start, "ONBUILD cannot trigger FROM, ONBUILD or MAINTAINER"));
    }
    read_instruction(reader, &onbuild.instruction, inner_start)?;
    Ok(reader.joined(inner_start, inner_end))
}

fn check_name(reader: &Reader<'_>, at: usize, what: &str, name: &str) -> Result<(), ParseError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '=') {
        return Err(reader.error(at, format!("{what}: invalid name {name:?}")));
    }
    Ok(())
}
