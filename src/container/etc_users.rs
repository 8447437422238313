//! The container's /etc/passwd and /etc/group, when they must say more than the image's, as
//! Podman writes them: `--hostuser` adds a host user's entry; and with `--passwd` (on by
//! default) a numeric user or group the image lacks gets an entry, from `--passwd-entry` and
//! `--group-entry` templates, so that `id -un` and `whoami` answer in the container.

use anyhow::Result;

use super::userns::{image_file, UsernsPlan};
use super::CreateOptions;
use crate::context::Context;
use crate::image::config::RunConfig;

/// `--hostuser`, `--passwd`, `--passwd-entry` and `--group-entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntries {
    pub host_users: Vec<String>,
    pub passwd: bool,
    pub passwd_entry: Option<String>,
    pub group_entry: Option<String>,
}

impl Default for UserEntries {
    fn default() -> Self {
        UserEntries {
            host_users: Vec::new(),
            passwd: true,
            passwd_entry: None,
            group_entry: None,
        }
    }
}

/// The /etc files the container gets in place of its image's: keep-id's (taken from
/// `namespace`), amended for `--hostuser` and the process's user. Reads the image's files only
/// when something may be added.
pub(super) fn etc_user_files(
    ctx: &Context,
    options: &CreateOptions,
    run: &RunConfig,
    namespace: &mut UsernsPlan,
) -> Result<Vec<(&'static str, String)>> {
    let mut files = std::mem::take(&mut namespace.etc_files);
    let entries = &options.user_entries;
    let user = options
        .user
        .as_deref()
        .or(namespace.default_user.as_deref())
        .or(run.user.as_deref())
        .unwrap_or_default();
    let numeric = |part: Option<&str>| part.is_some_and(is_number);
    let mut parts = user.splitn(2, ':');
    let (uid, gid) = (parts.next(), parts.next());
    let may_add =
        !entries.host_users.is_empty() || (entries.passwd && (numeric(uid) || numeric(gid)));
    if !may_add {
        return Ok(files);
    }
    let current = |name: &str| {
        files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| text.clone())
            .or_else(|| image_file(ctx, &namespace.layers, &format!("etc/{name}")))
            .unwrap_or_default()
    };
    let workdir = options
        .workdir
        .as_deref()
        .or(run.working_dir.as_deref())
        .filter(|w| !w.is_empty())
        .unwrap_or("/");
    let amended = amended_files(
        [("passwd", current("passwd")), ("group", current("group"))],
        entries,
        user,
        workdir,
    )?;
    for (file, text) in amended {
        match files.iter_mut().find(|(name, _)| *name == file) {
            Some(existing) => existing.1 = text,
            None => files.push((file, text)),
        }
    }
    Ok(files)
}

/// Podman's entries for a user and a group the image lacks.
const PASSWD_ENTRY: &str = "$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh";
const GROUP_ENTRY: &str = "$GROUPNAME:x:$GID:$USERLIST";

/// The container's files as they stand (`passwd` and `group`: the image's, or keep-id's
/// amended ones), amended for `entries`, the process's `user` (`UID[:GID]` or names) and
/// working directory; only the files that changed are returned.
pub fn amended_files(
    files: [(&'static str, String); 2],
    entries: &UserEntries,
    user: &str,
    workdir: &str,
) -> Result<Vec<(&'static str, String)>> {
    let [(_, mut passwd), (_, mut group)] = files;
    let (original_passwd, original_group) = (passwd.clone(), group.clone());
    for wanted in &entries.host_users {
        let host = match wanted.parse::<u32>() {
            Ok(uid) => nix::unistd::User::from_uid(uid.into()),
            Err(_) => nix::unistd::User::from_name(wanted),
        };
        let Ok(Some(host)) = host else {
            // 126, as Podman's runtime gives a user it cannot find.
            return Err(crate::runtime::Error::UnknownUser {
                reason: format!("--hostuser {wanted}: no such user on the host"),
            }
            .into());
        };
        if !has_entry(&passwd, 0, &host.name) {
            let gecos = host.gecos.to_string_lossy().into_owned();
            let line = format!(
                "{}:*:{}:{}:{gecos}:/:/bin/sh",
                host.name, host.uid, host.gid
            );
            append(&mut passwd, &line);
        }
    }
    let (uid, gid) = match user.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (user, None),
    };
    if entries.passwd && is_number(uid) && !has_entry(&passwd, 2, uid) {
        let template = entries.passwd_entry.as_deref().unwrap_or(PASSWD_ENTRY);
        let gid_number = gid.filter(|g| is_number(g)).unwrap_or("0");
        let line = expand(
            template,
            &[
                ("USERNAME", uid),
                ("UID", uid),
                ("GID", gid_number),
                ("NAME", "container user"),
                ("HOME", workdir),
            ],
        );
        append(&mut passwd, &line);
    }
    if let Some(gid) = gid.filter(|g| entries.passwd && is_number(g) && !has_entry(&group, 2, g)) {
        let username = passwd_name(&passwd, uid).unwrap_or(uid.to_string());
        let template = entries.group_entry.as_deref().unwrap_or(GROUP_ENTRY);
        let line = expand(
            template,
            &[
                ("GROUPNAME", gid),
                ("GID", gid),
                ("USERLIST", &username),
                ("USERNAME", &username),
            ],
        );
        append(&mut group, &line);
    }
    Ok([
        ("passwd", passwd, original_passwd),
        ("group", group, original_group),
    ]
    .into_iter()
    .filter(|(_, now, before)| now != before)
    .map(|(file, now, _)| (file, now))
    .collect())
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a line of `file` has `value` in its field number `field` (0: the name, 2: the id).
fn has_entry(file: &str, field: usize, value: &str) -> bool {
    file.lines()
        .any(|line| line.split(':').nth(field) == Some(value))
}

/// The name of the user `user` (a name or a uid) in `passwd`.
fn passwd_name(passwd: &str, user: &str) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) || fields.get(2) == Some(&user))
            .then(|| fields[0].to_string())
    })
}

fn append(file: &mut String, line: &str) {
    if !file.is_empty() && !file.ends_with('\n') {
        file.push('\n');
    }
    file.push_str(line);
    file.push('\n');
}

/// `$NAME` in `template` replaced by its value (longer names first, so `$USERNAME` is not
/// taken for `$USER…`).
fn expand(template: &str, values: &[(&str, &str)]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    sorted
        .into_iter()
        .fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("${name}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n";

    fn amend(entries: &UserEntries, user: &str) -> Vec<(&'static str, String)> {
        amended_files(
            [("passwd", PASSWD.into()), ("group", GROUP.into())],
            entries,
            user,
            "/work",
        )
        .unwrap()
    }

    #[test]
    fn a_numeric_user_and_group_the_image_lacks_get_podmans_entries() {
        let files = amend(&UserEntries::default(), "1234:5678");
        assert_eq!(
            files[0].1,
            format!("{PASSWD}1234:*:1234:5678:container user:/work:/bin/sh\n")
        );
        assert_eq!(files[1].1, format!("{GROUP}5678:x:5678:1234\n"));
        assert!(amend(&UserEntries::default(), "0").is_empty());
        assert!(amend(&UserEntries::default(), "root:root").is_empty());
        let off = UserEntries {
            passwd: false,
            ..Default::default()
        };
        assert!(amend(&off, "1234:5678").is_empty());
    }

    #[test]
    fn templates_replace_their_variables() {
        let entries = UserEntries {
            passwd_entry: Some("$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/false".into()),
            group_entry: Some("staff:x:$GID:$USERLIST".into()),
            ..Default::default()
        };
        let files = amend(&entries, "1234:5678");
        assert!(files[0]
            .1
            .ends_with("1234:x:1234:5678:container user:/work:/bin/false\n"));
        assert!(files[1].1.ends_with("staff:x:5678:1234\n"));
    }

    #[test]
    fn a_host_user_is_added_by_name_or_id_once() {
        let root_by_id = UserEntries {
            host_users: vec!["0".into()],
            ..Default::default()
        };
        // The image has root already.
        assert!(amend(&root_by_id, "").is_empty());
        let unknown = UserEntries {
            host_users: vec!["no-such-user-here".into()],
            ..Default::default()
        };
        assert!(amended_files(
            [("passwd", String::new()), ("group", String::new())],
            &unknown,
            "",
            "/"
        )
        .is_err());
    }
}
