//! `--subuidname`/`--subgidname NAME`: the container's ids are the ranges /etc/subuid and
//! /etc/subgid give NAME; rootless, only the caller's own name; as root, refused.

use crate::common::skiff_test;

#[test]
fn subuidname_maps_the_callers_own_range() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        if env.as_root {
            env.skiff(&["run", "--rm", "--subuidname", "root", image, "true"])
                .refused("--subuidname and --subgidname are for rootless containers");
            continue;
        }
        let me = nix::unistd::User::from_uid(env.uid.into())
            .unwrap()
            .unwrap()
            .name;
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap();
        let count = subuid
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{me}:")))
            .and_then(|rest| rest.split(':').nth(1))
            .unwrap_or_else(|| panic!("no /etc/subuid range for {me}"));
        let maps = env.run_output(
            image,
            &["--subuidname", &me],
            &[
                "sh",
                "-c",
                "cat /proc/self/uid_map /proc/self/gid_map; id -u",
            ],
        );
        let words: Vec<&str> = maps.split_whitespace().collect();
        assert_eq!(
            words,
            ["0", "1", count, "0", "1", count, "0"],
            "uids and gids both from the caller's ranges: {maps}"
        );
        let by_gid_name = env.run_output(
            image,
            &["--subgidname", &env.uid.to_string()],
            &["cat", "/proc/self/gid_map"],
        );
        assert_eq!(
            by_gid_name.split_whitespace().collect::<Vec<_>>(),
            ["0", "1", count]
        );
        env.skiff(&["run", "--rm", "--subuidname", "root", image, "true"])
            .refused(
                "--subuidname root: rootless, newuidmap and newgidmap map only your own ranges",
            );
        env.skiff(&[
            "run",
            "--rm",
            "--subuidname",
            &me,
            "--subgidname",
            "daemon",
            image,
            "true",
        ])
        .refused("--subgidname daemon:");
        env.skiff(&[
            "run",
            "--rm",
            "--subuidname",
            &me,
            "--uidmap",
            "0:1:10",
            image,
            "true",
        ])
        .refused("--uidmap/--gidmap and --subuidname/--subgidname cannot be used together");
        env.skiff(&[
            "run",
            "--rm",
            "--subuidname",
            &me,
            "--userns",
            "auto",
            image,
            "true",
        ])
        .refused("--userns and --subuidname/--subgidname cannot be used together");
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
    }
}
