//! Gateway headers required on every route (api.md, "Common rules").

use std::net::IpAddr;

use http::HeaderMap;

use super::ApiError;
use crate::i18n::{negotiate, Lang};

/// What the gateway headers tell about the caller.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub client_hash: String,
    pub client_ip: IpAddr,
    pub ray: String,
    pub country: String,
    pub lang: Lang,
}

/// 1..=max printable ASCII characters (0x20-0x7E).
pub fn is_printable_ascii(v: &str, max: usize) -> bool {
    (1..=max).contains(&v.len()) && v.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The language to answer in, even before the other headers are checked.
pub fn language(headers: &HeaderMap) -> Lang {
    negotiate(headers.get("accept-language").and_then(|v| v.to_str().ok()))
}

type Check = fn(&str) -> bool;

/// Checks every gateway header and reports all missing, then all malformed ones.
/// `Content-Type` is required only when the route takes a body.
pub fn check(headers: &HeaderMap, has_body: bool) -> Result<Gateway, ApiError> {
    let printable: Check = |v| is_printable_ascii(v, 256);
    let mut rules: Vec<(&'static str, Check)> = vec![
        ("Accept", printable),
        ("X-Client-Hash", |v| is_printable_ascii(v, 128)),
        ("Accept-Language", printable),
        ("CF-Connecting-IP", |v| v.trim().parse::<IpAddr>().is_ok()),
        ("Cf-Ray", |v| is_printable_ascii(v, 128) && !v.contains(' ')),
        ("cf-ipcountry", |v| {
            v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphanumeric())
        }),
    ];
    if has_body {
        rules.insert(0, ("Content-Type", printable));
    }
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    for (name, ok) in &rules {
        match headers.get(*name) {
            None => missing.push(*name),
            Some(v) => match v.to_str() {
                Ok(s) if ok(s) => {}
                _ => invalid.push(*name),
            },
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::HeaderMissing(missing));
    }
    if !invalid.is_empty() {
        return Err(ApiError::HeaderInvalid(invalid));
    }
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Gateway {
        client_hash: get("x-client-hash"),
        client_ip: get("cf-connecting-ip")
            .trim()
            .parse()
            .map_err(|_| ApiError::HeaderInvalid(vec!["CF-Connecting-IP"]))?,
        ray: get("cf-ray"),
        country: get("cf-ipcountry").to_ascii_uppercase(),
        lang: language(headers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("x-client-hash", "device-1"),
            ("accept-language", "ja"),
            ("cf-connecting-ip", "2001:db8::1"),
            ("cf-ray", "8f1e2d3c4b5a6978-NRT"),
            ("cf-ipcountry", "JP"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn complete_headers_pass() {
        let g = check(&full(), true).unwrap();
        assert_eq!(g.client_ip.to_string(), "2001:db8::1");
        assert_eq!(g.lang, Lang::Ja);
        assert_eq!(g.client_hash, "device-1");
    }

    #[test]
    fn missing_headers_are_all_named() {
        let mut h = full();
        h.remove("x-client-hash");
        h.remove("cf-ray");
        match check(&h, true) {
            Err(ApiError::HeaderMissing(n)) => assert_eq!(n, vec!["X-Client-Hash", "Cf-Ray"]),
            other => panic!("{other:?}"),
        }
        let mut h = full();
        h.remove("content-type");
        assert!(check(&h, false).is_ok());
        assert!(
            matches!(check(&h, true), Err(ApiError::HeaderMissing(n)) if n == vec!["Content-Type"])
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let mut h = full();
        h.insert("cf-connecting-ip", "not-an-ip".parse().unwrap());
        h.insert("x-client-hash", "a".repeat(129).parse().unwrap());
        match check(&h, true) {
            Err(ApiError::HeaderInvalid(n)) => {
                assert_eq!(n, vec!["X-Client-Hash", "CF-Connecting-IP"])
            }
            other => panic!("{other:?}"),
        }
        let mut h = full();
        h.insert(
            "x-client-hash",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert!(
            matches!(check(&h, true), Err(ApiError::HeaderInvalid(n)) if n == vec!["X-Client-Hash"])
        );
    }
}
