//! Outgoing email.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use shared::ports::PortResult;

use crate::error::{corrupt, unavailable};

/// One simple email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Sends email; returns the provider's message id.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> PortResult<String>;
}

/// `Mailer` over SES v2 from the configured (verified) identity.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        SesMailer {
            client,
            from: from.into(),
        }
    }
}

fn content(data: &str) -> PortResult<Content> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| unavailable("ses content", e))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> PortResult<String> {
        let mut body = Body::builder().text(content(&email.text)?);
        if let Some(html) = &email.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(body.build())
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| unavailable("ses SendEmail", e))?;
        out.message_id
            .ok_or_else(|| corrupt("ses SendEmail returned no message id"))
    }
}

/// The account flows' mail port (`shared::ports::accounts::Mailer`): one
/// rendered outbox message, sent as text + HTML.
#[async_trait]
impl shared::ports::accounts::Mailer for SesMailer {
    async fn send(&self, message: &shared::ports::accounts::OutboxMessage) -> PortResult<()> {
        let email = Email {
            to: message.to.clone(),
            subject: message.subject.clone(),
            text: message.text.clone(),
            html: Some(message.html.clone()).filter(|h| !h.is_empty()),
        };
        Mailer::send(self, &email).await.map(|_| ())
    }
}
