//! Renders the localized emails written to the outbox.

use serde_json::{Map, Value};

use crate::channel::random_bytes;
use crate::i18n::{self, Lang};
use crate::ports::accounts::{MailKind, OutboxMessage, User};

/// The user's own language when they chose one, else `fallback`.
pub(crate) fn user_lang(user: &User, fallback: Lang) -> Lang {
    user.locale
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or(fallback)
}

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

/// A coarse kind of device from a `User-Agent` header, as a catalogue code
/// (`EMAIL.DEVICE.*`). Only the kind ever reaches an email, never the header.
pub fn device_kind(user_agent: Option<&str>) -> &'static str {
    let ua = user_agent.unwrap_or("");
    // iOS agents also say "like Mac OS X", Android ones "Linux": order matters.
    if ua.contains("iPhone") || ua.contains("iPod") {
        "EMAIL.DEVICE.IPHONE"
    } else if ua.contains("iPad") {
        "EMAIL.DEVICE.IPAD"
    } else if ua.contains("Android") {
        if ua.contains("Mobile") {
            "EMAIL.DEVICE.ANDROID_PHONE"
        } else {
            "EMAIL.DEVICE.ANDROID_TABLET"
        }
    } else if ua.contains("Windows") {
        "EMAIL.DEVICE.WINDOWS"
    } else if ua.contains("CrOS") {
        "EMAIL.DEVICE.CHROMEBOOK"
    } else if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        "EMAIL.DEVICE.MAC"
    } else if ua.contains("Linux") {
        "EMAIL.DEVICE.LINUX"
    } else {
        "EMAIL.DEVICE.UNKNOWN"
    }
}

/// The facts of a password change the owner is told, in `lang`: when (UTC),
/// from which country (`CF-IPCountry`; `XX` and Tor's `T1` are unknown) and
/// on what kind of device.
pub fn change_facts(
    lang: Lang,
    now_ms: u64,
    country: &str,
    user_agent: Option<&str>,
) -> Map<String, Value> {
    let none = Map::new();
    let when = time::OffsetDateTime::from_unix_timestamp((now_ms / 1000) as i64)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default();
    let known = country.len() == 2
        && country.bytes().all(|b| b.is_ascii_alphabetic())
        && !country.eq_ignore_ascii_case("XX");
    let country = if known {
        country.to_ascii_uppercase()
    } else {
        i18n::message(lang, "EMAIL.COUNTRY.UNKNOWN", &none)
    };
    let device = i18n::message(lang, device_kind(user_agent), &none);
    Map::from_iter([
        ("when".to_owned(), Value::from(when)),
        ("country".to_owned(), Value::from(country)),
        ("device".to_owned(), Value::from(device)),
    ])
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
        MailKind::Locked => "EMAIL.LOCKED",
        MailKind::Breached => "EMAIL.BREACHED",
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
        for lang in Lang::ALL {
            let mut p = change_facts(lang, 0, "JP", None);
            p.insert("name".into(), Value::from("<Ann & Bo>"));
            let m = render(
                MailKind::Changed,
                lang,
                "a@example.com",
                "https://x.test/f?a=1&b=2",
                p,
                0,
            );
            assert!(m.text.contains("<Ann & Bo>"), "{}", lang.tag());
            assert!(m.text.contains("1970-01-01 00:00 UTC"), "{}", lang.tag());
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

#[cfg(test)]
mod facts {
    use super::*;

    #[test]
    fn device_kinds_are_coarse() {
        for (ua, kind) in [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "WINDOWS"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15", "MAC"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "IPHONE"),
            ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "IPAD"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "ANDROID_PHONE"),
            ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "ANDROID_TABLET"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "CHROMEBOOK"),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "LINUX"),
            ("curl/8.5.0", "UNKNOWN"),
        ] {
            assert_eq!(device_kind(Some(ua)), format!("EMAIL.DEVICE.{kind}"), "{ua}");
        }
        assert_eq!(device_kind(None), "EMAIL.DEVICE.UNKNOWN");
    }

    #[test]
    fn facts_are_localized_and_never_echo_the_agent() {
        let ua = "Mozilla/5.0 (Windows NT 10.0) <script>x</script>";
        let en = change_facts(Lang::En, 1_711_929_600_000, "jp", Some(ua));
        assert_eq!(en["when"], "2024-04-01 00:00 UTC");
        assert_eq!(en["country"], "JP");
        assert_eq!(en["device"], "Windows computer");
        let ja = change_facts(Lang::Ja, 0, "XX", None);
        assert_eq!(ja["country"], "不明な国・地域");
        assert_eq!(ja["device"], "不明なデバイス");
        assert_eq!(
            change_facts(Lang::En, 0, "T1", None)["country"],
            "unknown country"
        );
    }
}
