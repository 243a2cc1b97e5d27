//! Accounts: users, init sessions, reset tokens and the outbox, changed
//! together through one atomic [`AccountChange`] (DynamoDB: TransactWriteItems).

use async_trait::async_trait;
use password::PasswordHash;
use serde::{Deserialize, Serialize};

use super::PortResult;

/// Where a user's account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    /// Invited; no password set yet.
    PendingPassword,
    /// Has a password and may use it.
    Active,
    /// Locked: the user's tokens are refused.
    Locked,
    /// Disabled: the user's tokens are refused.
    Disabled,
}

impl UserStatus {
    /// The numeric code clients see.
    pub fn code(self) -> u32 {
        match self {
            UserStatus::PendingPassword => 10_010_201,
            UserStatus::Active => 10_010_202,
            UserStatus::Locked => 10_010_203,
            UserStatus::Disabled => 10_010_204,
        }
    }
}

/// A user account.
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    /// The user's stable business id (the token's `sub`).
    pub biz_id: String,
    /// Normalized (trimmed, lower-cased domain) address; unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Phone number, if known.
    pub phone: Option<String>,
    /// Preferred language tag, if known.
    pub locale: Option<String>,
    /// Account status.
    pub status: UserStatus,
    /// Current password hash; `None` until a password is set.
    pub password: Option<PasswordHash>,
    /// Previous hashes, newest first.
    pub history: Vec<PasswordHash>,
    /// When the password was last set, Unix ms.
    pub password_changed_at_ms: Option<u64>,
    /// The user must choose a new password (set by an operator or by breach
    /// screening, cleared when a password is set).
    pub must_change: bool,
    /// The current password was found in the breached-password screen at
    /// sign-in and its owner was told (so once per password; cleared when a
    /// password is set).
    pub breached: bool,
    /// When the user was created, Unix ms.
    pub created_at_ms: u64,
    /// Optimistic-locking version, bumped by every change.
    pub version: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("biz_id", &self.biz_id)
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The `sid` of an emailed "set your first password" link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitSession {
    /// The secret id carried by the link.
    pub sid: String,
    /// The user it sets a password for.
    pub biz_id: String,
    /// Expiry, Unix ms.
    pub expires_at_ms: u64,
}

/// Live reset tokens one user may hold: issuing one more drops the oldest, so
/// the change that revokes them all stays far below DynamoDB's 100 actions.
pub const MAX_LIVE_RESET_TOKENS: usize = 10;

/// A "forgot password" request as the request path records it: always one
/// item of the same shape, whatever the address. Looking the address up,
/// issuing the token and writing the email happen later, off the request
/// path (the stream consumer; local-api's in-process delivery).
#[derive(Clone, Serialize, Deserialize)]
pub struct ForgotRequest {
    /// 32 random hex digits.
    pub id: String,
    /// Canonical address as typed (it may belong to nobody).
    pub email: String,
    /// Language tag of the request, for a user without a stored locale.
    pub lang: String,
    /// When the request was made, Unix ms.
    pub requested_at_ms: u64,
}

impl std::fmt::Debug for ForgotRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgotRequest")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A reset token, known only by its SHA-256 (hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetToken {
    /// SHA-256 of the token, hex.
    pub token_sha256: String,
    /// The user it resets.
    pub biz_id: String,
    /// Expiry, Unix ms.
    pub expires_at_ms: u64,
}

/// Which email a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    /// Invitation to set a first password.
    Init,
    /// Password reset link.
    Reset,
    /// Notice that the password was changed.
    Changed,
    /// Notice that failed sign-ins locked the account (first lock of an episode).
    Locked,
    /// Notice that the password the owner signed in with is in a breach corpus.
    Breached,
}

/// A rendered email waiting to be delivered by the mail function.
#[derive(Clone, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Unique message id.
    pub id: String,
    /// Which email it is.
    pub kind: MailKind,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The link the email carries.
    pub link: String,
    /// When it was written, Unix ms.
    pub created_at_ms: u64,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Everything one use case changes, applied all or nothing.
#[derive(Debug, Default)]
pub struct AccountChange {
    /// The new state of a user, written only if the stored version is `expected_version`
    /// (`None` for a new user, written only if the email is free). An update
    /// keeps the stored address: one that carries another is refused as
    /// [`ChangeRejected::VersionConflict`] (no flow changes an address).
    pub user: Option<(User, Option<u64>)>,
    /// Consume this init session (it must exist, be unused and unexpired).
    pub consume_init: Option<String>,
    /// Create this init session.
    pub new_init: Option<InitSession>,
    /// Consume this reset token (it must exist, be unused and unexpired).
    pub consume_reset: Option<String>,
    /// Mark this forgot request handled (it must still be pending).
    pub consume_forgot: Option<ForgotRequest>,
    /// A password was set: revoke every other outstanding reset token and
    /// init session of this user.
    pub revoke_links_of: Option<String>,
    /// Issued with the oldest live tokens of the user dropped beyond
    /// [`MAX_LIVE_RESET_TOKENS`].
    pub new_reset: Option<ResetToken>,
    /// Emails to queue for delivery.
    pub outbox: Vec<OutboxMessage>,
    /// Added to the count of users whose current hash is foreign
    /// ([`AccountStore::foreign_hash_users`]): -1 when a write replaces an
    /// imported hash by ours, +1 per user imported with one.
    pub foreign_hash_delta: i64,
}

/// The `foreign_hash_delta` of a write that replaces a user's current hash
/// `old` by `new`: -1 off a foreign hash, +1 onto one, else 0.
pub fn foreign_hash_delta(old: Option<&PasswordHash>, new: Option<&PasswordHash>) -> i64 {
    let foreign = |h: Option<&PasswordHash>| i64::from(h.is_some_and(PasswordHash::is_foreign));
    foreign(new) - foreign(old)
}

/// Why a change was not applied (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRejected {
    /// The user's version changed since it was read.
    #[error("user version changed concurrently")]
    VersionConflict,
    /// Another user has this email.
    #[error("email already registered")]
    EmailTaken,
    /// The init session is used, expired or unknown.
    #[error("init session used, expired or unknown")]
    InitInvalid,
    /// The reset token is used, expired or unknown.
    #[error("reset token used, expired or unknown")]
    ResetInvalid,
    /// The forgot request is already handled or unknown.
    #[error("forgot request already handled or unknown")]
    ForgotHandled,
}

/// What [`AccountStore::erase_user`] removed besides the profile and the
/// email claim. The hashes of the user's links name their rate-limit keys,
/// which the caller forgets too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// SHA-256 (hex) of each init sid the user held.
    pub init_sid_sha256: Vec<String>,
    /// SHA-256 (hex) of each reset token the user held.
    pub reset_sha256: Vec<String>,
    /// Messages to the user's address not yet delivered.
    pub messages: usize,
    /// Forgot requests for the user's address not yet answered.
    pub forgot_requests: usize,
}

/// Storage of accounts and everything changed with them.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The user with this `biz_id`.
    async fn user(&self, biz_id: &str) -> PortResult<Option<User>>;
    /// The user with this normalized email.
    async fn user_by_email(&self, email: &str) -> PortResult<Option<User>>;
    /// An unused, unexpired init session.
    async fn init_session(&self, sid: &str, now_ms: u64) -> PortResult<Option<InitSession>>;
    /// An unused, unexpired reset token.
    async fn reset_token(&self, token_sha256: &str, now_ms: u64) -> PortResult<Option<ResetToken>>;
    /// Applies `change` atomically, or nothing.
    async fn apply(
        &self,
        change: AccountChange,
        now_ms: u64,
    ) -> PortResult<Result<(), ChangeRejected>>;
    /// Records a forgot request: one write, the same for every address.
    async fn record_forgot(&self, request: &ForgotRequest) -> PortResult<()>;
    /// Forgot requests not yet handled, oldest first.
    async fn pending_forgot(&self) -> PortResult<Vec<ForgotRequest>>;
    /// Outbox messages not yet delivered, oldest first.
    async fn pending_outbox(&self) -> PortResult<Vec<OutboxMessage>>;
    /// Marks a message delivered; false if it already was (so a retry never sends twice).
    async fn mark_delivered(&self, id: &str) -> PortResult<bool>;
    /// Erases `user` as read (at its version): the profile with its
    /// history, the email claim, every init session and reset token with
    /// their markers, undelivered mail to its address and unanswered forgot
    /// requests for it. The profile goes last, so a failure leaves the user
    /// to erase again; `VersionConflict` (nothing of the profile removed)
    /// when it changed since it was read.
    async fn erase_user(
        &self,
        user: &User,
        now_ms: u64,
    ) -> PortResult<Result<Erased, ChangeRejected>>;
    /// How many users still have a foreign (imported) current hash: the sum
    /// of every applied `foreign_hash_delta`.
    async fn foreign_hash_users(&self) -> PortResult<i64>;
}

/// Sends one rendered email.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `message`.
    async fn send(&self, message: &OutboxMessage) -> PortResult<()>;
}
