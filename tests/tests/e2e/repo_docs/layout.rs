//! README's layout tree: every path of it exists, and every folder of
//! `shared/src` and `shared/aws/src` and every function crate is in it.

use super::*;

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
