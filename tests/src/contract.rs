//! Every answer the end-to-end suites receive, held against `docs/openapi.yaml`:
//! the route and status must be documented, the required headers present,
//! and the (opened) body must match the schema of its status and media type.
//! A path no route serves must answer the document's `RouteNotFound`.
//!
//! The suites of `e2e-tests` reach the API through [`checked`] clients or
//! [`checked_response`]. Deliberately unchecked are local-api's own HTTP
//! suites (`local-api/tests/`, which cannot use this crate: it depends on
//! local-api):
//! - `hostile_sweep.rs` sends hostile input (mutated envelopes, bodies,
//!   header sets, methods and paths) and holds only that nothing answers 5xx
//!   or brings the process down; most of its requests are, on purpose, ones
//!   no contract describes;
//! - `observe_stdout.rs` reads the audit and metric lines on the binary's
//!   stdout; the answers behind them are the routes' ordinary ones, checked
//!   here by the suites that make the same calls;
//! - `bind.rs` makes no request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use client::{Client, Observer, Reply};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use serde_json::Value;

const DOC_URI: &str = "urn:password-api:openapi";

/// The document, as JSON.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = crate::root().join("docs/openapi.yaml");
        let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
        serde_norway::from_str(&text).expect("docs/openapi.yaml is YAML")
    })
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Follows a `$ref` of a response or header object (schemas are left to the validator).
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(document().pointer(pointer).expect("dangling $ref"))
        }
        None => value,
    }
}

/// Validates `instance` against the schema at `pointer` of the document.
fn validate(pointer: &str, instance: &Value) -> Result<(), String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let cache = VALIDATORS.get_or_init(Default::default);
    let validator = {
        let mut cache = cache.lock().unwrap();
        cache
            .entry(pointer.to_owned())
            .or_insert_with(|| {
                let mut root = document().clone();
                root["$id"] = Value::from(DOC_URI);
                let registry = jsonschema::Registry::new()
                    .add(DOC_URI, root)
                    .expect("registry")
                    .prepare()
                    .expect("registry");
                let schema = serde_json::json!({ "$ref": format!("{DOC_URI}#{pointer}") });
                Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .with_registry(&registry)
                        .build(&schema)
                        .unwrap_or_else(|e| panic!("schema at {pointer}: {e}")),
                )
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The operation object of `method` on `path`, with its JSON pointer. A
/// method the path does not take is answered by the path's own operation
/// (its documented 405).
fn operation(method: &str, path: &str, status: u16) -> Option<(String, &'static Value)> {
    let item_pointer = format!("/paths/{}", pointer_escape(path));
    let Some(item) = document().pointer(&item_pointer).and_then(Value::as_object) else {
        assert_eq!(
            status, 404,
            "{path} is not in docs/openapi.yaml, yet answered {status}"
        );
        return None;
    };
    let method = method.to_ascii_lowercase();
    let name = if item.contains_key(&method) {
        method
    } else {
        assert_eq!(
            status, 405,
            "{method} {path} is not documented, yet answered {status}"
        );
        let own = ["get", "post"].into_iter().find(|m| item.contains_key(*m));
        own.unwrap_or_else(|| panic!("{path}: no operation"))
            .to_owned()
    };
    Some((format!("{item_pointer}/{name}"), &item[&name]))
}

/// Where a path no route serves is documented.
const ROUTE_NOT_FOUND: &str = "/components/responses/RouteNotFound";

/// Holds one answer against the document; panics with every difference.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    headers: &HeaderMap,
    body: &Value,
    sealed: bool,
) {
    let (mut response_pointer, response) = match operation(method, path, status) {
        Some((op_pointer, op)) => {
            let Some(response) = op["responses"].get(status.to_string()) else {
                panic!(
                    "{method} {path} answered {status}, which docs/openapi.yaml does not list: {body}"
                );
            };
            (format!("{op_pointer}/responses/{status}"), response)
        }
        None => (
            ROUTE_NOT_FOUND.to_owned(),
            document()
                .pointer(ROUTE_NOT_FOUND)
                .expect("docs/openapi.yaml: no RouteNotFound response"),
        ),
    };
    if let Some(r) = response.get("$ref").and_then(Value::as_str) {
        response_pointer = r.trim_start_matches('#').to_owned();
    }
    let response = resolve(response);
    if let Some(declared) = response.get("headers").and_then(Value::as_object) {
        for (name, header) in declared {
            if resolve(header)["required"] == true {
                assert!(
                    headers.contains_key(name.as_str()),
                    "{method} {path} {status}: required header {name} missing"
                );
            }
        }
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return; // e.g. 204: no body is documented
    };
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .replace(' ', "");
    let Some((media_key, _)) = content
        .iter()
        .find(|(k, _)| k.replace(' ', "").eq_ignore_ascii_case(&media))
    else {
        panic!(
            "{method} {path} {status}: media type {media:?} not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        );
    };
    let documented_sealed = media_key != "application/json;charset=UTF-8";
    assert_eq!(
        sealed, documented_sealed,
        "{method} {path} {status}: sealed={sealed} but {media_key} says otherwise"
    );
    let mut schema_pointer = format!(
        "{response_pointer}/content/{}/schema",
        pointer_escape(media_key)
    );
    if sealed {
        schema_pointer.push_str("/contentSchema");
    }
    if let Err(e) = validate(&schema_pointer, body) {
        panic!(
            "{method} {path} {status} ({media_key}) breaks docs/openapi.yaml: {e}\nbody: {body}"
        );
    }
}

/// An observer that checks every answer a [`Client`] receives.
pub fn observer() -> Observer {
    Arc::new(|method: &str, route: &str, reply: &Reply| {
        check(
            method,
            route,
            reply.status,
            &reply.headers,
            &reply.body,
            reply.encrypted,
        )
    })
}

/// `client`, checking every answer it receives against the document.
pub fn checked(client: Client) -> Client {
    client.with_observer(observer())
}

/// Checks a plaintext answer received without the client (raw HTTP).
pub async fn checked_response(
    method: &str,
    path: &str,
    resp: reqwest::Response,
) -> (u16, HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{method} {path} {status}: not JSON"))
    };
    check(method, path, status, &headers, &body, false);
    (status, headers, body)
}

/// The paths of the deployed routes (those not marked `x-local-only`).
pub fn deployed_paths() -> Vec<String> {
    document()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| {
            !item
                .as_object()
                .unwrap()
                .values()
                .any(|op| op.get("x-local-only") == Some(&Value::Bool(true)))
        })
        .map(|(p, _)| p.clone())
        .collect()
}
