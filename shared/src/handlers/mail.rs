//! Renders the localized emails written to the outbox.

use serde_json::{Map, Value};

use crate::channel::random_bytes;
use crate::i18n::{self, Lang};
use crate::ports::accounts::{MailKind, OutboxMessage};

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fresh id of 32 random hex digits (outbox messages, forgot requests).
pub fn new_id() -> String {
    let id: [u8; 16] = random_bytes();
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds one outbox message of `kind` for `to`, with `link` and extra params.
pub fn render(
    kind: MailKind,
    lang: Lang,
    to: &str,
    link: &str,
    mut params: Map<String, Value>,
    now_ms: u64,
) -> OutboxMessage {
    let prefix = match kind {
        MailKind::Init => "EMAIL.INIT",
        MailKind::Reset => "EMAIL.RESET",
        MailKind::Changed => "EMAIL.CHANGED",
    };
    params.insert("link".into(), Value::from(link));
    let subject = i18n::message(lang, &format!("{prefix}.SUBJECT"), &params);
    let text = i18n::message(lang, &format!("{prefix}.BODY"), &params);
    // The HTML part is the same text, escaped, with the link made clickable.
    let html_params: Map<String, Value> = params
        .iter()
        .map(|(k, v)| {
            let rendered = match v {
                Value::String(s) if k == "link" => {
                    let e = escape_html(s);
                    format!("<a href=\"{e}\">{e}</a>")
                }
                Value::String(s) => escape_html(s),
                other => escape_html(&other.to_string()),
            };
            (k.clone(), Value::from(rendered))
        })
        .collect();
    let template = i18n::template(lang, &format!("{prefix}.BODY")).unwrap_or_default();
    let body = i18n::fill(&escape_html(template), &html_params).replace('\n', "<br>\n");
    let html = format!(
        "<!doctype html><html lang=\"{}\"><body><p>{body}</p></body></html>",
        lang.tag()
    );
    OutboxMessage {
        id: new_id(),
        kind,
        to: to.to_owned(),
        subject,
        text,
        html,
        link: link.to_owned(),
        created_at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_localized_filled_and_escaped() {
        let mut p = Map::new();
        p.insert("name".into(), Value::from("<Ann & Bo>"));
        for lang in Lang::ALL {
            let m = render(
                MailKind::Changed,
                lang,
                "a@example.com",
                "https://x.test/f?a=1&b=2",
                p.clone(),
                0,
            );
            assert!(m.text.contains("<Ann & Bo>"), "{}", lang.tag());
            assert!(m.html.contains("&lt;Ann &amp; Bo&gt;"), "{}", lang.tag());
            assert!(
                m.html.contains("<a href=\"https://x.test/f?a=1&amp;b=2\">"),
                "{}",
                lang.tag()
            );
            assert!(
                !m.text.contains('{') && !m.subject.contains('{'),
                "{}",
                lang.tag()
            );
        }
        let en = render(
            MailKind::Reset,
            Lang::En,
            "a@example.com",
            "L",
            Map::new(),
            0,
        );
        let ja = render(
            MailKind::Reset,
            Lang::Ja,
            "a@example.com",
            "L",
            Map::new(),
            0,
        );
        assert_ne!(en.subject, ja.subject);
    }
}
