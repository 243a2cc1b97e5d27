//! The deployment template, the contract's routes and the function crates
//! must never drift apart:
//!
//! - the HTTP API of `template.yaml` serves exactly `shared::route::Route::ALL`
//!   (method and path), and the routes table of `docs/api.md` lists exactly
//!   those routes;
//! - every crate in `functions/` is one `AWS::Serverless::Function` whose
//!   `BuildProperties.Binary` is the crate name, and the other way round,
//!   except `cognito-triggers`: one function per Cognito trigger, each naming
//!   its own in `COGNITO_TRIGGER`;
//! - each HTTP function is bound to the route its `main.rs` serves, and only
//!   to it; `invite-user`, `verify-password`, `send-mail`, `sweep-mail` and
//!   the Cognito triggers have no HTTP event, `send-mail` consumes the table
//!   stream and `sweep-mail` runs on a schedule;
//! - each function's role is granted exactly the keys its cold start loads,
//!   derived from `shared::route::Needs` (`Route::needs`, `Needs::INVITE_USER`,
//!   `Needs::VERIFY_PASSWORD`, `Needs::SEND_MAIL`, `Needs::SWEEP_MAIL`) by
//!   `ColdStartAccess`:
//!   `kms:Decrypt` with exactly those encryption-context purposes (in its
//!   policy and in the key policy), never `kms:Encrypt`, and on
//!   `SECRET#`/`KEYRING#` items only the reads a cold start makes, never a write;
//! - each HTTP function's role, and `verify-password`'s, grants exactly the
//!   data its code touches: every `(DynamoDB action, partition)` its
//!   requests (invocations) and cold start were seen to touch on the emulator
//!   (`tests/data/route_touches.json`, recorded by `tests/tests/e2e/aws_calls.rs`)
//!   is allowed by an action and a `dynamodb:LeadingKeys` pattern of the
//!   role, and every other grant of a table partition is used by one of them;
//!   the verifying Cognito trigger holds exactly `verify-password`'s grants
//!   and every touch of its own recorded invocations is among them, the
//!   other three triggers hold no table, key or other grant at all;
//! - every variable `shared::config::Config` reads is set on every function
//!   from a template parameter (the token variables on the functions that
//!   take tokens; none on the triggers that hold nothing), and the
//!   parameters of the guessing cap and of the rate limits have the code's
//!   defaults and ranges;
//! - every list of the stack's functions (the throttles alarms, the
//!   dashboard's Lambda widgets, the Errors alarms) names each function once,
//!   and no metric-math alarm reads more than CloudWatch's 10 metrics;
//! - the alarms and the dashboard watch metrics the code emits, with its
//!   names and dimensions (sign-in's included);
//! - Cognito (`EnableCognito`, on by default): the pool admits no self
//!   sign-up and no Cognito recovery, its four triggers are the four
//!   functions, its client allows custom authentication and refresh only,
//!   `change-password` and `password-status` take its tokens, the functions
//!   that set passwords may sign users out of it and nothing else there, and
//!   with the parameter off nothing of it is left nor referenced.
//!
//! The template is read as a YAML tree whose CloudFormation functions are
//! tagged values, its language extensions (`Fn::ForEach`) expanded
//! (`e2e_tests::template`), with the `EnableCognito` condition resolved
//! either way (`resolved`).

use std::collections::{BTreeMap, BTreeSet};

use aws_adapters::bootstrap::ColdStartAccess;
use e2e_tests::root;
use e2e_tests::template::{get_att, of_type, plain, ref_to, strings, sub_template, tagged, Yaml};
use shared::route::Needs;
use shared::route::Route;

/// The functions that have no HTTP route, with the events that trigger them.
const NON_HTTP: [(&str, &[&str]); 6] = [
    ("invite-user", &[]),
    ("admin-users", &[]),
    ("verify-password", &[]),
    ("send-mail", &["DynamoDB"]),
    ("sweep-mail", &["Schedule"]),
    // Invoked by the user pool (its LambdaConfig and a Lambda permission).
    (TRIGGERS_CRATE, &[]),
];

/// The functions without a route whose invocations `aws_calls.rs` records
/// (`tests/data/route_touches.json`, under the crate name; the Cognito
/// triggers' are the verifying one's).
const RECORDED_INTERNAL: [&str; 2] = ["verify-password", TRIGGERS_CRATE];

/// The crate deployed once per Cognito trigger (`COGNITO_TRIGGER`).
const TRIGGERS_CRATE: &str = "cognito-triggers";

/// The `COGNITO_TRIGGER` of each trigger, as `aws_adapters::cognito_fn` reads it.
const TRIGGER_NAMES: [&str; 4] = [
    "define-auth-challenge",
    "create-auth-challenge",
    "verify-auth-challenge",
    "pre-token-generation",
];

/// The one trigger that checks passwords (and so reads the table).
const VERIFYING_TRIGGER: &str = "verify-auth-challenge";

/// What each function without a route holds (the HTTP ones: `Route::needs`).
fn non_http_needs(krate: &str) -> Needs {
    match krate {
        "invite-user" => Needs::INVITE_USER,
        "admin-users" => Needs::ADMIN_USERS,
        "verify-password" => Needs::VERIFY_PASSWORD,
        "send-mail" => Needs::SEND_MAIL,
        "sweep-mail" => Needs::SWEEP_MAIL,
        other => panic!("{other}: no Needs declared for this function"),
    }
}

/// What the route and key checks read of one `AWS::Serverless::Function`.
#[derive(Debug, Default)]
struct Function {
    /// `Role: !GetAtt <Role>.Arn`.
    role: Option<String>,
    /// `FunctionName: !Sub <template>`: the template.
    name: Option<String>,
    /// `COGNITO_TRIGGER` (the Cognito triggers only).
    trigger: Option<String>,
    binary: Option<String>,
    build_method: Option<String>,
    /// (method, path) of each `HttpApi` event.
    http: Vec<(String, String)>,
    /// `Type` of every event, HTTP ones included.
    event_types: Vec<String>,
}

fn function(id: &str, f: &Yaml) -> Function {
    let p = &f["Properties"];
    let text = |v: &Yaml| plain(v).map(str::to_owned);
    let mut out = Function {
        role: get_att(&p["Role"])
            .filter(|(_, attr)| *attr == "Arn")
            .map(|(role, _)| role.to_owned()),
        name: sub_template(&p["FunctionName"]).map(str::to_owned),
        trigger: text(&p["Environment"]["Variables"]["COGNITO_TRIGGER"]),
        binary: text(&f["Metadata"]["BuildProperties"]["Binary"]),
        build_method: text(&f["Metadata"]["BuildMethod"]),
        ..Function::default()
    };
    for (name, event) in p["Events"].as_mapping().into_iter().flatten() {
        let kind = event["Type"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: event {name:?} without Type"));
        if kind == "HttpApi" {
            let field = |key: &str| {
                plain(&event["Properties"][key])
                    .unwrap_or_else(|| panic!("{id}: HttpApi event {name:?} without {key}"))
            };
            out.http.push((
                field("Method").to_ascii_uppercase(),
                field("Path").to_owned(),
            ));
        }
        out.event_types.push(kind.to_owned());
    }
    out
}

/// `(method, path)` of every route in the table of api.md's `## Routes`
/// section (the development-only `/_dev` table lives in another section).
fn api_md_routes(text: &str) -> BTreeSet<(String, String)> {
    let mut in_routes = false;
    text.lines()
        .filter(|l| {
            if let Some(h) = l.strip_prefix("## ") {
                in_routes = h.trim() == "Routes";
            }
            in_routes
        })
        .filter_map(|l| {
            let cell = l.strip_prefix("| `")?;
            let (route, _) = cell.split_once('`')?;
            let (method, path) = route.split_once(' ')?;
            ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .contains(&method)
                .then(|| (method.to_owned(), path.trim().to_owned()))
        })
        .collect()
}

/// Crate name of every directory of `functions/`, checked against its `Cargo.toml`.
fn function_crates() -> BTreeSet<String> {
    let dir = root().join("functions");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("functions/") {
        let path = entry.unwrap().path();
        let manifest = path.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let dir_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&manifest).unwrap();
        let name = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        assert_eq!(
            name, dir_name,
            "functions/{dir_name}: crate name differs from its directory"
        );
        out.insert(name);
    }
    out
}

/// The name of a route's endpoint constant: `Route::PublicKey` -> `dispatch::PUBLIC_KEY`.
fn endpoint_const(r: Route) -> String {
    let mut name = String::from("dispatch::");
    for (i, c) in format!("{r:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The route a function crate serves, read from its `main.rs` (`dispatch::X`).
fn served_route(krate: &str) -> Option<Route> {
    let main = root().join("functions").join(krate).join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap_or_default();
    let served: Vec<Route> = Route::ALL
        .into_iter()
        .filter(|r| {
            let name = endpoint_const(*r);
            text.match_indices(&name).any(|(i, _)| {
                !text[i + name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
        .collect();
    assert!(
        served.len() <= 1,
        "functions/{krate} names several routes: {served:?}"
    );
    served.first().copied()
}

fn contract_routes() -> BTreeSet<(String, String)> {
    Route::ALL
        .into_iter()
        .map(|r| (r.method().to_string(), r.path().to_owned()))
        .collect()
}

/// The template's functions, by logical id (Cognito on: every function).
fn template() -> BTreeMap<String, Function> {
    of_type(&resolved(true), "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| (id.to_owned(), function(id, f)))
        .collect()
}

/// The method of the route that sends every other method of a path to its
/// function, so that the function answers the contract's 405.
const OTHER_METHODS: &str = "ANY";

#[test]
fn the_http_api_serves_exactly_the_contract_routes() {
    let functions = template();
    let mut served = BTreeSet::new();
    let mut other_methods = BTreeSet::new();
    for (id, f) in &functions {
        for route in &f.http {
            let set = if route.0 == OTHER_METHODS {
                &mut other_methods
            } else {
                &mut served
            };
            assert!(
                set.insert(route.clone()),
                "{id}: route {route:?} bound twice"
            );
        }
    }
    assert_eq!(
        served,
        contract_routes(),
        "template.yaml routes vs shared::route::Route::ALL"
    );
    // A wrong method reaches the function (405 REQUEST.METHOD_NOT_ALLOWED,
    // docs/api.md), not the HTTP API's own 404 {"message":"Not Found"}.
    let every_path: BTreeSet<(String, String)> = Route::ALL
        .into_iter()
        .map(|r| (OTHER_METHODS.to_owned(), r.path().to_owned()))
        .collect();
    assert_eq!(
        other_methods, every_path,
        "an ANY route on every contract path"
    );
}

#[test]
fn api_md_routes_match_the_code() {
    let text = std::fs::read_to_string(root().join("docs/api.md")).expect("docs/api.md");
    let documented = api_md_routes(&text);
    assert_eq!(
        documented.len(),
        Route::ALL.len(),
        "docs/api.md routes table: {documented:?}"
    );
    assert_eq!(
        documented,
        contract_routes(),
        "docs/api.md routes vs shared::route::Route::ALL"
    );
}

#[test]
fn every_function_crate_is_one_template_function() {
    let functions = template();
    let mut binaries = BTreeSet::new();
    let mut triggers = Vec::new();
    for (id, f) in &functions {
        let binary = f
            .binary
            .clone()
            .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"));
        assert_eq!(
            f.build_method.as_deref(),
            Some("rust-cargolambda"),
            "{id}: BuildMethod"
        );
        if binary == TRIGGERS_CRATE {
            // Deployed once per trigger, each naming one the binary knows.
            let trigger = f
                .trigger
                .clone()
                .unwrap_or_else(|| panic!("{id}: {TRIGGERS_CRATE} without COGNITO_TRIGGER"));
            assert!(
                aws_adapters::cognito_fn::Trigger::from_name(&trigger).is_some(),
                "{id}: COGNITO_TRIGGER {trigger:?} is not a trigger cognito-triggers serves"
            );
            triggers.push(trigger);
            binaries.insert(binary);
            continue;
        }
        assert_eq!(f.trigger, None, "{id}: COGNITO_TRIGGER on {binary}");
        assert!(
            binaries.insert(binary.clone()),
            "binary {binary} deployed twice"
        );
    }
    triggers.sort();
    let mut every_trigger = TRIGGER_NAMES.map(str::to_owned).to_vec();
    every_trigger.sort();
    assert_eq!(
        triggers, every_trigger,
        "{TRIGGERS_CRATE}: one function per Cognito trigger, each trigger once"
    );
    assert_eq!(
        binaries,
        function_crates(),
        "template Binary properties vs functions/ crates"
    );
}

#[test]
fn http_functions_serve_their_route_and_the_others_none() {
    let functions = template();
    for f in functions.values() {
        let krate = f.binary.as_deref().expect("Binary");
        if let Some((_, events)) = NON_HTTP.iter().find(|(name, _)| *name == krate) {
            assert!(
                f.http.is_empty(),
                "{krate} must have no HTTP route: {:?}",
                f.http
            );
            assert_eq!(
                served_route(krate),
                None,
                "{krate} names a route in main.rs"
            );
            assert_eq!(&f.event_types, events, "{krate} events");
        } else {
            let route = served_route(krate)
                .unwrap_or_else(|| panic!("{krate}: HTTP function whose main.rs names no route"));
            assert_eq!(
                f.http,
                [
                    (route.method().to_string(), route.path().to_owned()),
                    (OTHER_METHODS.to_owned(), route.path().to_owned())
                ],
                "{krate} is bound to its own route (and the path's other methods) only"
            );
            assert_eq!(f.event_types, ["HttpApi", "HttpApi"], "{krate} events");
        }
    }
    let http = functions.values().filter(|f| !f.http.is_empty()).count();
    assert_eq!(http, Route::ALL.len(), "one HTTP function per route");
}

/// One `Allow` statement of a policy, as far as the key checks need it.
#[derive(Debug, Default, Clone)]
struct Statement {
    sid: String,
    actions: Vec<String>,
    /// `!GetAtt <Role>.Arn` principals (key policy only), as role ids.
    principals: Vec<String>,
    leading_keys: Vec<String>,
    purposes: Vec<String>,
}

/// A string or a list of strings (a function there would go unread).
fn plain_strings(v: &Yaml, what: &str) -> Vec<String> {
    let one = |x: &Yaml| {
        plain(x)
            .unwrap_or_else(|| panic!("{what}: a plain string, got {x:?}"))
            .to_owned()
    };
    match v {
        Yaml::Null => Vec::new(),
        Yaml::Sequence(items) => items.iter().map(one).collect(),
        x => vec![one(x)],
    }
}

/// One statement of a policy document (every one is an `Allow`).
fn statement(st: &Yaml, what: &str) -> Statement {
    let sid = st["Sid"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: a statement without Sid: {st:?}"))
        .to_owned();
    let what = format!("{what} {sid}");
    assert_eq!(
        st["Effect"].as_str(),
        Some("Allow"),
        "{what}: only Allow statements are expected"
    );
    // Under any operator (`StringEquals`, `ForAllValues:StringLike`).
    let condition = |key: &str| -> Vec<String> {
        st["Condition"]
            .as_mapping()
            .into_iter()
            .flatten()
            .flat_map(|(_, c)| plain_strings(&c[key], &what))
            .collect()
    };
    let principals = match &st["Principal"]["AWS"] {
        Yaml::Sequence(items) => items.iter().collect(),
        one => vec![one],
    };
    Statement {
        actions: plain_strings(&st["Action"], &what),
        principals: principals
            .into_iter()
            .filter_map(get_att)
            .filter(|(_, attr)| *attr == "Arn")
            .map(|(role, _)| role.to_owned())
            .collect(),
        leading_keys: condition("dynamodb:LeadingKeys"),
        purposes: condition("kms:EncryptionContext:purpose"),
        sid,
    }
}

/// The statements of a policy document.
fn statements(document: &Yaml, what: &str) -> Vec<Statement> {
    document["Statement"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{what}: Statement is a list"))
        .iter()
        .map(|st| statement(st, what))
        .collect()
}

/// The statements of the `AWS::IAM::Policy`s attached to each role.
fn role_policies(t: &Yaml) -> BTreeMap<String, Vec<Statement>> {
    let mut out: BTreeMap<String, Vec<Statement>> = BTreeMap::new();
    for (id, policy) in of_type(t, "AWS::IAM::Policy") {
        let p = &policy["Properties"];
        let roles: Vec<&str> = p["Roles"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{id}: a policy names its Roles"))
            .iter()
            .filter_map(ref_to)
            .collect();
        assert_eq!(roles.len(), 1, "{id}: one role per policy");
        out.entry(roles[0].to_owned())
            .or_default()
            .extend(statements(&p["PolicyDocument"], id));
    }
    out
}

/// The key items of the key ring and of sealed secrets.
fn is_key_item(prefix: &str) -> bool {
    prefix.starts_with("SECRET#") || prefix.starts_with("KEYRING#") || prefix == "*"
}

/// `(action, item prefix)` of every DynamoDB grant on key items, and the
/// `kms:Decrypt` purposes, of one role's statements.
fn key_grants(
    statements: &[Statement],
    what: &str,
) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let mut items = BTreeSet::new();
    let mut purposes = BTreeSet::new();
    for st in statements {
        for action in &st.actions {
            if action.starts_with("kms:") {
                assert_eq!(
                    action, "kms:Decrypt",
                    "{what} {}: a function only unseals (keys are sealed by pwctl admin keys init)",
                    st.sid
                );
                assert!(
                    !st.purposes.is_empty(),
                    "{what} {}: kms:Decrypt without an encryption-context purpose",
                    st.sid
                );
                purposes.extend(st.purposes.iter().cloned());
            }
            if action.starts_with("dynamodb:") {
                for key in st.leading_keys.iter().filter(|k| is_key_item(k)) {
                    items.insert((action.clone(), key.clone()));
                }
            }
        }
    }
    (items, purposes)
}

fn expected_key_grants(needs: Needs) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let access = ColdStartAccess::of(needs);
    let mut items: BTreeSet<(String, String)> = access
        .secret_items
        .iter()
        .map(|p| ("dynamodb:GetItem".to_owned(), p.clone()))
        .collect();
    if access.keyring_query {
        items.insert(("dynamodb:Query".to_owned(), "KEYRING#scv2".to_owned()));
    }
    let purposes = access
        .decrypt_purposes
        .iter()
        .map(|p| p.to_string())
        .collect();
    (items, purposes)
}

/// The needs of the function a template function deploys.
fn needs_of(f: &Function) -> Needs {
    let krate = f.binary.as_deref().expect("Binary");
    if krate == TRIGGERS_CRATE {
        // Only the verifying trigger builds an app (shared/aws/src/cognito_fn.rs).
        return match f.trigger.as_deref() {
            Some(VERIFYING_TRIGGER) => Needs::VERIFY_PASSWORD,
            _ => Needs::NOTHING,
        };
    }
    if NON_HTTP.iter().any(|(name, _)| *name == krate) {
        non_http_needs(krate)
    } else {
        served_route(krate)
            .unwrap_or_else(|| panic!("{krate}: HTTP function whose main.rs names no route"))
            .needs()
    }
}

#[test]
fn each_role_holds_exactly_the_keys_its_function_loads() {
    let functions = template();
    let policies = role_policies(&resolved(true));
    for f in functions.values() {
        let krate = f.binary.as_deref().expect("Binary");
        let role = f.role.as_deref().unwrap_or_else(|| panic!("{krate}: Role"));
        let statements = policies
            .get(role)
            .unwrap_or_else(|| panic!("{krate}: no policy for {role}"));
        let mut expected = expected_key_grants(needs_of(f));
        // Each run, sweep-mail reads the ring's clear expiry (ScKeyDaysLeft),
        // unsealing nothing.
        if krate == "sweep-mail" {
            expected
                .0
                .insert(("dynamodb:Query".to_owned(), "KEYRING#scv2".to_owned()));
        }
        assert_eq!(
            key_grants(statements, krate),
            expected,
            "{krate}: ({role}) key-item grants and kms:Decrypt purposes vs its Needs"
        );
    }
}

#[test]
fn the_key_policy_grants_each_role_exactly_its_purposes() {
    let t = resolved(true);
    let functions = template();
    let keys = of_type(&t, "AWS::KMS::Key");
    assert_eq!(keys.len(), 1, "one KMS key");
    let (id, key) = keys[0];
    let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for st in statements(&key["Properties"]["KeyPolicy"], id) {
        if st.principals.is_empty() {
            continue;
        }
        assert_eq!(
            st.actions,
            ["kms:Decrypt"],
            "key policy {}: a function role only unseals",
            st.sid
        );
        assert!(!st.purposes.is_empty(), "key policy {}: purpose", st.sid);
        for role in &st.principals {
            granted
                .entry(role.clone())
                .or_default()
                .extend(st.purposes.iter().cloned());
        }
    }
    // A role several functions share (verify-password's, the verifying
    // trigger's) holds what each of them needs, and they need the same.
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, f) in &functions {
        let role = f.role.clone().expect("Role");
        let want = expected_key_grants(needs_of(f)).1;
        if let Some(other) = wanted.insert(role.clone(), want.clone()) {
            assert_eq!(
                other, want,
                "{id}: shares {role} with a function of other needs"
            );
        }
    }
    for (role, want) in wanted {
        let got = granted.remove(&role).unwrap_or_default();
        assert_eq!(got, want, "key policy purposes of {role}");
    }
    assert!(
        granted.is_empty(),
        "key policy names unknown roles: {granted:?}"
    );
}

/// What one route touches, per outcome: `(action, partition)`, a partition
/// being a fixed key (`FORGOT#PENDING`) or a key prefix ending in `#`
/// (`USER#`, any key that starts so).
type Touches = BTreeMap<String, BTreeSet<(String, String)>>;

/// `tests/data/route_touches.json`, by route path.
fn route_touches() -> BTreeMap<String, Touches> {
    let path = root().join("tests/data/route_touches.json");
    let text = std::fs::read_to_string(&path).expect("tests/data/route_touches.json");
    serde_json::from_str(&text)
        .expect("route_touches.json: {route: {outcome: [[action, partition]]}}")
}

/// IAM `StringLike`: `*` matches any run of characters (`?` is unused here).
fn like(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else {
                return false;
            };
            (0..=text.len())
                .filter(|i| text.is_char_boundary(*i))
                .any(|i| like(rest, &text[i..]))
        }
    }
}

/// Whether a `dynamodb:LeadingKeys` pattern allows every key of `partition`:
/// a fixed partition is one key; a prefix (`USER#`) stands for every key that
/// starts with it, which only a pattern ending in `*` can cover.
fn allows(pattern: &str, partition: &str) -> bool {
    if partition.ends_with('#') {
        pattern.ends_with('*') && like(pattern, partition)
    } else {
        like(pattern, partition)
    }
}

/// The DynamoDB actions on table items (the stream's are not item access).
fn is_item_action(action: &str) -> bool {
    action.starts_with("dynamodb:")
        && ![
            "DescribeStream",
            "GetRecords",
            "GetShardIterator",
            "ListStreams",
        ]
        .iter()
        .any(|a| action.ends_with(a))
}

#[test]
fn the_leading_keys_reader_matches_as_iam_does() {
    assert!(allows("USER#*", "USER#"));
    assert!(allows("*", "USER#"));
    assert!(allows("OUTBOX#*", "OUTBOX#PENDING"));
    assert!(allows("FORGOT#PENDING", "FORGOT#PENDING"));
    assert!(!allows("FORGOT#PENDING", "FORGOT#"));
    assert!(!allows("USER#", "USER#"));
    assert!(!allows("USER#*", "USERS#"));
    assert!(!allows("RESET#*", "FORGOT#PENDING"));
    assert!(like("SECRET#*-key", "SECRET#outbox-data-key"));
    assert!(!like("SECRET#*-key", "SECRET#password-pepper"));
}

/// Each HTTP function's role against what its route touches on the emulator,
/// and `verify-password`'s against what its invocations touch. The verifying
/// Cognito trigger holds `verify-password`'s grants: its role must allow
/// every touch of its own invocations (recorded under `cognito-triggers`)
/// and of `verify-password`'s, and each of its grants is used by one of
/// them. The other three triggers hold no table grant at all
/// (`cognito_triggers_hold_nothing_but_the_verifying_one_verify_passwords_grants`).
///
/// Granted and never touched, yet kept out of this check: the key items
/// (`SECRET#`, `KEYRING#`), which `each_role_holds_exactly_the_keys_its_function_loads`
/// holds to `Needs` exactly (the pepper's item is read only once
/// `PASSWORD_PEPPER_ID` is set, which the recording stack leaves unset).
///
/// Touched only through state no request leaves behind: an active user with
/// an init session, a pending one with a reset token. A password set revokes
/// whatever links the user has, so change, init and reset are granted
/// `DeleteItem` on `INIT#`/`RESET#`/`LINKS#`; `aws_calls.rs` plants such
/// links in the store to see those deletes made ("… revoking links").
///
/// Never granted: `dynamodb:ConditionCheckItem`. An empty account change is
/// one `ConditionCheck` on `ACCOUNTS#NOOP`; no route makes one (each writes
/// the user), and one that came to would show here as an ungranted touch.
#[test]
fn each_recorded_role_grants_exactly_the_data_its_function_touches() {
    let functions = template();
    let policies = role_policies(&resolved(true));
    let touches = route_touches();
    let recorded: BTreeSet<&str> = touches.keys().map(String::as_str).collect();
    let mut wanted: BTreeSet<&str> = Route::ALL.iter().map(|r| r.path()).collect();
    wanted.extend(RECORDED_INTERNAL);
    assert_eq!(
        recorded, wanted,
        "route_touches.json records every route and {RECORDED_INTERNAL:?}, and only them"
    );
    let mut checked = 0;
    for f in functions.values() {
        let krate = f.binary.as_deref().expect("Binary");
        // Recorded under the route's path, or an internal function's name.
        let keys = match served_route(krate) {
            Some(route) => vec![route.path()],
            None if krate == TRIGGERS_CRATE => match f.trigger.as_deref() {
                Some(VERIFYING_TRIGGER) => vec![TRIGGERS_CRATE, "verify-password"],
                _ => continue,
            },
            None if RECORDED_INTERNAL.contains(&krate) => vec![krate],
            None => continue,
        };
        let role = f.role.as_deref().unwrap_or_else(|| panic!("{krate}: Role"));
        let statements = &policies[role];
        let mut outcomes = Touches::new();
        for key in &keys {
            let recorded = touches.get(*key).cloned().unwrap_or_default();
            assert!(
                recorded.contains_key("cold start") && recorded.len() > 1,
                "{key}: touches of its cold start and of its requests: {recorded:?}"
            );
            for (outcome, touched) in recorded {
                outcomes.insert(format!("{key}: {outcome}"), touched);
            }
        }
        for st in statements {
            if st.actions.iter().any(|a| is_item_action(a)) {
                assert!(
                    !st.leading_keys.is_empty(),
                    "{krate} {}: a table grant without dynamodb:LeadingKeys allows every item",
                    st.sid
                );
            }
        }
        // Every touch is granted.
        for (outcome, touched) in &outcomes {
            for (action, partition) in touched {
                let granted = statements.iter().any(|st| {
                    st.actions.contains(action)
                        && st.leading_keys.iter().any(|k| allows(k, partition))
                });
                assert!(
                    granted,
                    "{krate} ({role}): {outcome:?} makes {action} on {partition} and the role \
                     does not allow it"
                );
            }
        }
        // Every grant on table data is used.
        let all: BTreeSet<&(String, String)> = outcomes.values().flatten().collect();
        for st in statements {
            for action in st.actions.iter().filter(|a| is_item_action(a)) {
                for key in st.leading_keys.iter().filter(|k| !is_key_item(k)) {
                    let used = all.iter().any(|(a, p)| a == action && allows(key, p));
                    assert!(
                        used,
                        "{krate} ({role}) {}: {action} on {key} is granted and no request or \
                         cold start of {krate} uses it",
                        st.sid,
                    );
                }
            }
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        Route::ALL.len() + RECORDED_INTERNAL.len(),
        "one HTTP function per route, verify-password and the verifying trigger"
    );
}

#[test]
fn the_policy_reader_reads_each_statement() {
    let document = yaml(
        "Statement:\n\
         \x20 - {Sid: A, Effect: Allow, Action: [dynamodb:GetItem, dynamodb:Query],\n\
         \x20    Condition: {ForAllValues:StringLike: {dynamodb:LeadingKeys: ['SECRET#x', 'USER#*']}}}\n\
         \x20 - Sid: B\n\
         \x20   Effect: Allow\n\
         \x20   Principal: {AWS: [!GetAtt ARole.Arn, !GetAtt BRole.Arn, !Sub 'arn:${AWS::Partition}']}\n\
         \x20   Action: kms:Decrypt\n\
         \x20   Condition: {StringEquals: {kms:EncryptionContext:purpose: [p1, p2]}}\n",
    );
    let st = statements(&document, "t");
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].actions, ["dynamodb:GetItem", "dynamodb:Query"]);
    assert_eq!(st[0].leading_keys, ["SECRET#x", "USER#*"]);
    assert!(st[0].principals.is_empty());
    assert_eq!(st[1].principals, ["ARole", "BRole"]);
    assert_eq!(st[1].actions, ["kms:Decrypt"]);
    assert_eq!(st[1].purposes, ["p1", "p2"]);
    let (items, purposes) = key_grants(&st, "t");
    assert_eq!(
        items.into_iter().collect::<Vec<_>>(),
        [
            ("dynamodb:GetItem".to_owned(), "SECRET#x".to_owned()),
            ("dynamodb:Query".to_owned(), "SECRET#x".to_owned())
        ]
    );
    assert_eq!(purposes.into_iter().collect::<Vec<_>>(), ["p1", "p2"]);
    // A key the reader cannot read fails the test rather than going unchecked.
    let computed = yaml(
        "Statement: [{Sid: C, Effect: Allow, Action: dynamodb:GetItem,\n\
         \x20 Condition: {ForAllValues:StringLike: {dynamodb:LeadingKeys: [!Sub '${P}#*']}}}]",
    );
    let refused = std::panic::catch_unwind(|| statements(&computed, "t"));
    assert!(refused.is_err(), "a !Sub leading key is read");
}

#[test]
fn the_api_md_reader_reads_the_routes_section() {
    let md = "## Routes\n| route | auth |\n|---|---|\n| `GET /a` | none |\n| `POST /b/c` | SC |\n\
              | `x` | y |\n### change\n| `GET /still-routes` | x |\n## Local\n| `POST /_dev/x` | y |\n";
    assert_eq!(
        api_md_routes(md),
        [
            ("GET".to_owned(), "/a".to_owned()),
            ("POST".to_owned(), "/b/c".to_owned()),
            ("GET".to_owned(), "/still-routes".to_owned())
        ]
        .into_iter()
        .collect()
    );
}

#[test]
fn token_issuer_and_audience_are_required_parameters_given_to_every_http_function() {
    let t = template_tree();
    let functions = template();
    let pool = [
        (
            "JwtIssuer",
            "JWT_ISSUER",
            format!("!Sub '{COGNITO_ISSUER}'"),
        ),
        (
            "JwtAudience",
            "JWT_AUDIENCE",
            "!Ref UserPoolClient".to_owned(),
        ),
    ];
    for (param, var, from_pool) in pool {
        let p = t["Parameters"]
            .get(param)
            .unwrap_or_else(|| panic!("parameter {param} missing"));
        // No default: a deployment must name its own issuer and audience.
        assert_eq!(p.get("Default"), None, "{param} must have no Default");
        assert_eq!(p["MinLength"].as_u64(), Some(1), "{param}");
        for (id, f) in &functions {
            if f.http.is_empty() {
                continue;
            }
            // The functions that take tokens take the pool's with Cognito.
            let takes_tokens = served_route(f.binary.as_deref().expect("Binary"))
                .is_some_and(|r| TOKEN_ROUTES.contains(&r));
            let wanted = if takes_tokens {
                format!("!If [{COGNITO_CONDITION}, {from_pool}, !Ref {param}]")
            } else {
                format!("!Ref {param}")
            };
            let got = environment(&t, &t["Resources"][id.as_str()]).remove(var);
            assert_eq!(got, Some(yaml(&wanted)), "{id}: {var}");
        }
    }
}

// ---- Alarms and the dashboard watch the metrics the code emits
// (shared::observe::metrics): names, namespace and dimension values.

/// One metric an alarm watches: namespace, name, dimensions (name, value).
#[derive(Debug, Clone)]
struct Watched {
    /// `AWS/Lambda`, or `!Ref MetricsNamespace` (the code's: [`is_own`]).
    namespace: Yaml,
    name: String,
    dimensions: Vec<(String, Yaml)>,
}

/// Every metric under `v`: each mapping with a `MetricName` (the alarm's
/// own, or each `MetricStat.Metric` of a metric-math alarm).
fn metrics_under(v: &Yaml, id: &str, out: &mut Vec<Watched>) {
    match v {
        Yaml::Mapping(m) if m.contains_key("MetricName") => {
            let dimensions = m
                .get("Dimensions")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .map(|d| {
                    let name = d["Name"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{id}: a dimension is {{Name, Value}}: {d:?}"));
                    (name.to_owned(), d["Value"].clone())
                })
                .collect();
            out.push(Watched {
                namespace: v["Namespace"].clone(),
                name: v["MetricName"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: MetricName"))
                    .to_owned(),
                dimensions,
            });
        }
        Yaml::Mapping(m) => m.values().for_each(|x| metrics_under(x, id, out)),
        Yaml::Sequence(items) => items.iter().for_each(|x| metrics_under(x, id, out)),
        _ => {}
    }
}

/// Every `AWS::CloudWatch::Alarm` of `t`, by logical id, with the metrics
/// it watches (one, or each `MetricStat` of a metric-math alarm).
fn alarms(t: &Yaml) -> BTreeMap<String, Vec<Watched>> {
    of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, a)| {
            let mut watched = Vec::new();
            metrics_under(&a["Properties"], id, &mut watched);
            assert!(!watched.is_empty(), "{id}: watches no metric");
            (id.to_owned(), watched)
        })
        .collect()
}

/// The code's namespace (`METRICS_NAMESPACE`), a parameter.
const OWN_NAMESPACE: &str = "MetricsNamespace";

fn is_own(w: &Watched) -> bool {
    ref_to(&w.namespace) == Some(OWN_NAMESPACE)
}

/// `AWS/Lambda`'s metric `name`.
fn is_lambdas(w: &Watched, name: &str) -> bool {
    plain(&w.namespace) == Some("AWS/Lambda") && w.name == name
}

/// The value of dimension `name`, a plain string.
fn dimension<'a>(w: &'a Watched, name: &str) -> Option<&'a str> {
    w.dimensions
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| plain(v))
}

/// `FunctionName: !Ref <Function>`: the function's logical id.
fn function_dimension(w: &Watched) -> Option<&str> {
    w.dimensions
        .iter()
        .find(|(n, _)| n == "FunctionName")
        .and_then(|(_, v)| ref_to(v))
}

/// A metric of the code's namespace exactly as the code emits it.
fn assert_emitted(context: &str, name: &str, function: Option<&str>, route: Option<&str>) {
    use shared::observe::metrics::{
        MAIL_METRICS, REQUEST_METRICS, SEND_MAIL_FUNCTION, VERIFY_FUNCTION, VERIFY_METRICS,
    };
    const SWEEP_MAIL_FUNCTION: &str = "sweep-mail";
    // sweep-mail's days left on the active SCv2 key: `Function` only.
    if name == shared::observe::metrics::SC_KEY_DAYS_LEFT {
        assert_eq!(function, Some(SWEEP_MAIL_FUNCTION), "{context}: {name}");
        assert_eq!(route, None, "{context}: {name} has no Route dimension");
        return;
    }
    // A verification document: `Function` only (`LatencyMs` and `HashMs`
    // are also request metrics, told apart by this dimension).
    if function == Some(VERIFY_FUNCTION) {
        assert!(
            VERIFY_METRICS.contains(&name),
            "{context}: verify-password emits no metric {name:?} (shared/src/observe/metrics.rs)"
        );
        assert_eq!(
            route, None,
            "{context}: {name} of verify-password has no Route"
        );
        return;
    }
    if MAIL_METRICS.contains(&name) {
        // send-mail's batches and sweep-mail's runs write the same document.
        assert!(
            [Some(SEND_MAIL_FUNCTION), Some(SWEEP_MAIL_FUNCTION)].contains(&function),
            "{context}: {name} Function {function:?}"
        );
        assert_eq!(route, None, "{context}: {name} has no Route dimension");
        return;
    }
    assert!(
        REQUEST_METRICS.contains(&name),
        "{context}: the code emits no metric {name:?} (shared/src/observe/metrics.rs)"
    );
    let route = route.and_then(Route::from_path).unwrap_or_else(|| {
        panic!("{context}: {name} needs the Route of a contract path, got {route:?}")
    });
    assert_eq!(
        function,
        Some(function_name(route)),
        "{context}: {name} Function of {}",
        route.path()
    );
}

#[test]
fn metric_function_names_are_the_crates_serving_each_route() {
    use shared::observe::metrics::SEND_MAIL_FUNCTION;
    let crates = function_crates();
    for krate in &crates {
        if let Some(route) = served_route(krate) {
            assert_eq!(function_name(route), krate, "{krate}");
        }
    }
    assert!(crates.contains(SEND_MAIL_FUNCTION));
}

#[test]
fn alarms_watch_the_metrics_the_code_emits() {
    let t = resolved(true);
    let alarms = alarms(&t);
    let functions = template();
    let mut own = BTreeSet::new();
    let mut lambda_errors = BTreeSet::new();
    let mut watched_routes: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (id, metrics) in &alarms {
        for w in metrics {
            if is_own(w) {
                let route = dimension(w, "Route");
                assert_emitted(id, &w.name, dimension(w, "Function"), route);
                own.insert(w.name.clone());
                if let Some(r) = route.and_then(Route::from_path) {
                    watched_routes
                        .entry(w.name.clone())
                        .or_default()
                        .insert(r.path());
                }
            } else if is_lambdas(w, "Errors") {
                lambda_errors.insert(function_dimension(w).unwrap_or_default());
            }
        }
    }
    // Errors of every function; 5xx of every route; Argon2 latency where a
    // password is hashed; rate limits of forgot and reset; SC rejections of
    // every sealed route; mail failures.
    let every_function: BTreeSet<&str> = functions.keys().map(String::as_str).collect();
    assert_eq!(
        lambda_errors, every_function,
        "an Errors alarm per function"
    );
    let paths = |keep: fn(&Route) -> bool| -> BTreeSet<&str> {
        Route::ALL
            .into_iter()
            .filter(keep)
            .map(Route::path)
            .collect()
    };
    let all = paths(|_| true);
    let hashing = paths(|r| r.needs().pepper);
    let sealed = paths(|r| *r != Route::PublicKey);
    assert_eq!(watched_routes["Outcome5xx"], all, "5xx alarms");
    assert_eq!(watched_routes["LatencyMs"], hashing, "latency alarms");
    assert_eq!(
        watched_routes["RateLimited"],
        [Route::Forgot.path(), Route::Reset.path()]
            .into_iter()
            .collect(),
        "rate-limited alarms"
    );
    assert_eq!(watched_routes["ScRejected"], sealed, "SC rejection alarm");
    assert!(own.contains("MailFailed"), "mail failure alarm");
    // Credential stuffing: failed sign-in checks across every account.
    let verify_failed = alarms.values().flatten().any(|w| {
        is_own(w)
            && w.name == shared::observe::metrics::VERIFY_FAILED
            && dimension(w, "Function") == Some(shared::observe::metrics::VERIFY_FUNCTION)
    });
    assert!(verify_failed, "no alarm on verify-password's VerifyFailed");
    let others: BTreeSet<(&str, &str)> = alarms
        .values()
        .flatten()
        .filter_map(|w| Some((plain(&w.namespace)?, w.name.as_str())))
        .collect();
    for needed in [
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ] {
        assert!(others.contains(&needed), "no alarm on {needed:?}");
    }
    // Each alarm notifies the optional topic.
    for (id, alarm) in of_type(&t, "AWS::CloudWatch::Alarm") {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            yaml("!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"),
            "{id}: AlarmActions"
        );
    }
    // The functions write into the namespace the alarms read.
    assert_eq!(
        ref_to(&t["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]),
        Some(OWN_NAMESPACE)
    );
}

/// The dashboard's JSON (`DashboardBody: !Sub <JSON>`).
fn dashboard(t: &Yaml) -> serde_json::Value {
    let body = sub_template(&t["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
        .expect("a Dashboard resource whose DashboardBody is a !Sub of JSON");
    serde_json::from_str(body).expect("the dashboard body is JSON")
}

#[test]
fn the_dashboard_shows_every_metric_the_code_emits() {
    use shared::observe::metrics::{
        MAIL_METRICS, REQUEST_METRICS, VERIFY_FUNCTION, VERIFY_METRICS,
    };
    let dashboard = dashboard(&resolved(true));
    let mut shown = BTreeSet::new();
    let mut verify_shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for row in widget["properties"]["metrics"].as_array().expect("metrics") {
            let row: Vec<&str> = row
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            if row[0] != "${MetricsNamespace}" {
                continue;
            }
            let dim = |name: &str| row.iter().position(|v| *v == name).map(|i| row[i + 1]);
            assert_emitted("Dashboard", row[1], dim("Function"), dim("Route"));
            if dim("Function") == Some(VERIFY_FUNCTION) {
                verify_shown.insert(row[1].to_owned());
            } else {
                shown.insert(row[1].to_owned());
            }
        }
    }
    let emitted: BTreeSet<String> = REQUEST_METRICS
        .iter()
        .chain(MAIL_METRICS.iter())
        .chain([&shared::observe::metrics::SC_KEY_DAYS_LEFT])
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(shown, emitted, "dashboard metrics vs the code's");
    let verify: BTreeSet<String> = VERIFY_METRICS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        verify_shown, verify,
        "dashboard metrics of verify-password vs the code's"
    );
}

/// `${LogicalId}` (in the dashboard's `!Sub`): the logical id.
fn sub_ref(v: &str) -> Option<&str> {
    v.strip_prefix("${")?.strip_suffix('}')
}

#[test]
fn every_list_of_functions_names_each_function_once() {
    let t = resolved(true);
    let every: Vec<String> = template().into_keys().collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // A function of a condition (the Cognito triggers) is named in the
    // dashboard's `!Sub` by its name, `${AWS::StackName}-<name>`: a
    // `${LogicalId}` of a resource that may not exist would not resolve.
    let by_name: BTreeMap<String, String> = template()
        .into_iter()
        .filter_map(|(id, f)| Some((f.name?, id)))
        .collect();
    // The Lambda widgets of the dashboard.
    let dashboard = dashboard(&t);
    for metric in ["Errors", "Throttles"] {
        let mut listed = Vec::new();
        for widget in dashboard["widgets"].as_array().expect("widgets") {
            for row in widget["properties"]["metrics"].as_array().expect("metrics") {
                let row: Vec<&str> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect();
                if row[..3] == ["AWS/Lambda", metric, "FunctionName"] {
                    let id = sub_ref(row[3])
                        .map(str::to_owned)
                        .or_else(|| by_name.get(row[3]).cloned())
                        .unwrap_or_else(|| {
                            panic!(
                                "FunctionName {}: ${{LogicalId}} or a function's name",
                                row[3]
                            )
                        });
                    listed.push(id);
                }
            }
        }
        assert_eq!(
            sorted(listed),
            every,
            "dashboard: Lambda {metric} of every function"
        );
    }
    // The throttles alarms sum every function's, and each has an Errors alarm.
    let alarms = alarms(&t);
    for (id, watched) in &alarms {
        assert!(
            watched.len() <= 10,
            "{id}: a metric-math alarm reads at most 10 metrics (CloudWatch refuses more), \
             it reads {}",
            watched.len()
        );
    }
    for (metric, alarm) in [("Throttles", Some("ThrottlesAlarm")), ("Errors", None)] {
        let listed: Vec<String> = alarms
            .iter()
            .filter(|(id, _)| alarm.is_none_or(|a| id.ends_with(a)))
            .flat_map(|(_, watched)| watched)
            .filter(|w| is_lambdas(w, metric))
            .map(|w| {
                function_dimension(w)
                    .expect("FunctionName: !Ref LogicalId")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            sorted(listed),
            every,
            "alarms: Lambda {metric} of every function"
        );
    }
    // Every function's log group, and the outputs the internal functions are invoked by.
    assert_eq!(
        by_name.len(),
        every.len(),
        "every function has a name of its own"
    );
    for (id, f) in template() {
        let krate = f.binary.expect("Binary");
        let name = f.name.unwrap_or_else(|| panic!("{id}: FunctionName"));
        let name = name.strip_prefix("${AWS::StackName}-").unwrap_or_else(|| {
            panic!("{id}: FunctionName is !Sub ${{AWS::StackName}}-<name>, got {name}")
        });
        if krate == TRIGGERS_CRATE {
            assert!(name.starts_with("cognito-"), "{id}: FunctionName {name}");
        } else {
            assert_eq!(name, krate, "{id}: FunctionName");
        }
        let function = &t["Resources"][id.as_str()]["Properties"];
        let logs = ref_to(&function["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup: !Ref <LogGroup>"));
        assert_eq!(
            sub_template(&t["Resources"][logs]["Properties"]["LogGroupName"]),
            Some(format!("/aws/lambda/${{AWS::StackName}}-{name}").as_str()),
            "{id}: its log group"
        );
        if ["invite-user", "admin-users", "verify-password"].contains(&krate.as_str()) {
            let output = format!("{id}Arn");
            assert_eq!(
                get_att(&t["Outputs"][output.as_str()]["Value"]),
                Some((id.as_str(), "Arn")),
                "output {output}: invoked directly, so its ARN is an output"
            );
        }
    }
}

// ---- Environment: the code's variables, set from the template's parameters.

/// Variables set only on the functions that take access tokens: a
/// `JWT_JWKS_URL` anywhere else would be fetched by every cold start for
/// nothing. From the pool with Cognito, else from `JwtJwksUrl` and
/// `JwtSubjectClaim`.
const TOKEN_ONLY: [&str; 2] = ["JWT_JWKS_URL", "JWT_SUBJECT_CLAIM"];

/// The routes that take an access token (docs/api.md).
const TOKEN_ROUTES: [Route; 2] = [Route::Change, Route::Status];

/// The Cognito triggers that build no app: none of the stack's variables.
fn holds_nothing(f: &Function) -> bool {
    f.binary.as_deref() == Some(TRIGGERS_CRATE) && f.trigger.as_deref() != Some(VERIFYING_TRIGGER)
}

/// Every variable `Config::from_lookup` reads, in the order it reads them.
fn config_variables() -> Vec<String> {
    let seen = std::sync::Mutex::new(Vec::new());
    shared::config::Config::from_lookup(|name| {
        seen.lock().unwrap().push(name.to_owned());
        None
    })
    .expect("the defaults are a valid configuration");
    seen.into_inner().unwrap()
}

/// A parameter's value as the function reads it: `5`, `'5/60'`, `true`.
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The configuration with `var` alone set to `raw`.
fn config_with(var: &str, raw: &str) -> Result<shared::config::Config, String> {
    shared::config::Config::from_lookup(|name| (name == var).then(|| raw.to_owned()))
        .map_err(|e| e.to_string())
}

#[test]
fn every_function_gets_every_variable_the_code_reads_from_a_parameter() {
    let t = template_tree();
    let params = t["Parameters"].as_mapping().expect("Parameters");
    let global = &t["Globals"]["Function"]["Environment"]["Variables"];
    let variables = config_variables();
    let wired = [
        "LOCKOUT_THRESHOLD",
        "LOCKOUT_MAX_SECONDS",
        "RATE_LIMIT_VERIFY_PER_IP",
    ];
    for var in wired.into_iter().chain(TOKEN_ONLY) {
        assert!(variables.iter().any(|v| v == var), "the code reads {var}");
    }
    for (id, f) in template() {
        let nothing = holds_nothing(&f);
        let takes_tokens = served_route(f.binary.as_deref().expect("Binary"))
            .is_some_and(|r| TOKEN_ROUTES.contains(&r));
        let krate = format!("{id} ({})", f.binary.expect("Binary"));
        let resource = &t["Resources"][id.as_str()];
        // Globals' variables, unless the function ignores them.
        assert_eq!(
            strings(&resource["IgnoreGlobals"]),
            if nothing { vec!["Environment"] } else { vec![] },
            "{krate}: IgnoreGlobals (only the triggers that hold nothing leave Globals' variables)"
        );
        let env = environment(&t, resource);
        for var in &variables {
            let set = env.get(var);
            if nothing || (TOKEN_ONLY.contains(&var.as_str()) && !takes_tokens) {
                assert_eq!(set, None, "{krate}: {var} is set");
                continue;
            }
            let set = set.unwrap_or_else(|| panic!("{krate}: {var} is not set"));
            let mut named = BTreeSet::new();
            references(set, &mut named);
            let from_parameter = named.iter().any(|p| params.contains_key(p.as_str()));
            assert!(
                from_parameter,
                "{krate}: {var} = {set:?}, from no parameter"
            );
        }
    }
    // The rate limits and the guessing cap: each parameter's default is the
    // code's, and a Number parameter's range is the one the code accepts.
    let default_config = shared::config::Config::default();
    let param_of = |var: &str| -> (&str, &Yaml) {
        let set = &global[var];
        let name =
            ref_to(set).unwrap_or_else(|| panic!("Globals: {var}: !Ref <parameter>, got {set:?}"));
        (name, &params[name])
    };
    let checked: Vec<&String> = variables
        .iter()
        .filter(|v| v.starts_with("RATE_LIMIT_") || v.starts_with("LOCKOUT_"))
        .collect();
    assert!(checked.len() >= 15, "{checked:?}");
    for var in checked {
        let (name, p) = param_of(var);
        let default = scalar(&p["Default"]).unwrap_or_else(|| panic!("{name}: a Default"));
        assert_eq!(
            config_with(var, &default),
            Ok(default_config.clone()),
            "{name}: Default {default} is not the code's default of {var}"
        );
        if var.starts_with("RATE_LIMIT_") {
            assert_eq!(p["Type"].as_str(), Some("String"), "{name}");
            assert_eq!(
                p["AllowedPattern"].as_str(),
                Some("^[1-9][0-9]{0,8}/[1-9][0-9]{0,8}$"),
                "{name}"
            );
            continue;
        }
        assert_eq!(p["Type"].as_str(), Some("Number"), "{name}");
        let bound =
            |key: &str| -> u64 { p[key].as_u64().unwrap_or_else(|| panic!("{name}: {key}")) };
        let (min, max) = (bound("MinValue"), bound("MaxValue"));
        for ok in [min, max] {
            assert!(
                config_with(var, &ok.to_string()).is_ok(),
                "{name}: the code refuses {ok}, which the parameter allows"
            );
        }
        for refused in [min.checked_sub(1), Some(max + 1)].into_iter().flatten() {
            assert!(
                config_with(var, &refused.to_string()).is_err(),
                "{name}: the code accepts {refused}, which the parameter refuses"
            );
        }
    }
}

// ---- Amazon Cognito (`EnableCognito`), read as a YAML tree with its tags.

/// The condition every Cognito resource carries.
const COGNITO_CONDITION: &str = "CognitoEnabled";

/// `JWT_ISSUER` of the functions that take tokens, with Cognito (a `!Sub`):
/// the pool's original issuer (`IssuerConfiguration: ORIGINAL`).
const COGNITO_ISSUER: &str = "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}";

/// What the functions that set a password may do in the pool
/// (`aws_adapters::cognito::CognitoIdentityProvider`).
const POOL_ACTIONS: [&str; 3] = [
    "cognito-idp:AdminUserGlobalSignOut",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
];

/// The routes that set a password (and so sign the user out of the pool).
const PASSWORD_SET_ROUTES: [Route; 3] = [Route::Change, Route::Init, Route::Reset];

/// The template, as every template test reads it (`e2e_tests::template`).
fn template_tree() -> Yaml {
    let t = e2e_tests::template::load();
    assert!(
        strings(&t["Transform"]).contains(&"AWS::Serverless-2016-10-31".to_owned()),
        "template.yaml is not a SAM template"
    );
    t
}

/// The template as CloudFormation sees it with `CognitoEnabled` `on` or off:
/// each `!If [CognitoEnabled, a, b]` replaced by the branch taken, a
/// `!Ref AWS::NoValue` in a list or map dropped (kept inside another
/// function, whose own reading it is), and, when off, the resources and
/// outputs of the condition gone.
fn resolved(on: bool) -> Yaml {
    let mut t = resolve(&template_tree(), on, true).expect("a template");
    if !on {
        for section in ["Resources", "Outputs"] {
            let m = t[section].as_mapping_mut().expect(section);
            m.retain(|_, r| r["Condition"].as_str() != Some(COGNITO_CONDITION));
        }
    }
    t
}

fn resolve(v: &Yaml, on: bool, drop_no_value: bool) -> Option<Yaml> {
    if let Yaml::Tagged(t) = v {
        if ref_to(v) == Some("AWS::NoValue") && drop_no_value {
            return None;
        }
        if let Some(Yaml::Sequence(args)) = tagged(v, "If") {
            if args.first().and_then(Yaml::as_str) == Some(COGNITO_CONDITION) {
                assert_eq!(args.len(), 3, "!If [condition, then, else]: {v:?}");
                return resolve(&args[if on { 1 } else { 2 }], on, drop_no_value);
            }
        }
        let mut t = (**t).clone();
        t.value = resolve(&t.value, on, false).expect("a function's arguments");
        return Some(Yaml::Tagged(Box::new(t)));
    }
    Some(match v {
        Yaml::Sequence(items) => Yaml::Sequence(
            items
                .iter()
                .filter_map(|i| resolve(i, on, drop_no_value))
                .collect(),
        ),
        Yaml::Mapping(m) => Yaml::Mapping(
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), resolve(x, on, drop_no_value)?)))
                .collect(),
        ),
        other => other.clone(),
    })
}

/// The logical ids and parameters `v` names: `!Ref X`, `!GetAtt X.Attr`,
/// `${X}` and `${X.Attr}` in a `!Sub` (not its own variables, not `AWS::`
/// pseudo parameters).
fn references(v: &Yaml, out: &mut BTreeSet<String>) {
    let sub_vars = |s: &str, local: &BTreeSet<String>, out: &mut BTreeSet<String>| {
        for part in s.split("${").skip(1) {
            let Some((var, _)) = part.split_once('}') else {
                continue;
            };
            let name = var.split('.').next().unwrap_or_default();
            if !var.starts_with('!') && !name.contains("::") && !local.contains(name) {
                out.insert(name.to_owned());
            }
        }
    };
    if let Some(x) = ref_to(v) {
        if !x.starts_with("AWS::") {
            out.insert(x.to_owned());
        }
    } else if let Some((x, _)) = get_att(v) {
        out.insert(x.to_owned());
    } else if let Some(sub) = tagged(v, "Sub") {
        match sub {
            Yaml::String(s) => sub_vars(s, &BTreeSet::new(), out),
            Yaml::Sequence(args) => {
                let vars = args.get(1).and_then(Yaml::as_mapping);
                let local = vars
                    .map(|m| {
                        m.keys()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                sub_vars(args[0].as_str().unwrap_or_default(), &local, out);
                if let Some(m) = vars {
                    m.values().for_each(|x| references(x, out));
                }
            }
            other => panic!("!Sub {other:?}"),
        }
    } else if let Yaml::Tagged(t) = v {
        references(&t.value, out);
    } else if let Some(items) = v.as_sequence() {
        items.iter().for_each(|i| references(i, out));
    } else if let Some(m) = v.as_mapping() {
        m.values().for_each(|x| references(x, out));
    }
}

/// The Cognito trigger functions, by `COGNITO_TRIGGER`: `(logical id, function)`.
fn trigger_functions(t: &Yaml) -> BTreeMap<String, (&str, &Yaml)> {
    let mut out = BTreeMap::new();
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        if f["Metadata"]["BuildProperties"]["Binary"].as_str() != Some(TRIGGERS_CRATE) {
            continue;
        }
        let trigger = f["Properties"]["Environment"]["Variables"]["COGNITO_TRIGGER"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: COGNITO_TRIGGER"))
            .to_owned();
        assert!(
            out.insert(trigger.clone(), (id, f)).is_none(),
            "{trigger} deployed twice"
        );
    }
    out
}

/// The function of `binary` (deployed once).
fn function_of<'a>(t: &'a Yaml, binary: &str) -> (&'a str, &'a Yaml) {
    let found: Vec<_> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .collect();
    assert_eq!(found.len(), 1, "{binary}: one function");
    found[0]
}

/// The role of a function (`Role: !GetAtt <Role>.Arn`).
fn role_of(f: &Yaml) -> &str {
    get_att(&f["Properties"]["Role"])
        .filter(|(_, attr)| *attr == "Arn")
        .expect("Role: !GetAtt <Role>.Arn")
        .0
}

/// Every statement of the policies attached to `role`.
fn statements_of(t: &Yaml, role: &str) -> Vec<Yaml> {
    of_type(t, "AWS::IAM::Policy")
        .into_iter()
        .filter(|(_, p)| {
            p["Properties"]["Roles"]
                .as_sequence()
                .is_some_and(|roles| roles.iter().any(|r| ref_to(r) == Some(role)))
        })
        .flat_map(|(_, p)| {
            p["Properties"]["PolicyDocument"]["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// A function's own variables (`Environment.Variables`), by name.
fn own_variables(f: &Yaml) -> BTreeMap<String, Yaml> {
    f["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().expect("a name").to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn sub(s: &str) -> Yaml {
    yaml(&format!("!Sub '{s}'"))
}

/// A value as the template would write it (`!Ref X`, `[a, b]`).
fn yaml(s: &str) -> Yaml {
    e2e_tests::template::parse(s)
}

#[test]
fn the_yaml_reader_resolves_the_cognito_condition() {
    let t = yaml(
        "Resources:\n  A:\n    Type: X\n    Condition: CognitoEnabled\n    Properties: {P: !Ref B}\n  \
         B:\n    Type: Y\n    Properties:\n      L: [!If [CognitoEnabled, !GetAtt A.Arn, !Ref AWS::NoValue], 1]\n      \
         M: !If [Other, !Ref AWS::NoValue, !Sub '${A}-${AWS::Region}-${C.D}']\n      \
         N: !If [CognitoEnabled, on, !If [Other, !Ref E, !Ref AWS::NoValue]]\nOutputs: {}\n",
    );
    let on = resolve(&t, true, true).unwrap();
    assert_eq!(
        on["Resources"]["B"]["Properties"]["L"],
        yaml("[!GetAtt A.Arn, 1]")
    );
    assert_eq!(on["Resources"]["B"]["Properties"]["N"], yaml("on"));
    let off = resolve(&t, false, true).unwrap();
    assert_eq!(off["Resources"]["B"]["Properties"]["L"], yaml("[1]"));
    assert_eq!(
        off["Resources"]["B"]["Properties"]["N"],
        yaml("!If [Other, !Ref E, !Ref AWS::NoValue]")
    );
    let refs = |t: &Yaml| {
        let mut refs = BTreeSet::new();
        references(&t["Resources"]["B"], &mut refs);
        refs.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(refs(&on), ["A", "C"]);
    assert_eq!(refs(&off), ["A", "C", "E"]);
    assert_eq!(ref_to(&yaml("!Ref X")), Some("X"));
    assert_eq!(get_att(&yaml("!GetAtt X.Arn")), Some(("X", "Arn")));
}

/// Every resource or output of the template `t` names only parameters,
/// resources present (or those SAM makes of them) and pseudo parameters.
fn assert_nothing_dangles(t: &Yaml, state: &str) {
    let resources = t["Resources"].as_mapping().expect("Resources");
    let present: BTreeSet<&str> = resources.keys().filter_map(Yaml::as_str).collect();
    let serverless: Vec<&str> = resources
        .iter()
        .filter(|(_, r)| {
            r["Type"]
                .as_str()
                .is_some_and(|x| x.starts_with("AWS::Serverless::"))
        })
        .filter_map(|(id, _)| id.as_str())
        .collect();
    let parameters = t["Parameters"].as_mapping().expect("Parameters");
    let known = |name: &str| {
        present.contains(name)
            || parameters.contains_key(name)
            // A resource SAM makes of a serverless one (HttpApiApiGatewayDefaultStage).
            || serverless.iter().any(|s| name.starts_with(s) && name != *s)
    };
    for section in ["Resources", "Outputs"] {
        for (id, body) in t[section].as_mapping().expect(section) {
            let mut named = BTreeSet::new();
            references(&body["Properties"], &mut named);
            references(&body["Value"], &mut named);
            for dep in strings(&body["DependsOn"]) {
                named.insert(dep);
            }
            for name in named {
                assert!(
                    known(&name),
                    "{state}: {section} {id:?} names {name}, which does not exist then"
                );
            }
        }
    }
}

#[test]
fn cognito_is_on_by_default_and_off_leaves_nothing_of_it() {
    let raw = template_tree();
    let p = &raw["Parameters"]["EnableCognito"];
    assert_eq!(p["Type"], yaml("String"), "EnableCognito");
    assert_eq!(
        p["Default"],
        yaml("'true'"),
        "EnableCognito is on by default"
    );
    assert_eq!(
        p["AllowedValues"],
        yaml("['true', 'false']"),
        "EnableCognito"
    );
    assert_eq!(
        raw["Conditions"][COGNITO_CONDITION],
        yaml("!Equals [!Ref EnableCognito, 'true']")
    );
    for on in [true, false] {
        let state = if on {
            "EnableCognito=true"
        } else {
            "EnableCognito=false"
        };
        let t = resolved(on);
        assert_nothing_dangles(&t, state);
        let want = |n: usize| if on { n } else { 0 };
        let cognito: Vec<&str> = t["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| {
                r["Type"]
                    .as_str()
                    .is_some_and(|x| x.starts_with("AWS::Cognito::"))
            })
            .filter_map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(
            cognito.len(),
            want(2),
            "{state}: the pool and its client: {cognito:?}"
        );
        assert_eq!(
            trigger_functions(&t).len(),
            want(4),
            "{state}: trigger functions"
        );
        let permissions = of_type(&t, "AWS::Lambda::Permission")
            .into_iter()
            .filter(|(_, p)| {
                p["Properties"]["Principal"].as_str() == Some("cognito-idp.amazonaws.com")
            })
            .count();
        assert_eq!(
            permissions,
            want(4),
            "{state}: the pool's invoke permissions"
        );
        let mut pool_grants = 0;
        for (id, _) in of_type(&t, "AWS::IAM::Role") {
            for st in statements_of(&t, id) {
                if strings(&st["Action"])
                    .iter()
                    .any(|a| a.starts_with("cognito-idp:"))
                {
                    pool_grants += 1;
                }
            }
        }
        assert_eq!(
            pool_grants,
            want(PASSWORD_SET_ROUTES.len()),
            "{state}: pool grants"
        );
        let with_pool: Vec<&str> = of_type(&t, "AWS::Serverless::Function")
            .into_iter()
            .filter(|(_, f)| own_variables(f).contains_key("COGNITO_USER_POOL_ID"))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            with_pool.len(),
            want(PASSWORD_SET_ROUTES.len()),
            "{state}: {with_pool:?}"
        );
        for output in ["UserPoolId", "UserPoolClientId"] {
            assert_eq!(
                t["Outputs"].get(output).is_some(),
                on,
                "{state}: output {output}"
            );
        }
        if !on {
            // Nothing left names a pool, a trigger or Cognito at all. The
            // Mappings are data the loops read (already expanded), not
            // anything deployed.
            let mut deployed = t.clone();
            deployed
                .as_mapping_mut()
                .expect("a template")
                .remove("Mappings");
            let text = serde_norway::to_string(&deployed).unwrap();
            for word in ["cognito", "Cognito", "UserPool"] {
                let hits: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains(word) && !l.contains("Description:"))
                    .filter(|l| !l.contains("EnableCognito") && !l.contains(COGNITO_CONDITION))
                    .filter(|l| !l.contains("${AWS::StackName}-cognito-"))
                    .collect();
                assert!(hits.is_empty(), "{state}: {word} is left: {hits:#?}");
            }
        }
    }
    // Every Cognito resource carries the condition itself.
    let raw_resources = raw["Resources"].as_mapping().unwrap();
    let on = resolved(true);
    let off = resolved(false);
    for (id, _) in on["Resources"].as_mapping().unwrap() {
        if off["Resources"].get(id).is_none() {
            assert_eq!(
                raw_resources[id]["Condition"].as_str(),
                Some(COGNITO_CONDITION),
                "{id:?}"
            );
        }
    }
}

#[test]
fn the_pool_admits_only_the_service_and_calls_its_four_triggers() {
    let t = resolved(true);
    let pools = of_type(&t, "AWS::Cognito::UserPool");
    assert_eq!(pools.len(), 1, "one user pool");
    let (pool_id, pool) = pools[0];
    let p = &pool["Properties"];
    // Users are created by the service only, sign in with their address,
    // and have no recovery of Cognito's own (forgot and reset serve).
    assert_eq!(
        p["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        yaml("true"),
        "no self sign-up"
    );
    assert_eq!(
        p["AliasAttributes"],
        yaml("[email]"),
        "the address is an alias of the bizId"
    );
    assert!(
        p.get("UsernameAttributes").is_none(),
        "the username is the bizId"
    );
    assert_eq!(
        p["AccountRecoverySetting"]["RecoveryMechanisms"],
        yaml("[{Name: admin_only, Priority: 1}]"),
        "Cognito's forgot/reset stays off"
    );
    assert_eq!(
        p["UserPoolTier"],
        yaml("ESSENTIALS"),
        "V2_0 pre-token events need Essentials"
    );
    assert_eq!(
        p["IssuerConfiguration"]["Type"],
        yaml("ORIGINAL"),
        "the issuer JWT_ISSUER names"
    );
    assert_eq!(p["DeletionProtection"], yaml("ACTIVE"));
    assert_eq!(pool["DeletionPolicy"], yaml("Retain"));
    assert_eq!(pool["UpdateReplacePolicy"], yaml("Retain"));
    // Exactly the four custom-auth triggers, each the function of its name.
    let triggers = trigger_functions(&t);
    let config = p["LambdaConfig"].as_mapping().expect("LambdaConfig");
    let wired: BTreeSet<&str> = config.keys().filter_map(Yaml::as_str).collect();
    let slots = [
        ("DefineAuthChallenge", "define-auth-challenge"),
        ("CreateAuthChallenge", "create-auth-challenge"),
        ("VerifyAuthChallengeResponse", VERIFYING_TRIGGER),
        ("PreTokenGenerationConfig", "pre-token-generation"),
    ];
    assert_eq!(
        wired,
        slots.iter().map(|(slot, _)| *slot).collect(),
        "LambdaConfig: the four triggers and nothing else"
    );
    for (slot, trigger) in slots {
        let arn = match slot {
            "PreTokenGenerationConfig" => {
                assert_eq!(
                    config[slot]["LambdaVersion"],
                    yaml("V2_0"),
                    "the V2 event adds claims to access tokens"
                );
                &config[slot]["LambdaArn"]
            }
            _ => &config[slot],
        };
        let (id, _) = triggers[trigger];
        assert_eq!(
            get_att(arn),
            Some((id, "Arn")),
            "LambdaConfig.{slot}: {trigger}"
        );
    }
    // Each invoked by the pool alone, within Cognito's 5 s.
    let permissions = of_type(&t, "AWS::Lambda::Permission");
    for (trigger, (id, f)) in &triggers {
        let granted: Vec<&Yaml> = permissions
            .iter()
            .filter(|(_, perm)| {
                get_att(&perm["Properties"]["FunctionName"]).map(|a| a.0) == Some(id)
            })
            .map(|(_, perm)| &perm["Properties"])
            .collect();
        assert_eq!(granted.len(), 1, "{trigger}: one invoke permission");
        let perm = granted[0];
        assert_eq!(perm["Action"], yaml("lambda:InvokeFunction"), "{trigger}");
        assert_eq!(
            perm["Principal"],
            yaml("cognito-idp.amazonaws.com"),
            "{trigger}"
        );
        assert_eq!(
            get_att(&perm["SourceArn"]),
            Some((pool_id, "Arn")),
            "{trigger}: this pool only"
        );
        let timeout = f["Properties"]["Timeout"].as_u64();
        assert!(
            timeout.is_some_and(|s| s <= 5),
            "{trigger}: Cognito waits 5 s: {timeout:?}"
        );
    }
}

#[test]
fn the_client_allows_custom_authentication_and_refresh_only() {
    let t = resolved(true);
    let clients = of_type(&t, "AWS::Cognito::UserPoolClient");
    assert_eq!(clients.len(), 1, "one app client");
    let (pool_id, _) = of_type(&t, "AWS::Cognito::UserPool")[0];
    let c = &clients[0].1["Properties"];
    assert_eq!(ref_to(&c["UserPoolId"]), Some(pool_id));
    let flows: BTreeSet<String> = strings(&c["ExplicitAuthFlows"]).into_iter().collect();
    assert_eq!(
        flows,
        ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
            .map(str::to_owned)
            .into_iter()
            .collect(),
        "no SRP or password flow: the pool's random password is never usable"
    );
    assert_eq!(c["GenerateSecret"], yaml("false"), "a public client");
    assert_eq!(c["PreventUserExistenceErrors"], yaml("ENABLED"));
    assert_eq!(
        c["EnableTokenRevocation"],
        yaml("true"),
        "sign-out revokes refresh tokens"
    );
    assert!(
        c.get("AllowedOAuthFlows").is_none() && c.get("AllowedOAuthFlowsUserPoolClient").is_none(),
        "no hosted UI or OAuth flow"
    );
    // An empty WriteAttributes would let users write every standard attribute.
    let writable = strings(&c["WriteAttributes"]);
    assert!(
        !writable.is_empty() && !writable.iter().any(|a| a.starts_with("email")),
        "users cannot change the address they sign in with: {writable:?}"
    );
    // Access tokens are checked here until they expire, sign-out or not.
    assert_eq!(c["TokenValidityUnits"]["AccessToken"], yaml("minutes"));
    let minutes = c["AccessTokenValidity"].as_u64().unwrap_or(u64::MAX);
    assert!(minutes <= 60, "access tokens of {minutes} minutes");
}

#[test]
fn cognito_triggers_hold_nothing_but_the_verifying_one_verify_passwords_grants() {
    let t = resolved(true);
    let triggers = trigger_functions(&t);
    let (_, verify_password) = function_of(&t, "verify-password");
    let without_logs = |role: &str| -> Vec<Yaml> {
        statements_of(&t, role)
            .into_iter()
            .filter(|st| st["Sid"].as_str() != Some("Logs"))
            .collect()
    };
    let logs_of = |role: &str| -> Vec<Yaml> {
        let logs: Vec<Yaml> = statements_of(&t, role)
            .into_iter()
            .filter(|st| st["Sid"].as_str() == Some("Logs"))
            .collect();
        assert_eq!(logs.len(), 1, "{role}: one Logs statement");
        let st = &logs[0];
        assert_eq!(
            st["Action"],
            yaml("[logs:CreateLogStream, logs:PutLogEvents]"),
            "{role}"
        );
        match &st["Resource"] {
            Yaml::Sequence(r) => r.clone(),
            one => vec![one.clone()],
        }
    };
    let ids: BTreeSet<&str> = triggers.values().map(|(id, _)| *id).collect();
    for (trigger, (id, f)) in &triggers {
        let role = role_of(f);
        let logs = f["Properties"]["LoggingConfig"]["LogGroup"].clone();
        let own_logs = ref_to(&logs).unwrap_or_else(|| panic!("{id}: LogGroup: !Ref"));
        assert!(
            logs_of(role)
                .iter()
                .any(|r| get_att(r) == Some((own_logs, "Arn"))),
            "{id}: {role} may write its log group"
        );
        let vars = own_variables(f);
        if trigger == VERIFYING_TRIGGER {
            // verify-password's grants, environment and memory: the same sign-in.
            let vp_role = role_of(verify_password);
            assert_eq!(
                without_logs(role),
                without_logs(vp_role),
                "{id}: {role} vs {vp_role}"
            );
            assert!(f.get("IgnoreGlobals").is_none(), "{id}: Globals' variables");
            assert!(verify_password.get("IgnoreGlobals").is_none());
            assert_eq!(
                vars.keys().collect::<Vec<_>>(),
                ["COGNITO_TRIGGER"],
                "{id}: verify-password's variables (Globals), and its trigger"
            );
            assert!(
                own_variables(verify_password).is_empty(),
                "verify-password: Globals' variables"
            );
            assert_eq!(
                f["Properties"]["MemorySize"], verify_password["Properties"]["MemorySize"],
                "{id}: an Argon2 check per answer"
            );
            continue;
        }
        // Nothing but logs: no table, no key, no other service, no variable.
        for st in statements_of(&t, role) {
            for action in strings(&st["Action"]) {
                assert!(action.starts_with("logs:"), "{id}: {role} allows {action}");
            }
        }
        for (other, g) in of_type(&t, "AWS::Serverless::Function") {
            if role_of(g) == role {
                assert!(
                    ids.contains(other) && other != triggers[VERIFYING_TRIGGER].0,
                    "{other} shares {role}"
                );
            }
        }
        assert_eq!(
            f["IgnoreGlobals"],
            yaml("[Environment]"),
            "{id}: none of the stack's variables"
        );
        for name in vars.keys() {
            assert!(
                ["COGNITO_TRIGGER", "RUST_LOG"].contains(&name.as_str()),
                "{id}: {name}"
            );
        }
    }
}

#[test]
fn only_the_functions_that_set_passwords_may_sign_users_out_of_the_pool() {
    let t = resolved(true);
    let (pool_id, _) = of_type(&t, "AWS::Cognito::UserPool")[0];
    let setters: BTreeMap<&str, &Yaml> = of_type(&t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| {
            let krate = f["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default();
            served_route(krate).is_some_and(|r| PASSWORD_SET_ROUTES.contains(&r))
        })
        .collect();
    assert_eq!(setters.len(), PASSWORD_SET_ROUTES.len());
    let setter_roles: BTreeSet<&str> = setters.values().map(|f| role_of(f)).collect();
    for (role, _) in of_type(&t, "AWS::IAM::Role") {
        let pool: Vec<Yaml> = statements_of(&t, role)
            .into_iter()
            .filter(|st| {
                strings(&st["Action"])
                    .iter()
                    .any(|a| a.starts_with("cognito-idp"))
            })
            .collect();
        if !setter_roles.contains(role) {
            assert!(pool.is_empty(), "{role}: Cognito grants {pool:?}");
            continue;
        }
        assert_eq!(pool.len(), 1, "{role}: one statement on the pool");
        let actions: BTreeSet<String> = strings(&pool[0]["Action"]).into_iter().collect();
        assert_eq!(
            actions,
            POOL_ACTIONS.map(str::to_owned).into_iter().collect(),
            "{role}: sign-out, and the user created when missing"
        );
        assert_eq!(
            get_att(&pool[0]["Resource"]),
            Some((pool_id, "Arn")),
            "{role}: this pool only"
        );
    }
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let got = own_variables(f).remove("COGNITO_USER_POOL_ID");
        if setters.contains_key(id) {
            assert_eq!(
                got.as_ref().and_then(ref_to),
                Some(pool_id),
                "{id}: COGNITO_USER_POOL_ID"
            );
        } else {
            assert_eq!(got, None, "{id}: COGNITO_USER_POOL_ID");
        }
    }
}

#[test]
fn change_and_status_take_the_pools_tokens_with_cognito() {
    let jwks = format!("{COGNITO_ISSUER}/.well-known/jwks.json");
    for on in [true, false] {
        let t = resolved(on);
        for route in TOKEN_ROUTES {
            let (id, f) = function_of(&t, function_name(route));
            let vars = own_variables(f);
            let var = |name: &str| vars.get(name).cloned();
            if on {
                assert_eq!(var("JWT_ISSUER"), Some(sub(COGNITO_ISSUER)), "{id}");
                assert_eq!(
                    var("JWT_AUDIENCE"),
                    Some(yaml("!Ref UserPoolClient")),
                    "{id}"
                );
                assert_eq!(var("JWT_JWKS_URL"), Some(sub(&jwks)), "{id}");
                assert_eq!(
                    var("JWT_SUBJECT_CLAIM"),
                    Some(yaml(aws_adapters::cognito_fn::BIZ_ID_CLAIM)),
                    "{id}: the claim the pre-token trigger adds"
                );
            } else {
                assert_eq!(var("JWT_ISSUER"), Some(yaml("!Ref JwtIssuer")), "{id}");
                assert_eq!(var("JWT_AUDIENCE"), Some(yaml("!Ref JwtAudience")), "{id}");
                assert_eq!(
                    var("JWT_JWKS_URL"),
                    Some(yaml(
                        "!If [HasJwtJwksUrl, !Ref JwtJwksUrl, !Ref AWS::NoValue]"
                    )),
                    "{id}"
                );
                assert_eq!(
                    var("JWT_SUBJECT_CLAIM"),
                    Some(yaml(
                        "!If [HasJwtSubjectClaim, !Ref JwtSubjectClaim, !Ref AWS::NoValue]"
                    )),
                    "{id}"
                );
            }
        }
    }
    // The parameters' patterns admit what the code accepts.
    for (var, value) in [
        (
            "JWT_JWKS_URL",
            "https://idp.example.com/.well-known/jwks.json",
        ),
        ("JWT_SUBJECT_CLAIM", "bizId"),
    ] {
        assert!(config_with(var, value).is_ok(), "{var}={value}");
    }
}

/// The crate serving `route`, named as its function.
fn function_name(route: Route) -> &'static str {
    route.function()
}

// ---- What only the deployed configuration decides, read as a tree:
// parameters against the code's checks, log levels, alarms that can fire,
// event sources, timeouts, every function's environment, and the
// statements that are not table grants.

/// Every function of the template (Cognito on, the most functions).
fn functions_of(t: &Yaml) -> Vec<(&str, &Yaml)> {
    of_type(t, "AWS::Serverless::Function")
}

/// The crate a function deploys.
fn binary_of(f: &Yaml) -> &str {
    f["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("Metadata.BuildProperties.Binary")
}

/// A function's property, else its `Globals` value.
fn property<'a>(t: &'a Yaml, f: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    let own = &f["Properties"][key];
    if !own.is_null() {
        return Some(own);
    }
    let global = &t["Globals"]["Function"][key];
    (!global.is_null()).then_some(global)
}

/// Every variable a function is deployed with: `Globals`' (unless it
/// ignores them), overridden by its own.
fn environment(t: &Yaml, f: &Yaml) -> BTreeMap<String, Yaml> {
    let ignores = strings(&f["IgnoreGlobals"]).contains(&"Environment".to_owned());
    let mut env = BTreeMap::new();
    if !ignores {
        if let Some(m) = t["Globals"]["Function"]["Environment"]["Variables"].as_mapping() {
            for (k, v) in m {
                env.insert(k.as_str().expect("a name").to_owned(), v.clone());
            }
        }
    }
    env.extend(own_variables(f));
    env
}

/// The settings every deployed function needs to build its app, with one
/// variable replaced: whether the code's own parsers (`Config`, and
/// `AwsConfig` as an HTTP function reads it) accept it.
fn code_accepts(var: &str, raw: Option<&str>) -> bool {
    let base = [
        ("TABLE_NAME", "t"),
        ("KMS_KEY_ID", "alias/k"),
        ("SES_FROM_ADDRESS", "noreply@example.com"),
        ("JWT_ISSUER", "https://id.example.com"),
        ("JWT_AUDIENCE", "password-api"),
    ];
    let get = |k: &str| {
        if k == var {
            return raw.map(str::to_owned);
        }
        base.iter()
            .find(|(b, _)| *b == k)
            .map(|(_, v)| (*v).to_owned())
    };
    shared::config::Config::from_lookup(get).is_ok()
        && aws_adapters::AwsConfig::http_from_lookup(get).is_ok()
}

/// Whether CloudFormation takes `v` for parameter `p`: its type, allowed
/// values, pattern (a whole-string match: every pattern is anchored) and
/// length, or a Number's range.
fn admits(p: &Yaml, v: &str) -> bool {
    if let Some(allowed) = p["AllowedValues"].as_sequence() {
        if !allowed.iter().flat_map(strings).any(|a| a == v) {
            return false;
        }
    }
    match p["Type"].as_str() {
        // Any number CloudFormation reads; decimals are left out of the
        // corpus below (no Number constraint refuses them, see there).
        Some("Number") => {
            let Ok(n) = v.parse::<f64>() else {
                return false;
            };
            p["MinValue"].as_f64().is_none_or(|m| n >= m)
                && p["MaxValue"].as_f64().is_none_or(|m| n <= m)
        }
        Some("String") => {
            let chars = v.chars().count() as u64;
            if p["MinLength"].as_u64().is_some_and(|m| chars < m)
                || p["MaxLength"].as_u64().is_some_and(|m| chars > m)
            {
                return false;
            }
            p["AllowedPattern"].as_str().is_none_or(|pattern| {
                assert!(
                    pattern.starts_with('^') && pattern.ends_with('$'),
                    "AllowedPattern {pattern} is anchored at both ends"
                );
                regex::Regex::new(pattern)
                    .unwrap_or_else(|e| panic!("AllowedPattern {pattern}: {e}"))
                    .is_match(v)
            })
        }
        other => panic!("a parameter of type {other:?} read as one value"),
    }
}

/// `!Not [!Equals [!Ref P, '']]`: `P`.
fn given_condition(c: &Yaml) -> Option<&str> {
    let args = tagged(tagged(c, "Not")?.as_sequence()?.first()?, "Equals")?.as_sequence()?;
    args.get(1)?.as_str()?.is_empty().then_some(())?;
    ref_to(args.first()?)
}

/// How a variable takes a parameter: `!Ref P` (always set), or
/// `!If [C, !Ref P, !Ref AWS::NoValue]` with `C` "P is not empty" (unset
/// when empty). Anything else: `None`.
fn parameter_form<'a>(t: &'a Yaml, v: &'a Yaml) -> Option<(&'a str, bool)> {
    if let Some(p) = ref_to(v).filter(|p| !t["Parameters"][*p].is_null()) {
        return Some((p, false));
    }
    let args = tagged(v, "If")?.as_sequence()?;
    let (cond, then, other) = (args[0].as_str()?, &args[1], &args[2]);
    let p = ref_to(then).filter(|p| !t["Parameters"][*p].is_null())?;
    assert_eq!(
        ref_to(other),
        Some("AWS::NoValue"),
        "!If [{cond}, !Ref {p}, ...]"
    );
    assert_eq!(
        given_condition(&t["Conditions"][cond]),
        Some(p),
        "{cond}: !Not [!Equals [!Ref {p}, '']] (the variable is unset exactly when {p} is empty)"
    );
    Some((p, true))
}

/// Parameters the code checks and no template constraint can: JSON and
/// lists (the functions refuse a bad one at their first invocation; `make
/// validate` cannot see it). Each joined list is `!Join`, not a parameter form.
const UNCONSTRAINABLE: [(&str, &str); 2] = [
    ("PasswordConfig", "JSON, validated by shared::config"),
    ("JwtJwks", "a JSON Web Key Set, read at cold start"),
];

#[test]
fn every_parameter_admits_only_what_the_code_accepts() {
    // Values around every check the code and the template make. Left out:
    // decimals such as 60.5, which a Number parameter takes (no constraint
    // refuses them) and the code refuses; and a pepper id listed twice in
    // PasswordPepperVerifyIds (no pattern can refuse a repeat).
    let mut corpus: Vec<String> = [
        "",
        " ",
        "0",
        "1",
        "-1",
        "59",
        "60",
        "abc",
        "0/300",
        "5/0",
        "1/1",
        "5/300",
        "05/300",
        "999999999/999999999",
        "5/300x",
        " 5/300",
        "5 /300",
        "https://app.example.com/p",
        "https:///p",
        "https://:443/p",
        "https://a.example.com/p?x=1",
        "https://a.example.com/p#x",
        "https://a.example.com/\"p",
        "https://a.example.com/<p>",
        "http://localhost:3000/p",
        "http://a.example.com/p",
        "https://a.example.com/p q",
        "noreply@example.com",
        "@example.com",
        "noreply@",
        "p1",
        "p1,p2",
        "p#1",
        ",p1",
        "bizId",
        "sub",
        "custom:biz_id",
        "info",
        "debug",
        "INFO",
        "PasswordApi",
    ]
    .map(str::to_owned)
    .to_vec();
    for n in [31, 32, 64, 65] {
        corpus.push("s".repeat(n));
    }
    let mut checked = BTreeSet::new();
    for on in [true, false] {
        let t = resolved(on);
        for (id, f) in functions_of(&t) {
            for (var, v) in environment(&t, f) {
                let Some((param, unset_when_empty)) = parameter_form(&t, &v) else {
                    continue;
                };
                if UNCONSTRAINABLE.iter().any(|(p, _)| *p == param) {
                    continue;
                }
                if !checked.insert((var.clone(), param.to_owned())) {
                    continue;
                }
                let p = &t["Parameters"][param];
                let raw = |v: &str| (!(unset_when_empty && v.is_empty())).then_some(v.to_owned());
                let mut values = corpus.clone();
                let default = strings(&p["Default"]);
                values.extend(default.iter().cloned());
                // A Number's range is the code's exactly.
                if p["Type"].as_str() == Some("Number") {
                    let bound = |k: &str| {
                        p[k].as_i64()
                            .unwrap_or_else(|| panic!("{param}: a Number parameter has {k}"))
                    };
                    let (min, max) = (bound("MinValue"), bound("MaxValue"));
                    for ok in [min, max] {
                        assert!(
                            code_accepts(&var, Some(&ok.to_string())),
                            "{id}: {param} admits {ok}, which the code refuses as {var}"
                        );
                    }
                    for refused in [min - 1, max + 1] {
                        assert!(
                            !code_accepts(&var, Some(&refused.to_string())),
                            "{id}: {param} refuses {refused}, which the code accepts as {var}"
                        );
                    }
                }
                let mut admitted = 0;
                for value in &values {
                    if !admits(p, value) {
                        continue;
                    }
                    admitted += 1;
                    assert!(
                        code_accepts(&var, raw(value).as_deref()),
                        "{id}: {param} admits {value:?}, which the code refuses as {var}"
                    );
                }
                assert!(
                    admitted > 0,
                    "{param}: the corpus exercises none of its values"
                );
                for d in &default {
                    assert!(admits(p, d), "{param}: its Default {d:?} is refused");
                }
            }
        }
    }
    // The values the template once took and the code refused.
    let t = template_tree();
    let admitted = |param: &str, v: &str| admits(&t["Parameters"][param], v);
    assert!(!admitted("RateLimitPublicKey", "0/300"));
    assert!(!admitted("JwtHs256Secret", &"s".repeat(31)));
    assert!(!admitted("SessionTtlSeconds", "59"));
    assert!(!admitted("InitPasswordUrl", "https:///p"));
    for (var, param) in [
        ("SC_SESSION_TTL_SECONDS", "SessionTtlSeconds"),
        ("RATE_LIMIT_PUBLIC_KEY", "RateLimitPublicKey"),
        ("JWT_HS256_SECRET", "JwtHs256Secret"),
        ("AWS_OPERATION_TIMEOUT_MS", "AwsOperationTimeoutMs"),
        ("JWT_ISSUER", "JwtIssuer"),
    ] {
        assert!(
            checked.contains(&(var.to_owned(), param.to_owned())),
            "{var} from {param} not checked: {checked:?}"
        );
    }
}

#[test]
fn log_level_is_the_level_lambda_keeps_on_every_function() {
    let t = resolved(true);
    let levels = &t["Mappings"]["LogLevels"];
    let param = &t["Parameters"]["LogLevel"];
    let allowed = strings(&param["AllowedValues"]);
    let mapped: Vec<String> = levels
        .as_mapping()
        .expect("Mappings.LogLevels")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        mapped, allowed,
        "LogLevels maps exactly the values of LogLevel"
    );
    for level in &allowed {
        // RUST_LOG takes it as a filter; Lambda keeps the JSON lines whose
        // `level` is at or above ApplicationLogLevel: the same level.
        assert!(
            tracing_subscriber::EnvFilter::try_new(level).is_ok(),
            "RUST_LOG={level}"
        );
        assert_eq!(
            levels[level.as_str()]["Application"].as_str(),
            Some(level.to_uppercase().as_str()),
            "{level}"
        );
        let system = levels[level.as_str()]["System"]
            .as_str()
            .unwrap_or_default();
        assert!(
            ["DEBUG", "INFO", "WARN"].contains(&system),
            "{level}: System {system}"
        );
    }
    let find_in_map = |key: &str| yaml(&format!("!FindInMap [LogLevels, !Ref LogLevel, {key}]"));
    let functions = functions_of(&t);
    assert_eq!(functions.len(), template().len());
    for (id, f) in functions {
        let logging = &f["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{id}");
        assert_eq!(
            logging["ApplicationLogLevel"],
            find_in_map("Application"),
            "{id}"
        );
        assert_eq!(logging["SystemLogLevel"], find_in_map("System"), "{id}");
        assert_eq!(
            environment(&t, f).get("RUST_LOG"),
            Some(&yaml("!Ref LogLevel")),
            "{id}: RUST_LOG"
        );
    }
}

/// The alarm `id`'s properties.
fn alarm<'a>(t: &'a Yaml, id: &str) -> &'a Yaml {
    let a = &t["Resources"][id];
    assert_eq!(a["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{id}");
    &a["Properties"]
}

#[test]
fn the_dead_letter_alarm_counts_letters_in_flight_between_sweeps() {
    let t = resolved(true);
    let a = alarm(&t, "MailDeadLettersAlarm");
    let metrics = a["Metrics"].as_sequence().expect("a metric-math alarm");
    let mut read = BTreeMap::new();
    let mut expression = None;
    for m in metrics {
        let id = m["Id"].as_str().expect("Id");
        if let Some(e) = m["Expression"].as_str() {
            assert_eq!(m["ReturnData"].as_bool(), Some(true), "{id}");
            expression = Some(e.to_owned());
            continue;
        }
        assert_eq!(m["ReturnData"].as_bool(), Some(false), "{id}");
        let stat = &m["MetricStat"];
        assert_eq!(
            stat["Metric"]["Namespace"].as_str(),
            Some("AWS/SQS"),
            "{id}"
        );
        assert_eq!(
            stat["Metric"]["Dimensions"],
            yaml("[{Name: QueueName, Value: !GetAtt MailDeadLetterQueue.QueueName}]"),
            "{id}"
        );
        assert_eq!(stat["Stat"].as_str(), Some("Maximum"), "{id}");
        read.insert(
            stat["Metric"]["MetricName"]
                .as_str()
                .expect("MetricName")
                .to_owned(),
            id.to_owned(),
        );
    }
    // sweep-mail hides each letter it reads (visibility timeout): visible
    // alone drops to zero between its runs while the letter waits.
    let names: Vec<&str> = read.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesVisible"
        ]
    );
    assert_eq!(
        expression.as_deref(),
        Some(
            format!(
                "{} + {}",
                read["ApproximateNumberOfMessagesVisible"],
                read["ApproximateNumberOfMessagesNotVisible"]
            )
            .as_str()
        )
    );
    assert_eq!(a["Threshold"].as_i64(), Some(0));
    assert_eq!(
        a["ComparisonOperator"].as_str(),
        Some("GreaterThanThreshold")
    );
    assert_eq!(a["TreatMissingData"].as_str(), Some("notBreaching"));
}

#[test]
fn sweep_mail_and_invite_user_failures_raise_an_alarm() {
    let t = resolved(true);
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let watches = |namespace: &Yaml, metric: &str, dimensions: &Yaml| {
        alarms
            .iter()
            .filter(|(_, a)| {
                let p = &a["Properties"];
                p["Namespace"] == *namespace
                    && p["MetricName"].as_str() == Some(metric)
                    && p["Dimensions"] == *dimensions
            })
            .map(|(id, a)| (*id, &a["Properties"]))
            .collect::<Vec<_>>()
    };
    // sweep-mail's failed deliveries: the mail document it writes each run.
    let sweep = watches(
        &yaml("!Ref MetricsNamespace"),
        shared::observe::metrics::MAIL_FAILED,
        &yaml("[{Name: Function, Value: sweep-mail}]"),
    );
    // invite-user's and admin-users' internal errors fail the invocation.
    let invite = watches(
        &yaml("AWS/Lambda"),
        "Errors",
        &yaml("[{Name: FunctionName, Value: !Ref InviteUserFunction}]"),
    );
    let admin = watches(
        &yaml("AWS/Lambda"),
        "Errors",
        &yaml("[{Name: FunctionName, Value: !Ref AdminUsersFunction}]"),
    );
    assert!(function_crates().contains("sweep-mail"));
    for (what, found) in [
        ("sweep-mail MailFailed", sweep),
        ("invite-user Errors", invite),
        ("admin-users Errors", admin),
    ] {
        assert_eq!(found.len(), 1, "one alarm on {what}");
        let (id, p) = found[0];
        assert_eq!(p["Statistic"].as_str(), Some("Sum"), "{id}");
        assert_eq!(p["Threshold"].as_i64(), Some(1), "{id}");
        assert_eq!(
            p["ComparisonOperator"].as_str(),
            Some("GreaterThanOrEqualToThreshold"),
            "{id}"
        );
    }
}

#[test]
fn every_alarm_names_a_runbook_of_operations_md() {
    let t = resolved(true);
    let ops = std::fs::read_to_string(root().join("docs/operations.md")).expect("operations.md");
    // GitHub's anchors: lower case, spaces to '-', punctuation dropped.
    let anchors: BTreeSet<String> = ops
        .lines()
        .filter_map(|l| l.strip_prefix("### ").or_else(|| l.strip_prefix("## ")))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect();
    for (id, a) in of_type(&t, "AWS::CloudWatch::Alarm") {
        let description = a["Properties"]["AlarmDescription"]
            .as_str()
            .expect("AlarmDescription");
        let Some((_, rest)) = description.split_once("docs/operations.md#") else {
            // The sign-in alarm's runbook lives in deployment.md.
            assert!(
                description.contains("docs/deployment.md#"),
                "{id}: {description}"
            );
            continue;
        };
        let anchor = rest.trim_end_matches(')');
        assert!(
            anchors.contains(anchor),
            "{id}: operations.md has no #{anchor}"
        );
    }
}

/// Cognito waits 5 s for a trigger; the HTTP API gives up at 30 s.
const TRIGGER_TIMEOUT_SECS: i64 = 5;
const HTTP_API_TIMEOUT_SECS: i64 = 30;

#[test]
fn every_function_has_the_timeout_of_its_kind() {
    let t = resolved(true);
    let max = |param: &str| {
        t["Parameters"][param]["MaxValue"]
            .as_i64()
            .expect("MaxValue")
    };
    assert!(max("TimeoutSeconds") < HTTP_API_TIMEOUT_SECS);
    for (id, f) in functions_of(&t) {
        let binary = binary_of(f);
        let timeout = property(&t, f, "Timeout").unwrap_or_else(|| panic!("{id}: Timeout"));
        let want = if binary == TRIGGERS_CRATE {
            yaml(&TRIGGER_TIMEOUT_SECS.to_string())
        } else if served_route(binary).is_some() {
            yaml("!Ref TimeoutSeconds")
        } else {
            yaml("!Ref InternalTimeoutSeconds")
        };
        assert_eq!(*timeout, want, "{id} ({binary}): Timeout");
    }
}

#[test]
fn the_mail_event_sources_are_the_ones_the_code_expects() {
    let t = resolved(true);
    let (id, send) = function_of(&t, "send-mail");
    let events = send["Properties"]["Events"].as_mapping().expect("Events");
    assert_eq!(events.len(), 1, "{id}: one event");
    let e = events.values().next().unwrap();
    assert_eq!(e["Type"].as_str(), Some("DynamoDB"));
    let p = &e["Properties"];
    assert_eq!(p["Stream"], yaml("!GetAtt Table.StreamArn"));
    // From the mapping's creation on: what the stream held before is the
    // sweep's (OUTBOX#PENDING markers, FORGOT#PENDING requests).
    assert_eq!(p["StartingPosition"].as_str(), Some("LATEST"));
    // The handler answers a partial batch (mail_fn: batch_item_failures):
    // without this the whole batch would be retried, resending its mail.
    assert_eq!(
        p["FunctionResponseTypes"],
        yaml("[ReportBatchItemFailures]")
    );
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert_eq!(p["MaximumRetryAttempts"], yaml("!Ref MailMaxRetryAttempts"));
    let batch = p["BatchSize"].as_u64().expect("BatchSize");
    assert!((1..=100).contains(&batch), "BatchSize {batch}");
    assert!(p["MaximumBatchingWindowInSeconds"].as_u64().is_some());
    // A record older than the stream keeps (24 h) is gone anyway.
    assert!(p["MaximumRecordAgeInSeconds"]
        .as_u64()
        .is_some_and(|s| s <= 86_400));
    assert_eq!(
        p["DestinationConfig"],
        yaml("{OnFailure: {Type: SQS, Destination: !GetAtt MailDeadLetterQueue.Arn}}")
    );
    // The filter's patterns are tests/tests/e2e/stream_filter.rs's.
    assert_eq!(
        p["FilterCriteria"]["Filters"].as_sequence().map(Vec::len),
        Some(2),
        "FilterCriteria"
    );
    // The dead letters go to the queue sweep-mail drains.
    let (_, sweep) = function_of(&t, "sweep-mail");
    assert_eq!(
        environment(&t, sweep).get(aws_adapters::sweep::DEAD_LETTER_QUEUE_URL_VAR),
        Some(&yaml("!Ref MailDeadLetterQueue"))
    );
    let events = sweep["Properties"]["Events"].as_mapping().expect("Events");
    assert_eq!(events.len(), 1);
    let e = events.values().next().unwrap();
    assert_eq!(e["Type"].as_str(), Some("Schedule"));
    assert_eq!(
        e["Properties"]["Schedule"],
        sub("rate(${MailSweepMinutes} minutes)")
    );
    // `rate(1 minutes)` is refused: the unit is singular for 1.
    assert!(t["Parameters"]["MailSweepMinutes"]["MinValue"].as_i64() >= Some(2));
    let queue = &t["Resources"]["MailDeadLetterQueue"]["Properties"];
    assert_eq!(queue["MessageRetentionPeriod"].as_i64(), Some(1_209_600));
}

/// Every variable the code reads, by who reads it.
fn variables_read() -> BTreeMap<&'static str, BTreeSet<String>> {
    let seen = std::sync::Mutex::new(BTreeSet::new());
    let _ = aws_adapters::AwsConfig::http_from_lookup(|name| {
        seen.lock().unwrap().insert(name.to_owned());
        Some(match name {
            "SES_FROM_ADDRESS" => "noreply@example.com".to_owned(),
            "AWS_CONNECT_TIMEOUT_MS" | "AWS_OPERATION_TIMEOUT_MS" => "1000".to_owned(),
            "COGNITO_USER_POOL_ID" => "eu-west-1_AbC123".to_owned(),
            "PASSWORD_PEPPER_VERIFY_IDS" => String::new(),
            _ => "x".to_owned(),
        })
    })
    .expect("a full AwsConfig");
    let aws = seen.into_inner().unwrap();
    BTreeMap::from([
        ("Config", config_variables().into_iter().collect()),
        ("AwsConfig", aws),
        (
            "observe and telemetry",
            ["METRICS_NAMESPACE", "RUST_LOG"].map(str::to_owned).into(),
        ),
        (
            "sweep-mail",
            [aws_adapters::sweep::DEAD_LETTER_QUEUE_URL_VAR.to_owned()].into(),
        ),
        ("cognito-triggers", ["COGNITO_TRIGGER".to_owned()].into()),
    ])
}

/// Read by the code, deliberately left to their defaults by the template:
/// the data key ids are `pwctl admin keys init`'s (`d1`, `o1`).
const DEFAULTED: [&str; 2] = ["SESSION_DATA_KEY_ID", "OUTBOX_DATA_KEY_ID"];

#[test]
fn every_function_gets_what_its_code_reads_and_nothing_else() {
    let read = variables_read();
    for on in [true, false] {
        let t = resolved(on);
        for (id, f) in functions_of(&t) {
            let binary = binary_of(f);
            let env = environment(&t, f);
            let trigger = env.get("COGNITO_TRIGGER").and_then(Yaml::as_str);
            let holds_nothing = binary == TRIGGERS_CRATE && trigger != Some(VERIFYING_TRIGGER);
            let mut wanted: BTreeSet<String> = BTreeSet::from(["RUST_LOG".to_owned()]);
            if !holds_nothing {
                wanted.extend(read["Config"].iter().cloned());
                wanted.extend(read["AwsConfig"].iter().cloned());
                wanted.extend(read["observe and telemetry"].iter().cloned());
            }
            if binary == TRIGGERS_CRATE {
                wanted.insert("COGNITO_TRIGGER".to_owned());
            }
            if binary == "sweep-mail" {
                wanted.extend(read["sweep-mail"].iter().cloned());
            }
            // Set only where they mean something (tested above and in the
            // Cognito tests): the token variables, the pool.
            let takes_tokens = served_route(binary).is_some_and(|r| TOKEN_ROUTES.contains(&r));
            let sets_passwords =
                served_route(binary).is_some_and(|r| PASSWORD_SET_ROUTES.contains(&r));
            if !takes_tokens {
                for var in TOKEN_ONLY {
                    wanted.remove(var);
                }
            }
            if !sets_passwords || !on {
                wanted.remove("COGNITO_USER_POOL_ID");
            }
            for var in DEFAULTED {
                wanted.remove(var);
            }
            // Set when their parameter is given (`!If`, parameter_form).
            let optional = [
                "JWT_HS256_SECRET",
                "PASSWORD_CONFIG",
                "PASSWORD_PEPPER_ID",
                "PASSWORD_PEPPER_VERIFY_IDS",
            ];
            let set: BTreeSet<String> = env.keys().cloned().collect();
            for var in &wanted {
                assert!(
                    set.contains(var),
                    "{id} ({binary}, Cognito {on}): {var} is not set"
                );
            }
            for var in &set {
                assert!(
                    wanted.contains(var) || optional.contains(&var.as_str()) && !holds_nothing,
                    "{id} ({binary}, Cognito {on}): {var} is set and nothing there reads it"
                );
            }
            // Value forms: a parameter (always, or when given), a list
            // joined, or one of the stack's own resources of the right kind.
            for (var, v) in &env {
                if parameter_form(&t, v).is_some() {
                    continue;
                }
                let resource_type =
                    |id: &str| t["Resources"][id]["Type"].as_str().map(str::to_owned);
                let form_ok = match var.as_str() {
                    "TABLE_NAME" => {
                        ref_to(v).and_then(resource_type).as_deref() == Some("AWS::DynamoDB::Table")
                    }
                    "KMS_KEY_ID" => get_att(v).is_some_and(|(k, a)| {
                        a == "Arn" && resource_type(k).as_deref() == Some("AWS::KMS::Key")
                    }),
                    "MAIL_DEAD_LETTER_QUEUE_URL" => {
                        ref_to(v).and_then(resource_type).as_deref() == Some("AWS::SQS::Queue")
                    }
                    "COGNITO_USER_POOL_ID" => {
                        ref_to(v).and_then(resource_type).as_deref()
                            == Some("AWS::Cognito::UserPool")
                    }
                    "JWT_AUDIENCE" => {
                        ref_to(v).and_then(resource_type).as_deref()
                            == Some("AWS::Cognito::UserPoolClient")
                    }
                    "JWT_ISSUER" | "JWT_JWKS_URL" => tagged(v, "Sub").is_some(),
                    "JWT_SUBJECT_CLAIM" | "COGNITO_TRIGGER" => v.as_str().is_some(),
                    "CORS_ALLOWED_ORIGINS" | "TRUSTED_PROXY_CIDRS" => tagged(v, "Join")
                        .and_then(Yaml::as_sequence)
                        .is_some_and(|a| {
                            a[0].as_str() == Some(",")
                                && ref_to(&a[1]).is_some_and(|p| {
                                    t["Parameters"][p]["Type"].as_str()
                                        == Some("CommaDelimitedList")
                                })
                        }),
                    _ => false,
                };
                assert!(form_ok, "{id}: {var} = {v:?}");
            }
        }
    }
}

/// The crates that send email (SES) and handle the mail dead letters.
const MAIL_CRATES: [&str; 2] = ["send-mail", "sweep-mail"];

/// `Action` of a statement as a sorted list.
fn actions(s: &Yaml) -> Vec<String> {
    let mut a = strings(&s["Action"]);
    a.sort();
    a
}

#[test]
fn logs_ses_sqs_and_stream_statements_are_exactly_each_functions() {
    let t = resolved(true);
    let mut log_groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut binaries: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, f) in functions_of(&t) {
        let group = ref_to(&f["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id}: LogGroup: !Ref"));
        assert_eq!(
            t["Resources"][group]["Type"].as_str(),
            Some("AWS::Logs::LogGroup"),
            "{id}"
        );
        log_groups
            .entry(role_of(f))
            .or_default()
            .insert(format!("{group}.Arn"));
        binaries.entry(role_of(f)).or_default().insert(binary_of(f));
    }
    let ses_identity =
        sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}");
    for (role, groups) in &log_groups {
        let crates = &binaries[role];
        let mails = crates.iter().any(|c| MAIL_CRATES.contains(c));
        let mut expected: BTreeMap<String, (Vec<String>, Vec<Yaml>)> = BTreeMap::new();
        // Its functions' log groups, no log group creation (they exist).
        expected.insert(
            "Logs".into(),
            (
                vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
                groups
                    .iter()
                    .map(|g| yaml(&format!("!GetAtt {g}")))
                    .collect(),
            ),
        );
        if mails {
            expected.insert(
                "Send".into(),
                (vec!["ses:SendEmail".into()], vec![ses_identity.clone()]),
            );
        }
        if crates.contains("send-mail") {
            // The stream event source reads the stream with the function's
            // role, and writes its failures to the queue with it.
            expected.insert(
                "StreamRead".into(),
                (
                    vec![
                        "dynamodb:DescribeStream".into(),
                        "dynamodb:GetRecords".into(),
                        "dynamodb:GetShardIterator".into(),
                    ],
                    vec![yaml("!GetAtt Table.StreamArn")],
                ),
            );
            expected.insert(
                "StreamList".into(),
                (vec!["dynamodb:ListStreams".into()], vec![yaml("'*'")]),
            );
            expected.insert(
                "DeadLetters".into(),
                (
                    vec!["sqs:SendMessage".into()],
                    vec![yaml("!GetAtt MailDeadLetterQueue.Arn")],
                ),
            );
        }
        if crates.contains("sweep-mail") {
            // ReceiveMessage (with its visibility timeout) and DeleteMessageBatch.
            expected.insert(
                "DeadLetters".into(),
                (
                    vec!["sqs:DeleteMessage".into(), "sqs:ReceiveMessage".into()],
                    vec![yaml("!GetAtt MailDeadLetterQueue.Arn")],
                ),
            );
        }
        let mut got: BTreeMap<String, (Vec<String>, Vec<Yaml>)> = BTreeMap::new();
        for s in statements_of(&t, role) {
            assert_eq!(s["Effect"].as_str(), Some("Allow"), "{role}");
            let a = actions(&s);
            let non_table = a.iter().any(|x| {
                ["logs:", "ses:", "sqs:"].iter().any(|p| x.starts_with(p))
                    || [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ]
                    .contains(&x.as_str())
            });
            if !non_table {
                continue;
            }
            let sid = s["Sid"]
                .as_str()
                .unwrap_or_else(|| panic!("{role}: a Sid"))
                .to_owned();
            let resources = match &s["Resource"] {
                Yaml::Sequence(r) => r.clone(),
                r => vec![r.clone()],
            };
            let resources = sorted_yaml(resources);
            assert!(
                got.insert(sid.clone(), (a, resources)).is_none(),
                "{role}: {sid} twice"
            );
        }
        let expected: BTreeMap<_, _> = expected
            .into_iter()
            .map(|(sid, (a, r))| (sid, (a, sorted_yaml(r))))
            .collect();
        assert_eq!(
            got, expected,
            "{role} ({crates:?}): logs, SES, SQS and stream statements"
        );
    }
}

/// Values in a stable order (a statement's resources are a set).
fn sorted_yaml(v: Vec<Yaml>) -> Vec<Yaml> {
    let mut v = v;
    v.sort_by_key(|y| serde_norway::to_string(y).expect("YAML"));
    v
}

/// `(action, dynamodb:LeadingKeys pattern)` of every table grant of `role`;
/// each one on the table is held to partitions by a `LeadingKeys` condition.
fn table_grants(t: &Yaml, role: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for s in statements_of(t, role) {
        if s["Resource"] != yaml("!GetAtt Table.Arn") {
            continue;
        }
        let sid = s["Sid"].as_str().unwrap_or_default();
        let keys = strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
        assert!(
            !keys.is_empty(),
            "{role} {sid}: a table grant without dynamodb:LeadingKeys"
        );
        for a in strings(&s["Action"]) {
            for k in &keys {
                out.insert((a.clone(), k.clone()));
            }
        }
    }
    out
}

/// The partitions the code ever queries (`query_all` and `query_first` of
/// the account store, the key ring's Query): a Query grant elsewhere is
/// one nothing uses.
fn queried_partitions() -> BTreeSet<String> {
    [
        "KEYRING#scv2",
        "LINKS#*",
        aws_adapters::FORGOT_PENDING_PK,
        "OUTBOX#PENDING",
    ]
    .map(str::to_owned)
    .into()
}

#[test]
fn query_is_granted_only_on_partitions_the_code_queries() {
    let t = resolved(true);
    let roles: BTreeSet<&str> = functions_of(&t)
        .into_iter()
        .map(|(_, f)| role_of(f))
        .collect();
    for role in roles {
        for (action, key) in table_grants(&t, role) {
            if action == "dynamodb:Query" {
                assert!(
                    queried_partitions().contains(&key),
                    "{role}: dynamodb:Query on {key}, which the code never queries"
                );
            }
        }
    }
}

/// The table grants of the internal functions that no request recording
/// covers (`route_touches.json` records the HTTP functions and sign-in):
/// what each one's code does, call by call, pinned. Key items (`SECRET#`)
/// are `each_role_holds_exactly_the_keys_its_function_loads`'s.
fn internal_grants(krate: &str) -> Vec<(&'static str, &'static [&'static str])> {
    const OUTBOX_SEND: [(&str, &[&str]); 3] = [
        // Load, claim (UpdateItem, conditional) and release OUTBOX#<id>.
        ("dynamodb:GetItem", &["OUTBOX#*"]),
        ("dynamodb:UpdateItem", &["OUTBOX#*"]),
        // Then drop its pending marker.
        ("dynamodb:DeleteItem", &["OUTBOX#PENDING"]),
    ];
    const FORGOT_ANSWER: [(&str, &[&str]); 4] = [
        // The request, the address's claim, its user.
        ("dynamodb:GetItem", &["FORGOT#PENDING", "EMAIL#*", "USER#*"]),
        // The user's live reset markers (the oldest past the cap go).
        ("dynamodb:Query", &["LINKS#*"]),
        // One transaction: the token and its marker, the outbox message and
        // its marker Put; the request and the capped-out links Deleted.
        ("dynamodb:PutItem", &["RESET#*", "LINKS#*", "OUTBOX#*"]),
        (
            "dynamodb:DeleteItem",
            &["FORGOT#PENDING", "RESET#*", "LINKS#*"],
        ),
    ];
    let mut grants: Vec<(&str, &[&str])> = vec![("dynamodb:GetItem", &["ACCOUNTS#NOOP"])];
    match krate {
        // One TransactWriteItems, no reads: the user, its email claim, the
        // init session and its marker, the outbox message and its marker.
        "invite-user" => grants.push((
            "dynamodb:PutItem",
            &["USER#*", "EMAIL#*", "INIT#*", "LINKS#*", "OUTBOX#*"],
        )),
        "send-mail" => {
            grants.extend(OUTBOX_SEND);
            grants.extend(FORGOT_ANSWER);
        }
        // shared::handlers::admin: the user by id or address; status and
        // flag writes, a new init or reset link and its email (links
        // revoked or capped: Query and Delete); delete erases the user's
        // links, undelivered mail (read to find it), forgot requests,
        // profile and claim, guess counters and limit buckets, and moves
        // the count of users on an imported hash.
        "admin-users" => grants.extend([
            ("dynamodb:GetItem", &["USER#*", "EMAIL#*", "OUTBOX#*"][..]),
            (
                "dynamodb:Query",
                &["LINKS#*", "OUTBOX#PENDING", "FORGOT#PENDING"][..],
            ),
            (
                "dynamodb:PutItem",
                &["USER#*", "INIT#*", "RESET#*", "LINKS#*", "OUTBOX#*"][..],
            ),
            (
                "dynamodb:DeleteItem",
                &[
                    "USER#*",
                    "EMAIL#*",
                    "INIT#*",
                    "RESET#*",
                    "LINKS#*",
                    "OUTBOX#*",
                    "FORGOT#PENDING",
                    "GUESS#*",
                    "RATE#*",
                ][..],
            ),
            ("dynamodb:UpdateItem", &["STATS#foreign-hash"][..]),
        ]),
        // And the bounded lists of what is pending.
        "sweep-mail" => {
            grants.extend(OUTBOX_SEND);
            grants.extend(FORGOT_ANSWER);
            grants.push(("dynamodb:Query", &["OUTBOX#PENDING", "FORGOT#PENDING"]));
        }
        other => panic!("{other}: not an internal function without a recording"),
    }
    grants
}

#[test]
fn invite_send_and_sweep_hold_exactly_their_data_grants() {
    let t = resolved(true);
    for krate in ["invite-user", "admin-users", "send-mail", "sweep-mail"] {
        let (id, f) = function_of(&t, krate);
        let got: BTreeSet<(String, String)> = table_grants(&t, role_of(f))
            .into_iter()
            .filter(|(_, key)| !key.starts_with("SECRET#") && !key.starts_with("KEYRING#"))
            .collect();
        let want: BTreeSet<(String, String)> = internal_grants(krate)
            .into_iter()
            .flat_map(|(a, keys)| keys.iter().map(move |k| (a.to_owned(), (*k).to_owned())))
            .collect();
        assert_eq!(got, want, "{id} ({krate}): table grants");
        // No scan, no batch, no grant on every partition.
        for (action, key) in &got {
            assert!(
                ![
                    "dynamodb:Scan",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:BatchGetItem"
                ]
                .contains(&action.as_str()),
                "{krate}: {action}"
            );
            assert_ne!(key, "*", "{krate}: {action} on every partition");
        }
    }
}

// ---- Environment size: Lambda refuses a function whose variables (names
// and values together) pass 4 KB, at deploy time, after the stack is half
// updated. `make validate` runs this test.

/// Lambda's limit on one function's environment, names and values.
const LAMBDA_ENV_LIMIT: usize = 4096;
/// Assumed size of a value the template cannot bound: a free string
/// parameter without `MaxLength` or default (an issuer, a URL, an address),
/// a generated name or ARN (`!Ref Table`, `!GetAtt Key.Arn`), and each
/// `${...}` of a `!Sub`.
const ASSUMED_UNBOUNDED: usize = 128;

/// The longest value `v` can take, by these rules: a literal its length; a
/// `String` parameter its `MaxLength`, else its longest `AllowedValues`,
/// else its `Default` (a parameter without a bound is counted at its
/// default: `JwtJwks` and `PasswordConfig` have a `MaxLength` for that
/// reason), else [`ASSUMED_UNBOUNDED`]; a `Number` the digits of its
/// `MaxValue`, else of its default; a `CommaDelimitedList` joined its
/// default; `!If` the longer branch; anything else [`ASSUMED_UNBOUNDED`].
fn worst_case_len(v: &Yaml, params: &serde_norway::Mapping) -> usize {
    if ref_to(v) == Some("AWS::NoValue") {
        return 0;
    }
    if let Some(name) = ref_to(v) {
        let Some(p) = params.get(name) else {
            return ASSUMED_UNBOUNDED;
        };
        let text = |y: &Yaml| strings(y).join(",");
        if let Some(max) = p["MaxLength"].as_u64() {
            return max as usize;
        }
        if let Some(values) = p["AllowedValues"].as_sequence() {
            return values.iter().map(|x| text(x).len()).max().unwrap_or(0);
        }
        return match p["Type"].as_str() {
            Some("Number") => p["MaxValue"]
                .as_u64()
                .map(|m| m.to_string().len())
                .unwrap_or_else(|| text(&p["Default"]).len()),
            _ if p.get("Default").is_some() => text(&p["Default"]).len(),
            _ => ASSUMED_UNBOUNDED,
        };
    }
    if let Some(Yaml::Sequence(args)) = tagged(v, "If") {
        return args[1..]
            .iter()
            .map(|b| worst_case_len(b, params))
            .max()
            .unwrap_or(0);
    }
    if let Some(Yaml::Sequence(args)) = tagged(v, "Join") {
        return worst_case_len(&args[1], params);
    }
    if let Some(Yaml::String(s)) = tagged(v, "Sub") {
        let vars = s.matches("${").count();
        let fixed: usize = s
            .split("${")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.len()
                } else {
                    part.split_once('}').map_or(0, |(_, rest)| rest.len())
                }
            })
            .sum();
        return fixed + vars * ASSUMED_UNBOUNDED;
    }
    match v {
        Yaml::String(s) => s.len(),
        Yaml::Number(n) => n.to_string().len(),
        Yaml::Bool(b) => b.to_string().len(),
        _ => ASSUMED_UNBOUNDED,
    }
}

/// Every function's environment at its worst case fits Lambda's 4 KB, with
/// and without Cognito; the sizes are printed (`--nocapture`).
#[test]
fn every_functions_environment_fits_lambdas_4_kb() {
    let raw = template_tree();
    let params = raw["Parameters"].as_mapping().expect("Parameters").clone();
    for on in [true, false] {
        let t = resolved(on);
        let globals: BTreeMap<String, Yaml> = t["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping()
            .expect("Globals variables")
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
            .collect();
        for (id, f) in of_type(&t, "AWS::Serverless::Function") {
            let mut vars = globals.clone();
            vars.extend(own_variables(f));
            let size: usize = vars
                .iter()
                .filter(|(_, v)| ref_to(v) != Some("AWS::NoValue"))
                .map(|(k, v)| k.len() + worst_case_len(v, &params))
                .sum();
            println!("{id} (Cognito {on}): {size} of {LAMBDA_ENV_LIMIT} bytes at worst");
            assert!(
                size <= LAMBDA_ENV_LIMIT,
                "{id} (Cognito {on}): its environment can reach {size} bytes, over Lambda's \
                 {LAMBDA_ENV_LIMIT}: lower a MaxLength, or move a large value out of the \
                 environment (JwtJwksUrl instead of JwtJwks)"
            );
        }
    }
}

#[test]
fn the_worst_case_reader_bounds_each_form() {
    let params: serde_norway::Mapping = serde_norway::from_str(
        "A: {Type: String, MaxLength: 10, Default: x}\n\
         B: {Type: String, AllowedValues: [ab, abcd]}\n\
         C: {Type: Number, Default: 5, MaxValue: 86400}\n\
         D: {Type: CommaDelimitedList, Default: 'a,bb'}\n\
         E: {Type: String}\n",
    )
    .unwrap();
    let len = |s: &str| worst_case_len(&yaml(s), &params);
    assert_eq!(len("!Ref A"), 10);
    assert_eq!(len("!Ref B"), 4);
    assert_eq!(len("!Ref C"), 5);
    assert_eq!(len("!Join [',', !Ref D]"), 4);
    assert_eq!(len("!Ref E"), ASSUMED_UNBOUNDED);
    assert_eq!(len("!If [X, !Ref A, !Ref B]"), 10);
    assert_eq!(len("!If [X, !Ref AWS::NoValue, !Ref B]"), 4);
    assert_eq!(len("!Sub 'https://${Api}/x'"), 10 + ASSUMED_UNBOUNDED);
    assert_eq!(len("plain"), 5);
}

/// Every function waits for the policy of its role (an invocation, or a
/// stream mapping's creation, before it would be refused): its `DependsOn`
/// names an `AWS::IAM::Policy` attached to that role, and nothing missing.
/// Read after `Fn::ForEach`, where cfn-lint cannot follow `${Id}` in
/// `DependsOn`: its E3005 is the one check turned off, on those functions only.
#[test]
fn every_function_depends_on_the_policy_of_its_role() {
    let t = template_tree();
    let policies: BTreeMap<&str, &Yaml> = of_type(&t, "AWS::IAM::Policy").into_iter().collect();
    let functions = of_type(&t, "AWS::Serverless::Function");
    let mapped = t["Mappings"]["Functions"]
        .as_mapping()
        .expect("Functions")
        .len();
    assert_eq!(functions.len(), mapped, "one function per Functions entry");
    for (id, f) in functions {
        let role = role_of(f);
        let deps = strings(&f["DependsOn"]);
        for dep in &deps {
            assert!(
                t["Resources"].get(dep).is_some(),
                "{id}: DependsOn {dep}, which does not exist"
            );
        }
        let own = deps.iter().any(|dep| {
            policies.get(dep.as_str()).is_some_and(|p| {
                p["Properties"]["Roles"]
                    .as_sequence()
                    .is_some_and(|roles| roles.iter().any(|r| ref_to(r) == Some(role)))
            })
        });
        assert!(
            own,
            "{id}: DependsOn {deps:?} names no policy of its role {role}"
        );
    }
    for (id, r) in t["Resources"].as_mapping().expect("Resources") {
        let ignored = strings(&r["Metadata"]["cfn-lint"]["config"]["ignore_checks"]);
        if ignored.is_empty() {
            continue;
        }
        assert_eq!(ignored, ["E3005"], "{id:?}: only E3005 is turned off");
        assert_eq!(
            r["Type"].as_str(),
            Some("AWS::Serverless::Function"),
            "{id:?}"
        );
    }
}
