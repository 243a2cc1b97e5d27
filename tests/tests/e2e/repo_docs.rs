//! The repository's own documentation against the repository, one module
//! per concern (the helpers they share are here):
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

mod citations;
mod deploy;
mod layout;
mod links;
mod module_graph;
mod outside;
mod tables;

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
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

/// The inline code spans of the prose (they may wrap a line).
fn code_spans(text: &str) -> Vec<String> {
    prose(text)
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
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
