//! One-way modules: the `crate::`/`super::` imports of every crate of the
//! workspace, read from the sources, form no circle between sibling modules,
//! and docs/architecture.md's module map of `shared` names every module of
//! `shared/src` in an order every import follows (down the list).
//!
//! A module's path comes from its file (`src/a/b.rs`, `src/a/b/mod.rs` ->
//! `a::b`); inline `#[cfg(test)]` modules are left out (test code may reach
//! anywhere). An import from `a::x` of `a::y::z` is an edge `x -> y` among the
//! children of `a`; an import of an ancestor or a descendant is no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use e2e_tests::root;

/// The crates whose sources are read, by their `src` folder.
const CRATES: [&str; 6] = [
    "shared/src",
    "shared/aws/src",
    "shared/password/src",
    "client/src",
    "local-api/src",
    "tests/src",
];

/// Circles tolerated, as `src: a -> b -> a`: none, so any circle fails.
const KNOWN_CIRCLES: [&str; 0] = [];

type Module = Vec<String>;
/// Edges between the children of one parent module: (parent, from) -> {to}.
type Graph = BTreeMap<(Module, String), BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs`, `a/b/mod.rs` -> `[a, b]`; `lib.rs`, `main.rs` -> `[]`; a binary
/// under `bin/` is its own crate (`["bin", name]`, never imported as a module).
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod")) {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

/// The text without comments, string and char literals, and `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(next, Some('#' | '"')) && !prev_is_ident(&b, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            while j < b.len()
                && !(b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')))
            {
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1 + hashes;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && (b.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A char literal ('"', '\'', '\\'): a lifetime has no closing quote.
            i += if next == Some('\\') { 1 } else { 0 };
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    // Drop each `#[cfg(test)]` item: up to its `;` or its matching `}`.
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at..];
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.replace_range(at..at + end, "");
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn ident_at(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Every path a `use` tree starting at `s` names (`a::{b, c::d}` -> `a::b`,
/// `a::c::d`), each as its segments after `prefix`.
fn paths(prefix: Vec<String>, s: &str, out: &mut Vec<Module>) {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let mut depth = 0usize;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    paths(prefix.clone(), &group[start..i], out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    paths(prefix.clone(), &group[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let (ident, rest) = ident_at(s);
    let mut prefix = prefix;
    if !ident.is_empty() && ident != "self" {
        prefix.push(ident.to_owned());
    }
    match rest.strip_prefix("::") {
        Some(more) => paths(prefix, more, out),
        None => out.push(prefix),
    }
}

/// The modules `code` (the text of module `at`) imports, as absolute paths.
fn imports(code: &str, at: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("::") {
        let before = &code[..i];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |p| p + 1);
        let head = &code[start..i];
        if !(head == "crate" || head == "super" || head == "self") {
            continue;
        }
        let mut base: Module = match head {
            "crate" => Vec::new(),
            _ => at.clone(),
        };
        let mut rest = &code[i + 2..];
        let mut up = usize::from(head == "super");
        while let Some(more) = rest.strip_prefix("super::") {
            up += 1;
            rest = more;
        }
        // `super` of `a::b` is `a`, whether `b` is `b.rs` or `b/mod.rs`.
        for _ in 0..up {
            base.pop();
        }
        paths(base, rest, &mut out);
    }
    out
}

fn graph_of(src: &str) -> (BTreeSet<Module>, Graph) {
    let dir = root().join(src);
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut sources = Vec::new();
    let mut modules = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(&dir).expect("under src").to_owned();
        let module = module_of(&rel);
        if module.first().is_some_and(|m| m == "bin") {
            continue;
        }
        modules.insert(module.clone());
        let text = std::fs::read_to_string(&file).expect("source");
        sources.push((module, code_of(&text)));
    }
    let mut graph = Graph::new();
    for (from, code) in &sources {
        for mut to in imports(code, from) {
            // The longest prefix that is a module: the rest names an item.
            while !to.is_empty() && !modules.contains(&to) {
                to.pop();
            }
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // an ancestor or a descendant
            }
            graph
                .entry((from[..common].to_vec(), from[common].clone()))
                .or_default()
                .insert(to[common].clone());
        }
    }
    (modules, graph)
}

/// Each circle among the children of one parent, as `a -> b -> a`.
fn circles(src: &str, graph: &Graph) -> Vec<String> {
    let parents: BTreeSet<&Module> = graph.keys().map(|(p, _)| p).collect();
    let mut found = BTreeSet::new();
    for parent in parents {
        let next = |m: &str| -> Vec<String> {
            graph
                .get(&(parent.clone(), m.to_owned()))
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default()
        };
        let starts: Vec<String> = graph
            .keys()
            .filter(|(p, _)| p == parent)
            .map(|(_, m)| m.clone())
            .collect();
        for start in &starts {
            // Shortest way back to `start` (breadth first).
            let mut back: BTreeMap<String, String> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            'search: while let Some(m) = queue.pop_front() {
                for n in next(&m) {
                    if &n == start {
                        let mut cycle = vec![m.clone()];
                        while let Some(p) = back.get(cycle.last().expect("one")) {
                            cycle.push(p.clone());
                        }
                        cycle.reverse();
                        // Written from its smallest member, so each circle is one string.
                        let low = (0..cycle.len()).min_by_key(|&i| &cycle[i]).expect("one");
                        cycle.rotate_left(low);
                        let at = if parent.is_empty() {
                            String::new()
                        } else {
                            format!("{}::", parent.join("::"))
                        };
                        found.insert(format!("{src}: {at}{} -> {}", cycle.join(" -> "), cycle[0]));
                        break 'search;
                    }
                    if !back.contains_key(&n) && &n != start {
                        back.insert(n.clone(), m.clone());
                        queue.push_back(n);
                    }
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut all = Vec::new();
    for src in CRATES {
        let (_, graph) = graph_of(src);
        all.extend(circles(src, &graph));
    }
    let known: Vec<String> = KNOWN_CIRCLES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(all, known, "import circles between sibling modules");
}

#[test]
fn the_circle_check_sees_a_circle() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph
            .entry((vec!["m".to_owned()], from.to_owned()))
            .or_default()
            .insert(to.to_owned());
    }
    assert_eq!(circles("x", &graph), ["x: m::a -> b -> c -> a"]);
    let code = code_of(
        "use crate::a::{b::C, d};\nuse super::e::F; // crate::g\n#[cfg(test)]\nmod tests { use crate::h; }\n",
    );
    let at = vec!["p".to_owned(), "q".to_owned()];
    let found = imports(&code, &at);
    assert_eq!(
        found,
        [vec!["a", "b", "C"], vec!["a", "d"], vec!["p", "e", "F"],]
            .map(|v| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    );
}

/// The module map's lines: each names one or more top-level modules of
/// `shared` (`handlers/`, `adapters/memory`, `i18n, time_fmt`), top first.
fn map_ranks() -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).expect("doc");
    let at = doc
        .find("### Module map of `shared`")
        .expect("the module map");
    let block = &doc[at..];
    let open = block.find("```\n").expect("its block") + 4;
    let close = open + block[open..].find("```").expect("its end");
    block[open..close]
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .map(|l| {
            let names = l.split("  ").next().expect("a name");
            names
                .split(", ")
                .map(|n| n.split('/').next().expect("a module").trim().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_module_map_of_shared_is_the_code() {
    let ranks = map_ranks();
    let rank: BTreeMap<&str, usize> = ranks
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i)))
        .collect();
    let (modules, graph) = graph_of("shared/src");
    let top: BTreeSet<&str> = modules
        .iter()
        .filter(|m| m.len() == 1)
        .map(|m| m[0].as_str())
        .collect();
    let mapped: BTreeSet<&str> = rank.keys().copied().collect();
    assert_eq!(
        mapped, top,
        "docs/architecture.md's module map vs shared/src"
    );
    for ((parent, from), tos) in &graph {
        if !parent.is_empty() {
            continue;
        }
        for to in tos {
            assert!(
                rank[from.as_str()] < rank[to.as_str()],
                "{from} imports {to}: the map puts {to} above {from}"
            );
        }
    }
}
