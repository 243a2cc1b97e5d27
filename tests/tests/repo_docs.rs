//! The repository's own documentation against the repository:
//!
//! - every path of README's layout tree exists;
//! - `make deploy` hands the same `Architecture` to `sam build` and `sam deploy`;
//! - no file of the repository reads or points at anything beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::root;

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
