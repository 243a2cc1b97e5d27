//! The edge settings of `template.yaml` equal the code's: the HTTP API's
//! CORS lists (shared/src/http/cors.rs), the default trusted proxies
//! (shared/src/http/gateway.rs), and the execute-api switch.
//!
//! The template is read line by line (CloudFormation short tags trip YAML
//! libraries); each key read here is one line of the template's own layout.

use shared::http::cors;
use shared::http::gateway::CLOUDFLARE_RANGES;

fn template() -> String {
    let root = e2e_tests::root();
    std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml")
}

/// The value of the one line `key: value` inside the `CorsConfiguration` block.
fn cors_line(text: &str, key: &str) -> String {
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("CorsConfiguration:"))
        .take(10)
        .collect();
    assert!(!block.is_empty(), "template.yaml: no CorsConfiguration");
    block
        .iter()
        .find_map(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix(key)?
                .strip_prefix(':')
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("CorsConfiguration has no {key}"))
}

/// `[A, B, C]` as a list.
fn flow_list(v: &str) -> Vec<String> {
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('\'').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn the_http_api_cors_lists_equal_the_code() {
    let text = template();
    assert_eq!(
        flow_list(&cors_line(&text, "AllowMethods")),
        cors::ALLOW_METHODS
    );
    assert_eq!(
        flow_list(&cors_line(&text, "AllowHeaders")),
        cors::ALLOW_HEADERS
    );
    assert_eq!(
        flow_list(&cors_line(&text, "ExposeHeaders")),
        cors::EXPOSE_HEADERS
    );
    assert_eq!(cors_line(&text, "MaxAge"), cors::MAX_AGE_SECS.to_string());
    assert_eq!(cors_line(&text, "AllowOrigins"), "!Ref CorsAllowedOrigins");
    // The edge sets the Cloudflare headers in AWS: the deployed list must not allow them.
    for h in cors::SIMULATION_HEADERS {
        assert!(
            !cors_line(&text, "AllowHeaders").contains(h),
            "{h} allowed in AWS"
        );
    }
    assert!(text.contains("CORS_ALLOWED_ORIGINS: !Join [',', !Ref CorsAllowedOrigins]"));
}

#[test]
fn the_default_trusted_proxies_are_the_codes_and_reach_the_functions() {
    let text = template();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "TrustedProxyCidrs:")
        .expect("TrustedProxyCidrs parameter");
    let default = lines[at..]
        .iter()
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .expect("TrustedProxyCidrs default");
    let cidrs: Vec<&str> = default.trim().trim_matches('\'').split(',').collect();
    assert_eq!(cidrs, CLOUDFLARE_RANGES);
    assert!(text.contains("TRUSTED_PROXY_CIDRS: !Join [',', !Ref TrustedProxyCidrs]"));
}

#[test]
fn the_execute_api_endpoint_is_off_by_default_behind_a_custom_domain() {
    let text = template();
    assert!(text.contains("DisableExecuteApiEndpoint: !If [ExecuteApiDisabled, true, false]"));
    assert!(text.contains(
        "- !And [!Equals [!Ref DisableExecuteApiEndpoint, auto], !Condition HasCustomDomain]"
    ));
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "DisableExecuteApiEndpoint:")
        .expect("DisableExecuteApiEndpoint parameter");
    assert_eq!(lines[at + 2].trim(), "Default: auto");
}
