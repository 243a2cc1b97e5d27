//! Tables: no table of README names a variable or flag twice, and
//! docs/deployment.md's parameter table is the template's.

use super::*;

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
