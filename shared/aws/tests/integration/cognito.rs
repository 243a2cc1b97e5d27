//! Cognito on the emulator: the pool adapter (a password set signs the user
//! out there, creating the user first when the pool lacks it), and the
//! custom-auth triggers fed Cognito's documented event JSON
//! (`tests/data/cognito/`), the verifying one over the DynamoDB adapters.

use std::sync::Arc;

use aws_adapters::cognito::CognitoIdentityProvider;
use aws_adapters::cognito_fn::{handle, Trigger, BIZ_ID_CLAIM, CHALLENGE};
use aws_adapters::testing::*;
use aws_adapters::{DynamoGuessCounter, DynamoRateLimiter};
use serde_json::json;
use shared::channel::KeyRing;
use shared::config::Config;
use shared::ports::accounts::UserStatus;
use shared::ports::IdentityProvider;
use shared::App;

const RIGHT: &str = "correct horse battery staple 42";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_set_signs_the_user_out_of_the_pool_creating_it_first() {
    let (cfg, clients) = fresh("cognito").await;
    let pool = clients
        .cognito
        .create_user_pool()
        .pool_name(shared::testing::conformance::unique("pool"))
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let idp = CognitoIdentityProvider::new(clients.cognito.clone(), &pool_id);
    let user = shared::testing::conformance::accounts::user("cog@example.com", 1);

    // Not in the pool yet: created, confirmed, with the address as a verified email.
    idp.password_set(&user).await.unwrap();
    let got = clients
        .cognito
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username(&user.biz_id)
        .send()
        .await
        .unwrap();
    let attr = |name: &str| {
        got.user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    assert_eq!(attr("email").as_deref(), Some("cog@example.com"));
    assert_eq!(attr("email_verified").as_deref(), Some("true"));
    assert_eq!(got.user_status().map(|s| s.as_str()), Some("CONFIRMED"));
    // Known: signed out, nothing created twice; the call is idempotent.
    idp.password_set(&user).await.unwrap();
    let listed = clients
        .cognito
        .list_users()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.users().len(), 1);
    drop(cfg);

    // A pool that does not exist: the store is unavailable, never a silent success.
    let gone = CognitoIdentityProvider::new(clients.cognito.clone(), "us-east-1_Missing0");
    assert!(gone.password_set(&user).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triggers_answer_cognitos_documented_events() {
    let (cfg, clients) = fresh("cognito-triggers").await;
    let mut app = App::embedded(Config::default(), KeyRing::empty()).unwrap();
    app.accounts = Arc::new(dynamo_account_store(&cfg, &clients).await);
    app.guesses = Arc::new(DynamoGuessCounter::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    ));
    app.limiter = Arc::new(DynamoRateLimiter::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    ));
    app.passwords.prepare_dummy().unwrap();
    let mut ann = shared::testing::conformance::accounts::user("ann-cog@example.com", 1);
    ann.history.clear();
    ann.password = Some(app.passwords.hash_unchecked(RIGHT).await.unwrap());
    app.accounts
        .apply(shared::testing::conformance::accounts::create(&ann), 1)
        .await
        .unwrap()
        .unwrap();

    // Define: a right answer to our challenge gets tokens.
    let out = handle(
        Trigger::Define,
        None,
        cognito_event("define-auth-challenge", &ann.biz_id, &ann.email, ""),
    )
    .await
    .unwrap();
    assert_eq!(
        out["response"],
        json!({"challengeName": null, "issueTokens": true, "failAuthentication": false})
    );
    // The event comes back whole: Cognito reads the response inside it.
    assert_eq!(
        out["request"]["userAttributes"]["email"],
        ann.email.as_str()
    );

    // Create: a password prompt, nothing secret.
    let out = handle(
        Trigger::Create,
        None,
        cognito_event("create-auth-challenge", &ann.biz_id, &ann.email, ""),
    )
    .await
    .unwrap();
    assert_eq!(
        out["response"]["publicChallengeParameters"],
        json!({"type": "PASSWORD"})
    );
    assert_eq!(out["response"]["privateChallengeParameters"], json!({}));

    // Verify: the password kept here decides, through the same use case.
    let verify = |answer: &str, user: &str| {
        let app = app.clone();
        let e = cognito_event("verify-auth-challenge", user, &ann.email, answer);
        async move {
            handle(Trigger::Verify, Some(&app), e).await.unwrap()["response"]["answerCorrect"]
                .clone()
        }
    };
    assert_eq!(verify(RIGHT, &ann.biz_id).await, json!(true));
    let before = app.passwords.argon2_evaluations();
    assert_eq!(
        verify("wrong horse battery staple", &ann.biz_id).await,
        json!(false)
    );
    assert_eq!(verify(RIGHT, "ACC_USR_FFFFFFFFFFFF").await, json!(false));
    assert_eq!(
        app.passwords.argon2_evaluations() - before,
        2,
        "one check each"
    );
    let mut not_found = cognito_event("verify-auth-challenge", &ann.biz_id, &ann.email, RIGHT);
    not_found["request"]["userNotFound"] = json!(true);
    let out = handle(Trigger::Verify, Some(&app), not_found)
        .await
        .unwrap();
    assert_eq!(out["response"]["answerCorrect"], json!(false));
    // The guessing cap is the same one: four more wrong answers lock Ann,
    // and then even her password is refused.
    for _ in 0..4 {
        assert_eq!(
            verify("wrong horse battery staple", &ann.biz_id).await,
            json!(false)
        );
    }
    assert_eq!(verify(RIGHT, &ann.biz_id).await, json!(false));
    // Without an app, the verifying trigger answers nothing rather than guess.
    assert!(handle(
        Trigger::Verify,
        None,
        cognito_event("verify-auth-challenge", &ann.biz_id, &ann.email, RIGHT)
    )
    .await
    .is_err());

    // Pre-token: bizId in both tokens, the user's groups left alone.
    let out = handle(
        Trigger::PreToken,
        None,
        cognito_event("pre-token-generation-v2", &ann.biz_id, &ann.email, ""),
    )
    .await
    .unwrap();
    let details = &out["response"]["claimsAndScopeOverrideDetails"];
    for token in ["idTokenGeneration", "accessTokenGeneration"] {
        assert_eq!(
            details[token]["claimsToAddOrOverride"][BIZ_ID_CLAIM],
            ann.biz_id.as_str(),
            "{token}"
        );
    }
    assert!(details.get("groupOverrideDetails").is_none(), "{details}");
    assert_eq!(CHALLENGE, "CUSTOM_CHALLENGE");
    assert_eq!(ann.status, UserStatus::Active);
}
