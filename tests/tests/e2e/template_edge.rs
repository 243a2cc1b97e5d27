//! The edge settings of `template.yaml` equal the code's: the HTTP API's
//! CORS lists (shared/src/http/cors.rs), the default trusted proxies
//! (shared/src/http/gateway.rs), the execute-api switch, and the custom
//! domain as plain resources SAM can translate (`make validate` runs the
//! translation, `sam validate`, besides `sam validate --lint`).
//!
//! The template is read as every template test reads it
//! (`e2e_tests::template`: a YAML tree with its CloudFormation tags, its
//! language extensions expanded).

use std::process::Command;

use e2e_tests::template::{load, of_type, parse as yaml, plain, ref_to, strings, tagged, Yaml};
use shared::http::cors;
use shared::http::gateway::CLOUDFLARE_RANGES;

/// The one `AWS::Serverless::HttpApi`: `(logical id, properties)`.
fn http_api(t: &Yaml) -> (&str, &Yaml) {
    let apis = of_type(t, "AWS::Serverless::HttpApi");
    assert_eq!(apis.len(), 1, "one HTTP API");
    (apis[0].0, &apis[0].1["Properties"])
}

/// A variable every function gets from `Globals`.
fn global_variable<'a>(t: &'a Yaml, name: &str) -> &'a Yaml {
    &t["Globals"]["Function"]["Environment"]["Variables"][name]
}

#[test]
fn the_http_api_cors_lists_equal_the_code() {
    let t = load();
    let (id, api) = http_api(&t);
    // `!If [HasCors, <settings>, !Ref AWS::NoValue]`: no CORS without origins.
    let cors_setting = &api["CorsConfiguration"];
    let args = tagged(cors_setting, "If")
        .and_then(Yaml::as_sequence)
        .unwrap_or_else(|| panic!("{id}: CorsConfiguration: !If [HasCors, ...]: {cors_setting:?}"));
    assert_eq!(plain(&args[0]), Some("HasCors"), "{id}: CorsConfiguration");
    assert_eq!(
        ref_to(&args[2]),
        Some("AWS::NoValue"),
        "{id}: CorsConfiguration"
    );
    let config = &args[1];
    assert_eq!(strings(&config["AllowMethods"]), cors::ALLOW_METHODS);
    assert_eq!(strings(&config["AllowHeaders"]), cors::ALLOW_HEADERS);
    assert_eq!(strings(&config["ExposeHeaders"]), cors::EXPOSE_HEADERS);
    assert_eq!(
        config["MaxAge"].as_u64(),
        Some(u64::from(cors::MAX_AGE_SECS))
    );
    assert_eq!(ref_to(&config["AllowOrigins"]), Some("CorsAllowedOrigins"));
    // The edge sets the Cloudflare headers in AWS: the deployed list must not allow them.
    let allowed = strings(&config["AllowHeaders"]);
    for h in cors::SIMULATION_HEADERS {
        assert!(
            !allowed.iter().any(|a| a.eq_ignore_ascii_case(h)),
            "{h} allowed in AWS"
        );
    }
    assert_eq!(
        global_variable(&t, "CORS_ALLOWED_ORIGINS"),
        &yaml("!Join [',', !Ref CorsAllowedOrigins]")
    );
}

#[test]
fn the_default_trusted_proxies_are_the_codes_and_reach_the_functions() {
    let t = load();
    let p = &t["Parameters"]["TrustedProxyCidrs"];
    assert_eq!(p["Type"].as_str(), Some("CommaDelimitedList"));
    let default = plain(&p["Default"]).expect("TrustedProxyCidrs default");
    let cidrs: Vec<&str> = default.split(',').collect();
    assert_eq!(cidrs, CLOUDFLARE_RANGES);
    assert_eq!(
        global_variable(&t, "TRUSTED_PROXY_CIDRS"),
        &yaml("!Join [',', !Ref TrustedProxyCidrs]")
    );
}

#[test]
fn the_execute_api_endpoint_is_off_by_default_behind_a_custom_domain() {
    let t = load();
    let (_, api) = http_api(&t);
    assert_eq!(
        api["DisableExecuteApiEndpoint"],
        yaml("!If [ExecuteApiDisabled, true, false]")
    );
    assert_eq!(
        t["Conditions"]["ExecuteApiDisabled"],
        yaml(
            "!Or [!Equals [!Ref DisableExecuteApiEndpoint, 'true'], \
             !And [!Equals [!Ref DisableExecuteApiEndpoint, auto], !Condition HasCustomDomain]]"
        )
    );
    assert_eq!(
        plain(&t["Parameters"]["DisableExecuteApiEndpoint"]["Default"]),
        Some("auto")
    );
}

#[test]
fn the_custom_domain_is_a_domain_and_a_mapping_of_the_default_stage() {
    let t = load();
    // SAM refuses a conditional `Domain` on the HttpApi ("Custom Domains only
    // works if both DomainName and CertificateArn are provided").
    let (api_id, api) = http_api(&t);
    assert!(
        api.get("Domain").is_none(),
        "{api_id} has a Domain property: {api:?}"
    );

    let domain = &t["Resources"]["ApiDomain"];
    assert_eq!(
        domain["Type"].as_str(),
        Some("AWS::ApiGatewayV2::DomainName")
    );
    assert_eq!(plain(&domain["Condition"]), Some("HasCustomDomain"));
    let p = &domain["Properties"];
    assert_eq!(ref_to(&p["DomainName"]), Some("CustomDomainName"));
    let configurations = p["DomainNameConfigurations"]
        .as_sequence()
        .expect("ApiDomain: DomainNameConfigurations");
    assert_eq!(configurations.len(), 1, "ApiDomain: one configuration");
    assert_eq!(
        ref_to(&configurations[0]["CertificateArn"]),
        Some("CustomDomainCertificateArn")
    );
    assert_eq!(plain(&configurations[0]["EndpointType"]), Some("REGIONAL"));

    let mapping = &t["Resources"]["ApiDomainMapping"];
    assert_eq!(
        mapping["Type"].as_str(),
        Some("AWS::ApiGatewayV2::ApiMapping")
    );
    assert_eq!(plain(&mapping["Condition"]), Some("HasCustomDomain"));
    let p = &mapping["Properties"];
    assert_eq!(ref_to(&p["DomainName"]), Some("ApiDomain"));
    assert_eq!(ref_to(&p["ApiId"]), Some(api_id));
    // The stage SAM generates for the HttpApi: the reference orders the
    // mapping after it.
    assert_eq!(
        ref_to(&p["Stage"]),
        Some(format!("{api_id}ApiGatewayDefaultStage").as_str())
    );
    // The domain exists only with its certificate, and a name without one is refused.
    let given = |p: &str| format!("!Not [!Equals [!Ref {p}, '']]");
    assert_eq!(
        t["Conditions"]["HasCustomDomain"],
        yaml(&format!(
            "!And [{}, {}]",
            given("CustomDomainName"),
            given("CustomDomainCertificateArn")
        ))
    );
    let rule = &t["Rules"]["CustomDomainHasCertificate"];
    assert_eq!(rule["RuleCondition"], yaml(&given("CustomDomainName")));
    let asserts: Vec<&Yaml> = rule["Assertions"]
        .as_sequence()
        .expect("CustomDomainHasCertificate: Assertions")
        .iter()
        .map(|a| &a["Assert"])
        .collect();
    assert_eq!(asserts, [&yaml(&given("CustomDomainCertificateArn"))]);
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
    let t = load();
    let (_, gateway) = http_api(&t);
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
    for (setting, param) in [
        ("ThrottlingRateLimit", "ApiThrottlingRateLimit"),
        ("ThrottlingBurstLimit", "ApiThrottlingBurstLimit"),
    ] {
        assert!(section.contains(param), "{param}");
        assert_eq!(
            ref_to(&gateway["DefaultRouteSettings"][setting]),
            Some(param),
            "the stage throttle reads {param}"
        );
    }
    let any_route = of_type(&t, "AWS::Serverless::Function")
        .into_iter()
        .flat_map(|(_, f)| f["Properties"]["Events"].as_mapping().into_iter().flatten())
        .any(|(_, e)| {
            plain(&e["Type"]) == Some("HttpApi") && plain(&e["Properties"]["Method"]) == Some("ANY")
        });
    assert!(section.contains("`ANY` route") && any_route);
}
