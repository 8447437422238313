//! `commit` and `diff`: a container's changes, deletions included, become an image.

use crate::common::skiff_test;

#[test]
fn commit_keeps_additions_deletions_and_the_message() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script =
            "echo made > /etc/made && rm /etc/passwd && mkdir /work && echo kept > /work/file";
        env.skiff(&["run", "--name", "changed", image, "sh", "-c", script])
            .stdout();
        let diff = env.skiff(&["diff", "changed"]).stdout();
        let lines: Vec<&str> = diff.lines().collect();
        for expected in [
            "C /etc",
            "A /etc/made",
            "D /etc/passwd",
            "A /work",
            "A /work/file",
        ] {
            assert!(
                lines.contains(&expected),
                "{expected} missing from:\n{diff}"
            );
        }
        // The files the runtime mounts over are no change of the container's.
        assert!(
            !diff.contains("/etc/hosts") && !diff.contains("/proc"),
            "{diff}"
        );
        let json = env
            .skiff(&["container", "diff", "--format", "json", "changed"])
            .stdout();
        let groups: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(groups["deleted"]
            .as_array()
            .unwrap()
            .contains(&"/etc/passwd".into()));

        let id = env
            .skiff(&[
                "commit",
                "-a",
                "A. Author",
                "-m",
                "added and removed",
                "-c",
                "ENV STAGE=committed",
                "changed",
                "committed:v1",
            ])
            .stdout();
        assert_eq!(id.trim().len(), 64, "{id}");
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "committed:v1",
                "sh",
                "-c",
                "cat /etc/made /work/file; test -e /etc/passwd || echo passwd-gone; echo $STAGE",
            ])
            .stdout();
        assert_eq!(out, "made\nkept\npasswd-gone\ncommitted\n");
        let shown = env
            .skiff(&[
                "image",
                "inspect",
                "--format",
                "{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}",
                "committed:v1",
            ])
            .stdout();
        assert_eq!(shown, "added and removed|A. Author|3\n");
        let top = env.skiff(&["image", "diff", "committed:v1"]).stdout();
        assert!(
            top.contains("D /etc/passwd") && top.contains("A /etc/made"),
            "{top}"
        );

        // --squash: one layer with the whole file system, the deletion still gone.
        env.skiff(&["commit", "-q", "--squash", "changed", "committed:flat"])
            .stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "committed:flat",
                "sh",
                "-c",
                "cat /work/file; test -e /etc/passwd || echo passwd-gone",
            ])
            .stdout();
        assert_eq!(out, "kept\npasswd-gone\n");
        let layers = env
            .skiff(&[
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                "committed:flat",
            ])
            .stdout();
        assert_eq!(layers, "1\n");

        let (_, stderr) = env.skiff(&["commit", "nosuch", "x:y"]).assert_exit(125);
        assert!(stderr.contains("nosuch"), "{stderr}");
    }
}
