//! The Cognito custom-authentication triggers: one binary, deployed once per
//! trigger (`COGNITO_TRIGGER`), so that only the verifying one holds the
//! table and the pepper.
//!
//! - `define-auth-challenge`: one `CUSTOM_CHALLENGE` (the password); tokens
//!   after a right answer, failure after [`MAX_ANSWERS`] wrong ones.
//! - `create-auth-challenge`: asks for the password; nothing secret in it.
//! - `verify-auth-challenge`: checks the answer with the verify use case
//!   (the same guessing cap, rehash and audit as `verify-password`).
//! - `pre-token-generation` (V2 event): puts `bizId` (the pool username) in
//!   the ID and access tokens, the claim `change` and `status` read.
//!
//! Events are Cognito's documented JSON, read with `aws_lambda_events`.

use std::collections::HashMap;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsCreateAuthChallenge, CognitoEventUserPoolsDefineAuthChallenge,
    CognitoEventUserPoolsPreTokenGenV2, CognitoEventUserPoolsVerifyAuthChallenge,
};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use shared::handlers::verify::{verify_password, Verdict, VerifyRequest};
use shared::http::json::SecretString;
use shared::App;

use crate::bootstrap::{cold_start_failed, verifying_app};

/// The challenge each sign-in answers: the password.
pub const CHALLENGE: &str = "CUSTOM_CHALLENGE";
/// Wrong answers within one sign-in before Cognito fails it.
pub const MAX_ANSWERS: usize = 3;
/// The claim that carries the account (`JWT_SUBJECT_CLAIM` of the template).
pub const BIZ_ID_CLAIM: &str = "bizId";

/// Which trigger a deployment of the binary serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// DefineAuthChallenge.
    Define,
    /// CreateAuthChallenge.
    Create,
    /// VerifyAuthChallengeResponse.
    Verify,
    /// Pre token generation (V2 event).
    PreToken,
}

impl Trigger {
    /// The trigger named by `COGNITO_TRIGGER`.
    pub fn from_name(name: &str) -> Option<Trigger> {
        match name {
            "define-auth-challenge" => Some(Trigger::Define),
            "create-auth-challenge" => Some(Trigger::Create),
            "verify-auth-challenge" => Some(Trigger::Verify),
            "pre-token-generation" => Some(Trigger::PreToken),
            _ => None,
        }
    }

    /// Whether `source` (the event's `triggerSource`) is one this trigger answers.
    fn accepts(self, source: &str) -> bool {
        match self {
            Trigger::Define => source == "DefineAuthChallenge_Authentication",
            Trigger::Create => source == "CreateAuthChallenge_Authentication",
            Trigger::Verify => source == "VerifyAuthChallengeResponse_Authentication",
            Trigger::PreToken => source.starts_with("TokenGeneration_"),
        }
    }
}

/// Why an event was not answered (Cognito then fails the sign-in).
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The event is not the JSON of this trigger.
    #[error("event is not a {0:?} event")]
    Event(Trigger),
    /// Checking the password failed (backend unavailable).
    #[error("password check failed")]
    Check,
}

/// What DefineAuthChallenge decides from the sign-in so far.
fn define(
    mut event: CognitoEventUserPoolsDefineAuthChallenge,
) -> CognitoEventUserPoolsDefineAuthChallenge {
    let session = &event.request.session;
    let right = session.last().and_then(Option::as_ref).is_some_and(|last| {
        last.challenge_name.as_deref() == Some(CHALLENGE) && last.challenge_result
    });
    // An unknown user is asked the same question and fails the same way:
    // the answer never tells whether the account exists.
    let response = &mut event.response;
    if right && !event.request.user_not_found {
        response.issue_tokens = true;
        response.fail_authentication = false;
        response.challenge_name = None;
    } else if session.len() >= MAX_ANSWERS {
        response.issue_tokens = false;
        response.fail_authentication = true;
        response.challenge_name = None;
    } else {
        response.issue_tokens = false;
        response.fail_authentication = false;
        response.challenge_name = Some(CHALLENGE.into());
    }
    event
}

/// What CreateAuthChallenge shows the client: a password prompt.
fn create(
    mut event: CognitoEventUserPoolsCreateAuthChallenge,
) -> CognitoEventUserPoolsCreateAuthChallenge {
    event.response.public_challenge_parameters =
        HashMap::from([("type".to_owned(), "PASSWORD".to_owned())]);
    event.response.private_challenge_parameters = HashMap::new();
    event.response.challenge_metadata = Some("PASSWORD".into());
    event
}

/// VerifyAuthChallengeResponse: the answer is the password of the pool user
/// (named by its `bizId`), checked like `verify-password` checks it.
async fn verify(
    app: &App,
    mut event: CognitoEventUserPoolsVerifyAuthChallenge,
) -> Result<CognitoEventUserPoolsVerifyAuthChallenge, TriggerError> {
    let answer = match event.request.challenge_answer.take() {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let name = event
        .cognito_event_user_pools_header
        .user_name
        .clone()
        .filter(|name| !name.is_empty() && name.len() <= 64)
        .unwrap_or_default();
    // A user the pool does not know is checked under a name no account has
    // (its own counter, a dummy hash): the same work, and never a match.
    let biz_id = if event.request.user_not_found || name.is_empty() {
        format!("unknown:{name}")
    } else {
        name
    };
    let verdict = verify_password(
        app,
        VerifyRequest {
            email: None,
            biz_id: Some(biz_id),
            password: SecretString::from(answer),
            client_ip: None,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| {
        tracing::error!(error = ?e, "password check for Cognito failed");
        TriggerError::Check
    })?;
    event.response.answer_correct =
        matches!(verdict, Verdict::Ok { .. }) && !event.request.user_not_found;
    Ok(event)
}

/// Pre token generation (V2): `bizId` in both tokens. The override is
/// written as JSON rather than through the event type, whose
/// `groupOverrideDetails` is not optional: an empty one would strip the
/// user's groups from the tokens.
fn pre_token(event: CognitoEventUserPoolsPreTokenGenV2) -> Value {
    let biz_id = event
        .cognito_event_user_pools_header
        .user_name
        .clone()
        .unwrap_or_default();
    let claims = serde_json::json!({ BIZ_ID_CLAIM: biz_id });
    let mut out = json(&event);
    out["response"] = serde_json::json!({
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": { "claimsToAddOrOverride": claims },
            "accessTokenGeneration": { "claimsToAddOrOverride": claims },
        }
    });
    out
}

fn parse<T: serde::de::DeserializeOwned>(
    trigger: Trigger,
    event: Value,
) -> Result<T, TriggerError> {
    serde_json::from_value(event).map_err(|_| TriggerError::Event(trigger))
}

fn json<T: serde::Serialize>(event: &T) -> Value {
    serde_json::to_value(event).unwrap_or(Value::Null)
}

/// Answers one event of `trigger`. `app` is needed by `Verify` only.
pub async fn handle(
    trigger: Trigger,
    app: Option<&App>,
    event: Value,
) -> Result<Value, TriggerError> {
    let source = event["triggerSource"].as_str().unwrap_or_default();
    if !trigger.accepts(source) {
        return Err(TriggerError::Event(trigger));
    }
    Ok(match trigger {
        Trigger::Define => json(&define(parse(trigger, event)?)),
        Trigger::Create => json(&create(parse(trigger, event)?)),
        Trigger::PreToken => pre_token(parse(trigger, event)?),
        Trigger::Verify => {
            let app = app.ok_or(TriggerError::Check)?;
            json(&verify(app, parse(trigger, event)?).await?)
        }
    })
}

/// Everything the function's `main` does: only the verifying trigger builds
/// an app (table, pepper); the others touch no AWS service at all.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let name = std::env::var("COGNITO_TRIGGER").unwrap_or_default();
    let trigger = Trigger::from_name(&name)
        .ok_or_else(|| cold_start_failed(anyhow::anyhow!("COGNITO_TRIGGER {name:?} is unknown")))?;
    let app = match trigger {
        Trigger::Verify => Some(verifying_app().await.map_err(cold_start_failed)?),
        _ => None,
    };
    let app = app.as_ref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(trigger, app, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn define_event(session: Value, user_not_found: bool) -> Value {
        json!({
            "version": "1", "region": "eu-west-1", "userPoolId": "eu-west-1_Example",
            "userName": "ACC_USR_0123456789AB",
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client"},
            "triggerSource": "DefineAuthChallenge_Authentication",
            "request": {"userAttributes": {"email": "ann@example.com"}, "session": session, "userNotFound": user_not_found},
            "response": {"challengeName": null, "issueTokens": null, "failAuthentication": null}
        })
    }

    async fn defined(session: Value, user_not_found: bool) -> Value {
        handle(Trigger::Define, None, define_event(session, user_not_found))
            .await
            .unwrap()["response"]
            .clone()
    }

    #[tokio::test]
    async fn define_asks_once_issues_after_a_right_answer_and_fails_after_three_wrong() {
        let ask =
            json!({"challengeName": CHALLENGE, "issueTokens": false, "failAuthentication": false});
        assert_eq!(defined(json!([]), false).await, ask);
        let wrong = json!({"challengeName": CHALLENGE, "challengeResult": false});
        let right = json!({"challengeName": CHALLENGE, "challengeResult": true});
        assert_eq!(defined(json!([wrong]), false).await, ask);
        assert_eq!(
            defined(json!([wrong, right]), false).await,
            json!({"challengeName": null, "issueTokens": true, "failAuthentication": false})
        );
        assert_eq!(
            defined(json!([wrong, wrong, wrong]), false).await,
            json!({"challengeName": null, "issueTokens": false, "failAuthentication": true})
        );
        // An unknown user is asked too, and never gets tokens.
        assert_eq!(defined(json!([]), true).await, ask);
        assert_eq!(defined(json!([right]), true).await, ask);
        // A first step that was not our challenge (SRP) never counts as right.
        let srp = json!({"challengeName": "SRP_A", "challengeResult": true});
        assert_eq!(defined(json!([srp]), false).await, ask);
    }

    #[tokio::test]
    async fn each_trigger_refuses_the_events_of_another() {
        let event = define_event(json!([]), false);
        for other in [Trigger::Create, Trigger::Verify, Trigger::PreToken] {
            assert!(matches!(
                handle(other, None, event.clone()).await,
                Err(TriggerError::Event(_))
            ));
        }
        assert!(Trigger::from_name("define").is_none());
        assert_eq!(
            Trigger::from_name("pre-token-generation"),
            Some(Trigger::PreToken)
        );
    }
}
