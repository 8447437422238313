//! `run --rootfs DIR[:O]`: a host directory as the container's root, written in place or
//! through an overlay that leaves it as it was; inspect's Rootfs; the error for a missing one.

use crate::common::skiff_test;

#[test]
fn a_host_directory_is_the_root_written_in_place_or_through_an_overlay() {
    let test = skiff_test!();
    for env in test.each_env() {
        let root = env.busybox_rootfs("rootfs");
        let dir = root.display().to_string();

        let written = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--rootfs",
                &dir,
                "sh",
                "-c",
                "echo in-place > /written && id -u",
            ])
            .stdout();
        assert_eq!(written.trim(), "0");
        assert_eq!(
            std::fs::read_to_string(root.join("written")).unwrap(),
            "in-place\n"
        );

        let overlaid = format!("{dir}:O");
        let seen = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--rootfs",
                &overlaid,
                "sh",
                "-c",
                "echo gone > /overlaid && cat /written /overlaid",
            ])
            .stdout();
        assert_eq!(seen, "in-place\ngone\n");
        assert!(
            !root.join("overlaid").exists(),
            "the overlay wrote the directory"
        );

        env.skiff(&["create", "--name", "rooted", "--rootfs", &dir, "true"])
            .stdout();
        let shown = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.Rootfs}}|{{.ImageName}}|{{.Image}}",
                "rooted",
            ])
            .stdout();
        assert_eq!(shown.trim(), format!("{dir}||"));
        env.skiff(&["rm", "rooted"]).stdout();
        assert!(root.join("bin").exists(), "rm took the directory");

        env.skiff(&["run", "--rm", "--rootfs", "/nonexistent-root", "true"])
            .refused("--rootfs /nonexistent-root: no such directory");
    }
}
