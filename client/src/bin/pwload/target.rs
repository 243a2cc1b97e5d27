//! The only targets a load run may hit: loopback addresses. A generator
//! that can be pointed at someone else's server is a denial-of-service tool.

use std::net::IpAddr;

use reqwest::Url;

/// The base URL, if it is http(s) on a loopback address or `localhost`.
pub fn loopback_only(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", parsed.scheme()));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback {
        return Err(format!(
            "refusing {}: load runs target loopback addresses only (127.0.0.0/8, ::1, localhost)",
            parsed.host_str().unwrap_or("no host")
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::loopback_only;

    #[test]
    fn loopback_addresses_pass() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://127.3.4.5",
            "http://[::1]:9000/",
            "http://localhost:9000",
            "https://LOCALHOST",
        ] {
            assert!(loopback_only(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "http://10.0.0.1:9000",
            "http://192.168.1.2",
            "http://0.0.0.0:9000",
            "http://[::]:9000",
            "http://[::ffff:127.0.0.1]:9000",
            "http://example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            assert!(loopback_only(bad).is_err(), "{bad}");
        }
    }
}
