//! The documented contract over HTTP: docs/openapi.yaml against the routes,
//! the confirmation shapes, and CORS on local-api.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use e2e_tests::*;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::http::CorsPolicy;
use shared::route::Route;

#[test]
fn the_document_describes_exactly_the_routes() {
    let documented: BTreeSet<String> = contract::deployed_paths().into_iter().collect();
    let routes: BTreeSet<String> = Route::ALL.iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(documented, routes, "docs/openapi.yaml paths vs Route::ALL");
    let doc = contract::document();
    for route in Route::ALL {
        let item = &doc["paths"][route.path()];
        let method = route.method().as_str().to_ascii_lowercase();
        assert!(
            item.get(&method).is_some(),
            "{route:?}: {method} not documented"
        );
        assert!(
            item.get("options").is_some(),
            "{route:?}: preflight not documented"
        );
        let other = if method == "get" { "post" } else { "get" };
        assert!(item.get(other).is_none(), "{route:?}: {other} documented");
    }
    let local: Vec<&String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| !documented.contains(*p))
        .collect();
    assert_eq!(
        local,
        [
            "/_dev/outbox",
            "/_dev/signin",
            "/_dev/token",
            "/_dev/users",
            "/_dev/verify-password"
        ]
    );
}

/// What makes `doc` an invalid OpenAPI 3.1 document: every error of the
/// official schema (tests/data/openapi-3.1-schema.json), every mapping key
/// whose value is null (an unquoted comma in a flow mapping splits a
/// description into such stray keys, which schemas allow anywhere), and
/// every operationId used twice.
fn openapi_problems(doc: &Value) -> Vec<String> {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let path = root().join("tests/data/openapi-3.1-schema.json");
        let text = std::fs::read_to_string(&path).expect("tests/data/openapi-3.1-schema.json");
        let schema: Value = serde_json::from_str(&text).expect("the OpenAPI 3.1 schema is JSON");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("the OpenAPI 3.1 schema compiles")
    });
    let mut problems: Vec<String> = schema
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();

    fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    if v.is_null() {
                        out.push(format!("{here}: null (a stray key?)"));
                    }
                    nulls(v, &here, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    nulls(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    nulls(doc, "", &mut problems);

    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                if !seen.insert(id) {
                    problems.push(format!("{method} {path}: operationId {id} used twice"));
                }
            }
        }
    }
    problems
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = contract::document();
    let problems = openapi_problems(doc);
    assert!(problems.is_empty(), "docs/openapi.yaml: {problems:#?}");

    // The check sees what a document can get wrong.
    let mut bad = doc.clone();
    bad["components"]["parameters"]["XClientHash"]["a session is bound to it."] = Value::Null;
    bad["components"]["schemas"]["Timestamp"]["Unix milliseconds."] = Value::Null;
    bad["paths"][CHANGE]["options"]["operationId"] = json!("preflightPublicKey");
    let problems = openapi_problems(&bad);
    for wanted in [
        "Unevaluated properties are not allowed",
        "/components/schemas/Timestamp/Unix milliseconds.: null",
        "operationId preflightPublicKey used twice",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(wanted)),
            "{wanted:?} not found in {problems:#?}"
        );
    }
}

fn rejects(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn the_check_refuses_what_the_document_does_not_list() {
    let sealed = {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/octet-stream".parse().unwrap());
        h
    };
    let error = |code: &str| {
        json!({"version": "2.0.0", "timestamp": 1, "success": false, "code": code,
               "message": "m", "requestId": "r"})
    };
    // A documented answer passes ...
    contract::check(
        "POST",
        FORGOT,
        400,
        &sealed,
        &error("VALIDATION.INVALID_PARAMETER"),
        true,
    );
    // ... a code the route does not list for that status does not,
    assert!(rejects(|| contract::check(
        "POST",
        FORGOT,
        400,
        &sealed,
        &error("AUTH.RESET_TOKEN_INVALID"),
        true
    )));
    // nor an unlisted status, a wrong shape, or plaintext where only sealed is documented.
    assert!(rejects(|| contract::check(
        "POST",
        FORGOT,
        403,
        &sealed,
        &error("AUTH.ACCOUNT_DISABLED"),
        true
    )));
    let confirmed = json!({"version": "2.0.0", "timestamp": 1, "success": true, "code": "2000",
                           "message": "m", "requestId": "r", "data": {}});
    assert!(rejects(|| contract::check(
        "POST", FORGOT, 200, &sealed, &confirmed, true
    )));
    let mut plain = HeaderMap::new();
    plain.insert(
        "content-type",
        "application/json;charset=UTF-8".parse().unwrap(),
    );
    assert!(rejects(|| contract::check(
        "POST",
        FORGOT,
        409,
        &plain,
        &error("CONFLICT.CONCURRENT_UPDATE"),
        false
    )));
    // 429 requires Retry-After.
    assert!(rejects(|| contract::check(
        "POST",
        FORGOT,
        429,
        &plain,
        &error("REQUEST.RATE_LIMITED"),
        false
    )));
    let mut limited = plain.clone();
    limited.insert("retry-after", "10".parse().unwrap());
    contract::check(
        "POST",
        FORGOT,
        429,
        &limited,
        &error("REQUEST.RATE_LIMITED"),
        false,
    );
}

#[tokio::test]
async fn change_forgot_and_reset_confirm_in_the_documented_shape_localized() {
    let s = Server::start().await;
    let biz = s.user("kim@example.com", STRONG).await;
    let mut c = s.client("198.51.100.60");
    c.identity.accept_language = "ja".into();
    let sess = c.handshake().await.unwrap();

    let token = s.token_at(&biz, now_secs() - 5).await;
    let r = App::new(&c, &sess).change(&token, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["success"], true);
    assert_eq!(r.body["data"]["message"], "パスワードを変更しました");
    assert!(r.body["data"]["passwordChangedAt"].is_string());

    let known = App::new(&c, &sess).forgot("kim@example.com").await;
    let unknown = App::new(&c, &sess).forgot("nobody@example.com").await;
    for r in [&known, &unknown] {
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["data"],
            json!({"success": true, "message": "メールアドレスが登録されている場合、リセット用のリンクを送信します"})
        );
    }
    let (known, unknown) = (comparable(&known), comparable(&unknown));
    assert_eq!(known.0, unknown.0);
    assert_eq!(
        serde_json::to_vec(&known.1).unwrap(),
        serde_json::to_vec(&unknown.1).unwrap(),
        "byte-identical forgot answers"
    );

    let link = wait_for_link(&s, "reset").await;
    let reset_token = query(&link, "token");
    let mut en = s.client("198.51.100.61");
    en.identity.accept_language = "en".into();
    let sess = en.handshake().await.unwrap();
    let r = App::new(&en, &sess).reset(&reset_token, STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["success"], true);
    assert_eq!(r.body["data"]["message"], "Password changed successfully");
    assert!(r.body["data"]["passwordChangedAt"].is_string());
}

const APP_ORIGIN: &str = "https://app.example.com";

async fn preflight(s: &Server, path: &str, origin: &str) -> reqwest::Response {
    preflight_with(s, path, origin, HeaderMap::new()).await
}

/// A preflight that also carries `headers` (a browser on local-api sends no
/// gateway headers in a preflight, but a caller could).
async fn preflight_with(
    s: &Server,
    path: &str,
    origin: &str,
    headers: HeaderMap,
) -> reqwest::Response {
    s.http
        .request(Method::OPTIONS, format!("{}{path}", s.url))
        .headers(headers)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-sc-session-id",
        )
        .send()
        .await
        .unwrap()
}

fn cors_names(h: &HeaderMap) -> Vec<String> {
    h.keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn cors_on_local_api_for_allowed_and_other_origins() {
    let config = Config {
        cors: CorsPolicy::parse(APP_ORIGIN).unwrap(),
        ..Config::default()
    };
    let s = Server::start_with(config).await;

    let (status, h, _) =
        contract::checked_response("OPTIONS", FORGOT, preflight(&s, FORGOT, APP_ORIGIN).await)
            .await;
    assert_eq!(status, 204);
    assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(h["access-control-allow-methods"], "GET, POST");
    // local-api also lets a browser send the simulation headers the contract asks for.
    assert_eq!(
        h["access-control-allow-headers"],
        "Content-Type, Authorization, X-SC-Session-Id, X-SC-Version, X-Client-Hash, Accept-Language, CF-Connecting-IP, Cf-Ray, cf-ipcountry"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["vary"], "Origin");

    let (status, h, _) = contract::checked_response(
        "OPTIONS",
        FORGOT,
        preflight(&s, FORGOT, "https://evil.example.com").await,
    )
    .await;
    assert_eq!(status, 204);
    assert!(cors_names(&h).is_empty(), "{h:?}");

    // Preflights are never counted: 20 of them from the caller's own address
    // (its gateway headers), then the 3 forgot calls the per-IP limit allows.
    let c = s.client("198.51.100.70");
    for _ in 0..20 {
        let r = preflight_with(&s, FORGOT, APP_ORIGIN, c.gateway_headers()).await;
        let (status, h, _) = contract::checked_response("OPTIONS", FORGOT, r).await;
        assert_eq!(status, 204);
        assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    }
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    for i in 0..3 {
        let r = app
            .post(
                FORGOT,
                json!({"email": format!("p{i}@example.com")}),
                origin(APP_ORIGIN),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["access-control-allow-origin"], APP_ORIGIN);
        assert_eq!(
            r.headers["access-control-expose-headers"],
            "Retry-After, Content-Language"
        );
    }
    // The 429 a browser must read carries them too, with Retry-After exposed.
    let r = app
        .post(
            FORGOT,
            json!({"email": "p9@example.com"}),
            origin(APP_ORIGIN),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["access-control-allow-origin"], APP_ORIGIN);
    assert!(r.headers.contains_key("retry-after"));

    // Another origin: same status and body, no CORS header.
    let r = app
        .post(
            FORGOT,
            json!({"email": "p9@example.com"}),
            origin("https://evil.example.com"),
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(cors_names(&r.headers).is_empty());
}

#[tokio::test]
async fn local_api_allows_the_dev_server_origins_unless_told_otherwise() {
    let config = Config {
        cors: local_api::local_cors(None).unwrap(),
        ..Config::default()
    };
    let s = Server::start_with(config).await;
    for o in ["http://localhost:5173", "http://127.0.0.1:5173"] {
        let r = preflight(&s, CHANGE, o).await;
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()["access-control-allow-origin"], o);
    }
    let r = preflight(&s, CHANGE, "http://localhost:3000").await;
    assert!(cors_names(r.headers()).is_empty());

    assert_eq!(
        local_api::local_cors(Some("https://a.example.com"))
            .unwrap()
            .origins(),
        ["https://a.example.com"]
    );
    let e = local_api::local_cors(Some("*")).unwrap_err().to_string();
    assert!(e.contains("CORS_ALLOWED_ORIGINS"), "{e}");
}

fn origin(o: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("origin", o.parse().unwrap());
    h
}

// ---- verify-password: docs/verify-password.schema.json against api.md and the code

/// A validator of docs/verify-password.schema.json whose root is `def`
/// (`event`, `answer`), or the whole schema for `None`; formats are asserted.
fn verify_schema(def: Option<&str>) -> jsonschema::Validator {
    let path = root().join("docs/verify-password.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/verify-password.schema.json");
    let mut schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    if let Some(def) = def {
        assert!(schema["$defs"][def].is_object(), "no $defs/{def}");
        schema["oneOf"] = json!([{ "$ref": format!("#/$defs/{def}") }]);
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("docs/verify-password.schema.json compiles")
}

fn schema_errors(schema: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    schema
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Every line of the fenced `json` blocks of api.md's verify-password section.
fn verify_examples_of_api_md() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("docs/api.md")).expect("docs/api.md");
    let start = text
        .find("\n## verify-password (internal function)\n")
        .expect("api.md has a verify-password section")
        + 1;
    let rest = &text[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let mut fence: Option<bool> = None; // inside a fence: is it `json`?
    let mut out = Vec::new();
    for line in rest[..end].lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                None => Some(info.trim() == "json"),
                Some(_) => None,
            };
        } else if fence == Some(true) && !trimmed.is_empty() {
            let doc: Value = serde_json::from_str(trimmed)
                .unwrap_or_else(|e| panic!("api.md example is not JSON ({e}): {trimmed}"));
            out.push(doc);
        }
    }
    out
}

fn is_event(doc: &Value) -> bool {
    doc.get("password").is_some()
}

#[test]
fn the_verify_password_examples_of_api_md_hold_against_the_schema_and_the_function() {
    let examples = verify_examples_of_api_md();
    let (events, answers): (Vec<&Value>, Vec<&Value>) = examples.iter().partition(|d| is_event(d));
    let (event, answer) = (verify_schema(Some("event")), verify_schema(Some("answer")));
    for doc in &events {
        let errors = schema_errors(&event, doc);
        assert!(errors.is_empty(), "api.md event {doc}: {errors:#?}");
        let bytes = serde_json::to_vec(doc).unwrap();
        if let Err(e) = shared::handlers::verify::parse_request(&bytes) {
            panic!("api.md event {doc} is refused by the function: {e:?}");
        }
    }
    for doc in &answers {
        let errors = schema_errors(&answer, doc);
        assert!(errors.is_empty(), "api.md answer {doc}: {errors:#?}");
    }
    // Every kind of event and answer the section's tables list has an example.
    assert!(
        events.iter().any(|d| d.get("email").is_some()),
        "{events:?}"
    );
    assert!(
        events.iter().any(|d| d.get("bizId").is_some()),
        "{events:?}"
    );
    assert!(
        events.iter().any(|d| d.get("clientIp").is_some()),
        "{events:?}"
    );
    for result in ["ok", "invalid", "locked"] {
        assert!(
            answers.iter().any(|d| d["result"] == result),
            "no `{result}` example"
        );
    }
    for status in [400, 429, 500, 503] {
        assert!(
            answers.iter().any(|d| d["error"]["status"] == status),
            "no {status} example"
        );
    }
    // The whole schema takes both sides.
    let whole = verify_schema(None);
    for doc in &examples {
        assert!(whole.is_valid(doc), "{doc}");
    }
}

#[test]
fn the_verify_password_schema_takes_what_the_function_answers_and_refuses_what_it_refuses() {
    use shared::handlers::verify::{error_json, parse_request, Verdict};
    use shared::http::{ApiError, FieldIssue};

    let (event, answer) = (verify_schema(Some("event")), verify_schema(Some("answer")));

    // What the function itself answers.
    let mut answered = vec![
        Verdict::Ok {
            biz_id: "ACC_USR_0123456789AB".into(),
            must_change: true,
        }
        .to_json(),
        Verdict::Invalid.to_json(),
        Verdict::Locked {
            until_ms: 1_796_438_676_520,
        }
        .to_json(),
        error_json(&ApiError::RateLimited {
            retry_after_secs: 9,
        }),
        error_json(&ApiError::Unavailable(anyhow::anyhow!("store down"))),
        error_json(&ApiError::Internal(anyhow::anyhow!("a bug"))),
        error_json(&ApiError::Validation(vec![FieldIssue {
            field: "email".into(),
            code: "INVALID_VALUE",
        }])),
    ];

    // Events the function takes, and events it refuses: the schema agrees on each.
    let taken = [
        json!({"email": "ann@example.com", "password": "p"}),
        json!({"bizId": "ACC_USR_0123456789AB", "password": ""}),
        json!({"email": "ann@example.com", "bizId": null, "password": "p", "clientIp": null, "userAgent": null}),
        json!({"email": "ann@example.com", "password": "p", "clientIp": "::ffff:192.0.2.1"}),
        json!({"email": "ann@example.com", "password": "p", "clientIp": "2001:db8::1", "userAgent": "x"}),
    ];
    for doc in &taken {
        let parsed = parse_request(&serde_json::to_vec(doc).unwrap());
        assert!(parsed.is_ok(), "the function refuses {doc}");
        let errors = schema_errors(&event, doc);
        assert!(errors.is_empty(), "the schema refuses {doc}: {errors:#?}");
    }
    let refused = [
        json!({"password": "p"}),
        json!({"email": null, "bizId": null, "password": "p"}),
        json!({"email": "ann@example.com", "bizId": "ACC_USR_1", "password": "p"}),
        json!({"email": "ann@example.com"}),
        json!({"email": "ann@example.com", "password": 7}),
        json!({"email": "ann@example.com", "password": "p", "extra": 1}),
        json!({"email": "not-an-address", "password": "p"}),
        json!({"email": "ann@localhost", "password": "p"}),
        json!({"bizId": "", "password": "p"}),
        json!({"bizId": "B".repeat(65), "password": "p"}),
        json!({"email": "ann@example.com", "password": "p", "clientIp": "203.0.113.300"}),
        json!({"email": "ann@example.com", "password": "p", "clientIp": "example.com"}),
        json!({"email": "ann@example.com", "password": "p", "userAgent": "u".repeat(1025)}),
        json!(["ann@example.com", "p"]),
    ];
    for doc in &refused {
        let bytes = serde_json::to_vec(doc).unwrap();
        match parse_request(&bytes) {
            Ok(_) => panic!("the function takes {doc}"),
            // Each refusal is itself an answer of the schema.
            Err(e) => answered.push(error_json(&e)),
        }
        assert!(
            !schema_errors(&event, doc).is_empty(),
            "the schema takes {doc}, which the function refuses"
        );
    }
    for doc in &answered {
        let errors = schema_errors(&answer, doc);
        assert!(
            errors.is_empty(),
            "the function answered {doc}: {errors:#?}"
        );
    }

    // Answers the contract rules out.
    let wrong = [
        json!({"result": "ok", "bizId": "ACC_USR_1"}),
        json!({"result": "ok", "bizId": "", "mustChange": false}),
        json!({"result": "invalid", "reason": "unknown email"}),
        json!({"result": "locked"}),
        json!({"result": "locked", "lockedUntil": "tomorrow"}),
        json!({"result": "locked", "lockedUntil": "2026-12-05T02:44:36.520Z"}),
        json!({"result": "maybe"}),
        json!({"error": {"status": 429, "code": "REQUEST.RATE_LIMITED", "details": []}}),
        json!({"error": {"status": 400, "code": "VALIDATION.INVALID_PARAMETER", "details": []}}),
        json!({"error": {"status": 400, "code": "REQUEST.RATE_LIMITED", "details": [{"field": "email", "code": "INVALID_VALUE", "message": "m"}]}}),
        json!({"error": {"status": 401, "code": "AUTH.SIGNIN_FAILED", "details": []}}),
        json!({"error": {"status": 503, "code": "SYSTEM.UNAVAILABLE"}}),
        json!({"result": "invalid", "error": {"status": 503, "code": "SYSTEM.UNAVAILABLE", "details": []}}),
    ];
    for doc in &wrong {
        assert!(
            !schema_errors(&answer, doc).is_empty(),
            "the schema takes {doc}"
        );
    }
    // Events and answers are told apart.
    assert!(!schema_errors(&answer, &taken[0]).is_empty());
    assert!(!schema_errors(&event, &answered[0]).is_empty());
}
