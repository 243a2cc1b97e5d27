//! Every relative link and every back-ticked repository path of README and
//! docs/ resolves.

use super::*;

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
