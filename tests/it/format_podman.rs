//! `--format` against the Podman installed on the machine: the same image (loaded from the same
//! archive), a volume, a network and a created container in both, then the same templates, whose
//! outputs must be identical. Only fields whose values must agree are printed; what legitimately
//! differs (store paths, ids and creation times of things made separately) is left out of the
//! templates or blanked in the JSON before comparing. Podman runs rootless as the test user, with
//! its own HOME and XDG directories in the test's directory, and is reset at the end.
//!
//! The installed Podman may be 4.x while skiff follows Podman 5 where they differ, so the
//! templates avoid those fields: `{{json .}}` (4.x prints the `--format json` list), ps `.State`
//! and `.Restarts`, history `.CreatedAt`, and the image JSON's key order.

use crate::common::podman::{podman_missing, Podman};
use crate::common::skiff_test;

/// Every Podman template function, `table`, `range`, `if`, `len`, `index` and `json`, on
/// fields that must agree, for each listing and inspect command.
const TEMPLATES: &[(&[&str], &str)] = &[
    (&["images"], "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Digest}}|{{.Size}}|{{.VirtualSize}}|{{.SharedSize}}|{{.Containers}}|{{.Created}}|{{.CreatedAt}}|{{.CreatedSince}}|{{.CreatedTime}}|{{.History}}|{{.Labels}}|{{.Names}}|{{.RepoDigests}}|{{.RepoTags}}|{{.ReadOnly}}|{{.IsReadOnly}}|{{.Dangling}}|{{.ParentId}}"),
    (&["images", "--no-trunc"], "{{.ID}}"),
    (&["images"], "table {{.Repository}} {{.Tag}}\\t{{.ID}} {{.Size}} {{.Created}} {{.ReadOnly}}"),
    (&["images"], "{{upper .Repository}} {{lower \"ABC\"}} {{title .Tag}} {{truncate .ID 5}} {{join .Names \", \"}} {{pad .Tag 2 3}}| {{split .Repository \"/\"}}"),
    (&["images"], "{{json .Names}} {{json .RepoDigests}} {{json .Size}} {{range .Names}}[{{.}}]{{end}} {{len .RepoDigests}} {{index .Names 0}} {{if .Dangling}}d{{else}}n{{end}}"),
    (&["history", "localhost/testbox"], "{{.ID}}|{{.Created}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.Tags}}|{{.CreatedSince}}"),
    (&["history", "-H=false", "localhost/testbox"], "{{.Created}}|{{.Size}}"),
    (&["history", "localhost/testbox"], "table {{.ID}} {{.Size}} {{upper .CreatedBy}}"),
    (&["ps", "-a"], "{{.Image}}|{{.ImageID}}|{{.Command}}|{{.Names}}|{{.Labels}}|{{.Exited}}|{{.ExitCode}}|{{.ExitedAt}}|{{.StartedAt}}|{{.IsInfra}}|{{.Mounts}}|{{.Networks}}|{{.Pod}}|{{.PodName}}|{{.Pid}}|{{.AutoRemove}}|{{.Ports}}|{{.Status}}|{{.Namespaces.NET}}"),
    (&["ps", "-a", "--no-trunc"], "{{.ImageID}}"),
    (&["ps", "-a"], "table {{.Names}} {{.Image}} {{.Command}} {{.Status}} {{.Pod}} {{.PodName}} {{.Networks}}"),
    (&["ps", "-a"], "{{json .Labels}} {{range $k, $v := .Labels}}{{$k}}={{$v}}{{end}} {{title .Names}}"),
    (&["volume", "ls"], "{{.Name}}|{{.Driver}}|{{.Labels}}|{{.Scope}}|{{.Options}}|{{.MountCount}}|{{.NeedsCopyUp}}|{{.NeedsChown}}|{{.Timeout}}|{{.UID}}|{{.GID}}|{{.Anonymous}}"),
    (&["volume", "ls"], "table {{.Name}} {{.Driver}} {{.NeedsChown}} {{.MountCount}} {{json .Labels}}"),
    (&["network", "ls"], "{{range .}}{{if eq .Name \"net1\"}}{{.Name}}|{{.Driver}}|{{.IPv6Enabled}}|{{.DNSEnabled}}|{{.Internal}}|{{.IPAMOptions}}|{{.Options}}|{{.Labels}}|{{len .Subnets}}|{{len .ID}}{{end}}{{end}}"),
    (&["image", "inspect", "localhost/testbox"], "{{.Id}}|{{.Digest}}|{{.Created}}|{{.Size}}|{{.VirtualSize}}|{{.Architecture}}|{{.Os}}|{{.Author}}|{{.Comment}}|{{.RepoTags}}|{{.RepoDigests}}|{{.Parent}}|{{.Labels}}|{{.User}}|{{len .RootFS.Layers}}|{{.RootFS.Type}}|{{json .Config.Cmd}}|{{.ManifestType}}|{{.NamesHistory}}"),
    (&["container", "inspect", "ctr1"], "{{.Name}}|{{.ImageName}}|{{.Image}}|{{.ImageDigest}}|{{.Config.Labels}}|{{.State.Status}}|{{.State.Running}}|{{json .Config.Cmd}}|{{.Path}}|{{.Args}}|{{.RestartCount}}|{{.State.StartedAt}}|{{.EffectiveCaps}}|{{.Pod}}|{{.IsInfra}}|{{.Dependencies}}"),
    (&["volume", "inspect", "vol1"], "{{.Name}}|{{.Driver}}|{{.Labels}}|{{.Scope}}|{{.Options}}|{{.MountCount}}|{{.NeedsCopyUp}}|{{.NeedsChown}}|{{.UID}}|{{.GID}}"),
    (&["network", "inspect", "net1"], "{{.Name}}|{{.Driver}}|{{.Labels}}|{{.IPv6Enabled}}|{{.DNSEnabled}}|{{.Internal}}|{{.IPAMOptions}}|{{.Options}}|{{len .Subnets}}"),
];

/// `--format json` outputs compared as values, with what differs between two stores blanked.
const JSON_OUTPUTS: &[(&[&str], &[&str])] = &[
    (&["images"], &[]),
    (&["history", "localhost/testbox"], &[]),
    (&["ps", "-a"], &["Id", "CreatedAt", "Created"]),
    (&["volume", "ls"], &["Mountpoint", "CreatedAt"]),
];

fn blank(value: &mut serde_json::Value, keys: &[&str]) {
    for item in value.as_array_mut().unwrap() {
        for key in keys {
            if let Some(v) = item.get_mut(*key) {
                *v = serde_json::Value::Null;
            }
        }
    }
}

#[test]
fn templates_print_what_podman_prints() {
    let test = skiff_test!();
    if podman_missing(test) {
        return;
    }
    let Some(env) = test.rootless() else {
        return;
    };
    let podman = Podman::setup(&env);
    let archive = crate::common::images::test_images().docker_archive.clone();
    let archive = archive.to_str().unwrap();
    let setup: &[&[&str]] = &[
        &["load", "-q", "-i", archive],
        &["volume", "create", "--label", "a=b", "vol1"],
        &["network", "create", "net1"],
        &[
            "create",
            "--name",
            "ctr1",
            "--label",
            "x=y",
            "localhost/testbox",
            "sleep",
            "100",
        ],
    ];
    for args in setup {
        podman.stdout(args);
        env.skiff(args).stdout();
    }
    let mut failures = Vec::new();
    for (args, template) in TEMPLATES {
        let args = [*args, &["--format", template]].concat();
        let want = podman.stdout(&args);
        let got = env.skiff(&args).stdout();
        if want != got {
            failures.push(format!(
                "{}\n  podman: {want:?}\n  skiff:  {got:?}",
                args.join(" ")
            ));
        }
    }
    for (args, keys) in JSON_OUTPUTS {
        let args = [*args, &["--format", "json"]].concat();
        let mut want: serde_json::Value = serde_json::from_str(&podman.stdout(&args)).unwrap();
        let mut got: serde_json::Value = serde_json::from_str(&env.skiff(&args).stdout()).unwrap();
        blank(&mut want, keys);
        blank(&mut got, keys);
        if want != got {
            failures.push(format!(
                "{}\n  podman: {want}\n  skiff:  {got}",
                args.join(" ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "outputs differ:\n{}",
        failures.join("\n")
    );
}
