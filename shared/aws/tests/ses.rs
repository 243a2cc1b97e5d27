//! The SES mailer, recorded by the emulator.
//! Against the local AWS emulator (`aws_adapters::testing`).

use aws_adapters::testing::*;
use aws_adapters::{Email, Mailer, SesMailer};

#[tokio::test]
async fn ses_send_is_recorded_by_the_emulator() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("user"));
    let id = mailer
        .send(&Email {
            to: to.clone(),
            subject: "Reset your password".into(),
            text: "Your code is 123456".into(),
            html: Some("<p>Your code is <b>123456</b></p>".into()),
        })
        .await
        .unwrap();
    assert!(!id.is_empty());
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    let body = data.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let sent = json["ses"]["Message"].as_array().unwrap();
    let msg = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("message recorded by moto");
    assert_eq!(msg["source"], cfg.ses_from_address.as_str());
    assert_eq!(msg["destinations"]["ToAddresses"][0], to.as_str());
    assert_eq!(msg["subject"], "Reset your password");
}

#[tokio::test]
async fn ses_unverified_sender_is_an_error() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        "nobody@unverified.test",
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let res = mailer
        .send(&Email {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
        })
        .await;
    assert!(res.is_err());
}

#[tokio::test]
async fn ses_sends_outbox_messages_through_the_accounts_port() {
    use shared::ports::accounts::{MailKind, Mailer as OutboxMailer, OutboxMessage};
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("outbox"));
    let message = OutboxMessage {
        id: unique("m"),
        kind: MailKind::Reset,
        to: to.clone(),
        subject: "Reset".into(),
        text: "link".into(),
        html: "<a>link</a>".into(),
        link: "https://example.com/reset".into(),
        created_at_ms: now_ms(),
    };
    OutboxMailer::send(&mailer, &message).await.unwrap();
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    assert!(data.contains(&to));
}
