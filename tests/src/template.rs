//! `template.yaml` read the one way every test reads it: a YAML tree
//! (`serde_norway`) whose CloudFormation functions are tagged values. The
//! short tags stay as written (`!Ref X`); a long form (`Ref: X`,
//! `Fn::GetAtt: [X, Arn]`) becomes the same tag, and `!GetAtt [X, Arn]`
//! reads as `!GetAtt X.Arn`, so a test matches one shape only.
//!
//! The `AWS::LanguageExtensions` transform is applied first, as
//! CloudFormation applies it before SAM or anything else reads the
//! template. Exactly this subset; a loop it cannot expand (a collection
//! from a parameter) fails the load rather than being read wrong:
//!
//! - `Fn::ForEach::<Loop>: [Id, [item, ...], {<key>: <value>}]` in any
//!   mapping (Resources, Outputs, Conditions, properties, mappings inside
//!   lists), nested or not: one entry per item and template key, `${Id}`
//!   and `&{Id}` (the item without its non-alphanumeric characters) in the
//!   key replaced by the item; the collection is a literal list of strings;
//! - in the value: `!Ref Id` is the item; `${Id}` is replaced in every
//!   string and `!Sub` template (unless that `!Sub`'s own variables name
//!   `Id`); a `!Ref` or `!GetAtt` of a `!Sub` with nothing left to
//!   substitute (`!Ref {Fn::Sub: '${Id}Function'}`) names what the `!Sub`
//!   makes; a `!Sub [template, vars]` reads with each variable whose value
//!   is then a plain string written into the template (the string form
//!   when none is left), as a literal `!Sub` would be written;
//! - `!FindInMap [Map, Key, Key2]` (and its fourth argument
//!   `{DefaultValue: v}`) whose keys are plain strings once the items are
//!   in is the value in the template's `Mappings`, or the default when the
//!   keys are missing; one whose keys name a parameter (`!Ref LogLevel`) is
//!   left as written.

use serde_norway::value::{Tag, TaggedValue};
use serde_norway::Mapping;

pub use serde_norway::Value as Yaml;

/// The prefix of a language-extensions loop key.
const FOR_EACH: &str = "Fn::ForEach::";

/// The repository's `template.yaml`, expanded.
pub fn load() -> Yaml {
    let path = crate::root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    parse(&text)
}

/// A template (or a snippet of one) read and expanded as [`load`] does.
pub fn parse(text: &str) -> Yaml {
    let doc: Yaml =
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"));
    expand(&doc)
}

/// `doc` with its long forms read as tags and its language extensions
/// applied (the module's documentation lists what is understood).
pub fn expand(doc: &Yaml) -> Yaml {
    let doc = long_forms(doc);
    let mappings = doc
        .get("Mappings")
        .and_then(Yaml::as_mapping)
        .cloned()
        .unwrap_or_default();
    Expander {
        mappings: &mappings,
    }
    .value(&doc, &[])
}

/// A plain string: not a function (`Yaml::as_str` reads through a tag, so
/// `!Ref X` would read as `"X"`).
pub fn plain(v: &Yaml) -> Option<&str> {
    match v {
        Yaml::String(s) => Some(s),
        _ => None,
    }
}

/// `!Tag value`: the value, when `v` carries the tag `name`.
pub fn tagged<'a>(v: &'a Yaml, name: &str) -> Option<&'a Yaml> {
    match v {
        Yaml::Tagged(t) if t.tag == name => Some(&t.value),
        _ => None,
    }
}

/// `!Ref X`: `X`.
pub fn ref_to(v: &Yaml) -> Option<&str> {
    plain(tagged(v, "Ref")?)
}

/// `!GetAtt X.Attr`: `(X, Attr)`.
pub fn get_att(v: &Yaml) -> Option<(&str, &str)> {
    plain(tagged(v, "GetAtt")?)?.split_once('.')
}

/// `!Sub template` (the string form): the template.
pub fn sub_template(v: &Yaml) -> Option<&str> {
    plain(tagged(v, "Sub")?)
}

/// A scalar or a list of scalars, as strings (anything else is left out).
pub fn strings(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        Yaml::String(s) => vec![s.clone()],
        Yaml::Bool(b) => vec![b.to_string()],
        Yaml::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// `(logical id, resource)` of every resource of `type_`, in template order.
pub fn of_type<'a>(t: &'a Yaml, type_: &str) -> Vec<(&'a str, &'a Yaml)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(type_))
        .map(|(id, r)| (id.as_str().expect("a logical id"), r))
        .collect()
}

fn tag(name: &str, value: Yaml) -> Yaml {
    Yaml::Tagged(Box::new(TaggedValue {
        tag: Tag::new(name),
        value,
    }))
}

/// `Ref: X` and `Fn::Name: args` (a mapping of that one key) as `!Ref X`
/// and `!Name args`.
fn long_forms(v: &Yaml) -> Yaml {
    match v {
        Yaml::Mapping(m) => {
            if let [(Yaml::String(k), x)] = m.iter().collect::<Vec<_>>()[..] {
                let name = if k == "Ref" {
                    Some("Ref")
                } else {
                    k.strip_prefix("Fn::").filter(|_| !k.starts_with(FOR_EACH))
                };
                if let Some(name) = name {
                    return tag(name, long_forms(x));
                }
            }
            Yaml::Mapping(m.iter().map(|(k, x)| (k.clone(), long_forms(x))).collect())
        }
        Yaml::Sequence(items) => Yaml::Sequence(items.iter().map(long_forms).collect()),
        Yaml::Tagged(t) => Yaml::Tagged(Box::new(TaggedValue {
            tag: t.tag.clone(),
            value: long_forms(&t.value),
        })),
        other => other.clone(),
    }
}

/// The loop variables in scope, innermost last: `(identifier, item)`.
type Bindings<'a> = [(&'a str, &'a str)];

struct Expander<'m> {
    mappings: &'m Mapping,
}

impl Expander<'_> {
    fn value(&self, v: &Yaml, b: &Bindings) -> Yaml {
        match v {
            Yaml::Mapping(m) => Yaml::Mapping(self.entries(m, b)),
            Yaml::Sequence(items) => {
                Yaml::Sequence(items.iter().map(|i| self.value(i, b)).collect())
            }
            Yaml::String(s) => Yaml::String(substitute(s, b, "${")),
            Yaml::Tagged(t) => self.function(t, b),
            other => other.clone(),
        }
    }

    fn function(&self, t: &TaggedValue, b: &Bindings) -> Yaml {
        let name = t.tag.to_string();
        let name = name.trim_start_matches('!');
        match (name, &t.value) {
            ("Ref", x) => {
                if let Some(item) = plain(x).and_then(|id| lookup(b, id)) {
                    return Yaml::String(item.to_owned());
                }
                // `!Ref {Fn::Sub: '${Id}Function'}`: the name the `!Sub` makes.
                let x = self.value(x, b);
                tag("Ref", literal(&x).map_or(x, Yaml::String))
            }
            // `!GetAtt [X, Attr]` (either part a `!Sub` of the loop's) as
            // `!GetAtt X.Attr`.
            ("GetAtt", x) => {
                let x = self.value(x, b);
                let joined = match x.as_sequence().map(Vec::as_slice) {
                    Some([id, attr]) => literal(id)
                        .zip(literal(attr))
                        .map(|(id, attr)| Yaml::String(format!("{id}.{attr}"))),
                    _ => None,
                };
                tag("GetAtt", joined.unwrap_or(x))
            }
            ("Sub", Yaml::Sequence(args)) if args.len() == 2 => {
                // The `!Sub`'s own variables hide a loop variable of that name.
                let own = args[1].as_mapping();
                let inner: Vec<(&str, &str)> = b
                    .iter()
                    .filter(|(id, _)| {
                        !own.is_some_and(|m| m.contains_key(Yaml::String((*id).to_owned())))
                    })
                    .copied()
                    .collect();
                let template = match &args[0] {
                    Yaml::String(s) => Yaml::String(substitute(s, &inner, "${")),
                    other => self.value(other, b),
                };
                fold_sub(template, self.value(&args[1], b))
            }
            ("FindInMap", _) => {
                let args = self.value(&t.value, b);
                self.find_in_map(&args)
                    .unwrap_or_else(|| tag("FindInMap", args))
            }
            _ => tag(name, self.value(&t.value, b)),
        }
    }

    /// The value of a `!FindInMap` whose keys are plain strings; `None`
    /// when a key is not (a parameter's value, resolved at deploy time).
    fn find_in_map(&self, args: &Yaml) -> Option<Yaml> {
        let args = args.as_sequence().expect("!FindInMap [Map, Key, Key2]");
        assert!(
            matches!(args.len(), 3 | 4),
            "!FindInMap [Map, Key, Key2, {{DefaultValue: v}}]: {args:?}"
        );
        let keys: Vec<&str> = args[..3].iter().filter_map(plain).collect();
        let [map, key, key2] = keys[..] else {
            return None;
        };
        let found = self
            .mappings
            .get(map)
            .and_then(|m| m.get(key))
            .and_then(|m| m.get(key2));
        let default = args.get(3).and_then(|d| d.get("DefaultValue"));
        Some(
            found
                .or(default)
                .unwrap_or_else(|| {
                    panic!("!FindInMap [{map}, {key}, {key2}]: not in Mappings, no DefaultValue")
                })
                .clone(),
        )
    }

    /// A mapping's entries, each `Fn::ForEach::` entry replaced by the
    /// entries it makes.
    fn entries(&self, m: &Mapping, b: &Bindings) -> Mapping {
        let mut out = Mapping::new();
        let mut put = |k: Yaml, v: Yaml| {
            assert!(
                !out.contains_key(&k),
                "{k:?} twice in one mapping (after Fn::ForEach)"
            );
            out.insert(k, v);
        };
        for (k, v) in m {
            let Some(name) = plain(k).and_then(|k| k.strip_prefix(FOR_EACH)) else {
                let k = match k {
                    Yaml::String(s) => Yaml::String(substitute_key(s, b)),
                    other => other.clone(),
                };
                put(k, self.value(v, b));
                continue;
            };
            let args = v
                .as_sequence()
                .filter(|a| a.len() == 3)
                .unwrap_or_else(|| panic!("{FOR_EACH}{name}: [Identifier, [items], {{template}}]"));
            let id = plain(&args[0])
                .unwrap_or_else(|| panic!("{FOR_EACH}{name}: the identifier is a string"));
            let items: Vec<String> = match self.value(&args[1], b) {
                Yaml::Sequence(items) => items
                    .iter()
                    .map(|i| {
                        plain(i).map(str::to_owned).unwrap_or_else(|| {
                            panic!("{FOR_EACH}{name}: item {i:?} is not a string")
                        })
                    })
                    .collect(),
                other => panic!("{FOR_EACH}{name}: a literal list of strings, got {other:?}"),
            };
            let body = args[2]
                .as_mapping()
                .unwrap_or_else(|| panic!("{FOR_EACH}{name}: the template is a mapping"));
            for item in &items {
                let mut inner = b.to_vec();
                inner.push((id, item));
                for (k, v) in self.entries(body, &inner) {
                    put(k, v);
                }
            }
        }
        out
    }
}

/// A plain string, or a `!Sub` with nothing left to substitute.
fn literal(v: &Yaml) -> Option<String> {
    let s = plain(v).or_else(|| plain(tagged(v, "Sub")?))?;
    (!s.contains("${")).then(|| s.to_owned())
}

/// `!Sub [template, vars]` with each variable whose value is a plain
/// string written into the template (`!Sub ['${A}-${N}', {N: x}]` reads
/// as `!Sub '${A}-x'`), the string form when no variable is left.
fn fold_sub(template: Yaml, vars: Yaml) -> Yaml {
    let (Yaml::String(mut text), Yaml::Mapping(vars)) = (template.clone(), vars.clone()) else {
        return tag("Sub", Yaml::Sequence(vec![template, vars]));
    };
    let mut left = Mapping::new();
    for (name, value) in vars {
        match (plain(&name), plain(&value)) {
            (Some(name), Some(value)) if !value.contains("${") => {
                text = text.replace(&format!("${{{name}}}"), value);
            }
            _ => {
                left.insert(name, value);
            }
        }
    }
    if left.is_empty() {
        tag("Sub", Yaml::String(text))
    } else {
        tag(
            "Sub",
            Yaml::Sequence(vec![Yaml::String(text), Yaml::Mapping(left)]),
        )
    }
}

/// The item of loop variable `id`, the innermost loop's first.
fn lookup<'a>(b: &Bindings<'a>, id: &str) -> Option<&'a str> {
    b.iter()
        .rev()
        .find(|(x, _)| *x == id)
        .map(|(_, item)| *item)
}

/// `s` with each `<open>Id}` of a loop variable replaced by its item.
fn substitute(s: &str, b: &Bindings, open: &str) -> String {
    let mut out = s.to_owned();
    for (id, item) in b.iter().rev() {
        out = out.replace(&format!("{open}{id}}}"), item);
    }
    out
}

/// A key: `${Id}` is the item, `&{Id}` the item's alphanumeric characters.
fn substitute_key(s: &str, b: &Bindings) -> String {
    let alnum: Vec<(&str, String)> = b
        .iter()
        .map(|(id, item)| {
            (
                *id,
                item.chars().filter(char::is_ascii_alphanumeric).collect(),
            )
        })
        .collect();
    let alnum: Vec<(&str, &str)> = alnum.iter().map(|(id, s)| (*id, s.as_str())).collect();
    substitute(&substitute(s, b, "${"), &alnum, "&{")
}
