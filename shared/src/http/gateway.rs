//! Gateway headers required on every route (api.md, "Common rules").

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use super::ApiError;
use crate::i18n::{negotiate, Lang};

/// What the gateway headers tell about the caller.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// `X-Client-Hash`: the client's fingerprint, which sessions are bound to.
    pub client_hash: String,
    /// The address the per-IP limits count by.
    pub client_ip: IpAddr,
    /// `Cf-Ray`: the edge's request id, when the edge headers are believed
    /// ([`ClientIpSource::trusts`]).
    pub ray: Option<String>,
    /// `cf-ipcountry`: two-letter country code, upper case, when the edge
    /// headers are believed; [`UNKNOWN_COUNTRY`] otherwise.
    pub country: String,
    /// The language to answer in, from `Accept-Language`.
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

/// Cloudflare's published edge ranges: the default `TRUSTED_PROXY_CIDRS`.
pub const CLOUDFLARE_RANGES: [&str; 22] = [
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
];

/// The address a request without a network peer is counted by, behind
/// trusted proxies: one shared bucket, never a header's choice.
pub const UNKNOWN_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// Cloudflare's code for a country it cannot tell: the country of a caller
/// whose edge headers are not believed. Emails render it as unknown.
pub const UNKNOWN_COUNTRY: &str = "XX";

/// Which address the per-IP limits count by, and whether the edge's other
/// headers (`Cf-Ray`, `cf-ipcountry`) are believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIpSource {
    /// `CF-Connecting-IP` is believed only when the connection comes from one
    /// of these proxies (`TRUSTED_PROXY_CIDRS`); any other caller is counted
    /// by its own address, whatever header it sends.
    TrustedProxies(Vec<IpNet>),
    /// local-api and tests: the simulation header is the client IP, as the
    /// contract says for local and test clients.
    SimulationHeader,
    /// `EDGE_MODE=none`: the API Gateway endpoint is the edge. The client is
    /// the network peer (`sourceIp`); the `CF-*` headers are optional and
    /// ignored, since any caller could write them.
    Peer,
}

impl Default for ClientIpSource {
    fn default() -> Self {
        ClientIpSource::TrustedProxies(
            CLOUDFLARE_RANGES
                .iter()
                .map(|c| c.parse().expect("static CIDR"))
                .collect(),
        )
    }
}

impl ClientIpSource {
    /// Comma-separated CIDRs; an empty list trusts no proxy.
    pub fn parse_cidrs(list: &str) -> Result<ClientIpSource, String> {
        list.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<IpNet>()
                    .map_err(|_| format!("{c:?} is not a CIDR"))
            })
            .collect::<Result<_, _>>()
            .map(ClientIpSource::TrustedProxies)
    }

    /// Whether the edge's headers (`CF-Connecting-IP`, `Cf-Ray`,
    /// `cf-ipcountry`) are believed for a request from `source`, the network
    /// peer the runtime saw (API Gateway's `sourceIp`): only when it is a
    /// trusted proxy, or in the simulation mode (local-api, tests). Behind
    /// trusted proxies a request without a peer cannot show it came through
    /// them, and is not believed.
    pub fn trusts(&self, source: Option<IpAddr>) -> bool {
        match (self, source) {
            (ClientIpSource::SimulationHeader, _) => true,
            (ClientIpSource::Peer, _) => false,
            (ClientIpSource::TrustedProxies(_), None) => false,
            (ClientIpSource::TrustedProxies(proxies), Some(peer)) => {
                let peer = peer.to_canonical();
                proxies.iter().any(|net| net.contains(&peer))
            }
        }
    }

    /// Whether the `CF-*` headers are required (and checked) at all: not
    /// when there is no Cloudflare in front ([`ClientIpSource::Peer`]).
    pub fn requires_edge_headers(&self) -> bool {
        !matches!(self, ClientIpSource::Peer)
    }

    /// The address to count by: the header where [`Self::trusts`] believes
    /// it, else the peer itself; without a peer, behind trusted proxies
    /// or with no edge, every request shares the unspecified address's bucket.
    pub fn client_ip(&self, source: Option<IpAddr>, header: IpAddr) -> IpAddr {
        if self.trusts(source) {
            header
        } else {
            source.map_or(UNKNOWN_PEER, |peer| peer.to_canonical())
        }
    }
}

type Check = fn(&str) -> bool;

/// Checks every gateway header and reports all missing, then all malformed ones.
/// `Content-Type` is required only when the route takes a body. Behind
/// Cloudflare the edge's headers are required and checked from every caller
/// alike, but believed only where `ip_source` trusts the peer: from any other
/// caller the client IP is the peer, the country [`UNKNOWN_COUNTRY`] and `ray`
/// is `None` (the request id is then generated, [`super::request_id`]).
/// Without an edge ([`ClientIpSource::Peer`]) they are neither required nor
/// read: the client is the peer, the country unknown.
pub fn check(
    headers: &HeaderMap,
    has_body: bool,
    source_ip: Option<IpAddr>,
    ip_source: &ClientIpSource,
) -> Result<Gateway, ApiError> {
    let printable: Check = |v| is_printable_ascii(v, 256);
    let mut rules: Vec<(&'static str, Check)> = vec![
        ("Accept", printable),
        ("X-Client-Hash", |v| is_printable_ascii(v, 128)),
        ("Accept-Language", printable),
    ];
    if ip_source.requires_edge_headers() {
        rules.extend([
            (
                "CF-Connecting-IP",
                (|v| v.trim().parse::<IpAddr>().is_ok()) as Check,
            ),
            ("Cf-Ray", |v| is_printable_ascii(v, 128) && !v.contains(' ')),
            ("cf-ipcountry", |v| {
                v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphanumeric())
            }),
        ]);
    }
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
    let believed = ip_source.trusts(source_ip);
    let client_ip = if believed {
        let header_ip = get("cf-connecting-ip")
            .trim()
            .parse()
            .map_err(|_| ApiError::HeaderInvalid(vec!["CF-Connecting-IP"]))?;
        ip_source.client_ip(source_ip, header_ip)
    } else {
        ip_source.client_ip(source_ip, UNKNOWN_PEER)
    };
    Ok(Gateway {
        client_hash: get("x-client-hash"),
        client_ip,
        ray: believed.then(|| get("cf-ray")),
        country: if believed {
            get("cf-ipcountry").to_ascii_uppercase()
        } else {
            UNKNOWN_COUNTRY.to_owned()
        },
        lang: language(headers),
    })
}

/// The rate-limit key of a client address: the IPv4 address, or the IPv6
/// /64 (one subscriber usually holds a whole /64). IPv4-mapped IPv6 is IPv4.
pub fn ip_rate_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
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

    fn sim() -> ClientIpSource {
        ClientIpSource::SimulationHeader
    }

    #[test]
    fn the_header_ip_is_believed_only_from_a_trusted_proxy() {
        let cloudflare = ClientIpSource::default();
        let edge: IpAddr = "172.64.1.9".parse().unwrap();
        let g = check(&full(), true, Some(edge), &cloudflare).unwrap();
        assert_eq!(g.client_ip.to_string(), "2001:db8::1");
        // Straight to the origin, bypassing the edge: counted by its own address.
        let direct: IpAddr = "203.0.113.7".parse().unwrap();
        let g = check(&full(), true, Some(direct), &cloudflare).unwrap();
        assert_eq!(g.client_ip, direct);
        let g = check(
            &full(),
            true,
            Some("::ffff:203.0.113.7".parse().unwrap()),
            &cloudflare,
        )
        .unwrap();
        assert_eq!(g.client_ip, direct);
        let edge6: IpAddr = "2606:4700::1".parse().unwrap();
        assert_eq!(
            check(&full(), true, Some(edge6), &cloudflare)
                .unwrap()
                .client_ip
                .to_string(),
            "2001:db8::1"
        );
        let none = ClientIpSource::parse_cidrs("").unwrap();
        assert_eq!(
            check(&full(), true, Some(edge), &none).unwrap().client_ip,
            edge
        );
        let g = check(&full(), true, Some(direct), &sim()).unwrap();
        assert_eq!(g.client_ip.to_string(), "2001:db8::1");
        assert!(ClientIpSource::parse_cidrs("10.0.0.0/8, 2001:db8::/32").is_ok());
        assert!(ClientIpSource::parse_cidrs("10.0.0.0/33").is_err());
        assert!(ClientIpSource::parse_cidrs("example.com").is_err());
    }

    #[test]
    fn without_a_network_peer_only_the_simulation_mode_believes_the_header() {
        // Behind trusted proxies, a request that names no peer cannot show it
        // came through one: it is counted by the shared unknown address.
        for policy in [
            ClientIpSource::default(),
            ClientIpSource::parse_cidrs("").unwrap(),
            ClientIpSource::parse_cidrs("0.0.0.0/0, ::/0").unwrap(),
        ] {
            let g = check(&full(), true, None, &policy).unwrap();
            assert_eq!(g.client_ip, UNKNOWN_PEER, "{policy:?}");
            assert!(g.client_ip.is_unspecified());
        }
        // local-api's explicit simulation mode takes the header as sent.
        let g = check(&full(), true, None, &sim()).unwrap();
        assert_eq!(g.client_ip.to_string(), "2001:db8::1");
    }

    #[test]
    fn edge_headers_are_believed_only_from_a_trusted_proxy() {
        let cloudflare = ClientIpSource::default();
        let edge: IpAddr = "172.64.1.9".parse().unwrap();
        let g = check(&full(), true, Some(edge), &cloudflare).unwrap();
        assert_eq!(g.country, "JP");
        assert_eq!(g.ray.as_deref(), Some("8f1e2d3c4b5a6978-NRT"));
        // Off the edge, or without a peer: the country is unknown and the
        // ray is not taken, whatever the caller sends.
        let direct: IpAddr = "203.0.113.7".parse().unwrap();
        for source in [Some(direct), None] {
            let g = check(&full(), true, source, &cloudflare).unwrap();
            assert_eq!(g.country, UNKNOWN_COUNTRY, "{source:?}");
            assert_eq!(g.ray, None, "{source:?}");
        }
        let none = ClientIpSource::parse_cidrs("").unwrap();
        assert_eq!(
            check(&full(), true, Some(edge), &none).unwrap().country,
            UNKNOWN_COUNTRY
        );
        // The simulation mode believes them as sent.
        let g = check(&full(), true, None, &sim()).unwrap();
        assert_eq!((g.country.as_str(), g.ray.is_some()), ("JP", true));
        // Still required and still checked from an untrusted caller.
        let mut h = full();
        h.insert("cf-ipcountry", "FRA".parse().unwrap());
        h.remove("cf-ray");
        assert!(
            matches!(check(&h, true, Some(direct), &cloudflare), Err(ApiError::HeaderMissing(n)) if n == vec!["Cf-Ray"])
        );
        h.insert("cf-ray", "a b".parse().unwrap());
        assert!(
            matches!(check(&h, true, Some(direct), &cloudflare), Err(ApiError::HeaderInvalid(n)) if n == vec!["Cf-Ray", "cf-ipcountry"])
        );
    }

    #[test]
    fn the_request_id_is_the_ray_only_from_a_trusted_proxy() {
        let cloudflare = ClientIpSource::default();
        let req = |source: Option<IpAddr>, fallback: Option<&str>| crate::http::ApiRequest {
            method: http::Method::POST,
            headers: full(),
            body: bytes::Bytes::new(),
            fallback_request_id: fallback.map(str::to_owned),
            source_ip: source,
        };
        let ray = "8f1e2d3c4b5a6978-NRT";
        let edge: IpAddr = "172.64.1.9".parse().unwrap();
        let direct: IpAddr = "203.0.113.7".parse().unwrap();
        let id = |r: crate::http::ApiRequest, policy: &ClientIpSource| {
            crate::http::request_id(&r, policy)
        };
        assert_eq!(id(req(Some(edge), None), &cloudflare), ray);
        assert_eq!(id(req(None, None), &sim()), ray);
        // Off the edge: Lambda's id, else a fresh random one, never the header.
        assert_eq!(
            id(req(Some(direct), Some("lambda-1")), &cloudflare),
            "lambda-1"
        );
        for source in [Some(direct), None] {
            let a = id(req(source, None), &cloudflare);
            let b = id(req(source, None), &cloudflare);
            assert_ne!(a, ray);
            assert_eq!(a.len(), 24);
            assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
            assert_ne!(a, b, "fresh each time");
        }
    }

    #[test]
    fn without_an_edge_the_cf_headers_are_optional_and_ignored() {
        let peer: IpAddr = "198.51.100.4".parse().unwrap();
        let mut bare = full();
        for name in ["cf-connecting-ip", "cf-ray", "cf-ipcountry"] {
            bare.remove(name);
        }
        // Absent: not missing. The client is the peer, the country unknown.
        let g = check(&bare, true, Some(peer), &ClientIpSource::Peer).unwrap();
        assert_eq!(g.client_ip, peer);
        assert_eq!(g.country, UNKNOWN_COUNTRY);
        assert_eq!(g.ray, None);
        // Present, even well formed: ignored, whatever they claim.
        let g = check(&full(), true, Some(peer), &ClientIpSource::Peer).unwrap();
        assert_eq!((g.client_ip, g.country.as_str(), g.ray), (peer, "XX", None));
        // Present and malformed: still ignored, never a 400.
        let mut junk = full();
        junk.insert("cf-connecting-ip", "not-an-ip".parse().unwrap());
        junk.insert("cf-ipcountry", "FRA".parse().unwrap());
        junk.insert("cf-ray", "a b".parse().unwrap());
        let g = check(&junk, true, Some(peer), &ClientIpSource::Peer).unwrap();
        assert_eq!(g.client_ip, peer);
        // IPv4-mapped peers count as IPv4; no peer shares the unknown bucket.
        let mapped: IpAddr = "::ffff:198.51.100.4".parse().unwrap();
        assert_eq!(
            check(&bare, true, Some(mapped), &ClientIpSource::Peer)
                .unwrap()
                .client_ip,
            peer
        );
        assert_eq!(
            check(&bare, true, None, &ClientIpSource::Peer)
                .unwrap()
                .client_ip,
            UNKNOWN_PEER
        );
        // The other headers are still required in this mode.
        bare.remove("x-client-hash");
        assert!(
            matches!(check(&bare, true, Some(peer), &ClientIpSource::Peer), Err(ApiError::HeaderMissing(n)) if n == vec!["X-Client-Hash"])
        );
        // Behind Cloudflare the same bare request is refused, naming all three.
        let mut bare = full();
        for name in ["cf-connecting-ip", "cf-ray", "cf-ipcountry"] {
            bare.remove(name);
        }
        for policy in [ClientIpSource::default(), sim()] {
            assert!(
                matches!(check(&bare, true, Some(peer), &policy), Err(ApiError::HeaderMissing(n)) if n == vec!["CF-Connecting-IP", "Cf-Ray", "cf-ipcountry"]),
                "{policy:?}"
            );
        }
        // The request id is never the ray without an edge.
        let req = crate::http::ApiRequest {
            method: http::Method::POST,
            headers: full(),
            body: bytes::Bytes::new(),
            fallback_request_id: Some("lambda-1".into()),
            source_ip: Some(peer),
        };
        assert_eq!(
            crate::http::request_id(&req, &ClientIpSource::Peer),
            "lambda-1"
        );
    }

    #[test]
    fn complete_headers_pass() {
        let g = check(&full(), true, None, &sim()).unwrap();
        assert_eq!(g.client_ip.to_string(), "2001:db8::1");
        assert_eq!(g.lang, Lang::Ja);
        assert_eq!(g.client_hash, "device-1");
    }

    #[test]
    fn missing_headers_are_all_named() {
        let mut h = full();
        h.remove("x-client-hash");
        h.remove("cf-ray");
        match check(&h, true, None, &sim()) {
            Err(ApiError::HeaderMissing(n)) => assert_eq!(n, vec!["X-Client-Hash", "Cf-Ray"]),
            other => panic!("{other:?}"),
        }
        let mut h = full();
        h.remove("content-type");
        assert!(check(&h, false, None, &sim()).is_ok());
        assert!(
            matches!(check(&h, true, None, &sim()), Err(ApiError::HeaderMissing(n)) if n == vec!["Content-Type"])
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let mut h = full();
        h.insert("cf-connecting-ip", "not-an-ip".parse().unwrap());
        h.insert("x-client-hash", "a".repeat(129).parse().unwrap());
        match check(&h, true, None, &sim()) {
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
            matches!(check(&h, true, None, &sim()), Err(ApiError::HeaderInvalid(n)) if n == vec!["X-Client-Hash"])
        );
    }
}
