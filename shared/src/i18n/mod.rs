//! Message catalogues (en, zh, zh-Hant, ja, vi) and `Accept-Language` negotiation.
//!
//! Catalogues are flat JSON maps `code -> template`, embedded at build time;
//! `{name}` placeholders are filled from the params of the error or email.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
    /// Traditional Chinese.
    ZhHant,
    /// Japanese.
    Ja,
    /// Vietnamese.
    Vi,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Zh, Lang::ZhHant, Lang::Ja, Lang::Vi];

    /// The tag sent back in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
            Lang::ZhHant => "zh-Hant",
            Lang::Ja => "ja",
            Lang::Vi => "vi",
        }
    }

    /// Maps one language range (`zh-TW`, `ja-JP`, `*`) to a supported language.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let lower = tag.trim().to_ascii_lowercase();
        let mut parts = lower.split(['-', '_']);
        let primary = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        match primary {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            "vi" => Some(Lang::Vi),
            "zh" => {
                // An explicit script wins over the region (zh-Hans-HK is Simplified).
                let traditional = if rest.contains(&"hant") {
                    true
                } else if rest.contains(&"hans") {
                    false
                } else {
                    rest.iter().any(|p| matches!(*p, "tw" | "hk" | "mo"))
                };
                Some(if traditional { Lang::ZhHant } else { Lang::Zh })
            }
            _ => None,
        }
    }

    fn catalogue_source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../i18n/en.json"),
            Lang::Zh => include_str!("../../i18n/zh.json"),
            Lang::ZhHant => include_str!("../../i18n/zh-Hant.json"),
            Lang::Ja => include_str!("../../i18n/ja.json"),
            Lang::Vi => include_str!("../../i18n/vi.json"),
        }
    }
}

/// Picks the best supported language from an `Accept-Language` value,
/// honouring q-values; ties keep header order; nothing usable gives English.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::En;
    };
    let mut best: Option<(f32, Lang)> = None;
    for item in header.split(',') {
        let mut pieces = item.split(';');
        let range = pieces.next().unwrap_or("").trim();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|v| v.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if !(q > 0.0 && q <= 1.0) {
            continue;
        }
        let lang = if range == "*" {
            Some(Lang::En)
        } else {
            Lang::from_tag(range)
        };
        if let Some(lang) = lang {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map(|(_, l)| l).unwrap_or(Lang::En)
}

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static HashMap<Lang, Catalogue> {
    static CATALOGUES: OnceLock<HashMap<Lang, Catalogue>> = OnceLock::new();
    CATALOGUES.get_or_init(|| {
        Lang::ALL
            .iter()
            .map(|&lang| {
                // The catalogues are compiled in and checked by tests; a broken
                // one is a build defect, not a runtime condition.
                let cat: Catalogue = serde_json::from_str(lang.catalogue_source())
                    .unwrap_or_else(|e| panic!("catalogue {} is not valid JSON: {e}", lang.tag()));
                (lang, cat)
            })
            .collect()
    })
}

/// Every code known to the English catalogue (the reference set).
pub fn codes() -> Vec<&'static str> {
    let mut codes: Vec<&str> = catalogues()[&Lang::En].keys().map(String::as_str).collect();
    codes.sort_unstable();
    codes
}

/// The raw template of `code` in `lang`, if the catalogue has it.
pub fn template(lang: Lang, code: &str) -> Option<&'static str> {
    catalogues()[&lang].get(code).map(String::as_str)
}

/// The localized message for `code`, placeholders filled from `params`.
/// Unknown codes fall back to the English text, then to the code itself.
pub fn message(lang: Lang, code: &str, params: &Map<String, Value>) -> String {
    let tpl = template(lang, code)
        .or_else(|| template(Lang::En, code))
        .unwrap_or(code);
    fill(tpl, params)
}

/// Replaces each `{name}` with the param's value (strings unquoted, arrays joined).
pub fn fill(template: &str, params: &Map<String, Value>) -> String {
    let mut out = template.to_owned();
    for (name, value) in params {
        let text = render(value);
        out = out.replace(&format!("{{{name}}}"), &text);
    }
    out
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(render).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Names of the `{placeholders}` in a template.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                names.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q_values_and_region_mapping() {
        assert_eq!(negotiate(None), Lang::En);
        assert_eq!(negotiate(Some("zh-TW")), Lang::ZhHant);
        assert_eq!(negotiate(Some("zh-HK,en;q=0.5")), Lang::ZhHant);
        assert_eq!(negotiate(Some("zh-MO")), Lang::ZhHant);
        assert_eq!(negotiate(Some("zh-Hant-TW")), Lang::ZhHant);
        assert_eq!(negotiate(Some("zh-CN")), Lang::Zh);
        assert_eq!(negotiate(Some("zh-Hans")), Lang::Zh);
        assert_eq!(negotiate(Some("zh-SG")), Lang::Zh);
        assert_eq!(negotiate(Some("zh-Hans-HK")), Lang::Zh);
        assert_eq!(negotiate(Some("zh-Hant-CN")), Lang::ZhHant);
        assert_eq!(negotiate(Some("zh")), Lang::Zh);
        assert_eq!(negotiate(Some("fr-FR")), Lang::En);
        assert_eq!(negotiate(Some("fr, ja;q=0.4, vi;q=0.8")), Lang::Vi);
        assert_eq!(negotiate(Some("en;q=0.1, ja")), Lang::Ja);
        assert_eq!(negotiate(Some("ja;q=0, vi;q=0.2")), Lang::Vi);
        assert_eq!(negotiate(Some("de, *;q=0.5")), Lang::En);
        assert_eq!(negotiate(Some("ja-JP;q=0.9, zh-TW;q=0.9")), Lang::Ja);
        assert_eq!(negotiate(Some(";;;,q=,")), Lang::En);
    }

    #[test]
    fn every_code_exists_in_every_language_with_the_same_placeholders() {
        let en = &catalogues()[&Lang::En];
        for lang in Lang::ALL {
            let cat = &catalogues()[&lang];
            assert_eq!(
                cat.len(),
                en.len(),
                "{} has extra or missing codes",
                lang.tag()
            );
            for (code, en_text) in en {
                let text = cat
                    .get(code)
                    .unwrap_or_else(|| panic!("{code} missing in {}", lang.tag()));
                assert!(!text.trim().is_empty(), "{code} empty in {}", lang.tag());
                let mut want = placeholders(en_text);
                let mut got = placeholders(text);
                want.sort();
                got.sort();
                assert_eq!(want, got, "{code} placeholders differ in {}", lang.tag());
                // Product names read the same in every language.
                let proper_name = ["IPHONE", "IPAD", "MAC", "CHROMEBOOK"]
                    .iter()
                    .any(|n| code.strip_prefix("EMAIL.DEVICE.") == Some(n));
                if lang != Lang::En && !proper_name {
                    assert_ne!(
                        text,
                        en_text,
                        "{code} in {} falls back to English",
                        lang.tag()
                    );
                }
            }
        }
    }

    /// The code-like string literals (`"AUTH.TOKEN_INVALID"`) of the Rust
    /// files under `dir`, with the file they are in.
    fn code_literals(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                code_literals(&path, out);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for lit in text.split('"').skip(1).step_by(2) {
                let code_like = lit.contains('.')
                    && lit.starts_with(|c: char| c.is_ascii_uppercase())
                    && !lit.ends_with('.')
                    && lit.bytes().all(|b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || b"._".contains(&b)
                    });
                if code_like {
                    out.push((lit.to_owned(), path.display().to_string()));
                }
            }
        }
    }

    /// The catalogue test above compares the languages with English; this
    /// one holds English to the code: every code (or mail prefix, such as
    /// `EMAIL.INIT`) written in the server's sources, or listed by the
    /// password crate, has its entry in `en.json`, so a code missing from
    /// every catalogue alike still fails.
    #[test]
    fn every_code_the_sources_name_is_in_the_english_catalogue() {
        let en = &catalogues()[&Lang::En];
        let prefixes: std::collections::BTreeSet<&str> =
            en.keys().filter_map(|k| k.split('.').next()).collect();
        let known = |code: &str| {
            en.contains_key(code) || en.keys().any(|k| k.starts_with(&format!("{code}.")))
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for dir in ["src", "password/src", "aws/src"] {
            code_literals(&root.join(dir), &mut found);
        }
        let ours: Vec<&(String, String)> = found
            .iter()
            .filter(|(c, _)| c.split('.').next().is_some_and(|p| prefixes.contains(p)))
            .collect();
        assert!(ours.len() > 50, "the scan finds the codes: {}", ours.len());
        let missing: Vec<&(String, String)> =
            ours.iter().copied().filter(|(c, _)| !known(c)).collect();
        assert!(
            missing.is_empty(),
            "codes without an en.json entry: {missing:?}"
        );
        for code in password::all_codes() {
            assert!(
                known(code),
                "{code} (password::all_codes) is not in en.json"
            );
        }
    }

    #[test]
    fn message_fills_every_placeholder() {
        for lang in Lang::ALL {
            for code in codes() {
                let tpl = template(lang, code).unwrap();
                let params: Map<String, Value> = placeholders(tpl)
                    .into_iter()
                    .map(|p| (p, Value::from("X")))
                    .collect();
                let text = message(lang, code, &params);
                assert!(
                    placeholders(&text).is_empty(),
                    "{code} in {} left a placeholder: {text}",
                    lang.tag()
                );
            }
        }
    }

    #[test]
    fn message_localizes_and_fills() {
        let mut params = Map::new();
        params.insert(
            "headers".into(),
            serde_json::json!(["X-Client-Hash", "Cf-Ray"]),
        );
        assert_eq!(
            message(Lang::En, "GATEWAY.HEADER_MISSING", &params),
            "Required request header missing: X-Client-Hash, Cf-Ray"
        );
        assert!(message(Lang::Ja, "GATEWAY.HEADER_MISSING", &params).contains("X-Client-Hash"));
        assert_eq!(
            message(Lang::Zh, "SC.REPLAY", &Map::new()),
            "该请求已被接收过"
        );
    }
}
