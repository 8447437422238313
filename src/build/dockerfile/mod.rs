//! Dockerfiles and Containerfiles, read into stages of typed instructions.
//!
//! The text is tokenized by parse-dockerfile (line continuations, the `escape` and `syntax`
//! directives, heredocs, JSON forms); this module gives every instruction its meaning and
//! checks it, so an error names the file, the line and what is wrong, before anything runs.
//! Words keep their quotes and `$` references: substitution happens as the build reaches
//! each step, with the variables in scope there (`words::expand`).
//!
//! `syntax` knows the text's lines (continuations, the escape directive), `heredoc` takes the
//! here-documents out before the tokenizer sees them, `reader` reads a tokenized instruction
//! back in the original text (its words, its flags, errors at its line), and `instructions`
//! gives each instruction its typed form. `parse` here drives them and groups the steps into
//! stages.

mod heredoc;
mod instructions;
mod reader;
mod syntax;

use std::collections::BTreeMap;

use parse_dockerfile as tokens;

use crate::words;
use instructions::{read_instruction, stage_of};
use reader::{extent, Reader};
use syntax::{escape_directive, line_of};

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

/// Parses a Dockerfile; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let mut documents =
        heredoc::find(text, escape_directive(text)).map_err(|(line, message)| ParseError {
            file: file.to_string(),
            line,
            message,
        })?;
    let parser_text = std::mem::take(&mut documents.text);
    let parsed = tokens::parse(&parser_text).map_err(|e| ParseError {
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
        if let tokens::Instruction::From(from) = instruction {
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

#[cfg(test)]
mod tests {
    use super::syntax::join_continuations;
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
