//! Unit tests of the `--format` module: template, table and JSON output against the bytes
//! Podman prints for the same input.

use super::*;
use serde_json::json;

fn inspect_item() -> serde_json::Value {
    // Keys deliberately out of alphabetical order, as Podman's structs are.
    json!({
        "Id": "sha256:abc",
        "RepoTags": ["docker.io/library/alpine:latest", "localhost/x:1"],
        "Size": 1000000,
        "VirtualSize": 7.0,
        "Ratio": 2.5,
        "Config": {
            "Env": ["PATH=/bin"],
            "Labels": {"zeta": "last", "alpha": "first"},
            "Cmd": ["sh", "-c", "a && b"]
        },
        "RootFS": {"Type": "layers", "Layers": ["sha256:l1", "sha256:l2"]},
        "Empty": [],
        "Nothing": null
    })
}

fn each(template: &str) -> String {
    render_each(template, &[inspect_item()]).unwrap()
}

#[test]
fn parse_format_variants() {
    assert_eq!(parse_format("json"), OutputFormat::Json);
    assert_eq!(parse_format("JSON"), OutputFormat::Json);
    assert_eq!(parse_format(" json "), OutputFormat::Json);
    assert_eq!(parse_format("{{json}}"), OutputFormat::Json);
    assert_eq!(parse_format("{{ json. }}"), OutputFormat::Json);
    assert_eq!(parse_format("table"), OutputFormat::Table);
    assert_eq!(
        parse_format("table {{.A}}\t{{.B}}"),
        OutputFormat::Template {
            text: "{{.A}}\t{{.B}}".into(),
            table: true
        }
    );
    assert_eq!(
        parse_format("{{json .}}"),
        OutputFormat::Template {
            text: "{{json .}}".into(),
            table: false
        }
    );
    assert_eq!(
        parse_format("{{.ID}}"),
        OutputFormat::Template {
            text: "{{.ID}}".into(),
            table: false
        }
    );
}

#[test]
fn one_line_per_item_with_trailing_newline() {
    let items = [json!({"ID": "a"}), json!({"ID": "b"})];
    assert_eq!(render_each("{{.ID}}", &items).unwrap(), "a\nb\n");
    // An explicit final newline is not doubled.
    assert_eq!(render_each("{{.ID}}\n", &items).unwrap(), "a\nb\n");
    assert_eq!(render_each("{{.ID}}", &[]).unwrap(), "");
}

#[test]
fn fields_nested_fields_and_len() {
    assert_eq!(each("{{.Id}}"), "sha256:abc\n");
    assert_eq!(each("{{len .RootFS.Layers}}"), "2\n");
    assert_eq!(each("{{.RootFS.Type}}"), "layers\n");
    assert_eq!(each("{{index .RootFS.Layers 1}}"), "sha256:l2\n");
    assert_eq!(each(r#"{{index .Config.Labels "alpha"}}"#), "first\n");
}

#[test]
fn bare_lists_and_maps_print_as_go() {
    assert_eq!(each("{{.RootFS.Layers}}"), "[sha256:l1 sha256:l2]\n");
    assert_eq!(each("{{.Empty}}"), "[]\n");
    // Map keys sorted, whatever the input order.
    assert_eq!(each("{{.Config.Labels}}"), "map[alpha:first zeta:last]\n");
}

#[test]
fn missing_map_key_prints_no_value() {
    assert_eq!(each("{{.Config.Labels.nope}}"), "<no value>\n");
    assert_eq!(each("{{.Nothing}}"), "<no value>\n");
}

#[test]
fn numbers_print_as_integers_when_integral() {
    assert_eq!(each("{{.Size}}"), "1000000\n");
    assert_eq!(each("{{.VirtualSize}}"), "7\n");
    assert_eq!(each("{{.Ratio}}"), "2.5\n");
    assert_eq!(
        each(r#"{{printf "%d-%s" .Size .Id}}"#),
        "1000000-sha256:abc\n"
    );
}

#[test]
fn go_builtins_work() {
    assert_eq!(
        each("{{range .RepoTags}}{{.}} {{end}}"),
        "docker.io/library/alpine:latest localhost/x:1 \n"
    );
    assert_eq!(
        each("{{if eq .Size 1000000}}big{{else}}small{{end}}"),
        "big\n"
    );
    assert_eq!(each(r#"{{if ne .Id "x"}}ne{{end}}"#), "ne\n");
    assert_eq!(each("{{if and .Id .Size}}both{{end}}"), "both\n");
    assert_eq!(each("{{if or .Empty .Size}}one{{end}}"), "one\n");
    assert_eq!(each("{{if not .Empty}}none{{end}}"), "none\n");
    assert_eq!(
        each("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
        "alpha=first;zeta=last;\n"
    );
    assert_eq!(each("{{with .RootFS}}{{.Type}}{{end}}"), "layers\n");
    assert_eq!(
        each("{{range .RepoTags}}{{$.Id}}{{end}}"),
        "sha256:abcsha256:abc\n"
    );
}

#[test]
fn json_function_is_compact_and_keeps_field_order() {
    assert_eq!(
        each("{{json .Config}}"),
        r#"{"Env":["PATH=/bin"],"Labels":{"zeta":"last","alpha":"first"},"Cmd":["sh","-c","a && b"]}"#
            .to_string()
            + "\n"
    );
    assert_eq!(
        each("{{json .RootFS.Layers}}"),
        "[\"sha256:l1\",\"sha256:l2\"]\n"
    );
    assert_eq!(each("{{json .Id}}"), "\"sha256:abc\"\n");
    assert_eq!(each("{{json .Size}}"), "1000000\n");
    let items = [json!({"ID": "a", "Names": ["x"]})];
    assert_eq!(
        render_each("{{json .}}", &items).unwrap(),
        "{\"ID\":\"a\",\"Names\":[\"x\"]}\n"
    );
}

#[test]
fn podman_string_functions() {
    assert_eq!(each("{{upper .RootFS.Type}}"), "LAYERS\n");
    assert_eq!(each("{{lower \"AbC\"}}"), "abc\n");
    assert_eq!(
        each(r#"{{title "hello wide-world foo_bar"}}"#),
        "Hello Wide-World Foo_bar\n"
    );
    assert_eq!(each("{{truncate .Id 6}}"), "sha256\n");
    assert_eq!(each("{{truncate .Id 100}}"), "sha256:abc\n");
    assert_eq!(
        each(r#"{{join .RepoTags ", "}}"#),
        "docker.io/library/alpine:latest, localhost/x:1\n"
    );
    assert_eq!(each(r#"{{pad .RootFS.Type 2 3}}|"#), "  layers   |\n");
    assert_eq!(each(r#"{{pad "" 2 3}}|"#), "|\n");
    assert_eq!(each(r#"{{split "a:b:c" ":"}}"#), "[a b c]\n");
    assert_eq!(each(r#"{{index (split "a:b:c" ":") 2}}"#), "c\n");
    assert_eq!(each("{{.Id | upper}}"), "SHA256:ABC\n");
}

#[test]
fn escapes_typed_on_the_command_line() {
    let items = [json!({"A": "x", "B": "y"})];
    // Non-table templates get real tabs but no alignment.
    assert_eq!(render_each(r"{{.A}}\t{{.B}}", &items).unwrap(), "x\ty\n");
    assert_eq!(render_each(r"{{.A}}\n{{.B}}", &items).unwrap(), "x\ny\n");
}

#[test]
fn template_ranging_over_dot_runs_once() {
    let items = [json!({"ID": "a"}), json!({"ID": "b"})];
    assert_eq!(
        render_each("{{range .}}{{.ID}},{{end}}", &items).unwrap(),
        "a,b,\n"
    );
}

#[test]
fn unknown_field_is_a_one_line_error() {
    let err = render_each("{{.Foo}}", &[inspect_item()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("can't evaluate field Foo"), "{err}");
    assert!(err.contains("\"{{.Foo}}\""), "{err}");
    assert!(!err.contains('\n'), "{err}");
    let err = render_each("{{.RootFS.Type.Foo}}", &[inspect_item()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("can't evaluate field Foo in type string"),
        "{err}"
    );
}

#[test]
fn syntax_and_function_errors_are_one_line() {
    for bad in [
        "{{.Id",
        "{{nosuchfunc .Id}}",
        "{{upper .Id .Id}}",
        "{{truncate .Id}}",
    ] {
        let err = render_each(bad, &[inspect_item()]).unwrap_err().to_string();
        assert!(err.starts_with("template "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
    let err = render_each("{{nosuchfunc .Id}}", &[inspect_item()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuchfunc"), "{err}");
}

#[test]
fn plain_table_aligns_like_podman() {
    let out = render_table(
        &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        &[vec![
            "docker.io/library/alpine".into(),
            "latest".into(),
            "c059bfaa849c".into(),
            "2 weeks ago".into(),
            "5.87 MB".into(),
        ]],
    );
    assert_eq!(
        out,
        "REPOSITORY                TAG         IMAGE ID      CREATED      SIZE\n\
         docker.io/library/alpine  latest      c059bfaa849c  2 weeks ago  5.87 MB\n"
    );
}

fn image_rows() -> Vec<serde_json::Value> {
    vec![
        json!({"Repository": "docker.io/library/alpine", "Tag": "latest", "ID": "c059bfaa849c", "CreatedSince": "2 weeks ago", "CreatedAt": "2024-01-02 15:04:05 +0000 UTC", "Size": "5.87 MB"}),
        json!({"Repository": "localhost/mine", "Tag": "1", "ID": "0123456789ab", "CreatedSince": "3 hours ago", "CreatedAt": "2024-01-03 15:04:05 +0000 UTC", "Size": "120 MB"}),
    ]
}

const IMAGE_HEADERS: &[(&str, &str)] = &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")];

#[test]
fn table_template_with_tab_escape_and_headers() {
    let out = render_table_template(
        r"table {{.Repository}}\t{{.ID}}\t{{.CreatedSince}}",
        &image_rows(),
        IMAGE_HEADERS,
    )
    .unwrap();
    assert_eq!(
        out,
        "REPOSITORY                IMAGE ID      CREATED\n\
         docker.io/library/alpine  c059bfaa849c  2 weeks ago\n\
         localhost/mine            0123456789ab  3 hours ago\n"
    );
}

#[test]
fn table_template_with_real_tabs_spaces_and_derived_headers() {
    // Spaces between actions separate columns, as Podman's replacer
    // turns them into tabs; CreatedAt has no override.
    let out = render_table_template(
        "table {{.Tag}} {{.CreatedAt}}\t{{.Size}}",
        &image_rows(),
        IMAGE_HEADERS,
    )
    .unwrap();
    assert_eq!(
        out,
        "TAG         CREATED AT                     SIZE\n\
         latest      2024-01-02 15:04:05 +0000 UTC  5.87 MB\n\
         1           2024-01-03 15:04:05 +0000 UTC  120 MB\n"
    );
}

#[test]
fn table_template_without_items_prints_header_only() {
    let out = render_table_template("table {{.ID}}\t{{.Repository}}", &[], IMAGE_HEADERS).unwrap();
    assert_eq!(out, "IMAGE ID    REPOSITORY\n");
    let out = render_table_template_with("{{.ID}}\t{{.Tag}}", &image_rows(), IMAGE_HEADERS, false)
        .unwrap();
    assert_eq!(out, "c059bfaa849c  latest\n0123456789ab  1\n");
}

#[test]
fn header_names_split_camel_case() {
    assert_eq!(header_from_field("CreatedAt"), "CREATED AT");
    assert_eq!(header_from_field("ID"), "ID");
    assert_eq!(header_from_field("RepoTags"), "REPO TAGS");
    assert_eq!(header_from_field("PDFLoader"), "PDF LOADER");
    assert_eq!(header_from_field("GL11Version"), "GL 11 VERSION");
    assert_eq!(header_from_field("ReadOnly"), "READ ONLY");
}

#[test]
fn json_list_uses_four_spaces_and_go_escaping() {
    let v = json!([{"Id": "a", "Names": ["x<y>&z"], "Empty": [], "Map": {}}]);
    assert_eq!(
        render_json(&v).unwrap(),
        "[\n    {\n        \"Id\": \"a\",\n        \"Names\": [\n            \"x\\u003cy\\u003e\\u0026z\"\n        ],\n        \"Empty\": [],\n        \"Map\": {}\n    }\n]\n"
    );
    assert_eq!(render_json(&json!([])).unwrap(), "[]\n");
}

#[test]
fn inspect_json_uses_five_spaces_without_html_escaping() {
    let v = json!([{"Cmd": "a && b"}]);
    assert_eq!(
        render_inspect_json(&v).unwrap(),
        "[\n     {\n          \"Cmd\": \"a && b\"\n     }\n]\n"
    );
}

#[test]
fn listing_prints_templates_from_rows_and_json_from_its_own_items() {
    let listing = Listing {
        rows: vec![json!({"Name": "v", "CreatedAt": "2024-01-02 03:04:05 +0000 UTC"})],
        json: vec![json!({"Name": "v", "CreatedAt": "2024-01-02T03:04:05Z"})],
        json_style: JsonStyle::Indented("  "),
        headers: &[("Name", "VOLUME NAME")],
        noheading: false,
    };
    assert_eq!(
        listing
            .render(Some("{{.CreatedAt}}"), |_| unreachable!())
            .unwrap(),
        "2024-01-02 03:04:05 +0000 UTC\n"
    );
    assert_eq!(
        listing.render(Some("json"), |_| unreachable!()).unwrap(),
        "[\n  {\n    \"Name\": \"v\",\n    \"CreatedAt\": \"2024-01-02T03:04:05Z\"\n  }\n]\n"
    );
    assert_eq!(
        listing
            .render(Some("table {{.Name}}"), |_| unreachable!())
            .unwrap(),
        "VOLUME NAME\nv\n"
    );
    let quiet = Listing {
        noheading: true,
        ..listing
    };
    assert_eq!(
        quiet
            .render(Some("table {{.Name}}"), |_| unreachable!())
            .unwrap(),
        "v\n"
    );
    assert_eq!(
        quiet
            .render(None, |rows| column_table(rows, &[("Name", "NAME")]))
            .unwrap(),
        "v\n"
    );
}

#[test]
fn compact_json_is_one_escaped_line_like_a_go_encoder() {
    let v = json!([{"id": "<missing>", "size": 7168}]);
    assert_eq!(
        render_json_styled(&v, JsonStyle::Compact).unwrap(),
        "[{\"id\":\"\\u003cmissing\\u003e\",\"size\":7168}]\n"
    );
    assert_eq!(
        render_json_styled(&json!([]), JsonStyle::Compact).unwrap(),
        "[]\n"
    );
}

#[test]
fn go_times_for_templates() {
    assert_eq!(
        go_time_text("2026-11-23T18:41:20.202095145Z"),
        "2026-11-23 18:41:20.202095145 +0000 UTC"
    );
    assert_eq!(go_time_text(""), "0001-01-01 00:00:00 +0000 UTC");
    let item = json!({"Created": "2024-01-02T03:04:05Z", "State": {"StartedAt": ""}, "Name": "2024-01-02T03:04:05Z"});
    let view = with_go_times(&item, &["Created", "State.StartedAt", "Missing.Path"]);
    assert_eq!(view["Created"], "2024-01-02 03:04:05 +0000 UTC");
    assert_eq!(view["State"]["StartedAt"], "0001-01-01 00:00:00 +0000 UTC");
    // Only the named paths change.
    assert_eq!(view["Name"], "2024-01-02T03:04:05Z");
}

#[test]
fn a_go_struct_reads_go_names_and_prints_json_names() {
    let info = json!({
        "host": {"os": "linux", "idMappings": {"uidmap": [{"container_id": 0, "host_id": 1000}], "gidmap": null}},
        "registries": {"search": ["docker.io"]},
    });
    let capital = |key: &str| match key {
        "os" => "OS".to_string(),
        "idMappings" => "IDMappings".to_string(),
        "uidmap" => "UIDMap".to_string(),
        "gidmap" => "GIDMap".to_string(),
        "container_id" => "ContainerID".to_string(),
        "host_id" => "HostID".to_string(),
        other => other[..1].to_uppercase() + &other[1..],
    };
    let names = GoStruct {
        field_name: capital,
        maps: &["registries"],
    };
    let render = |t: &str| render_struct(t, &info, &names);
    assert_eq!(
        render("{{.Host.OS}} {{range .Host.IDMappings.UIDMap}}{{.ContainerID}}:{{.HostID}}{{end}} {{.Registries.search}}").unwrap(),
        "linux 0:1000 [docker.io]\n"
    );
    assert_eq!(
        render("{{json .Host.IDMappings}}").unwrap(),
        "{\"uidmap\":[{\"container_id\":0,\"host_id\":1000}],\"gidmap\":null}\n"
    );
    // A null field is a nil slice: [] in a template, null in JSON.
    assert_eq!(
        render("{{.Host.IDMappings.GIDMap}} {{len .Host.IDMappings.GIDMap}} {{json .Host.IDMappings.GIDMap}}").unwrap(),
        "[] 0 null\n"
    );
    // A Go map's missing key prints <no value>; a struct's missing field is an error, nested
    // or not.
    assert_eq!(render("{{.Registries.nope}}").unwrap(), "<no value>\n");
    let err = render("{{.Host.Os}}").unwrap_err().to_string();
    assert!(err.contains("can't evaluate field Os"), "{err}");
    let err = render("{{.Nope}}").unwrap_err().to_string();
    assert!(err.contains("can't evaluate field Nope"), "{err}");
}
