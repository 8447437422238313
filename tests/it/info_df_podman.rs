//! `info` and `system df` against the Podman installed on the machine, from the same store
//! contents (the same image loaded from the same archive, a container using one volume, a
//! second volume holding a file) and the same registries.conf and storage.conf (vfs, so that
//! both name the same driver): `info`'s JSON has every key Podman's has, in its order, its
//! YAML is laid out as Podman's, templates read the same fields with the same values where
//! the values must agree; `df` prints the same tables and template output.
//!
//! The installed Podman is 4.3.1; skiff follows Podman 5 where they differ, so the test stays
//! away from those cases: several names on one image (4.x counts an image once per name in the
//! summary), `df --format json` (4.x prints the word "json"), and `df -v --format` (4.x
//! ignores --format there; 5 refuses the pair, and so does skiff).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::podman::{podman_missing, Podman};
use crate::common::skiff_test;

/// Keys of Podman's info that skiff leaves out, with the reason.
const INFO_KEYS_LEFT_OUT: &[(&str, &str)] = &[(
    "host.remoteSocket",
    "skiff has no API service, so no socket to name (Podman leaves the key out when remote)",
)];

const REGISTRIES_CONF: &str = "unqualified-search-registries = [\"docker.io\", \"quay.io\"]\n\n[[registry]]\nprefix = \"example.com/foo\"\nlocation = \"mirror.example.com/foo\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"m2.example.com\"\n\n[[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n";

/// Fields whose values must agree: same host, same user, same store contents and settings.
const INFO_TEMPLATES: &[&str] = &[
    "{{.Host.Arch}}|{{.Host.OS}}|{{.Host.Security.Rootless}}|{{.Store.GraphDriverName}}|{{.Store.ImageStore.Number}}|{{.Store.ContainerStore.Number}}|{{.Store.ContainerStore.Running}}|{{.Store.ContainerStore.Stopped}}|{{.Store.ContainerStore.Paused}}",
    "{{range .Host.IDMappings.UIDMap}}{{.ContainerID}}:{{.HostID}}:{{.Size}} {{end}}|{{range .Host.IDMappings.GIDMap}}{{.ContainerID}}:{{.HostID}}:{{.Size}} {{end}}",
    "{{json .Registries}}",
    "{{.Registries.search}} {{(index .Registries \"localhost:5000\").Insecure}}",
    "{{json .Store.ImageStore}} {{json .Store.ContainerStore}} {{json .Host.IDMappings}} {{json .Host.Security.Rootless}}",
    "{{.Host.Kernel}}|{{.Host.Hostname}}|{{.Host.CPUs}}|{{.Host.MemTotal}}|{{.Host.SwapTotal}}|{{.Host.CgroupsVersion}}|{{.Host.CgroupManager}}|{{.Host.Distribution.Distribution}}|{{.Host.Distribution.Version}}|{{.Host.Distribution.Codename}}",
    "{{.Host.Security.DefaultCapabilities}}|{{.Host.Security.SELinuxEnabled}}|{{.Host.Security.AppArmorEnabled}}|{{.Host.Security.SECCOMPEnabled}}|{{.Host.ServiceIsRemote}}|{{.Host.LogDriver}}",
    "{{.Host.Slirp4NetNS.Executable}}|{{.Host.Slirp4NetNS.Version}}|{{.Store.GraphRootAllocated}}|{{.Store.GraphOptions}}|{{.Version.OsArch}}|{{.Version.Os}}|{{.Version.Built}}|{{.Plugins.Volume}}",
    "{{.Plugins.Authorization}}|{{json .Plugins.Authorization}}|{{(index .Registries \"localhost:5000\").Mirrors}}|{{range (index .Registries \"example.com/foo\").Mirrors}}{{.Location}} {{.Insecure}}{{end}}|{{.Registries.nope}}",
    "{{if .Host.Security.Rootless}}rootless{{end}} {{len .Host.IDMappings.UIDMap}} {{range $k, $v := .Registries}}{{$k}} {{end}}",
];

/// Between templates run together.
const SEPARATOR: &str = "\n@@\n";

const DF_TEMPLATES: &[&str] = &[
    "{{.Type}} {{.Total}} {{.Active}} {{.Size}} {{.Reclaimable}} @@ {{.Type}}|{{.RawSize}}|{{.RawReclaimable}}",
    "table {{.Type}} {{.Total}} {{.RawSize}} {{.Reclaimable}}",
];

#[test]
fn info_and_df_match_podman() {
    let test = skiff_test!();
    if podman_missing(test) {
        return;
    }
    let Some(env) = test.rootless() else {
        return;
    };
    // Both read the user's registries.conf from $HOME/.config and storage.conf from
    // $XDG_CONFIG_HOME, as containers/image and containers/storage do.
    for dir in [
        "podman/home/.config/containers",
        "podman/config/containers",
        "home/.config/containers",
        "config/containers",
    ] {
        std::fs::create_dir_all(env.path(dir)).unwrap();
        std::fs::write(env.path(&format!("{dir}/registries.conf")), REGISTRIES_CONF).unwrap();
        std::fs::write(
            env.path(&format!("{dir}/storage.conf")),
            "[storage]\ndriver = \"vfs\"\n",
        )
        .unwrap();
    }
    env.give(&env.path("config"));
    let podman = Podman::setup(&env);
    // storage.conf chooses the driver, not the suite's STORAGE_DRIVER pass.
    let skiff = |args: &[&str]| env.skiff_with_env(&[], &["STORAGE_DRIVER"], args);
    let archive = crate::common::images::test_images().docker_archive.clone();
    let setup: &[&[&str]] = &[
        &["load", "-q", "-i", archive.to_str().unwrap()],
        &["volume", "create", "vol1"],
        &["volume", "create", "vol2"],
        &[
            "create",
            "--name",
            "ctr1",
            "-v",
            "vol1:/data",
            "localhost/testbox",
            "sleep",
            "100",
        ],
    ];
    for args in setup {
        podman.stdout(args);
        skiff(args).stdout();
    }
    // A file in the volume no container uses, written straight into each store's copy (a
    // container run would cost Podman seconds more).
    let mountpoint = ["volume", "inspect", "--format", "{{.Mountpoint}}", "vol2"];
    for dir in [podman.stdout(&mountpoint), skiff(&mountpoint).stdout()] {
        let file = std::path::Path::new(dir.trim()).join("f");
        std::fs::write(&file, "some bytes in a volume\n".repeat(100)).unwrap();
        env.give(&file);
    }
    let mut failures = Vec::new();
    let mut compare = |what: String, want: String, got: String| {
        if want != got {
            failures.push(format!("{what}\n  podman: {want:?}\n  skiff:  {got:?}"));
        }
    };

    // info --format json: every key of Podman's, in Podman's order.
    let want: Value = serde_json::from_str(&podman.stdout(&["info", "--format", "json"])).unwrap();
    let got: Value = serde_json::from_str(&skiff(&["info", "--format", "json"]).stdout()).unwrap();
    let (want_keys, got_keys) = (key_paths(&want), key_paths(&got));
    let left_out = |path: &str| {
        INFO_KEYS_LEFT_OUT
            .iter()
            .any(|(key, _)| path == *key || path.starts_with(&format!("{key}.")))
    };
    let missing: Vec<&String> = want_keys
        .iter()
        .filter(|k| !got_keys.contains(*k) && !left_out(k))
        .collect();
    compare(
        "info json: keys skiff lacks".into(),
        "[]".into(),
        format!("{missing:?}"),
    );
    for (path, (want_order, got_order)) in key_orders(&want, &got) {
        compare(
            format!("info json: key order of {path}"),
            want_order,
            got_order,
        );
    }

    // The default YAML with the values blanked: the same keys in the same order, indentation
    // and list style, where both have the key; and Println's blank line at the end.
    let want_yaml = podman.stdout(&["info"]);
    let got_yaml = skiff(&["info"]).stdout();
    let (want_lines, got_lines) = (yaml_skeleton(&want_yaml), yaml_skeleton(&got_yaml));
    let want_paths: BTreeSet<&String> = want_lines.iter().map(|(p, _)| p).collect();
    let got_paths: BTreeSet<&String> = got_lines.iter().map(|(p, _)| p).collect();
    let shared = |lines: &[(String, String)]| {
        let mut kept: Vec<String> = lines
            .iter()
            .filter(|(p, _)| want_paths.contains(p) && got_paths.contains(p))
            .map(|(_, l)| l.clone())
            .collect();
        kept.dedup();
        kept.join("\n")
    };
    compare(
        "info YAML layout".into(),
        shared(&want_lines),
        shared(&got_lines),
    );
    compare(
        "info YAML ending".into(),
        want_yaml[want_yaml.len() - 2..].into(),
        got_yaml[got_yaml.len() - 2..].into(),
    );

    // One run for all templates (Podman takes a while to start), split up again to compare.
    let all = INFO_TEMPLATES.join(SEPARATOR);
    let args = ["info", "--format", &all];
    let (want, got) = (podman.stdout(&args), skiff(&args).stdout());
    let (want, got) = (
        want.split(SEPARATOR),
        got.split(SEPARATOR).chain(std::iter::repeat("")),
    );
    for ((template, want), got) in INFO_TEMPLATES.iter().zip(want).zip(got) {
        compare(format!("info --format {template}"), want.into(), got.into());
    }
    // A field the struct lacks is an error in both, not "<no value>".
    let args = ["info", "--format", "{{.Host.Os}}"];
    let exit = |out: std::process::Output| format!("{:?}", out.status.code());
    compare(
        format!("exit code of {}", args.join(" ")),
        exit(podman.command(&args).output().unwrap()),
        exit(skiff(&args).output()),
    );

    // system df: the tables and templates, byte for byte where nothing depends on the time.
    let args = ["system", "df"];
    compare(args.join(" "), podman.stdout(&args), skiff(&args).stdout());
    for template in DF_TEMPLATES {
        let args = ["system", "df", "--format", template];
        compare(args.join(" "), podman.stdout(&args), skiff(&args).stdout());
    }
    let want = columns_without_times(&podman.stdout(&["system", "df", "-v"]));
    let got = columns_without_times(&skiff(&["system", "df", "-v"]).stdout());
    compare("system df -v".into(), want, got);
    // Podman 5's JSON: its summary fields, with the values the templates print.
    let rows: Value =
        serde_json::from_str(&skiff(&["system", "df", "--format", "json"]).stdout()).unwrap();
    let fields = "{{.Type}}|{{.Total}}|{{.Active}}|{{.RawSize}}|{{.RawReclaimable}}|{{.Total}}|{{.Size}}|{{.Reclaimable}}";
    let want = podman.stdout(&["system", "df", "--format", fields]);
    let got: String = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let object = row.as_object().unwrap();
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "Type",
                    "Total",
                    "Active",
                    "RawSize",
                    "RawReclaimable",
                    "TotalCount",
                    "Size",
                    "Reclaimable"
                ]
            );
            let values: Vec<String> = object
                .values()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect();
            format!("{}\n", values.join("|"))
        })
        .collect();
    compare("system df --format json".into(), want, got);
    // Podman 5 refuses the pair (4.3 ignores --format).
    let args = ["system", "df", "-v", "--format", "json"];
    compare(
        args.join(" "),
        "Some(125)".into(),
        exit(skiff(&args).output()),
    );

    assert!(
        failures.is_empty(),
        "outputs differ:\n{}",
        failures.join("\n")
    );
}

/// Every key of a JSON document, as dotted paths (array items add `[]`).
fn key_paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = match prefix {
                        "" => key.clone(),
                        _ => format!("{prefix}.{key}"),
                    };
                    out.insert(path.clone());
                    walk(inner, &path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// For each object both documents have at the same path, the keys both have, in each one's
/// order: (path, (Podman's order, skiff's order)).
fn key_orders(want: &Value, got: &Value) -> Vec<(String, (String, String))> {
    fn walk(want: &Value, got: &Value, path: &str, out: &mut Vec<(String, (String, String))>) {
        if let (Value::Object(w), Value::Object(g)) = (want, got) {
            let order = |a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>| {
                a.keys()
                    .filter(|k| b.contains_key(*k))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            };
            out.push((path.to_string(), (order(w, g), order(g, w))));
            for (key, inner) in w {
                if let Some(other) = g.get(key) {
                    walk(inner, other, &format!("{path}.{key}"), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(want, got, "", &mut out);
    out
}

/// Each line of a YAML document with its value blanked, with the key path it belongs to:
/// `(path, indentation + "- " + key)`. The lines of a `|-` block are dropped.
fn yaml_skeleton(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // (indentation of the key, its path)
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block_indent: Option<usize> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        if let Some(block) = block_indent {
            if indent > block {
                continue;
            }
            block_indent = None;
        }
        let mut content = line.trim_start();
        let mut key_indent = indent;
        let mut item = "";
        if let Some(rest) = content.strip_prefix("- ") {
            content = rest;
            key_indent += 2;
            item = "- ";
        }
        while stack.last().is_some_and(|(i, _)| *i >= key_indent) {
            stack.pop();
        }
        let parent = stack.last().map_or(String::new(), |(_, p)| p.clone());
        let parent = match item {
            "- " => format!("{parent}[]"),
            _ => parent,
        };
        let (key, value) = match content.split_once(": ") {
            Some((key, value)) => (Some(key), value),
            None => match content.strip_suffix(':') {
                Some(key) => (Some(key), ""),
                None => (None, content),
            },
        };
        match key {
            Some(key) => {
                let path = format!("{parent}.{key}");
                out.push((path.clone(), format!("{}{item}{key}:", " ".repeat(indent))));
                stack.push((key_indent, path));
                if value.starts_with('|') {
                    block_indent = Some(key_indent);
                }
            }
            None => out.push((parent, format!("{}-", " ".repeat(indent)))),
        }
    }
    out
}

/// `df -v` as cells (columns are two or more spaces apart), with the CREATED and CONTAINER ID
/// cells of the containers' section blanked: the two stores made them at different moments.
fn columns_without_times(text: &str) -> String {
    let mut containers = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.ends_with("space usage:") {
            containers = line.starts_with("Containers");
        }
        let mut cells: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if containers && cells.len() == 8 && cells[0] != "CONTAINER ID" {
            cells[0] = "-";
            cells[5] = "-";
        }
        out.push_str(&cells.join(" | "));
        out.push('\n');
    }
    out
}
