//! Embedded account store: one lock over all account state makes every
//! [`AccountChange`] atomic, as a DynamoDB transaction is.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::accounts::{
    foreign_hash_delta, AccountChange, AccountStore, ChangeRejected, Erased, ForgotRequest,
    InitSession, Mailer, OutboxMessage, ResetToken, User, MAX_LIVE_RESET_TOKENS,
};
use crate::ports::{PortResult, Unavailable};

#[derive(Default)]
struct State {
    users: HashMap<String, User>,
    emails: HashMap<String, String>,
    inits: HashMap<String, InitSession>,
    resets: HashMap<String, ResetToken>,
    outbox: Vec<OutboxMessage>,
    delivered: HashSet<String>,
    forgot: Vec<ForgotRequest>,
    /// Issue order of the reset tokens (expiries may tie within a millisecond).
    issued: HashMap<String, u64>,
    next_issue: u64,
    /// The count of users on a foreign hash (DynamoDB: its counter item).
    foreign_hash_users: i64,
}

/// Users, links, forgot requests and the outbox in process memory.
#[derive(Default)]
pub struct MemoryAccountStore {
    state: Mutex<State>,
}

fn poisoned() -> Unavailable {
    Unavailable(anyhow::anyhow!("in-memory account store lock poisoned"))
}

impl State {
    fn check(&self, change: &AccountChange, now_ms: u64) -> Result<(), ChangeRejected> {
        // Single-use items first: the loser of a race learns the token is spent.
        if let Some(sid) = &change.consume_init {
            if self
                .inits
                .get(sid)
                .is_none_or(|i| now_ms >= i.expires_at_ms)
            {
                return Err(ChangeRejected::InitInvalid);
            }
        }
        if let Some(hash) = &change.consume_reset {
            if self
                .resets
                .get(hash)
                .is_none_or(|r| now_ms >= r.expires_at_ms)
            {
                return Err(ChangeRejected::ResetInvalid);
            }
        }
        if let Some(request) = &change.consume_forgot {
            if !self.forgot.iter().any(|f| f.id == request.id) {
                return Err(ChangeRejected::ForgotHandled);
            }
        }
        if let Some((user, expected)) = &change.user {
            match expected {
                None => {
                    if self.emails.contains_key(&user.email)
                        || self.users.contains_key(&user.biz_id)
                    {
                        return Err(ChangeRejected::EmailTaken);
                    }
                }
                // An update keeps the stored address (the port's contract).
                Some(v) => match self.users.get(&user.biz_id) {
                    Some(stored) if stored.version == *v && stored.email == user.email => {}
                    _ => return Err(ChangeRejected::VersionConflict),
                },
            }
        }
        Ok(())
    }
}

#[async_trait]
impl AccountStore for MemoryAccountStore {
    async fn user(&self, biz_id: &str) -> PortResult<Option<User>> {
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .users
            .get(biz_id)
            .cloned())
    }

    async fn user_by_email(&self, email: &str) -> PortResult<Option<User>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        Ok(s.emails.get(email).and_then(|id| s.users.get(id)).cloned())
    }

    async fn init_session(&self, sid: &str, now_ms: u64) -> PortResult<Option<InitSession>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        Ok(s.inits
            .get(sid)
            .filter(|i| now_ms < i.expires_at_ms)
            .cloned())
    }

    async fn reset_token(&self, token_sha256: &str, now_ms: u64) -> PortResult<Option<ResetToken>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        Ok(s.resets
            .get(token_sha256)
            .filter(|r| now_ms < r.expires_at_ms)
            .cloned())
    }

    async fn apply(
        &self,
        change: AccountChange,
        now_ms: u64,
    ) -> PortResult<Result<(), ChangeRejected>> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        if let Err(rejected) = s.check(&change, now_ms) {
            return Ok(Err(rejected));
        }
        if let Some(sid) = &change.consume_init {
            s.inits.remove(sid);
        }
        if let Some(hash) = &change.consume_reset {
            s.resets.remove(hash);
        }
        if let Some(request) = &change.consume_forgot {
            s.forgot.retain(|f| f.id != request.id);
        }
        if let Some(biz_id) = &change.revoke_links_of {
            s.resets.retain(|_, r| &r.biz_id != biz_id);
            s.inits.retain(|_, i| &i.biz_id != biz_id);
        }
        if let Some(init) = change.new_init {
            s.inits.insert(init.sid.clone(), init);
        }
        if let Some(reset) = change.new_reset {
            // The oldest live tokens of the user go first.
            let mut live: Vec<(u64, String)> = s
                .resets
                .values()
                .filter(|r| r.biz_id == reset.biz_id && now_ms < r.expires_at_ms)
                .map(|r| {
                    (
                        s.issued.get(&r.token_sha256).copied().unwrap_or(0),
                        r.token_sha256.clone(),
                    )
                })
                .collect();
            live.sort();
            let excess = (live.len() + 1).saturating_sub(MAX_LIVE_RESET_TOKENS);
            for (_, sha) in live.into_iter().take(excess) {
                s.resets.remove(&sha);
            }
            s.next_issue += 1;
            let issue = s.next_issue;
            s.issued.insert(reset.token_sha256.clone(), issue);
            s.resets.insert(reset.token_sha256.clone(), reset);
        }
        if let Some((user, _)) = change.user {
            s.emails.insert(user.email.clone(), user.biz_id.clone());
            s.users.insert(user.biz_id.clone(), user);
        }
        s.outbox.extend(change.outbox);
        s.foreign_hash_users += change.foreign_hash_delta;
        Ok(Ok(()))
    }

    async fn foreign_hash_users(&self) -> PortResult<i64> {
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .foreign_hash_users)
    }

    async fn record_forgot(&self, request: &ForgotRequest) -> PortResult<()> {
        self.state
            .lock()
            .map_err(|_| poisoned())?
            .forgot
            .push(request.clone());
        Ok(())
    }

    async fn pending_forgot(&self) -> PortResult<Vec<ForgotRequest>> {
        let mut pending = self.state.lock().map_err(|_| poisoned())?.forgot.clone();
        pending.sort_by(|a, b| (a.requested_at_ms, &a.id).cmp(&(b.requested_at_ms, &b.id)));
        Ok(pending)
    }

    async fn pending_outbox(&self) -> PortResult<Vec<OutboxMessage>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        Ok(s.outbox
            .iter()
            .filter(|m| !s.delivered.contains(&m.id))
            .cloned()
            .collect())
    }

    async fn mark_delivered(&self, id: &str) -> PortResult<bool> {
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .delivered
            .insert(id.to_owned()))
    }

    async fn erase_user(
        &self,
        user: &User,
        _now_ms: u64,
    ) -> PortResult<Result<Erased, ChangeRejected>> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        if s.users.get(&user.biz_id).map(|u| u.version) != Some(user.version) {
            return Ok(Err(ChangeRejected::VersionConflict));
        }
        let sha = crate::token::token_sha256;
        let mut erased = Erased::default();
        let biz = &user.biz_id;
        s.inits.retain(|sid, i| {
            let keep = &i.biz_id != biz;
            if !keep {
                erased.init_sid_sha256.push(sha(sid));
            }
            keep
        });
        let State { resets, issued, .. } = &mut *s;
        resets.retain(|hash, r| {
            let keep = &r.biz_id != biz;
            if !keep {
                erased.reset_sha256.push(hash.clone());
                issued.remove(hash);
            }
            keep
        });
        let State {
            outbox, delivered, ..
        } = &mut *s;
        outbox.retain(|m| {
            let keep = m.to != user.email || delivered.contains(&m.id);
            erased.messages += usize::from(!keep);
            keep
        });
        let before = s.forgot.len();
        s.forgot.retain(|f| f.email != user.email);
        erased.forgot_requests = before - s.forgot.len();
        if s.emails.get(&user.email) == Some(biz) {
            s.emails.remove(&user.email);
        }
        s.users.remove(biz);
        s.foreign_hash_users += foreign_hash_delta(user.password.as_ref(), None);
        Ok(Ok(erased))
    }
}

/// Keeps every delivered email in memory (local-api's `GET /_dev/outbox`).
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutboxMessage>>,
}

impl MemoryMailer {
    /// Every email delivered so far, oldest first.
    pub fn sent(&self) -> Vec<OutboxMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, message: &OutboxMessage) -> PortResult<()> {
        self.sent
            .lock()
            .map_err(|_| poisoned())?
            .push(message.clone());
        Ok(())
    }
}
