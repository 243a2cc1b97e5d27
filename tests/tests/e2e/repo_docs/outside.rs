//! No file of the repository reads or points at anything beside it.

use super::*;

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
