//! The user namespace rootless containers share, kept between commands by a process of its own
//! (`runtime::userns_holder`), as Podman's pause process keeps Podman's.

use std::path::PathBuf;

use crate::common::{skiff_test, TestEnv};

/// The holders' pid files and the processes they name (None for a dead one).
fn holders(env: &TestEnv) -> Vec<(PathBuf, Option<String>)> {
    let Ok(entries) = std::fs::read_dir(env.path("run/skiff")) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("userns-") && !name.ends_with(".lock")
        })
        .map(|p| {
            let pid = std::fs::read_to_string(&p).unwrap().trim().to_string();
            // A killed holder may stay a zombie a while (until init reaps it): not a holder.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let live = stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'));
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
            (p, comm.filter(|_| live).map(|c| c.trim().to_string()))
        })
        .collect();
    found.sort();
    found
}

fn user_namespace(env: &TestEnv, image: &str) -> String {
    env.run_output(image, &[], &["readlink", "/proc/self/ns/user"])
}

#[test]
fn rootless_containers_join_one_kept_user_namespace_until_migrate_ends_it() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else { return };
    let image = env.load_volumebox();
    let first = user_namespace(&env, image);
    assert!(first.starts_with("user:["), "{first}");
    assert_eq!(user_namespace(&env, image), first);
    let kept = holders(&env);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1.as_deref(), Some("skiff-userns"));
    // Its maps are the container's: the user at 0, the subordinate range after.
    let maps = env.run_output(image, &[], &["cat", "/proc/self/uid_map"]);
    let lines: Vec<Vec<&str>> = maps
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{maps}");
    assert_eq!(lines[0], ["0", &env.uid.to_string(), "1"], "{maps}");
    // A detached container and exec into it are in the same namespace.
    env.skiff(&["run", "-d", "--name", "up", image, "sleep", "600"])
        .stdout();
    let exec = env.skiff(&["exec", "up", "readlink", "/proc/self/ns/user"]);
    assert_eq!(exec.stdout(), first);
    env.skiff(&["rm", "-f", "up"]).stdout();

    // A holder killed from outside is replaced at the next start.
    let pid = std::fs::read_to_string(&kept[0].0).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    crate::common::until("the holder is gone", || {
        holders(&env)[0].1.as_deref() != Some("skiff-userns")
    });
    let replaced = user_namespace(&env, image);
    assert!(replaced.starts_with("user:["), "{replaced}");
    let now = holders(&env);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(std::fs::read_to_string(&now[0].0).unwrap(), pid);
    assert_eq!(now[0].1.as_deref(), Some("skiff-userns"));

    // `system migrate` ends it, as `podman system migrate` ends Podman's pause process.
    env.skiff(&["system", "migrate"]).stdout();
    assert!(holders(&env).is_empty(), "{:?}", holders(&env));
}

/// A keep-id container has other maps, so a holder of its own; the default one stays.
#[test]
fn each_mapping_has_its_own_holder() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else { return };
    let image = env.load_volumebox();
    let default = user_namespace(&env, image);
    let kept_id = env.run_output(
        image,
        &["--userns", "keep-id"],
        &["readlink", "/proc/self/ns/user"],
    );
    assert_ne!(kept_id, default);
    assert_eq!(user_namespace(&env, image), default);
    let live = holders(&env);
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(live
        .iter()
        .all(|(_, comm)| comm.as_deref() == Some("skiff-userns")));
}

/// As root no user namespace is made, so nothing is kept.
#[test]
fn root_keeps_no_user_namespace() {
    let test = skiff_test!();
    let Some(env) = test.root() else { return };
    let image = env.load_volumebox();
    env.run_output(image, &[], &["true"]);
    assert!(holders(&env).is_empty());
}
