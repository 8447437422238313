//! `build`: Dockerfiles run into images, each step cached.

use crate::common::{skiff_test, TestEnv};

/// A build context directory with these files, given to the user skiff runs as.
fn context(env: &TestEnv, files: &[(&str, &str)]) -> String {
    env.build_context("context", files)
}

const APP: &str = "ARG BASE
FROM $BASE
ARG GREETING=hello
ENV APP=/app NAME=\"two words\"
WORKDIR $APP
COPY src/ ./
COPY src/one.txt /etc/renamed
RUN echo \"$GREETING from $(pwd)\" > made.txt && test ! -e /etc/hosts.saved
USER 1000
ENTRYPOINT [\"cat\"]
CMD [\"made.txt\"]
";

#[test]
fn a_dockerfile_builds_and_rebuilds_from_its_cache() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = context(
            &env,
            &[
                ("Dockerfile", APP),
                ("src/one.txt", "one\n"),
                ("src/sub/two.txt", "two\n"),
            ],
        );
        let base = format!("BASE={image}");
        let build = |extra: &[&str]| {
            let mut args = vec!["build", "-t", "app:v1", "--build-arg", &base];
            args.extend_from_slice(extra);
            args.push(&dir);
            env.skiff(&args).stdout()
        };
        let first = build(&[]);
        let id = first.lines().last().unwrap().to_string();
        assert_eq!(id.len(), 64, "{first}");
        assert!(first.contains("STEP 1/10: FROM $BASE"), "{first}");
        assert!(!first.contains("Using cache"), "{first}");
        // CMD is ENTRYPOINT's argument; arguments to run replace CMD only.
        assert_eq!(
            env.skiff(&["run", "--rm", "app:v1"]).stdout(),
            "hello from /app\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "app:v1", "/etc/renamed", "sub/two.txt"])
                .stdout(),
            "one\ntwo\n"
        );
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--entrypoint",
                "sh",
                "app:v1",
                "-c",
                "id -u; echo $NAME; pwd",
            ])
            .stdout();
        assert_eq!(out, "1000\ntwo words\n/app\n");

        // Unchanged: every step from the cache, and the same image.
        let second = build(&[]);
        assert_eq!(second.lines().last().unwrap(), id, "{second}");
        assert_eq!(second.matches("Using cache").count(), 8, "{second}");

        // One copied file edited: the steps before its COPY stay cached, it and later rerun.
        std::fs::write(env.path("context/src/sub/two.txt"), "edited\n").unwrap();
        let third = build(&[]);
        assert_ne!(third.lines().last().unwrap(), id);
        assert_eq!(third.matches("Using cache").count(), 2, "{third}");
        assert_eq!(
            env.skiff(&["run", "--rm", "app:v1", "sub/two.txt"])
                .stdout(),
            "edited\n"
        );
        // A build argument that changes reruns the steps that see it.
        let fourth = build(&["--build-arg", "GREETING=hi", "-q"]);
        assert_eq!(fourth.lines().count(), 1, "{fourth}");
        assert_eq!(
            env.skiff(&["run", "--rm", "app:v1"]).stdout(),
            "hi from /app\n"
        );
        // Intermediate images are the cache, listed with -a only; `images` shows app:v1, the
        // test image, and the two earlier results, <none> since the name moved on.
        let listed = env.skiff(&["images", "-q"]).stdout();
        assert_eq!(listed.lines().count(), 4, "{listed}");
        let all = env.skiff(&["images", "-aq"]).stdout().lines().count();
        assert!(all > 2, "intermediate images missing from images -a");
        // image prune: not those younger than an hour with until=1h; then all of them.
        let kept = env
            .skiff(&["image", "prune", "-f", "--filter", "until=1h"])
            .stdout();
        assert_eq!(kept, "");
        let pruned = env.skiff(&["image", "prune", "-f"]).stdout();
        assert_eq!(pruned.lines().count(), all - 2, "{pruned}");
        assert_eq!(env.skiff(&["images", "-aq"]).stdout().lines().count(), 2);
        // The cache went with them: every step runs again.
        let rebuilt = build(&["--build-arg", "GREETING=hi"]);
        assert!(!rebuilt.contains("Using cache"), "{rebuilt}");
    }
}

#[test]
fn a_failing_run_stops_the_build_with_its_code_and_leaves_nothing() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let dir = context(
        &env,
        &[(
            "Dockerfile",
            &format!("FROM {image}\nRUN echo partial > /x && exit 7\nCMD true\n"),
        )],
    );
    let (stdout, stderr) = env.skiff(&["build", "-t", "broken", &dir]).assert_exit(7);
    assert!(stdout.contains("STEP 2/3"), "{stdout}");
    assert!(stderr.contains("exit status 7"), "{stderr}");
    assert_eq!(env.skiff(&["ps", "-aq"]).stdout(), "");
    let (_, stderr) = env.skiff(&["image", "inspect", "broken"]).assert_exit(125);
    assert!(stderr.contains("broken"), "{stderr}");

    let dir = context(
        &env,
        &[("Dockerfile", &format!("FROM {image}\nCOPY missing /x\n"))],
    );
    let (_, stderr) = env.skiff(&["build", &dir]).assert_exit(125);
    assert!(stderr.contains("missing"), "{stderr}");
    let dir = context(&env, &[("Dockerfile", "FROM busybox\nFOO x\n")]);
    let (_, stderr) = env.skiff(&["build", &dir]).assert_exit(125);
    assert!(
        stderr.contains("Dockerfile:2: unknown instruction"),
        "{stderr}"
    );
}

#[test]
fn stages_build_on_each_other_and_target_stops_early() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image} AS base\nRUN echo base > /base\nFROM base AS next\nRUN cat /base > /next\n\
         FROM {image} AS unused\nRUN exit 3\nFROM next\nRUN cat /next\n\
         COPY --from=base /base /copied/\nCOPY --from={image} /etc/group /from-image\n"
    );
    let dir = context(&env, &[("Dockerfile", &text)]);
    let out = env.skiff(&["build", "-t", "staged", &dir]).stdout();
    // The unused stage (whose RUN would fail) is skipped.
    assert!(!out.contains("exit 3"), "{out}");
    assert!(out.contains("[4/4] STEP"), "{out}");
    let script = "cat /next /copied/base; grep -c wheel /from-image";
    let out = env
        .skiff(&["run", "--rm", "staged", "sh", "-c", script])
        .stdout();
    assert_eq!(out, "base\nbase\n1\n");
    env.skiff(&["build", "--target", "base", "-t", "only-base", &dir])
        .stdout();
    let (_, stderr) = env
        .skiff(&["run", "--rm", "only-base", "cat", "/next"])
        .assert_exit(1);
    assert!(stderr.contains("No such file"), "{stderr}");
}

/// Serves `body` to every request on a loopback port, from a thread; returns the URL base.
fn serve_once(body: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
            let _ = std::io::Write::write_all(&mut stream, body);
        }
    });
    format!("http://{address}")
}

#[test]
fn add_unpacks_archives_and_fetches_urls_where_copy_copies_and_heredocs_run() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let dir = context(&env, &[("Dockerfile", "")]);
    // A gzip-compressed tar in the context.
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    // Blank uid, gid and mtime fields, as some archivers leave them: read as 0.
    let mut header = tar::Header::new_gnu();
    header.set_size(7);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "inside/file.txt", &b"packed\n"[..])
        .unwrap();
    let bytes = archive.into_inner().unwrap().finish().unwrap();
    std::fs::write(env.path("context/app.tar.gz"), bytes).unwrap();
    let url = serve_once(b"fetched\n");
    let text = format!(
        "FROM {image}\nADD app.tar.gz /unpacked/\nCOPY app.tar.gz /copied/\nADD {url}/remote.txt /remote/\n\
         RUN <<EOF\necho from a heredoc > /doc\necho second line >> /doc\nEOF\n"
    );
    std::fs::write(env.path("context/Dockerfile"), text).unwrap();
    env.give(&env.path("context"));
    env.skiff(&["build", "-q", "-t", "with-added", &dir])
        .stdout();
    let script = "cat /unpacked/inside/file.txt; ls /copied; cat /remote/remote.txt; \
        stat -c %a /remote/remote.txt; cat /doc";
    let out = env
        .skiff(&["run", "--rm", "with-added", "sh", "-c", script])
        .stdout();
    assert_eq!(
        out,
        "packed\napp.tar.gz\nfetched\n600\nfrom a heredoc\nsecond line\n"
    );
}

#[test]
fn build_flags_for_the_network_labels_one_layer_and_the_platform() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image}\nRUN grep -c : /proc/net/dev > /interfaces\nRUN echo two > /two\nCMD [\"cat\", \"/interfaces\", \"/two\"]\n"
    );
    let dir = context(&env, &[("Dockerfile", &text)]);
    env.skiff(&[
        "build",
        "-q",
        "--network",
        "none",
        "--layers=false",
        "--label",
        "team=platform",
        "-t",
        "flat",
        &dir,
    ])
    .stdout();
    let label = env
        .skiff(&[
            "image",
            "inspect",
            "--format",
            "{{index .Labels \"team\"}}",
            "flat",
        ])
        .stdout();
    assert_eq!(label, "platform\n");
    // Only loopback under --network none; one layer for the whole file system.
    assert_eq!(env.skiff(&["run", "--rm", "flat"]).stdout(), "1\ntwo\n");
    let layers = env
        .skiff(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            "flat",
        ])
        .stdout();
    assert_eq!(layers, "1\n");
    let (_, stderr) = env
        .skiff(&["build", "--platform", "linux/s390x", &dir])
        .assert_exit(125);
    assert!(stderr.contains("this host's platform only"), "{stderr}");
}

#[test]
fn heredocs_run_and_copy_as_docker_reads_them() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image}\nARG NAME=world\n\
         RUN cat <<EOF > /one && tr a-z A-Z <<-'UP' > /two\nhello $NAME\nEOF\n\tshout\n\tUP\n\
         RUN <<EOF\n#!/bin/sh\necho \"program $0\" > /three\nEOF\n\
         COPY <<EOF /greeting\nHi \"${{NAME}}\" \\$HOME\nEOF\n\
         COPY <<'A' <<B /docs/\nkept $NAME\nA\nb\nB\n\
         CMD [\"cat\", \"/one\", \"/two\", \"/three\", \"/greeting\", \"/docs/A\", \"/docs/B\"]\n"
    );
    let dir = context(&env, &[("Dockerfile", &text)]);
    env.skiff(&["build", "-q", "-t", "docs", &dir]).stdout();
    // A document after a command is its input, read by the shell (with `<<-` tabs stripped);
    // one alone starting with #! is a program at /dev/pipes; COPY's are files, substituted
    // unless the delimiter is quoted, named after their delimiters in a directory.
    assert_eq!(
        env.skiff(&["run", "--rm", "docs"]).stdout(),
        "hello world\nSHOUT\nprogram /dev/pipes/EOF\nHi \"world\" $HOME\nkept $NAME\nb\n"
    );
    let (_, stderr) = env
        .skiff(&["run", "--rm", "docs", "ls", "/dev/pipes"])
        .assert_exit(1);
    assert!(stderr.contains("No such file"), "{stderr}");
    let dir = context(
        &env,
        &[(
            "Dockerfile",
            "FROM busybox\n\nRUN cat <<EOF\nnever closed\n",
        )],
    );
    let (_, stderr) = env.skiff(&["build", &dir]).assert_exit(125);
    assert!(
        stderr.contains("Dockerfile:3: here-document <<EOF has no closing EOF line"),
        "{stderr}"
    );
}

#[test]
fn run_mounts_give_secrets_caches_and_bound_files_to_one_step_only() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let text = format!(
            "FROM {image} AS tools\nRUN mkdir -p /out/sub && echo deep > /out/sub/d.txt && echo a > /out/a.txt && echo b > /out/b.txt && echo c > /out/c.log\n\
             FROM {image} AS only-mounted\nRUN mkdir -p /out/sub && echo other > /out/sub/e.txt\n\
             FROM {image}\n\
             RUN --mount=type=secret,id=token,required=true wc -c < /run/secrets/token > /secret-size && stat -c %a /run/secrets/token > /secret-mode\n\
             RUN --mount=type=secret,id=token,env=TOKEN,required sh -c 'echo ${{#TOKEN}} > /env-size'\n\
             RUN --mount=type=secret,id=absent cat /run/secrets/absent 2>/dev/null || echo skipped > /absent\n\
             RUN --mount=type=cache,target=/cache,uid=1000 sh -c 'echo run >> /cache/runs; wc -l < /cache/runs > /cache-runs; stat -c %u /cache > /cache-owner'\n\
             RUN --mount=type=bind,source=data,target=/data cat /data/input > /bound && ! touch /data/x 2>/dev/null\n\
             RUN --mount=type=bind,source=data,target=/data,rw touch /data/thrown-away\n\
             RUN --mount=type=bind,from=tools,source=/out/sub,target=/mnt --mount=type=bind,from=only-mounted,source=/out/sub,target=/mnt2 sh -c 'cat /mnt/d.txt /mnt2/e.txt > /from-stage; ls /mnt | wc -l >> /from-stage'\n\
             RUN --mount=type=tmpfs,target=/scratch sh -c 'echo t > /scratch/f; cat /scratch/f > /tmpfs'\n\
             COPY --from=tools /out/*.txt /globbed/\n\
             COPY --from=tools /o*/s?b/*.txt /deep/\n\
             CMD [\"sh\", \"-c\", \"cat /secret-size /secret-mode /env-size /absent /cache-runs /cache-owner /bound /from-stage /tmpfs; ls /globbed /deep; ls /run/secrets /cache /scratch /mnt 2>&1 | wc -l\"]\n"
        );
        let dir = context(
            &env,
            &[("Dockerfile", &text), ("data/input", "input one\n")],
        );
        let secret = env.path("token.txt");
        std::fs::write(&secret, "s3cr3t-value\n").unwrap();
        env.give(&secret);
        let secret_flag = format!("id=token,src={}", secret.display());
        let build = |extra: &[&str]| {
            let mut args = vec!["build", "--secret", &secret_flag, "-t", "mounted"];
            args.extend_from_slice(extra);
            args.push(&dir);
            env.skiff(&args).stdout()
        };
        build(&["-q"]);
        // Every mount reached its step; none left a trace (four ls errors, one line each).
        assert_eq!(
            env.skiff(&["run", "--rm", "mounted"]).stdout(),
            "13\n400\n13\nskipped\n1\n1000\ninput one\ndeep\nother\n1\nt\n/deep:\nd.txt\n\n/globbed:\na.txt\nb.txt\n4\n"
        );
        let (_, stderr) = env
            .skiff(&["run", "--rm", "mounted", "ls", "/data/thrown-away"])
            .assert_exit(1);
        assert!(stderr.contains("No such file"), "{stderr}");
        // The cache mount outlives the build: a build without the step cache sees the first
        // run's file.
        build(&["-q", "--no-cache"]);
        let runs = env
            .skiff(&["run", "--rm", "mounted", "cat", "/cache-runs"])
            .stdout();
        assert_eq!(runs, "2\n");
        // The bound file's content is part of its step's key; the secret's is not.
        std::fs::write(env.path("context/data/input"), "input two\n").unwrap();
        std::fs::write(&secret, "another-secret\n").unwrap();
        let out = build(&[]);
        assert_eq!(out.matches("Using cache").count(), 6, "{out}");
        // Cached steps need no secret (their mounts are not made, as with BuildKit); a step
        // that runs stops the build when its required secret is not given.
        let out = env.skiff(&["build", "-q", "-t", "mounted", &dir]).stdout();
        assert_eq!(out.lines().count(), 1, "{out}");
        let (_, stderr) = env
            .skiff(&["build", "--no-cache", "-t", "mounted", &dir])
            .assert_exit(125);
        assert!(
            stderr.contains("id=token is required, but no --secret id=token"),
            "{stderr}"
        );
    }
}

#[test]
fn scratch_images_platform_arguments_and_the_docker_format() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image} AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /bin/busybox\n\
         ARG TARGETARCH\nARG BUILDPLATFORM\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo $TARGETARCH $BUILDPLATFORM > /platform\"]\n\
         ENTRYPOINT [\"/bin/busybox\"]\nCMD [\"cat\", \"/platform\"]\n"
    );
    let dir = context(&env, &[("Dockerfile", &text)]);
    env.skiff(&["build", "-q", "--format", "docker", "-t", "tiny", &dir])
        .stdout();
    let arch = env
        .skiff(&["image", "inspect", "--format", "{{.Architecture}}", image])
        .stdout();
    let arch = arch.trim();
    assert_eq!(
        env.skiff(&["run", "--rm", "tiny"]).stdout(),
        format!("{arch} linux/{arch}\n")
    );
    // Only what the steps made: busybox's layer and the RUN's, nothing of the tools stage.
    let shown = env
        .skiff(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}} {{.ManifestType}}",
            "tiny",
        ])
        .stdout();
    assert_eq!(
        shown,
        "2 application/vnd.docker.distribution.manifest.v2+json\n"
    );
    // The RUN's layer holds its file only, not the mount points the runtime made for it.
    assert_eq!(
        env.skiff(&["image", "diff", "tiny"]).stdout(),
        "A /platform\n"
    );
    // The same steps in OCI format are other images, not the cached Docker ones.
    let out = env.skiff(&["build", "-t", "tiny-oci", &dir]).stdout();
    assert!(!out.contains("Using cache"), "{out}");
}

#[test]
fn pull_policies_decide_where_the_base_image_comes_from() {
    let test = skiff_test!();
    let Some(registry) = crate::common::registry::Registry::try_start(test) else {
        return;
    };
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let remote = format!("{}/lab/base:v1", registry.addr);
    env.skiff(&["push", "--tls-verify=false", image, &remote])
        .stdout();
    let dir = context(
        &env,
        &[
            (
                "Dockerfile",
                &format!("FROM {remote}\nRUN cat /marker || true\n"),
            ),
            ("Marked", &format!("FROM {image}\nRUN echo new > /marker\n")),
            (
                "Twice",
                &format!("FROM {remote}\nCOPY --from={remote} /marker /copied\n"),
            ),
        ],
    );
    // never: the store has no such image yet.
    let (_, stderr) = env.skiff(&["build", "--pull=never", &dir]).assert_exit(125);
    assert!(stderr.contains("--pull=never"), "{stderr}");
    // missing (the default): pulled once.
    let out = env.skiff(&["build", "--tls-verify=false", &dir]).stdout();
    assert!(out.contains("STEP 2/2"), "{out}");
    // A new image under the same name: only --pull=always (or --pull) takes it.
    let marked = format!("{dir}/Marked");
    env.skiff(&["build", "-q", "-t", "marked", "-f", &marked, &dir])
        .stdout();
    env.skiff(&["push", "--tls-verify=false", "marked", &remote])
        .stdout();
    env.skiff(&["build", "-q", "-t", "old", "--pull=never", &dir])
        .stdout();
    let (out, err) = env
        .skiff(&["run", "--rm", "old", "cat", "/marker"])
        .assert_exit(1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "cat: can't open '/marker': No such file or directory\n"
    );
    env.skiff(&[
        "build",
        "-q",
        "-t",
        "new",
        "--pull",
        "--tls-verify=false",
        &dir,
    ])
    .stdout();
    assert_eq!(
        env.skiff(&["run", "--rm", "new", "cat", "/marker"])
            .stdout(),
        "new\n"
    );
    // One build pulls a reference once, however many instructions name it.
    let twice = format!("{dir}/Twice");
    let (_, stderr) = env
        .skiff(&["build", "--pull", "--tls-verify=false", "-f", &twice, &dir])
        .assert_exit(0);
    let pulls = stderr
        .matches("Writing manifest to image destination")
        .count();
    assert_eq!(pulls, 1, "{stderr}");
}

#[test]
fn build_writes_its_files_out_and_gives_every_run_step_hosts_dns_and_volumes() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image}\nCOPY . /ctx/\nRUN grep db.local /etc/hosts > /hosts-seen\n\
         RUN grep nameserver /etc/resolv.conf > /dns-seen\n\
         RUN cat /shared/in > /from-volume && echo w > /shared/written\n"
    );
    let dir = context(
        &env,
        &[
            ("Dockerfile", &text),
            ("kept.txt", "kept\n"),
            ("secret.key", "never copied\n"),
            ("custom-ignore", "*.key\ncustom-ignore\n"),
        ],
    );
    let shared = env.build_context("shared", &[("in", "from the host\n")]);
    let out_dir = env.path("out");
    let volume = format!("{shared}:/shared");
    let ignore = format!("{dir}/custom-ignore");
    let output = format!("type=local,dest={}", out_dir.display());
    let out = env
        .skiff(&[
            "build",
            "--progress=quiet",
            "--add-host",
            "db.local:10.1.2.3",
            "--dns",
            "10.9.9.9",
            "-v",
            &volume,
            "--env",
            "MODE=prod",
            "--ignorefile",
            &ignore,
            "-o",
            &output,
            "-t",
            "written",
            &dir,
        ])
        .stdout();
    assert_eq!(out.lines().count(), 1, "{out}");
    let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap();
    assert!(
        read("hosts-seen").starts_with("10.1.2.3"),
        "{}",
        read("hosts-seen")
    );
    assert_eq!(read("dns-seen"), "nameserver 10.9.9.9\n");
    assert_eq!(read("from-volume"), "from the host\n");
    assert_eq!(read("ctx/kept.txt"), "kept\n");
    assert!(!out_dir.join("ctx/secret.key").exists());
    assert!(!out_dir.join("ctx/custom-ignore").exists());
    // The volume's writes reached the host, and are not in the image.
    assert_eq!(
        std::fs::read_to_string(env.path("shared/written")).unwrap(),
        "w\n"
    );
    let (_, stderr) = env
        .skiff(&["run", "--rm", "written", "ls", "/shared/written"])
        .assert_exit(1);
    assert!(stderr.contains("No such file"), "{stderr}");
    let shown = env
        .skiff(&["run", "--rm", "written", "sh", "-c", "echo $MODE"])
        .stdout();
    assert_eq!(shown, "prod\n");
    // A tar archive instead, from the cached build.
    let archive = env.path("out.tar");
    let output = format!("type=tar,dest={}", archive.display());
    env.skiff(&[
        "build",
        "-q",
        "-v",
        &volume,
        "--ignorefile",
        &ignore,
        "-o",
        &output,
        &dir,
    ])
    .stdout();
    let bytes = std::fs::read(&archive).unwrap();
    let names: Vec<String> = tar::Archive::new(&bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "hosts-seen"),
        "{names:?}"
    );
    let (_, stderr) = env.skiff(&["build", "--rm=false", &dir]).assert_exit(125);
    assert!(stderr.contains("always removes"), "{stderr}");
    let (_, stderr) = env.skiff(&["build", "-o", "-", &dir]).assert_exit(125);
    assert!(stderr.contains("name a file"), "{stderr}");
}

#[test]
fn a_private_cache_in_use_elsewhere_gives_the_step_a_fresh_one() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let text = format!(
        "FROM {image}\nRUN --mount=type=cache,id=shared-id,target=/c,sharing=private \
         sh -c 'echo x >> /c/runs; wc -l < /c/runs > /count'\nCMD [\"cat\", \"/count\"]\n"
    );
    let dir = context(&env, &[("Dockerfile", &text)]);
    let count = || {
        env.skiff(&["build", "-q", "--no-cache", "-t", "counted", &dir])
            .stdout();
        env.skiff(&["run", "--rm", "counted"]).stdout()
    };
    assert_eq!(count(), "1\n");
    // Another build holding the cache (its lock taken here): this one gets an empty one.
    let digest = crate::common::images::sha256_for_tests(b"shared-id");
    let lock_path = env
        .store_root()
        .join("build-cache-mounts")
        .join(format!("{}.lock", digest.trim_start_matches("sha256:")));
    let lock = std::fs::File::options()
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    assert_eq!(count(), "1\n");
    drop(lock);
    assert_eq!(count(), "2\n");
}
