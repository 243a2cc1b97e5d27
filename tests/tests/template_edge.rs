//! The edge settings of `template.yaml` equal the code's: the HTTP API's
//! CORS lists (shared/src/http/cors.rs), the default trusted proxies
//! (shared/src/http/gateway.rs), the execute-api switch, and the custom
//! domain as plain resources SAM can translate (`make validate` runs the
//! translation, `sam validate`, besides `sam validate --lint`).
//!
//! The template is read line by line (CloudFormation short tags trip YAML
//! libraries); each key read here is one line of the template's own layout.

use std::process::Command;

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

/// The lines of resource `id` (below `  <id>:`, up to the next resource), trimmed.
fn resource<'a>(text: &'a str, id: &str) -> Vec<&'a str> {
    let head = format!("  {id}:");
    let mut lines = text.lines().skip_while(|l| *l != head);
    assert!(lines.next().is_some(), "template.yaml: no resource {id}");
    lines
        .take_while(|l| l.trim().is_empty() || l.starts_with("    ") || l.starts_with("  #"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn the_custom_domain_is_a_domain_and_a_mapping_of_the_default_stage() {
    let text = template();
    // SAM refuses a conditional `Domain` on the HttpApi ("Custom Domains only
    // works if both DomainName and CertificateArn are provided").
    let api = resource(&text, "HttpApi");
    assert!(api.contains(&"Type: AWS::Serverless::HttpApi"), "{api:?}");
    assert!(
        !api.iter().any(|l| l.starts_with("Domain:")),
        "HttpApi has a Domain property: {api:?}"
    );

    let domain = resource(&text, "ApiDomain");
    for line in [
        "Type: AWS::ApiGatewayV2::DomainName",
        "Condition: HasCustomDomain",
        "DomainName: !Ref CustomDomainName",
        "- CertificateArn: !Ref CustomDomainCertificateArn",
        "EndpointType: REGIONAL",
    ] {
        assert!(
            domain.contains(&line),
            "ApiDomain lacks {line:?}: {domain:?}"
        );
    }
    let mapping = resource(&text, "ApiDomainMapping");
    for line in [
        "Type: AWS::ApiGatewayV2::ApiMapping",
        "Condition: HasCustomDomain",
        "DomainName: !Ref ApiDomain",
        "ApiId: !Ref HttpApi",
        // The stage SAM generates for the HttpApi: the reference orders the
        // mapping after it.
        "Stage: !Ref HttpApiApiGatewayDefaultStage",
    ] {
        assert!(
            mapping.contains(&line),
            "ApiDomainMapping lacks {line:?}: {mapping:?}"
        );
    }
    // The domain exists only with its certificate, and a name without one is refused.
    assert!(text.contains(
        "  HasCustomDomain: !And\n    - !Not [!Equals [!Ref CustomDomainName, '']]\n    - !Not [!Equals [!Ref CustomDomainCertificateArn, '']]\n"
    ));
    assert!(text.contains("      - Assert: !Not [!Equals [!Ref CustomDomainCertificateArn, '']]"));
}

#[test]
fn make_validate_translates_the_template_and_lints_it() {
    let out = Command::new("make")
        .args(["-n", "validate"])
        .current_dir(e2e_tests::root())
        .output()
        .expect("run make -n validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let sam: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.contains("sam validate"))
        .map(|l| {
            let (_, args) = l.split_once("sam validate").unwrap();
            args.split_whitespace().collect()
        })
        .collect();
    // `--lint` alone skips the SAM translation, where a bad HttpApi fails.
    assert!(sam.contains(&vec![]), "no plain sam validate: {stdout}");
    assert!(
        sam.contains(&vec!["--lint"]),
        "no sam validate --lint: {stdout}"
    );
}

/// The answers the HTTP API gives itself are the contract's too: docs/api.md
/// names each one, the stage throttle's parameters are the template's, and
/// a wrong method is not among them (an `ANY` route per path, which
/// `template_drift.rs` holds to every contract path, reaches the function).
#[test]
fn api_md_documents_the_answers_the_gateway_gives_itself() {
    let text = template();
    let api = std::fs::read_to_string(e2e_tests::root().join("docs/api.md")).expect("api.md");
    let section: String = api
        .lines()
        .skip_while(|l| *l != "### Answers from API Gateway (AWS only)")
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !section.is_empty(),
        "docs/api.md: no gateway answers section"
    );
    for row in [
        "| 404 | `{\"message\":\"Not Found\"}`",
        "| 429 | `{\"message\":\"Too Many Requests\"}`",
        "| 500 | `{\"message\":\"Internal Server Error\"}`",
        "| 503 | `{\"message\":\"Service Unavailable\"}`",
    ] {
        assert!(
            section.contains(row),
            "docs/api.md gateway answers lack {row}"
        );
    }
    assert!(
        !section.contains("| 405 |"),
        "a wrong method is the function's 405"
    );
    for param in ["ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"] {
        assert!(section.contains(param), "{param}");
        assert!(
            text.contains(&format!(": !Ref {param}\n")),
            "the stage throttle reads {param}"
        );
    }
    assert!(section.contains("`ANY` route") && text.contains("Method: ANY"));
}
