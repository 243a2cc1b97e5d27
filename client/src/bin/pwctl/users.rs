//! `pwctl admin users <action> EMAIL|BIZID`: user administration. It runs
//! the `admin-users` function's use case (`shared::handlers::admin`) in
//! process, with the operator's AWS credentials, against the stack named by
//! the same variables as the functions (TABLE_NAME, KMS_KEY_ID, ...), like
//! the other `pwctl admin` commands: why, in docs/operations.md
//! ("User administration"). The audit event goes to stderr.

use std::process::ExitCode;

use aws_adapters::bootstrap::app_with;
use aws_adapters::{AwsClients, AwsConfig};
use serde_json::Value;
use shared::handlers::admin::{administer, Action};
use shared::i18n::Lang;

#[derive(clap::Args)]
pub(crate) struct UsersArgs {
    /// show, resend-invite, lock, unlock, disable, enable, require-change,
    /// send-reset or delete (docs/operations.md#user-administration).
    #[arg(value_parser = action)]
    action: Action,
    /// The user's address or business id.
    user: String,
    /// Who acts, as the audit event names them; by default the caller's
    /// identity (STS GetCallerIdentity ARN).
    #[arg(long, env = "PWCTL_PRINCIPAL")]
    principal: Option<String>,
}

fn action(name: &str) -> Result<Action, String> {
    Action::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// Exit 0 on success, 1 when refused (the API error code on stderr, or the
/// `{"error": ...}` object with `--json`), 2 when the stack is unreachable.
pub(crate) async fn run(args: &UsersArgs, json: bool) -> ExitCode {
    // stdout carries the answer only.
    shared::observe::install(shared::observe::namespace_from(None).as_str(), |line| {
        eprintln!("{line}");
    });
    let (app, principal) = match setup(args).await {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match administer(&app, args.action, &args.user, &principal).await {
        Ok(mut answer) => {
            answer["principal"] = Value::from(principal);
            if json {
                println!("{answer}");
            } else {
                println!("{}", describe(&answer));
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            let parts = err.parts(Lang::En);
            if json {
                let error = serde_json::json!({ "error": {
                    "status": parts.status.as_u16(),
                    "code": parts.code,
                    "details": parts.details,
                }});
                println!("{error}");
            } else {
                eprintln!(
                    "error {} {} {}",
                    parts.status.as_u16(),
                    parts.code,
                    Value::from(parts.details)
                );
            }
            ExitCode::from(1)
        }
    }
}

async fn setup(args: &UsersArgs) -> anyhow::Result<(shared::App, String)> {
    let config = shared::config::Config::from_env()?;
    let aws = AwsConfig::from_env()?;
    let sdk = AwsClients::load_sdk_config(&aws).await;
    let principal = match &args.principal {
        Some(p) => p.clone(),
        None => aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("STS GetCallerIdentity (or pass --principal): {e}"))?
            .arn
            .ok_or_else(|| anyhow::anyhow!("STS GetCallerIdentity returned no ARN"))?,
    };
    let clients = AwsClients::from_sdk_config(&sdk);
    let app = app_with(shared::route::Needs::ADMIN_USERS, config, &aws, &clients).await?;
    Ok((app, principal))
}

/// The answer as lines a person reads.
fn describe(answer: &Value) -> String {
    let user = &answer["user"];
    let field = |name: &str| match &user[name] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut lines = vec![format!(
        "{} {} ({}): {}",
        answer["action"].as_str().unwrap_or_default(),
        field("bizId"),
        field("email"),
        if answer["changed"] == true {
            "changed"
        } else {
            "unchanged"
        }
    )];
    if let Some(erased) = answer.get("erased") {
        lines.push(format!(
            "erased: {} links, {} undelivered messages, {} forgot requests",
            erased["links"], erased["messages"], erased["forgotRequests"]
        ));
    } else {
        for name in [
            "status",
            "name",
            "phone",
            "locale",
            "hasPassword",
            "importedHash",
            "previousPasswords",
            "mustChange",
            "breached",
            "createdAt",
            "passwordChangedAt",
            "version",
        ] {
            lines.push(format!("  {name}: {}", field(name)));
        }
    }
    lines.join("\n")
}
