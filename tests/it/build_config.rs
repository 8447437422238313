//! `build`: what each Dockerfile instruction leaves in the image config and its history, how
//! SHELL, CMD and ENTRYPOINT become the argv a container runs (Docker's table "Understand how
//! CMD and ENTRYPOINT interact"), and what WORKDIR, USER, ENV and ARG give later steps.

use serde_json::{json, Value};

use crate::common::{skiff_test, TestEnv};

/// Builds stage `target` of the Dockerfile in `dir` as `tag`, with `image` as `ARG BASE`.
fn build_target(env: &TestEnv, dir: &str, image: &str, target: &str, tag: &str) {
    let base = format!("BASE={image}");
    env.skiff(&[
        "build",
        "-q",
        "--build-arg",
        &base,
        "--target",
        target,
        "-t",
        tag,
        dir,
    ])
    .stdout();
}

/// `image inspect`'s one object for `image`.
fn inspect(env: &TestEnv, image: &str) -> Value {
    let out = env.skiff(&["image", "inspect", image]).stdout();
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{out}");
    all[0].clone()
}

/// The stdout of `skiff run --rm` with these arguments.
fn run(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    env.skiff(&all).stdout()
}

const CONFIGURED: &str = "ARG BASE
FROM $BASE AS configured
MAINTAINER Jane Doe <jane@example.com>
ENV TEAM=build
LABEL org.example.team=\"$TEAM team\" version=1.2
LABEL version=1.3
EXPOSE 8080 53/udp
VOLUME [\"/data\", \"/cache\"]
VOLUME /logs
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=4 CMD [\"test\", \"-e\", \"/healthy\"]
FROM configured AS unchecked
HEALTHCHECK NONE
";

#[test]
fn metadata_instructions_land_in_the_config_and_the_history() {
    let test = skiff_test!();
    for env in test.each_env() {
        let base = env.load_testbox();
        let dir = env.build_context("context", &[("Dockerfile", CONFIGURED)]);
        build_target(&env, &dir, base, "configured", "configured");
        build_target(&env, &dir, base, "unchecked", "unchecked");

        let image = inspect(&env, "configured");
        let config = &image["Config"];
        assert_eq!(image["Author"], "Jane Doe <jane@example.com>", "{image}");
        let labels = json!({"org.example.team": "build team", "version": "1.3"});
        assert_eq!(config["Labels"], labels, "{config}");
        assert_eq!(image["Labels"], labels, "{image}");
        assert_eq!(
            config["ExposedPorts"],
            json!({"8080/tcp": {}, "53/udp": {}}),
            "{config}"
        );
        assert_eq!(
            config["Volumes"],
            json!({"/data": {}, "/cache": {}, "/logs": {}}),
            "{config}"
        );
        assert_eq!(config["StopSignal"], "SIGUSR1", "{config}");
        // Durations in nanoseconds, as Docker keeps them.
        assert_eq!(
            config["Healthcheck"],
            json!({
                "Test": ["CMD", "test", "-e", "/healthy"],
                "Interval": 30_000_000_000u64,
                "Timeout": 5_000_000_000u64,
                "StartPeriod": 90_000_000_000u64,
                "Retries": 4,
            }),
            "{config}"
        );
        // What the base image set is kept.
        assert_eq!(
            config["Cmd"],
            json!(["sh", "-c", "echo default command"]),
            "{config}"
        );

        // One history entry per instruction, after the base image's two, none with a layer.
        let history = image["History"].as_array().unwrap();
        let expected: [&[&str]; 9] = [
            &["MAINTAINER", "Jane Doe"],
            &["ENV", "TEAM=build"],
            &["LABEL", "org.example.team", "build team"],
            &["LABEL", "version=1.3"],
            &["EXPOSE", "8080", "53/udp"],
            &["VOLUME", "/data", "/cache"],
            &["VOLUME", "/logs"],
            &["STOPSIGNAL", "SIGUSR1"],
            &["HEALTHCHECK", "--interval=30s", "/healthy"],
        ];
        assert_eq!(history.len(), 2 + expected.len(), "{image:#}");
        for (entry, fragments) in history[2..].iter().zip(expected) {
            let created_by = entry["created_by"].as_str().unwrap_or_default();
            for fragment in fragments {
                assert!(
                    created_by.contains(fragment),
                    "{fragment:?} not in {created_by:?}"
                );
            }
            assert_eq!(entry["empty_layer"], true, "{entry}");
        }

        // HEALTHCHECK NONE turns off the inherited check; the rest is inherited.
        let image = inspect(&env, "unchecked");
        let config = &image["Config"];
        assert_eq!(config["Healthcheck"], json!({"Test": ["NONE"]}), "{config}");
        assert_eq!(config["StopSignal"], "SIGUSR1", "{config}");
        assert_eq!(image["Author"], "Jane Doe <jane@example.com>", "{image}");
        let history = env
            .skiff(&[
                "history",
                "--no-trunc",
                "--format",
                "{{.CreatedBy}}",
                "unchecked",
            ])
            .stdout();
        let lines: Vec<&str> = history.lines().collect();
        assert_eq!(lines.len(), 12, "{history}");
        assert!(lines[0].contains("HEALTHCHECK NONE"), "{history}");
        assert!(lines[1].contains("HEALTHCHECK --interval=30s"), "{history}");
        assert!(lines[9].contains("MAINTAINER Jane Doe"), "{history}");
    }
}

#[test]
fn onbuild_triggers_run_first_in_a_build_from_the_image() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let parent = format!(
            "FROM {image}\nONBUILD RUN echo triggered > /onbuild\nONBUILD ENV TRIGGERED=yes\n"
        );
        let dir = env.build_context("parent", &[("Dockerfile", &parent)]);
        env.skiff(&["build", "-q", "-t", "parent", &dir]).stdout();
        let declared = inspect(&env, "parent");
        assert_eq!(
            declared["Config"]["OnBuild"],
            json!(["RUN echo triggered > /onbuild", "ENV TRIGGERED=yes"]),
            "{declared}"
        );
        // Not run in the image that declares them.
        let (_, stderr) = env
            .skiff(&["run", "--rm", "parent", "cat", "/onbuild"])
            .assert_exit(1);
        assert!(stderr.contains("No such file"), "{stderr}");

        // As Docker: the triggers run right after FROM, before the child's own steps, and are
        // not handed on to the child's children.
        let child =
            "FROM parent\nRUN cat /onbuild > /child-saw && echo \"$TRIGGERED\" >> /child-saw\n";
        let dir = env.build_context("child", &[("Dockerfile", child)]);
        env.skiff(&["build", "-q", "-t", "child", &dir]).stdout();
        assert_eq!(
            run(&env, &["child", "cat", "/child-saw"]),
            "triggered\nyes\n"
        );
        let config = &inspect(&env, "child")["Config"];
        assert!(
            config["OnBuild"].is_null() || config["OnBuild"] == json!([]),
            "{config}"
        );
        // One history entry for each ONBUILD of the parent, after the base image's two.
        let history = declared["History"].as_array().unwrap();
        assert_eq!(history.len(), 4, "{declared:#}");
        for (entry, trigger) in history[2..]
            .iter()
            .zip(["RUN echo triggered", "ENV TRIGGERED"])
        {
            let created_by = entry["created_by"].as_str().unwrap_or_default();
            assert!(created_by.contains("ONBUILD"), "{created_by}");
            assert!(created_by.contains(trigger), "{created_by}");
        }
    }
}

/// A shell that leaves a trace: its arguments appended to /tmp/myshell.log, a line on stdout.
const MYSHELL: &str = "#!/bin/sh
echo \"$*\" >> /tmp/myshell.log
echo '[myshell]'
exec /bin/sh \"$@\"
";

const SHELLED: &str = "ARG BASE
FROM $BASE
COPY --chmod=755 myshell /bin/myshell
SHELL [\"/bin/myshell\", \"-c\"]
RUN echo ran > /ran
CMD echo from cmd
HEALTHCHECK CMD test -e /ran
SHELL [\"/bin/sh\", \"-c\"]
RUN echo plain > /plain
";

#[test]
fn shell_sets_what_runs_the_shell_forms_of_run_and_cmd() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = env.build_context("context", &[("Dockerfile", SHELLED), ("myshell", MYSHELL)]);
        let base = format!("BASE={image}");
        let out = env
            .skiff(&["build", "--build-arg", &base, "-t", "shelled", &dir])
            .stdout();
        assert_eq!(out.matches("[myshell]").count(), 1, "{out}");

        // The first RUN went through /bin/myshell, the one after SHELL changed back did not.
        assert_eq!(
            run(
                &env,
                &["shelled", "cat", "/tmp/myshell.log", "/ran", "/plain"]
            ),
            "-c echo ran > /ran\nran\nplain\n"
        );
        let image = inspect(&env, "shelled");
        let config = &image["Config"];
        assert_eq!(config["Shell"], json!(["/bin/sh", "-c"]), "{config}");
        // CMD took the shell in force when it was written; a health check's shell form is
        // kept as CMD-SHELL, for the runtime's shell.
        assert_eq!(
            config["Cmd"],
            json!(["/bin/myshell", "-c", "echo from cmd"]),
            "{config}"
        );
        assert_eq!(
            config["Healthcheck"]["Test"],
            json!(["CMD-SHELL", "test -e /ran"]),
            "{config}"
        );
        assert_eq!(run(&env, &["shelled"]), "[myshell]\nfrom cmd\n");
        // COPY and two RUNs on the base's two layers, each with its history entry.
        let layers = image["RootFS"]["Layers"].as_array().unwrap().len();
        assert_eq!(layers, 5, "{image:#}");
        let history = image["History"].as_array().unwrap();
        let with_layer = history.iter().filter(|h| h["empty_layer"] != true).count();
        assert_eq!(with_layer, layers, "{image:#}");
        let created_by: Vec<&str> = history
            .iter()
            .map(|h| h["created_by"].as_str().unwrap_or_default())
            .collect();
        assert!(
            created_by
                .iter()
                .any(|c| c.contains("/bin/myshell -c echo ran > /ran")),
            "{created_by:?}"
        );
        assert!(
            created_by
                .iter()
                .any(|c| c.contains("SHELL") && c.contains("/bin/myshell")),
            "{created_by:?}"
        );
    }
}

/// One stage for each cell of Docker's table of CMD and ENTRYPOINT forms, and two for the rule
/// that an ENTRYPOINT drops the CMD it inherits but not one set before it in its own stage.
const COMMANDS: &str = "ARG BASE
FROM $BASE AS cmd-exec
CMD [\"echo\", \"cmd\", \"exec\"]
FROM $BASE AS cmd-shell
CMD echo cmd shell
FROM $BASE AS entry-exec
ENTRYPOINT [\"echo\", \"entry\", \"exec\"]
FROM $BASE AS entry-shell
ENTRYPOINT echo entry shell
FROM $BASE AS entry-exec-cmd-exec
ENTRYPOINT [\"echo\", \"entry\", \"exec\"]
CMD [\"cmd\", \"exec\"]
FROM $BASE AS entry-exec-cmd-shell
ENTRYPOINT [\"echo\", \"entry\", \"exec\"]
CMD echo cmd shell
FROM $BASE AS entry-shell-cmd-exec
ENTRYPOINT echo entry shell
CMD [\"cmd\", \"exec\"]
FROM $BASE AS entry-shell-cmd-shell
ENTRYPOINT echo entry shell
CMD echo cmd shell
FROM entry-exec-cmd-exec AS child-entry
ENTRYPOINT [\"echo\", \"child\"]
FROM $BASE AS cmd-then-entry
CMD [\"cmd\", \"first\"]
ENTRYPOINT [\"echo\", \"entry\"]
";

#[test]
fn cmd_and_entrypoint_combine_as_in_dockers_table() {
    let test = skiff_test!();
    for env in test.each_env() {
        let base = env.load_testbox();
        let dir = env.build_context("context", &[("Dockerfile", COMMANDS)]);
        let stages = [
            "cmd-exec",
            "cmd-shell",
            "entry-exec",
            "entry-shell",
            "entry-exec-cmd-exec",
            "entry-exec-cmd-shell",
            "entry-shell-cmd-exec",
            "entry-shell-cmd-shell",
            "child-entry",
            "cmd-then-entry",
        ];
        for stage in stages {
            build_target(&env, &dir, base, stage, stage);
        }
        let config = |image: &str| inspect(&env, image)["Config"].clone();
        let sh = |text: &str| json!(["/bin/sh", "-c", text]);

        // No ENTRYPOINT: CMD runs, in either form; run's arguments replace it.
        let c = config("cmd-exec");
        assert_eq!(c["Cmd"], json!(["echo", "cmd", "exec"]), "{c}");
        assert!(c["Entrypoint"].is_null(), "{c}");
        assert_eq!(run(&env, &["cmd-exec"]), "cmd exec\n");
        assert_eq!(run(&env, &["cmd-exec", "echo", "replaced"]), "replaced\n");
        let c = config("cmd-shell");
        assert_eq!(c["Cmd"], sh("echo cmd shell"), "{c}");
        assert_eq!(run(&env, &["cmd-shell"]), "cmd shell\n");
        assert_eq!(run(&env, &["cmd-shell", "echo", "replaced"]), "replaced\n");

        // ENTRYPOINT alone: the base image's CMD is dropped, not passed to it.
        let c = config("entry-exec");
        assert_eq!(c["Entrypoint"], json!(["echo", "entry", "exec"]), "{c}");
        assert!(c["Cmd"].is_null(), "{c}");
        assert_eq!(run(&env, &["entry-exec"]), "entry exec\n");
        assert_eq!(run(&env, &["entry-exec", "a", "b"]), "entry exec a b\n");
        let c = config("entry-shell");
        assert_eq!(c["Entrypoint"], sh("echo entry shell"), "{c}");
        assert!(c["Cmd"].is_null(), "{c}");
        assert_eq!(run(&env, &["entry-shell"]), "entry shell\n");
        // The shell form ignores run's arguments (they become the shell's $0 and $1).
        assert_eq!(run(&env, &["entry-shell", "a", "b"]), "entry shell\n");

        // Exec ENTRYPOINT: CMD, in its form, is its arguments; run's arguments replace CMD.
        let c = config("entry-exec-cmd-exec");
        assert_eq!(c["Entrypoint"], json!(["echo", "entry", "exec"]), "{c}");
        assert_eq!(c["Cmd"], json!(["cmd", "exec"]), "{c}");
        assert_eq!(run(&env, &["entry-exec-cmd-exec"]), "entry exec cmd exec\n");
        assert_eq!(
            run(&env, &["entry-exec-cmd-exec", "x", "y"]),
            "entry exec x y\n"
        );
        // --entrypoint replaces ENTRYPOINT and drops the image's CMD.
        assert_eq!(
            run(&env, &["--entrypoint", "echo", "entry-exec-cmd-exec"]),
            "\n"
        );
        assert_eq!(
            run(
                &env,
                &[
                    "--entrypoint",
                    "echo",
                    "entry-exec-cmd-exec",
                    "only",
                    "args"
                ]
            ),
            "only args\n"
        );
        let c = config("entry-exec-cmd-shell");
        assert_eq!(c["Cmd"], sh("echo cmd shell"), "{c}");
        assert_eq!(
            run(&env, &["entry-exec-cmd-shell"]),
            "entry exec /bin/sh -c echo cmd shell\n"
        );

        // Shell ENTRYPOINT: CMD and run's arguments are ignored.
        for image in ["entry-shell-cmd-exec", "entry-shell-cmd-shell"] {
            let c = config(image);
            assert_eq!(c["Entrypoint"], sh("echo entry shell"), "{image}: {c}");
            assert_eq!(run(&env, &[image]), "entry shell\n", "{image}");
            assert_eq!(run(&env, &[image, "a", "b"]), "entry shell\n", "{image}");
            assert_eq!(
                run(&env, &["--entrypoint", "echo", image, "replaced"]),
                "replaced\n",
                "{image}"
            );
        }
        assert_eq!(
            config("entry-shell-cmd-exec")["Cmd"],
            json!(["cmd", "exec"])
        );
        assert_eq!(config("entry-shell-cmd-shell")["Cmd"], sh("echo cmd shell"));

        // A stage from a stage: the ENTRYPOINT drops the CMD its parent set.
        let c = config("child-entry");
        assert_eq!(c["Entrypoint"], json!(["echo", "child"]), "{c}");
        assert!(c["Cmd"].is_null(), "{c}");
        assert_eq!(run(&env, &["child-entry"]), "child\n");

        // Docker drops only an inherited CMD: one set earlier in the same stage stays
        // ("If CMD is defined from the base image, setting ENTRYPOINT will reset CMD").
        let c = config("cmd-then-entry");
        assert_eq!(c["Entrypoint"], json!(["echo", "entry"]), "{c}");
        assert_eq!(c["Cmd"], json!(["cmd", "first"]), "{c}");
        assert_eq!(run(&env, &["cmd-then-entry"]), "entry cmd first\n");
    }
}

const SCOPES: &str = "ARG BASE
ARG GLOBAL=global-value
ARG SEEN=seen-global
FROM $BASE AS first
ARG SEEN
ARG STAGE=stage-value
ENV FROM_ENV=env-value DERIVED=${STAGE}-derived
RUN echo \"global=[${GLOBAL:-unset}] seen=[${SEEN:-unset}] stage=[$STAGE] env=[$FROM_ENV] derived=[$DERIVED]\" > /first-vars
WORKDIR /work
WORKDIR sub/dir
RUN pwd > /first-pwd
USER tester
RUN id -u > /tmp/uid
FROM first
RUN echo \"seen=[${SEEN:-unset}] stage=[${STAGE:-unset}] env=[$FROM_ENV]\" > /tmp/second-vars
WORKDIR /made/by/workdir
";

#[test]
fn workdir_user_env_and_arg_reach_later_steps_in_their_scope() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = env.build_context("context", &[("Dockerfile", SCOPES)]);
        let base = format!("BASE={image}");
        // GLOBAL is given, but no stage declares it: no step sees it.
        env.skiff(&[
            "build",
            "-q",
            "--build-arg",
            &base,
            "--build-arg",
            "GLOBAL=from-cli",
            "-t",
            "scoped",
            &dir,
        ])
        .stdout();

        let config = inspect(&env, "scoped")["Config"].clone();
        assert_eq!(config["WorkingDir"], "/made/by/workdir", "{config}");
        assert_eq!(config["User"], "tester", "{config}");
        let envs: Vec<&str> = config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(envs.contains(&"FROM_ENV=env-value"), "{envs:?}");
        assert!(envs.contains(&"DERIVED=stage-value-derived"), "{envs:?}");
        // Build arguments are not kept in the image.
        assert!(
            !envs
                .iter()
                .any(|e| e.starts_with("STAGE=") || e.starts_with("SEEN=")),
            "{envs:?}"
        );

        let script = "cat /first-vars /first-pwd /tmp/uid /tmp/second-vars; \
            stat -c %u /tmp/uid; echo \"${STAGE:-unset} ${SEEN:-unset} $FROM_ENV\"; id -u";
        let out = run(&env, &["-w", "/", "scoped", "sh", "-c", script]);
        assert_eq!(
            out,
            "global=[unset] seen=[seen-global] stage=[stage-value] env=[env-value] \
             derived=[stage-value-derived]\n\
             /work/sub/dir\n\
             1000\n\
             seen=[unset] stage=[unset] env=[env-value]\n\
             1000\n\
             unset unset env-value\n\
             1000\n"
        );
        // As Docker, WORKDIR makes its directory in the image: it is there under -w /, without
        // a later RUN or the runtime making it for the container's working directory.
        env.skiff(&[
            "run",
            "--rm",
            "-w",
            "/",
            "scoped",
            "test",
            "-d",
            "/made/by/workdir",
        ])
        .assert_exit(0);
        assert_eq!(run(&env, &["scoped", "pwd"]), "/made/by/workdir\n");
    }
}
