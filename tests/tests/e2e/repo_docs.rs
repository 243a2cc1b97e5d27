//! The repository's own documentation against the repository:
//!
//! - every path of README's layout tree exists, and every folder of
//!   `shared/src` and `shared/aws/src` is in it;
//! - no table of README names a variable or flag twice;
//! - every relative link and every back-ticked repository path of README and
//!   docs/ resolves;
//! - every test docs/security.md cites as evidence exists, and the figures
//!   its guessing-cap section gives follow from the cap's rule;
//! - `make deploy` hands the same `Architecture` to `sam build` and `sam deploy`;
//! - no file of the repository reads or points at anything beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::root;

mod module_graph;

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The paths named by a `tree`-style block: `├── name/  comment` lines, four
/// columns per level; lines without a branch continue a comment.
fn tree_paths(block: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    for line in block.lines() {
        let Some((prefix, rest)) = line.split_once("├── ").or_else(|| line.split_once("└── "))
        else {
            continue;
        };
        let depth = prefix.chars().count() / 4;
        let name = rest
            .split_whitespace()
            .next()
            .expect("a name after the branch");
        stack.truncate(depth);
        stack.push(name.trim_end_matches('/').to_owned());
        paths.push(stack.join("/"));
    }
    paths
}

/// The fenced block of README's `## Layout` section.
fn readme_layout() -> String {
    let readme = read("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Layout\n"))
        .expect("README has a `## Layout` section");
    let (_, rest) = section.split_once("```\n").expect("a fenced tree");
    rest.split_once("```")
        .expect("end of the tree")
        .0
        .to_owned()
}

#[test]
fn every_path_of_the_readme_layout_exists() {
    let paths = tree_paths(&readme_layout());
    assert!(
        paths.len() > 30,
        "the layout tree names too few paths: {paths:?}"
    );
    let missing: Vec<&String> = paths.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "README layout names paths that do not exist: {missing:?}"
    );
}

/// Every folder below `dir` (relative to the repository), recursively.
fn folders_under(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(root().join(&d)).unwrap_or_else(|e| panic!("{d}: {e}")) {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                let sub = format!("{d}/{}", entry.file_name().to_string_lossy());
                out.push(sub.clone());
                todo.push(sub);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_folder_of_the_shared_crates_is_in_the_readme_layout() {
    let paths = tree_paths(&readme_layout());
    let mut folders = folders_under("shared/src");
    folders.extend(folders_under("shared/aws/src"));
    assert!(folders.len() > 10, "{folders:?}");
    let missing: Vec<&String> = folders.iter().filter(|f| !paths.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "README layout lacks these folders: {missing:?}"
    );
}

/// The first cells of the rows of every Markdown table in `text`, with the
/// line of each, table by table.
fn table_keys(text: &str) -> Vec<Vec<(usize, String)>> {
    let mut tables = Vec::new();
    let mut current: Vec<(usize, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(row) = line.strip_prefix('|') {
            let first = row.split('|').next().unwrap_or("").trim().to_owned();
            if !first.is_empty() && !first.starts_with("---") {
                current.push((n + 1, first));
            }
        } else if !current.is_empty() {
            tables.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tables.push(current);
    }
    tables
}

/// The names (first cells: each code span, or the whole cell without one)
/// that one table of `text` lists on two rows.
fn repeated_rows(text: &str) -> Vec<String> {
    let names = |cell: &str| -> Vec<String> {
        if cell.contains('`') {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        } else {
            vec![cell.to_owned()]
        }
    };
    let mut twice = Vec::new();
    for table in table_keys(text) {
        for (i, (line, key)) in table.iter().enumerate() {
            for name in names(key) {
                if let Some((other, _)) = table[i + 1..]
                    .iter()
                    .find(|(_, later)| names(later).contains(&name))
                {
                    twice.push(format!("{name} (lines {line} and {other})"));
                }
            }
        }
    }
    twice
}

#[test]
fn no_table_of_the_readme_names_a_row_twice() {
    let readme = read("README.md");
    assert!(table_keys(&readme).len() >= 4, "README has too few tables");
    let twice = repeated_rows(&readme);
    assert!(twice.is_empty(), "README.md: {twice:#?}");
}

#[test]
fn the_table_reader_finds_a_repeated_row_within_one_table_only() {
    let text = "| name | x |\n|---|---|\n| `A`, `B` | 1 |\n| `C` | 2 |\n| `POST /d/a` | 5 |\n| `POST /d/b` | 6 |\n\n| `A` | other table |\n| `B` / `C` | 3 |\n| `C` | 4 |\n";
    assert_eq!(table_keys(text).len(), 2);
    assert_eq!(repeated_rows(text), ["C (lines 9 and 10)"]);
}

#[test]
fn every_function_crate_is_in_the_readme_layout() {
    let paths = tree_paths(&readme_layout());
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let path = format!("functions/{name}");
        assert!(paths.contains(&path), "README layout lacks {path}");
    }
}

#[test]
fn the_tree_reader_follows_the_branches() {
    let block = "\
.
├── a/                  comment
│   ├── b.rs            more
│                       continued comment
│   └── c/
│       └── d.rs
└── e.md
";
    assert_eq!(
        tree_paths(block),
        ["a", "a/b.rs", "a/c", "a/c/d.rs", "e.md"]
    );
}

/// The commands `make deploy` would run, without running them.
fn deploy_commands(args: &[&str]) -> Vec<String> {
    let out = Command::new("make")
        .arg("-n")
        .arg("deploy")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run make -n deploy");
    assert!(
        out.status.success(),
        "make -n deploy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("sam build") || l.contains("sam deploy"))
        .map(str::to_owned)
        .collect()
}

fn architecture_of(command: &str) -> Vec<&str> {
    command
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("Architecture="))
        .collect()
}

#[test]
fn make_deploy_builds_and_deploys_one_architecture() {
    for (args, arch) in [
        (&[][..], "arm64"),
        (&["ARCH=x86_64"][..], "x86_64"),
        (&["ARCH=arm64"][..], "arm64"),
    ] {
        let commands = deploy_commands(args);
        let build: Vec<&String> = commands
            .iter()
            .filter(|c| c.contains("sam build"))
            .collect();
        let deploy: Vec<&String> = commands
            .iter()
            .filter(|c| c.contains("sam deploy"))
            .collect();
        assert_eq!((build.len(), deploy.len()), (1, 1), "{commands:?}");
        for command in build.iter().chain(&deploy) {
            assert_eq!(
                architecture_of(command),
                [arch],
                "make deploy {args:?}: {command}"
            );
        }
    }
}

/// Text files of the repository that could name a path: docs, code, scripts.
fn repo_text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let skipped = name.starts_with('.') && name != ".ci"
                || ["target", "node_modules", "dist", "__pycache__"].contains(&name.as_str());
            if !skipped {
                repo_text_files(&path, out);
            }
        } else if [
            ".rs", ".md", ".toml", ".yaml", ".yml", ".sh", ".py", ".json", ".ts", ".js",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
            || ["Makefile", "run"].contains(&name.as_str())
        {
            out.push(path);
        }
    }
}

/// Names of things beside the repository: the folders next to it and the
/// documents that live there. Built from pieces so this file does not match itself.
fn outside_names() -> Vec<String> {
    vec![
        format!("../{}", "shared"),
        format!("/work/{}", "shared"),
        format!("{}/spec/", "shared"),
        format!("{}.md", "design"),
        format!("{}-v2.md", "secure-channel"),
        format!("{}/api.md", "spec"),
    ]
}

/// `path` with `.` and `..` resolved without the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A `path = "` line of a `Cargo.toml` whose path goes up to the sibling
/// folder `shared` and resolves inside the repository: a crate below the root
/// (fuzz/) depending on the repository's own shared crate. The only place
/// that relative name may appear.
fn names_the_own_shared_crate(root: &Path, file: &Path, line: &str) -> bool {
    let Some((_, rest)) = line.split_once("path = \"") else {
        return false;
    };
    let target = rest.split('"').next().unwrap_or_default();
    file.file_name().is_some_and(|f| f == "Cargo.toml")
        && target.starts_with(&format!("../{}", "shared"))
        && file
            .parent()
            .is_some_and(|dir| lexical(&dir.join(target)).starts_with(root))
}

/// Every line of `text` (the content of `file`) that names something beside `root`.
fn outside_references(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let names = outside_names();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for name in &names {
            let exempt = name.starts_with("../") && names_the_own_shared_crate(root, file, line);
            if line.contains(name.as_str()) && !exempt {
                found.push(format!("{}:{} names {name}", file.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn the_outside_check_exempts_only_the_fuzz_crates_path_to_shared() {
    let root = Path::new("/repo");
    let up = format!("../{}", "shared");
    let fuzz = root.join("fuzz/Cargo.toml");
    let dep =
        format!("shared = {{ path = \"{up}\" }}\npassword = {{ path = \"{up}/password\" }}\n");
    assert!(outside_references(root, &fuzz, &dep).is_empty());
    // The same line at the root, two levels up, or outside a Cargo.toml points outside.
    assert_eq!(
        outside_references(root, &root.join("Cargo.toml"), &dep).len(),
        2
    );
    let two_up = format!("x = {{ path = \"../{up}\" }}");
    assert_eq!(outside_references(root, &fuzz, &two_up).len(), 1);
    for file in ["fuzz/src/checks.rs", "fuzz/README.md", "tests/tests/x.rs"] {
        let text = format!("read(\"{up}/spec/{}\")", "api.md");
        assert!(
            !outside_references(root, &root.join(file), &text).is_empty(),
            "{file}"
        );
    }
    // The documents beside the repository, by name alone.
    for name in &outside_names()[3..] {
        let text = format!("generated from {name}");
        assert_eq!(
            outside_references(root, &root.join("tests/data/v.json"), &text).len(),
            1,
            "{name}"
        );
    }
}

#[test]
fn nothing_reads_or_names_a_path_beside_the_repository() {
    let root = root();
    let mut files = Vec::new();
    repo_text_files(&root, &mut files);
    assert!(files.len() > 50, "{} files scanned", files.len());
    let mut offending = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        offending.extend(outside_references(&root, &file, &text));
    }
    assert!(offending.is_empty(), "{offending:#?}");
}

/// The Markdown files whose links and paths must resolve.
fn doc_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned(), "client/web/README.md".to_owned()];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files.sort();
    files
}

/// The text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The inline code spans of the prose (they may wrap a line).
fn code_spans(text: &str) -> Vec<String> {
    prose(text)
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Targets of inline links `[text](target)`, outside fenced code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text).lines() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].trim();
            if !target.is_empty() && !target.contains(char::is_whitespace) {
                targets.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    targets
}

/// GitHub's anchors of the headings of a Markdown text.
fn anchors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text).lines() {
        let heading = line.trim_start_matches('#');
        if heading.len() == line.len() || !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        out.push(slug);
    }
    out
}

/// Back-ticked spans that name a path of the repository: no spaces, a `/`,
/// path characters only, and a first component that is a top-level entry.
fn repo_paths(text: &str) -> Vec<String> {
    let top: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".git" && n != "target")
        .collect();
    code_spans(text)
        .into_iter()
        .filter(|span| {
            span.contains('/')
                && span
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
                && span
                    .split('/')
                    .next()
                    .is_some_and(|first| top.iter().any(|t| t == first))
        })
        .map(|span| span.trim_end_matches('/').to_owned())
        .collect()
}

/// Whether a `.gitignore` of the repository names `rel` or a folder above
/// it: generated paths (`fuzz/corpus/`, `target/`) exist only once made.
fn ignored(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    (0..parts.len()).any(|i| {
        let dir = parts[..i].join("/");
        let Ok(rules) = std::fs::read_to_string(root().join(&dir).join(".gitignore")) else {
            return false;
        };
        rules.lines().map(str::trim).any(|rule| {
            let name = rule.trim_matches('/');
            !rule.starts_with('#')
                && !name.is_empty()
                && !name.contains(['*', '?', '[', '!'])
                && (name == parts[i] || parts[i..].join("/").starts_with(&format!("{name}/")))
        })
    })
}

/// What is wrong with the links and back-ticked paths of one Markdown file.
fn broken_references(file: &str) -> Vec<String> {
    let text = read(file);
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut broken = Vec::new();
    for target in link_targets(&text) {
        let scheme = target
            .split_once(':')
            .is_some_and(|(s, _)| s.chars().all(|c| c.is_ascii_alphabetic()));
        if scheme {
            continue;
        }
        let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
        let resolved = if path.is_empty() {
            root().join(file)
        } else {
            root().join(dir).join(path)
        };
        if !resolved.exists() {
            broken.push(format!("{file}: link ({target}) to a missing file"));
        } else if !anchor.is_empty()
            && resolved.extension().is_some_and(|e| e == "md")
            && !anchors(&std::fs::read_to_string(&resolved).unwrap()).contains(&anchor.to_owned())
        {
            broken.push(format!("{file}: link ({target}) to a missing heading"));
        }
    }
    for path in repo_paths(&text) {
        if !root().join(&path).exists() && !ignored(&path) {
            broken.push(format!("{file}: `{path}` does not exist"));
        }
    }
    broken
}

#[test]
fn every_link_and_repository_path_of_the_docs_resolves() {
    let files = doc_files();
    assert!(files.len() > 10, "{files:?}");
    let broken: Vec<String> = files.iter().flat_map(|f| broken_references(f)).collect();
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_reference_readers_find_links_anchors_and_paths() {
    let text = "\
# Top `x` level
See [a](other.md#part-two), [b](https://example.com), [c](#top-x-level).
```
[not](a link)
```
Read `shared/src/lib.rs`, `docs/`, not `a b/c`, `Route::ALL` or `fuzz/logs/<t>.log`.
";
    assert_eq!(
        link_targets(text),
        ["other.md#part-two", "https://example.com", "#top-x-level"]
    );
    assert_eq!(anchors(text), ["top-x-level"]);
    assert_eq!(repo_paths(text), ["shared/src/lib.rs", "docs"]);
    assert!(ignored("target/debug/x"));
    assert!(ignored("fuzz/corpus/jwt"));
    assert!(!ignored("fuzz/seeds/jwt"));
}

/// Back-ticked snake_case names in `text` (the last segment of a `a::b`
/// path), the way docs cite tests.
fn cited_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = code_spans(text)
        .iter()
        .filter(|span| {
            span.split("::").all(|seg| {
                seg.starts_with(|c: char| c.is_ascii_lowercase())
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
        })
        .filter_map(|span| span.rsplit("::").next())
        .filter(|name| name.contains('_'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every `fn` name of the repository's Rust files.
fn rust_fn_names() -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    repo_text_files(&root(), &mut files);
    let mut names = std::collections::BTreeSet::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (i, _) in text.match_indices("fn ") {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[i + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_test_cited_in_the_security_doc_exists() {
    // Cited names that are neither functions nor fuzz targets: a lint and a
    // Wycheproof set.
    const NOT_FUNCTIONS: [&str; 2] = ["missing_docs", "rsa_oaep_misc"];
    let cited = cited_names(&read("docs/security.md"));
    assert!(cited.len() > 30, "{cited:?}");
    let fns = rust_fn_names();
    let fuzz_target = |n: &str| root().join(format!("fuzz/fuzz_targets/{n}.rs")).exists();
    let missing: Vec<&String> = cited
        .iter()
        .filter(|n| !fns.contains(*n) && !fuzz_target(n) && !NOT_FUNCTIONS.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/security.md cites tests that no .rs file defines: {missing:?}"
    );
}

#[test]
fn cited_names_are_the_snake_case_spans() {
    let text =
        "`a_test`, `gateway::tests::b_test`, `Route::needs`, `c`, `d_e.json`, `f-g`, `a_test`";
    assert_eq!(cited_names(text), ["a_test", "b_test"]);
}

/// The names after `--test ` in `text`.
fn test_targets(text: &str) -> Vec<String> {
    text.match_indices("--test ")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_test_target_named_in_the_docs_exists() {
    let mut suites = Vec::new();
    repo_text_files(&root(), &mut suites);
    // A suite is tests/<name>.rs or, folded into one binary, tests/<name>/main.rs.
    let suites: Vec<String> = suites
        .iter()
        .filter_map(|p| {
            let parent = p.parent()?;
            let name = if parent.ends_with("tests") {
                p.file_name()?.to_str()?.strip_suffix(".rs")?
            } else if p.ends_with("main.rs") && parent.parent()?.ends_with("tests") {
                parent.file_name()?.to_str()?
            } else {
                return None;
            };
            Some(name.to_owned())
        })
        .collect();
    let mut unknown = Vec::new();
    let mut named = 0;
    for file in doc_files() {
        for target in test_targets(&read(&file)) {
            named += 1;
            if !suites.contains(&target) {
                unknown.push(format!("{file}: --test {target}"));
            }
        }
    }
    assert!(named >= 5, "{named} test targets named");
    assert!(
        unknown.is_empty(),
        "no tests/<name>.rs or tests/<name>/main.rs for {unknown:#?}"
    );
}

/// When an attacker who guesses one account's password as soon as the
/// guessing cap lets him gets a password checked, in seconds from the
/// first guess, up to `horizon_secs` (each guess wrong, so the count never
/// clears): the rule every adapter applies, `shared::ports::reserve_next`.
fn checked_guesses(lockout: shared::ports::Lockout, horizon_secs: u64) -> Vec<u64> {
    use shared::ports::{reserve_next, Attempt};
    let start: u64 = 1_796_400_000_000;
    let (mut state, mut now, mut out) = (None, start, Vec::new());
    while now - start <= horizon_secs * 1000 {
        match reserve_next(state, lockout, now) {
            Ok(next) => {
                out.push((now - start) / 1000);
                state = Some(next);
            }
            Err(Attempt::Locked { until_ms }) => now = until_ms,
            Err(other) => panic!("{other:?}"),
        }
    }
    out
}

/// The figures of docs/security.md, "Guessing cap: lockout against denial
/// of service", with the default cap (5 failures, 900 s) and the longest
/// configurable lock (86,400 s).
#[test]
fn the_guessing_cap_figures_of_the_security_doc_hold() {
    use shared::ports::Lockout;
    const DAY: u64 = 86_400;
    let defaults = Lockout {
        threshold: 5,
        max_lock_secs: 900,
    };
    assert_eq!(shared::config::Config::default().lockout, defaults);
    let checks = checked_guesses(defaults, 3 * DAY);
    let within = |secs: u64| checks.iter().filter(|&&t| t < secs).count();
    // Five at once, then one at the end of each lock: 1, 2, 4 ... 512 s, then 900 s.
    assert_eq!(checks[..6], [0, 0, 0, 0, 0, 1]);
    assert_eq!(checks[13..16], [511, 1023, 1923]);
    assert_eq!(within(900), 14, "first 15 minutes");
    assert_eq!(within(3600), 17, "first hour");
    assert_eq!(within(DAY), 109, "first day");
    assert_eq!(within(2 * DAY) - within(DAY), 96, "each further day");
    assert_eq!(checks[99], 77_523, "the 100th consecutive failure");
    // The longest lock the configuration allows.
    let longest = Lockout {
        threshold: 5,
        max_lock_secs: DAY,
    };
    let checks = checked_guesses(longest, 90 * DAY);
    assert_eq!(checks[21], 131_071, "after locks of 1 s to 2^16 s");
    assert_eq!(checks[22] - checks[21], DAY);
    assert_eq!(checks[99], 6_870_271, "the 100th: 79.5 days");
}

// ---- docs/deployment.md's parameter table against template.yaml.

/// The rows of the table under `### Parameters` of docs/deployment.md: the
/// back-ticked names of the first cell (a name ending in `*` stands for
/// every parameter it starts, and `(N)` after it says how many) and the
/// default cell.
fn documented_parameters() -> Vec<(Vec<String>, Option<usize>, String)> {
    let doc = read("docs/deployment.md");
    let section = doc
        .split("\n### Parameters\n")
        .nth(1)
        .expect("deployment.md has a `### Parameters` section");
    let section = section.split("\n#").next().unwrap();
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let names = code_spans(cells[0]);
        let count = cells[0]
            .rsplit_once('(')
            .and_then(|(_, n)| n.trim_end_matches(')').trim().parse().ok());
        rows.push((names, count, cells.get(2).unwrap_or(&"").trim().to_owned()));
    }
    rows
}

/// Every parameter of template.yaml has its row in docs/deployment.md, no
/// row names a parameter the template lacks, none is documented twice, and
/// a default given as plain values is the template's.
#[test]
fn the_parameter_table_of_deployment_md_is_the_templates() {
    let template = e2e_tests::template::load();
    let params = template["Parameters"].as_mapping().expect("Parameters");
    let declared: std::collections::BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| {
            let default = match &v["Default"] {
                serde_norway::Value::String(s) => s.clone(),
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Null => String::new(),
                other => format!("{other:?}"),
            };
            (k.as_str().unwrap().to_owned(), default)
        })
        .collect();
    let mut documented = std::collections::BTreeMap::<String, usize>::new();
    for (names, count, default) in documented_parameters() {
        let mut row = Vec::new();
        for name in &names {
            let matched: Vec<&String> = match name.strip_suffix('*') {
                Some(prefix) => declared.keys().filter(|k| k.starts_with(prefix)).collect(),
                None => declared.keys().filter(|k| *k == name).collect(),
            };
            assert!(
                !matched.is_empty(),
                "deployment.md documents `{name}`, which template.yaml does not declare"
            );
            if let (Some(n), true) = (count, name.ends_with('*')) {
                assert_eq!(matched.len(), n, "`{name}` ({n}): {matched:?}");
            }
            row.extend(matched.into_iter().cloned());
        }
        for p in &row {
            *documented.entry(p.clone()).or_default() += 1;
        }
        // "`3600`, `300`, `300`" or "`200` / `400`": one default per name.
        let plain: Vec<String> = code_spans(&default);
        let only_values = default
            .split(['`', ',', '/', ' '])
            .all(|w| w.is_empty() || plain.iter().any(|p| p.contains(w)));
        if only_values && !plain.is_empty() && plain.len() == names.len() {
            for (name, value) in names.iter().zip(&plain) {
                if let Some(d) = declared.get(name) {
                    assert_eq!(d, value, "deployment.md's default of `{name}`");
                }
            }
        }
    }
    // A wildcard row lists the parameters no other row names.
    let missing: Vec<&String> = declared
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "template parameters without a row in deployment.md: {missing:?}"
    );
    let twice: Vec<(&String, &usize)> = documented.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "documented in more than one row: {twice:?}"
    );
}
