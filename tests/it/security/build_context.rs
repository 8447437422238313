//! Finding 2: a symbolic link in the build context must not carry the host's files into an
//! image (COPY, ADD, wildcards, RUN --mount=type=bind, .dockerignore, the Containerfile itself);
//! finding 9 (part): a killed build must not leave its step containers behind.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::common::{skiff_test, until, TestEnv};

const SECRET: &str = "HOST-SECRET-7d1f3a";

/// A host directory outside the context holding a 0600 secret the user can read, and a context
/// whose links lead out to it (absolute `homelink`, relative `up -> ../..`) or stay inside.
fn hostile_context(env: &TestEnv) -> (String, String) {
    let outside = env.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(outside.join("ignore"), "keep.txt\n").unwrap();
    std::fs::write(
        outside.join("Containerfile"),
        "FROM scratch\nRUN echo read-from-outside\n",
    )
    .unwrap();
    env.give(&outside);
    let dir = env.build_context(
        "context",
        &[
            ("sub/file", "inside\n"),
            ("sub/secret", "harmless\n"),
            ("keep.txt", "kept\n"),
            ("private/data", "IGNORED-CONTENT\n"),
            (".dockerignore", "private\n"),
        ],
    );
    let context = Path::new(&dir);
    symlink(&outside, context.join("homelink")).unwrap();
    symlink("../..", context.join("up")).unwrap();
    symlink("sub/file", context.join("inside")).unwrap();
    // Absolute, but meant inside the context: resolved with the context as `/`.
    symlink("/sub/file", context.join("rooted")).unwrap();
    symlink("private", context.join("alias")).unwrap();
    // Inside a copied directory: copied as a link, never followed.
    symlink(&secret, context.join("sub/hostlink")).unwrap();
    env.give(context);
    (dir, outside.display().to_string())
}

/// Builds `FROM image` + `step` in `dir` (its Containerfile replaced); each case either fails
/// with an error naming `source`, or gives an image without the secret under /t.
fn check_step(env: &TestEnv, dir: &str, image: &str, step: &str, source: &str) {
    std::fs::write(
        Path::new(dir).join("Containerfile"),
        format!("FROM {image}\n{step}\n"),
    )
    .unwrap();
    env.give(&Path::new(dir).join("Containerfile"));
    let out = env.skiff(&["build", "-q", "-t", "probe", dir]).output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{step}: the host secret reached the build:\n{stdout}\n{stderr}"
    );
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(125), "{step}: {stderr}");
        assert!(
            stderr.starts_with("Error: ") && stderr.contains(source),
            "{step}: the error does not name {source}: {stderr}"
        );
        return;
    }
    let (found, _) = env
        .skiff(&[
            "run",
            "--rm",
            "probe",
            "sh",
            "-c",
            "grep -r -e HOST-SECRET -e IGNORED-CONTENT /t /m 2>/dev/null; true",
        ])
        .assert_exit(0);
    assert_eq!(found, "", "{step}: the image holds a host file");
}

#[test]
fn context_symlinks_resolve_inside_the_context() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let (dir, outside) = hostile_context(&env);
        // `up` is the directory the test's directory is in.
        let outside_name = Path::new(&outside)
            .strip_prefix(env.dir.parent().unwrap())
            .unwrap()
            .display()
            .to_string();
        let through_up = format!("up/{outside_name}/secret");
        let cases = [
            ("COPY homelink/secret /t/x".to_string(), "homelink/secret"),
            (format!("COPY {through_up} /t/y"), through_up.as_str()),
            ("COPY homelink/ /t/d/".to_string(), "homelink"),
            ("COPY homelink /t/d/".to_string(), "homelink"),
            ("ADD homelink/secret /t/a".to_string(), "homelink/secret"),
            ("COPY homelink/* /t/w/".to_string(), "homelink/*"),
            ("COPY h*/secret /t/w/".to_string(), "h*/secret"),
            ("COPY alias/ /t/i/".to_string(), "alias"),
            (
                "RUN --mount=type=bind,source=homelink,target=/m cat /m/secret".to_string(),
                "homelink",
            ),
            // The context's root: the host path through it is not there (the step goes on).
            (
                format!(
                    "RUN --mount=type=bind,source=up,target=/m cat /m/{outside_name}/secret; true"
                ),
                "up",
            ),
            // A stage's links lead inside the stage, never to the host.
            (
                format!(
                    "RUN ln -s {outside} /link && mkdir /dir && ln -s {outside} /dir/link\n\
                     FROM {image}\n\
                     RUN --mount=type=bind,from=0,source=/link,target=/m cat /m/secret"
                ),
                "/link",
            ),
            (
                format!(
                    "RUN mkdir /dir && ln -s {outside} /dir/link\nFROM {image}\n\
                     COPY --from=0 /dir/*/secret /t/"
                ),
                "secret",
            ),
        ];
        for (step, source) in &cases {
            check_step(&env, &dir, image, step, source);
        }

        // Links that stay inside the context work, relative or absolute (the context is `/`);
        // links inside a copied directory are copied as links.
        std::fs::write(
            Path::new(&dir).join("Containerfile"),
            format!(
                "FROM {image}\nCOPY inside /t/inside\nCOPY rooted /t/rooted\nCOPY sub/ /t/sub/\n\
                 RUN --mount=type=bind,source=inside,target=/mf cat /mf > /t/mounted\n"
            ),
        )
        .unwrap();
        env.give(&Path::new(&dir).join("Containerfile"));
        env.skiff(&["build", "-q", "-t", "fine", &dir]).stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "fine",
                "sh",
                "-c",
                "cat /t/inside /t/rooted /t/mounted; readlink /t/sub/hostlink",
            ])
            .stdout();
        assert_eq!(
            out,
            format!("inside\ninside\ninside\n{outside}/secret\n"),
            "links inside the context"
        );
    }
}

#[test]
fn the_containerfile_and_ignore_file_are_not_read_through_links_out_of_the_context() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let (dir, outside) = hostile_context(&env);
        let context = Path::new(&dir);
        // A Containerfile that is a link out of the context is not read.
        symlink(
            format!("{outside}/Containerfile"),
            context.join("Containerfile"),
        )
        .unwrap();
        let out = env.skiff(&["build", &dir]).output();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{stdout}{stderr}");
        assert!(!stdout.contains("read-from-outside"), "{stdout}");
        assert!(stderr.contains("Containerfile"), "{stderr}");
        // One that stays inside is followed; an ignore file that leads out is not read (the
        // outside one would leave keep.txt out).
        std::fs::remove_file(context.join("Containerfile")).unwrap();
        std::fs::write(
            context.join("sub/Containerfile.real"),
            format!("FROM {image}\nCOPY keep.txt /t/keep\n"),
        )
        .unwrap();
        symlink("sub/Containerfile.real", context.join("Containerfile")).unwrap();
        std::fs::remove_file(context.join(".dockerignore")).unwrap();
        symlink(format!("{outside}/ignore"), context.join(".dockerignore")).unwrap();
        env.give(context);
        env.skiff(&["build", "-q", "-t", "kept", &dir]).stdout();
        assert_eq!(
            env.skiff(&["run", "--rm", "kept", "cat", "/t/keep"])
                .stdout(),
            "kept\n"
        );
    }
}

/// Whether a process of the host runs `sleep SECONDS`.
fn sleeper_runs(seconds: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|cmdline| cmdline == format!("sleep\0{seconds}\0").as_bytes())
    })
}

/// Starts a build whose RUN step sleeps `seconds`, and kills skiff's whole process group with
/// SIGKILL once the step runs; the step's container is then hidden from `ps -a`.
fn kill_a_build(env: &TestEnv, image: &str, seconds: &str) {
    let marks = env.path("marks");
    let _ = std::fs::remove_dir_all(&marks);
    std::fs::create_dir_all(&marks).unwrap();
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o777)).unwrap();
    env.give(&marks);
    let dir = env.build_context(
        "context",
        &[(
            "Containerfile",
            &format!("FROM {image}\nRUN touch /marks/started && sleep {seconds}\n"),
        )],
    );
    let volume = format!("{}:/marks", marks.display());
    let build = env
        .skiff(&["build", "-v", &volume, "-t", "killed", &dir])
        .spawn();
    until("the RUN step to start", || marks.join("started").exists());
    // While the build runs, its step container is there (with --external) and prune keeps it.
    assert_eq!(env.skiff(&["container", "prune", "-f"]).stdout(), "");
    let listed = env.skiff(&["ps", "-a", "-q", "--external"]).stdout();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let group = Pid::from_raw(i32::try_from(build.id()).unwrap());
    killpg(group, Signal::SIGKILL).unwrap();
    let _ = crate::common::finish(build, "the killed build");
    assert_eq!(
        env.skiff(&["ps", "-a", "-q"]).stdout(),
        "",
        "a killed build's step container is listed"
    );
}

fn containers_in_store(env: &TestEnv) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(env.store_root().join("containers"))
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

#[test]
fn a_killed_build_leaves_no_step_container() {
    let test = skiff_test!();
    for (number, env) in test.each_env().into_iter().enumerate() {
        let image = env.load_testbox();
        let seconds = format!("{}", 6100 + number);
        // The next prune finds the build gone: its container, processes and files go.
        kill_a_build(&env, image, &seconds);
        env.skiff(&["container", "prune", "-f"]).stdout();
        until("the step's process to end", || !sleeper_runs(&seconds));
        assert_eq!(containers_in_store(&env), Vec::<std::ffi::OsString>::new());
        // So does the next build.
        kill_a_build(&env, image, &seconds);
        let dir = env.build_context("next", &[("Containerfile", &format!("FROM {image}\n"))]);
        env.skiff(&["build", "-q", &dir]).stdout();
        until("the step's process to end", || !sleeper_runs(&seconds));
        assert_eq!(containers_in_store(&env), Vec::<std::ffi::OsString>::new());
        // And an image it used can be removed without naming a container `ps -a` hides.
        kill_a_build(&env, image, &seconds);
        env.skiff(&["rmi", image]).stdout();
        assert_eq!(containers_in_store(&env), Vec::<std::ffi::OsString>::new());
    }
}
