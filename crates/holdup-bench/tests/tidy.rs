//! Checks that ARCHITECTURE.md's rules are the code's (in the spirit of rust-analyzer's `tidy`):
//!
//! - every dependency of every crate is one its row of the crates table allows, and none is one
//!   the row forbids (`cargo metadata` gives the dependencies, the table the rules);
//! - inside `holdup` and `holdup-core`, every module uses only modules of its own layer or of the
//!   layers below it, as the `layers` blocks list them, and every module is in a layer;
//! - the README's performance table is the one `holdup-bench compare` wrote into BENCHMARKS.md,
//!   not one typed by hand.
//!
//! A failure names the file or the dependency and the rule it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/holdup-bench sits two levels below the workspace")
        .to_path_buf()
}

fn architecture() -> String {
    std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// The names written in backticks in `cell`, each with whether it is marked `(dev)` (allowed as
/// a dev-dependency only) and `(optional)` (allowed only as an optional dependency).
fn names(cell: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut rest = cell;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let name = after[..close].to_owned();
        rest = &after[close + 1..];
        let note = rest.trim_start();
        let note = if note.starts_with('(') {
            &note[..note.find(')').map_or(note.len(), |i| i + 1)]
        } else {
            ""
        };
        out.push((name, note.contains("dev"), note.contains("optional")));
    }
    out
}

/// One row of the crates table.
#[derive(Debug)]
struct Row {
    everything: bool,
    /// name → (dev only, optional only)
    may: BTreeMap<String, (bool, bool)>,
    must_not: BTreeSet<String>,
}

fn crate_rules(doc: &str) -> BTreeMap<String, Row> {
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Crates and what they may depend on"))
        .expect("ARCHITECTURE.md has a section 'Crates and what they may depend on'");
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(
            cells.len(),
            4,
            "a row of the crates table has four cells: {line}"
        );
        let krate = cells[0].trim().trim_matches('`').to_owned();
        // A name listed twice (a dependency and a dev-dependency) takes the laxer rule.
        let mut may = BTreeMap::new();
        for (n, dev, opt) in names(cells[2]) {
            let e = may.entry(n).or_insert((dev, opt));
            *e = (e.0 && dev, e.1 && opt);
        }
        let must_not = names(cells[3]).into_iter().map(|(n, _, _)| n).collect();
        rows.insert(
            krate,
            Row {
                everything: cells[2].contains("everything"),
                may,
                must_not,
            },
        );
    }
    rows
}

#[derive(Debug)]
struct Dep {
    name: String,
    dev: bool,
    optional: bool,
}

/// Every workspace crate's declared dependencies, from `cargo metadata`.
fn dependencies() -> BTreeMap<String, Vec<Dep>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut all = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .map(|d| Dep {
                name: d["name"].as_str().expect("name").to_owned(),
                dev: d["kind"].as_str() == Some("dev"),
                optional: d["optional"].as_bool().unwrap_or(false),
            })
            .collect();
        all.insert(p["name"].as_str().expect("name").to_owned(), deps);
    }
    all
}

#[test]
fn every_dependency_is_one_its_row_allows() {
    let rules = crate_rules(&architecture());
    let mut problems = Vec::new();
    for (krate, deps) in dependencies() {
        let Some(row) = rules.get(&krate) else {
            problems.push(format!(
                "crate `{krate}` has no row in ARCHITECTURE.md's table"
            ));
            continue;
        };
        for d in deps {
            // A crate's dev-dependency on its own sibling for tests is still a dependency.
            let kind = if d.dev {
                "dev-dependency"
            } else {
                "dependency"
            };
            if row.must_not.contains(&d.name) && !(d.dev && row.may.contains_key(&d.name)) {
                problems.push(format!(
                    "`{krate}` has the {kind} `{}`, which its row forbids",
                    d.name
                ));
                continue;
            }
            if row.everything {
                continue;
            }
            match row.may.get(&d.name) {
                None => problems.push(format!(
                    "`{krate}` has the {kind} `{}`, which its row does not list",
                    d.name
                )),
                Some((true, _)) if !d.dev => problems.push(format!(
                    "`{krate}` has the dependency `{}`, which its row allows as a dev-dependency only",
                    d.name
                )),
                Some((_, true)) if !d.dev && !d.optional => problems.push(format!(
                    "`{krate}` has the dependency `{}` always, which its row allows behind a feature only",
                    d.name
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's crates table and the Cargo.toml files disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// The `layers <crate>` block: each module's layer (the number that starts its line; lower
/// layers first).
fn layers(doc: &str, krate: &str) -> BTreeMap<String, usize> {
    let fence = format!("```layers {krate}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has a ```layers {krate} block"))
        + fence.len();
    let end = start + doc[start..].find("```").expect("the block ends");
    let mut out = BTreeMap::new();
    for line in doc[start..end].lines() {
        let line = line.split('#').next().unwrap_or("");
        let Some((n, mods)) = line.split_once('.') else {
            continue;
        };
        let layer: usize = n
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("a layer line starts with its number: {line:?}"));
        for m in mods.split_whitespace() {
            out.insert(m.to_owned(), layer);
        }
    }
    out
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules of this crate that `code` names through `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with('$') || code[..i].ends_with("_") {
            continue; // `$crate::` in macros, `holdup_core::crate::`-like names
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            out.extend(list.split(',').map(|s| ident(s.trim())));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn check_layers(krate: &str) -> Vec<String> {
    let layer = layers(&architecture(), krate);
    let src = workspace().join("crates").join(krate).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a path")
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let Some(&own) = layer.get(&module) else {
            problems.push(format!(
                "{krate}: module `{module}` is in no layer of ARCHITECTURE.md's `layers {krate}` block"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable");
        for used in uses(&code(&text)) {
            match layer.get(&used) {
                Some(&l) if l <= own => {}
                Some(&l) => problems.push(format!(
                    "{}: `{module}` (layer {own}) uses `{used}` (layer {l}), a layer above it",
                    file.strip_prefix(workspace()).unwrap_or(&file).display()
                )),
                None => problems.push(format!(
                    "{}: `{module}` uses `crate::{used}`, which no layer lists",
                    file.strip_prefix(workspace()).unwrap_or(&file).display()
                )),
            }
        }
    }
    problems
}

#[test]
fn modules_use_only_their_layer_and_the_layers_below() {
    let mut problems = check_layers("holdup-core");
    problems.extend(check_layers("holdup"));
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's layers and the code disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checks_catch_what_they_claim_to() {
    // The parsers, on text written to break the rules.
    let doc = "# A\n\n## Crates and what they may depend on\n\n\
               | crate | what | may depend on | must not |\n|---|---|---|---|\n\
               | `a` | x | `b`, `c` (dev), `d` (optional) | `e` |\n\n## Next\n\
               ```layers a\n1. low\n2. mid other # a note\n3. high\n```\n";
    let rules = crate_rules(doc);
    let a = &rules["a"];
    assert_eq!(a.may["b"], (false, false));
    assert_eq!(a.may["c"], (true, false));
    assert_eq!(a.may["d"], (false, true));
    assert!(a.must_not.contains("e") && !a.everything);
    let l = layers(doc, "a");
    assert_eq!((l["low"], l["mid"], l["other"], l["high"]), (1, 2, 2, 3));
    let used = uses(&code(
        "use crate::{alpha, beta::Gamma};\n// crate::commented\nfn f() { crate::delta::g(); }\n\
         macro_rules! m { () => { $crate::macro_only } }\n#[cfg(test)]\nmod tests { use crate::tested; }",
    ));
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["alpha", "beta", "delta"]
    );
}

/// The lines between the `compare:` markers that `holdup-bench compare` writes.
fn generated_table(text: &str, file: &str) -> String {
    let start = text
        .find("<!-- compare:start")
        .unwrap_or_else(|| panic!("{file} has no <!-- compare:start ... --> marker"));
    let body = &text[start..];
    let body = &body[body.find('\n').expect("a line after the marker") + 1..];
    let end = body
        .find("<!-- compare:end -->")
        .unwrap_or_else(|| panic!("{file} has no <!-- compare:end --> marker"));
    body[..end].to_owned()
}

#[test]
fn the_readme_performance_table_is_the_one_the_benchmark_wrote() {
    let read = |f: &str| std::fs::read_to_string(workspace().join(f)).expect(f);
    let (readme, benchmarks) = (read("README.md"), read("BENCHMARKS.md"));
    let table = generated_table(&benchmarks, "BENCHMARKS.md");
    assert!(
        table.lines().count() >= 3,
        "BENCHMARKS.md's table is empty:\n{table}"
    );
    assert_eq!(
        generated_table(&readme, "README.md"),
        table,
        "README.md's performance table differs from BENCHMARKS.md's: run \
         `cargo run --release -p holdup-bench -- compare`, which writes both"
    );
}
