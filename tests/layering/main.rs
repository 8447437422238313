//! The layering check (ARCHITECTURE.md mirrors the rules below): skiff's modules stand on a
//! ladder of floors, and a module may use any module on a lower floor, but on its own floor only
//! those listed in [`SAME_FLOOR`], and nothing above. It reads every `src/**/*.rs` and fails,
//! naming file and line, when:
//! - a file names a module above its own floor, or a module of its own floor it is not allowed
//!   (`crate::x`, each item of `use crate::{x, y::z}`, or `super::super::x` climbing to the root);
//! - a file of `cli/` names `crate::store`, `crate::runtime`, `crate::config` or `crate::archive`,
//!   or reads `ctx.store` or `ctx.config` (the command line parses and prints; the operations
//!   do the work, containers.conf's defaults included);
//! - a top-level module is not on the ladder at all;
//! - a source file under src/ (test files and the trampoline included) is over [`MAX_LINES`].
//!
//! Files under tests/ are not held to [`MAX_LINES`]: each integration-test file is a list of
//! independent scenarios for one command area, which share nothing but the harness, so their
//! length tangles nothing; the ladder does not apply to them either (they use only the binary).

mod scan;

use std::path::Path;

/// The ladder, lowest floor first: every top-level module of src/ and its floor.
const FLOORS: &[(&str, u8)] = &[
    // 0. base: small shared modules that use nothing above them.
    ("clock", 0),
    ("filter", 0),
    ("paths", 0),
    ("digest", 0),
    ("size", 0),
    ("words", 0),
    // 1. all unsafe, fork and raw syscalls.
    ("runtime", 1),
    ("archive", 2),
    ("config", 3),
    ("store", 3),
    ("registry", 3),
    ("events", 4),
    ("context", 4),
    ("image", 5),
    ("network", 5),
    ("volume", 5),
    ("container", 6),
    ("build", 7),
    ("system", 8),
    ("cli", 9),
    // src/main.rs, the binary.
    ("main", 9),
];

/// The modules each module may use on its own floor (any lower floor is always allowed).
const SAME_FLOOR: &[(&str, &[&str])] = &[
    ("filter", &["clock"]),
    ("store", &["config"]),
    ("registry", &["config", "store"]),
    ("context", &["events"]),
    ("volume", &["image"]),
    ("main", &["cli"]),
];

/// What the command line must never name: it parses, calls one operation and prints.
const CLI_FORBIDDEN: &[&str] = &["store", "runtime", "config", "archive"];

/// The longest a source file may be.
const MAX_LINES: usize = 800;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    /// `src/image/commit.rs`.
    file: String,
    line: usize,
    /// The module named, `ctx.store`, or `length` for a long file.
    target: String,
    message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

fn floor_of(module: &str) -> Option<u8> {
    FLOORS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|&(_, floor)| floor)
}

fn same_floor_allowed(user: &str, used: &str) -> bool {
    SAME_FLOOR
        .iter()
        .any(|(name, allowed)| *name == user && allowed.contains(&used))
}

/// The rule `user` breaks by naming `used`, if any.
fn ladder_rule_broken(user: &str, used: &str) -> Option<String> {
    if user == used {
        return None;
    }
    let Some(used_floor) = floor_of(used) else {
        return Some(format!(
            "{user} module uses {used}, which is not on the ladder (add it to FLOORS)"
        ));
    };
    let user_floor = floor_of(user)?;
    if used_floor > user_floor {
        Some(format!(
            "{user} module (floor {user_floor}) uses {used} module (floor {used_floor}) (upward)"
        ))
    } else if used_floor == user_floor && !same_floor_allowed(user, used) {
        Some(format!(
            "{user} module (floor {user_floor}) uses {used} module (floor {used_floor}) (same floor, not in SAME_FLOOR)"
        ))
    } else {
        None
    }
}

/// Every rule that `source`, the text of `file` (`src/…`), breaks.
fn check_file(file: &str, source: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let violation = |line, target: &str, message: String| Violation {
        file: file.to_owned(),
        line,
        target: target.to_owned(),
        message,
    };
    let lines = source.lines().count();
    if lines > MAX_LINES {
        violations.push(violation(
            lines,
            "length",
            format!("{lines} lines, over the {MAX_LINES} a source file may have"),
        ));
    }
    // The trampoline is a program of its own (build.rs compiles it alone): its `crate` is itself.
    if file.starts_with("src/runtime/trampoline/") || file == "src/lib.rs" {
        return violations;
    }
    let path = scan::module_path(file);
    let user = path.first().map_or("main", String::as_str);
    if floor_of(user).is_none() {
        violations.push(violation(
            1,
            user,
            format!("{user} is not on the ladder (add it to FLOORS)"),
        ));
        return violations;
    }
    let code = scan::blank_comments_and_literals(source);
    for reference in scan::top_level_references(&code, &path) {
        if let Some(message) = ladder_rule_broken(user, &reference.module) {
            violations.push(violation(reference.line, &reference.module, message));
        } else if user == "cli" && CLI_FORBIDDEN.contains(&reference.module.as_str()) {
            let message = format!(
                "cli module names crate::{} (the command line only parses and prints)",
                reference.module
            );
            violations.push(violation(reference.line, &reference.module, message));
        }
    }
    if user == "cli" {
        for (field, owner) in [
            ("store", "the store belongs to the operations"),
            (
                "config",
                "containers.conf's defaults are merged by the operations",
            ),
        ] {
            for line in scan::reads_field(&code, "ctx", field) {
                let message = format!("cli module reads ctx.{field} ({owner})");
                violations.push(violation(line, &format!("ctx.{field}"), message));
            }
        }
    }
    violations
}

/// Every `.rs` file under `dir`, as paths relative to the package root.
fn rust_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(root, &path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            found.push(relative.to_string_lossy().into_owned());
        }
    }
}

fn violations_in_source_tree() -> Vec<Violation> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(root, &root.join("src"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    files
        .iter()
        .flat_map(|file| {
            let source = std::fs::read_to_string(root.join(file)).expect("readable source");
            check_file(file, &source)
        })
        .collect()
}

#[test]
fn no_module_calls_upward_and_no_file_is_too_long() {
    let broken: Vec<String> = violations_in_source_tree()
        .iter()
        .map(Violation::to_string)
        .collect();
    assert!(
        broken.is_empty(),
        "the layering rules are broken (see ARCHITECTURE.md):\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_floor_and_same_floor_pair_names_a_module_of_the_ladder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (module, _) in FLOORS {
        let file = match *module {
            "main" => src.join("main.rs"),
            _ => src.join(format!("{module}.rs")),
        };
        assert!(
            file.is_file() || src.join(module).join("mod.rs").is_file(),
            "FLOORS names {module}, which src/ does not have"
        );
    }
    for (user, allowed) in SAME_FLOOR {
        for used in *allowed {
            assert_eq!(
                floor_of(user),
                floor_of(used),
                "{user} and {used} are not on one floor"
            );
        }
    }
}

#[cfg(test)]
mod planted {
    use super::*;

    fn targets(file: &str, source: &str) -> Vec<(usize, String)> {
        check_file(file, source)
            .into_iter()
            .map(|v| (v.line, v.target))
            .collect()
    }

    #[test]
    fn an_upward_import_fails_with_file_line_and_floors() {
        let violations = check_file(
            "src/image/commit.rs",
            "use std::fs;\nuse crate::container::changes;\n",
        );
        assert_eq!(violations.len(), 1);
        assert_eq!(
            violations[0].to_string(),
            "src/image/commit.rs:2: image module (floor 5) uses container module (floor 6) (upward)"
        );
    }

    #[test]
    fn a_downward_import_passes() {
        let source = "use crate::store::Store;\nuse crate::runtime::userns;\nfn f() { crate::clock::now(); }\n";
        assert_eq!(targets("src/image/pull.rs", source), vec![]);
    }

    #[test]
    fn an_upward_path_inside_code_fails() {
        let source = "fn f() {\n    let x = 1;\n    crate::build::engine::forget_cached(x);\n}\n";
        assert_eq!(
            targets("src/image/mod.rs", source),
            vec![(3, "build".to_owned())]
        );
    }

    #[test]
    fn a_path_in_a_comment_or_literal_passes() {
        let source = concat!(
            "//! crate::container is above us\n",
            "/// see [`crate::container::remove`]\n",
            "/* crate::build /* nested crate::cli */ crate::system */\n",
            "fn f() -> &'static str {\n",
            "    let _q = '\"';\n",
            "    let _e = '\\'';\n",
            "    let _r = r#\"crate::container::x \"quoted\" \"#;\n",
            "    let _b = b\"crate::cli\";\n",
            "    \"crate::container::y\"\n",
            "}\n",
        );
        assert_eq!(targets("src/image/pull.rs", source), vec![]);
    }

    #[test]
    fn a_character_literal_quote_does_not_hide_the_code_after_it() {
        let source = "fn f() { let _q = '\"'; crate::container::remove(); }\n";
        assert_eq!(
            targets("src/network/manage.rs", source),
            vec![(1, "container".to_owned())]
        );
        // An escaped quote, then a quote character: misread, the `"` would open a string.
        let source = "fn f() { let _v = ['\\'','\"']; crate::container::remove(); }\n";
        assert_eq!(
            targets("src/network/manage.rs", source),
            vec![(1, "container".to_owned())]
        );
    }

    #[test]
    fn every_item_of_a_grouped_use_is_seen() {
        let source = "use crate::{\n    self,\n    store::Store,\n    container::{remove, current_state},\n};\n";
        assert_eq!(
            targets("src/volume/mod.rs", source),
            vec![(4, "container".to_owned())]
        );
    }

    #[test]
    fn super_chains_that_climb_to_the_root_are_seen() {
        let source = "use super::super::container::remove;\nuse super::manage;\n";
        assert_eq!(targets("src/network/x/y.rs", source), vec![]);
        assert_eq!(
            targets("src/network/manage.rs", source),
            vec![(1, "container".to_owned())]
        );
    }

    #[test]
    fn super_inside_an_inline_module_climbs_one_more_step() {
        let source = "mod tests {\n    use super::super::container;\n}\nuse super::container;\n";
        assert_eq!(targets("src/network/manage.rs", source), vec![]);
        assert_eq!(
            targets("src/network/mod.rs", source),
            vec![(2, "container".to_owned()), (4, "container".to_owned())]
        );
    }

    #[test]
    fn a_same_floor_use_passes_only_when_listed() {
        assert_eq!(
            targets("src/volume/mounts.rs", "use crate::image::find;"),
            vec![]
        );
        assert_eq!(
            targets("src/image/mod.rs", "use crate::volume::Volume;"),
            vec![(1, "volume".to_owned())]
        );
    }

    #[test]
    fn a_module_off_the_ladder_fails() {
        assert_eq!(
            targets("src/image/mod.rs", "use crate::kube::play;"),
            vec![(1, "kube".to_owned())]
        );
        assert_eq!(
            targets("src/kube/mod.rs", "fn f() {}"),
            vec![(1, "kube".to_owned())]
        );
    }

    #[test]
    fn the_command_line_never_names_the_store_or_reads_ctx_store() {
        let source = "use crate::store::Store;\nfn f(ctx: &Context) {\n    ctx.store.lock();\n    ctx.stores();\n    my_ctx.store;\n    let _ = &ctx.config.containers;\n}\n";
        assert_eq!(
            targets("src/cli/image.rs", source),
            vec![
                (1, "store".to_owned()),
                (3, "ctx.store".to_owned()),
                (6, "ctx.config".to_owned())
            ]
        );
        assert_eq!(
            targets("src/cli/image.rs", "use crate::container::run;"),
            vec![]
        );
    }

    #[test]
    fn a_file_over_the_limit_fails_and_one_at_it_passes() {
        let at_limit = "fn f() {}\n".repeat(MAX_LINES);
        assert_eq!(targets("src/clock.rs", &at_limit), vec![]);
        let over = "fn f() {}\n".repeat(MAX_LINES + 1);
        assert_eq!(
            targets("src/clock.rs", &over),
            vec![(MAX_LINES + 1, "length".to_owned())]
        );
    }

    #[test]
    fn the_trampoline_is_held_to_the_length_but_not_to_the_ladder() {
        let source = "use crate::anything;\n".repeat(MAX_LINES + 1);
        assert_eq!(
            targets("src/runtime/trampoline/main.rs", &source),
            vec![(MAX_LINES + 1, "length".to_owned())]
        );
    }
}
