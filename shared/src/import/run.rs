//! The import pipeline: read, validate, look the users up, write them in
//! batches, record a checkpoint after each committed batch. The store is
//! behind [`ImportWriter`] (DynamoDB in `aws_adapters::import`, any
//! [`AccountStore`](crate::ports::accounts::AccountStore) in [`super::StoreWriter`]).

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use password::ImportHashOptions;
use serde::{Deserialize, Serialize};

use super::reader::Records;
use super::record::Candidate;
use crate::config::Config;
use crate::ports::accounts::{AccountChange, User, UserStatus};
use crate::ports::PortResult;

/// DynamoDB's limit of items in one `BatchWriteItem`.
pub const MAX_BATCH_ITEMS: usize = 25;

/// Items of a user: profile and email claim.
const USER_ITEMS: usize = 2;
/// Items of an invited user: also its init session, marker, message and marker.
const INVITED_USER_ITEMS: usize = 6;

/// Batches written at the same time (their lookups overlap the writes).
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// Batches looked up in one `BatchGetItem` (at most 100 keys: 4 batches of
/// 12 users, 2 keys each): one read request for four writes.
const BATCHES_PER_LOOKUP: usize = 4;

/// Lookups sent ahead of the batches being written.
const LOOKUPS_IN_FLIGHT: usize = 2;

/// What the store holds under a line's bizId and address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// The `email` of the profile `USER#<bizId>`, if it exists.
    pub profile_email: Option<String>,
    /// The `bizId` the address's claim names, if it exists.
    pub claim_biz_id: Option<String>,
}

/// The store an import writes to (a narrow port: two reads and a write).
#[async_trait]
pub trait ImportWriter: Send + Sync {
    /// For each `(bizId, email)`, what the store holds (strongly consistent).
    async fn lookup(&self, keys: &[(String, String)]) -> PortResult<Vec<Stored>>;
    /// Writes each change (a new user, with its invitation if any) in one
    /// batch of at most [`MAX_BATCH_ITEMS`] items, all of it or an error.
    async fn write(&self, changes: Vec<AccountChange>, now_ms: u64) -> PortResult<()>;
    /// Adds `n` to the count of users still on a foreign hash.
    async fn add_foreign(&self, n: u64) -> PortResult<()>;
}

/// Items a change writes: profile and email claim, and for an invitation
/// the init session, its marker, and each message with its marker.
pub fn items_of(change: &AccountChange) -> usize {
    2 + 2 * usize::from(change.new_init.is_some()) + 2 * change.outbox.len()
}

/// How to run an import.
pub struct ImportOptions {
    /// Check everything (lookups included) and write nothing.
    pub dry_run: bool,
    /// Invite the users imported without a password (init link by email),
    /// with these settings (links, init session lifetime).
    pub invite: Option<Config>,
    /// Foreign-hash settings (Firebase parameters, legacy SHA).
    pub hashes: ImportHashOptions,
    /// Where the checkpoint is kept (`None`: no checkpoint).
    pub checkpoint: Option<PathBuf>,
    /// Batches in flight at once (at least 1).
    pub in_flight: usize,
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// Its line number in the file.
    pub line: u64,
    /// Why (never a hash or password).
    pub reason: String,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Records read in this run (after the checkpoint).
    pub lines: u64,
    /// Users written (or, dry run, that would be).
    pub imported: u64,
    /// Lines whose user already exists (same bizId and email).
    pub skipped: u64,
    /// Lines reported as errors.
    pub failed: u64,
    /// Imported users on a foreign hash.
    pub foreign: u64,
    /// Imported users sent an invitation.
    pub invited: u64,
    /// The checkpoint this run started after (last line of a previous run).
    pub resumed_after: u64,
    /// The last line written and recorded.
    pub checkpoint: u64,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Told about each step, for a progress bar and the error list.
pub trait Progress: Send {
    /// The counts changed.
    fn update(&mut self, summary: &Summary);
    /// A line was not imported.
    fn failed(&mut self, error: &LineError);
}

/// A progress that ignores everything.
pub struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &Summary) {}
    fn failed(&mut self, _: &LineError) {}
}

/// The checkpoint file: the last line whose batch is committed, and the
/// foreign-hash users written but not yet added to the counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Every line up to this one is done (written, skipped or reported).
    pub line: u64,
    /// Foreign-hash users written since the counter was last updated.
    pub foreign_uncounted: u64,
}

impl Checkpoint {
    /// The checkpoint at `path`, or none yet.
    pub fn load(path: &std::path::Path) -> std::io::Result<Checkpoint> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the file at once (written beside it, then renamed), so a
    /// kill leaves the old checkpoint or the new one, never half of one.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path)
    }
}

/// A user ready to write, with what the lookup must confirm.
struct Pending {
    line: u64,
    candidate: Candidate,
}

/// One batch: its users, and the last line it covers.
struct Batch {
    pending: Vec<Pending>,
    last_line: u64,
}

/// What a lookup decided for a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it (under this bizId).
    Write(String),
    /// Already there.
    Skip,
    /// Conflicts with what is stored.
    Conflict(&'static str),
}

/// The verdict for a user (`biz_id`, `email`) given what is stored; `explicit`
/// when the bizId came from the file (else the line is matched by address).
/// A half-written user (profile without claim or the reverse, left by an
/// interrupted batch) is written again.
pub fn verdict(biz_id: &str, email: &str, explicit: bool, stored: &Stored) -> Verdict {
    match (&stored.claim_biz_id, &stored.profile_email) {
        (Some(owner), _) if explicit && owner != biz_id => {
            Verdict::Conflict("email: registered to another user")
        }
        (_, Some(other)) if other != email => {
            Verdict::Conflict("bizId: belongs to a user with another email")
        }
        (Some(_), Some(_)) => Verdict::Skip,
        // Matched by address: the claim names the user (its profile is
        // checked by a second lookup under that id).
        (Some(owner), None) if !explicit => Verdict::Write(owner.clone()),
        _ => Verdict::Write(biz_id.to_owned()),
    }
}

/// A batch whose lookup is in flight.
struct Looking {
    /// Consecutive batches looked up together (one request for all).
    batches: Vec<Batch>,
    lookup: tokio::task::JoinHandle<PortResult<Vec<Stored>>>,
    /// Batches committed when the lookup was sent: the store it reads holds
    /// them; later ones are compared with the batch in memory.
    visible: u64,
}

/// A batch in flight: its write, and what its completion adds.
struct InFlight {
    write: tokio::task::JoinHandle<PortResult<()>>,
    last_line: u64,
    imported: u64,
    foreign: u64,
    invited: u64,
}

/// Reads the next batch: as many lines as fit in one write (a user's
/// items never split), the bad ones reported at once.
fn read_batch(
    records: &mut impl Iterator<Item = std::io::Result<super::reader::ReadRecord>>,
    opts: &ImportOptions,
    clock: &dyn crate::ports::Clock,
    summary: &mut Summary,
    progress: &mut dyn Progress,
    last_line: u64,
    done: &mut bool,
) -> std::io::Result<Batch> {
    let mut batch = Batch {
        pending: Vec::new(),
        last_line,
    };
    let per_user = |c: &Candidate| {
        if c.user.status == UserStatus::PendingPassword && opts.invite.is_some() {
            INVITED_USER_ITEMS
        } else {
            USER_ITEMS
        }
    };
    // Room for the largest user of the run.
    let largest = if opts.invite.is_some() {
        INVITED_USER_ITEMS
    } else {
        USER_ITEMS
    };
    let mut items = 0;
    while items + largest <= MAX_BATCH_ITEMS {
        let Some(next) = records.next() else {
            *done = true;
            break;
        };
        let (line, raw) = next?;
        summary.lines += 1;
        batch.last_line = line;
        match raw.and_then(|r| r.validate(&opts.hashes, clock.now_ms())) {
            Ok(candidate) => {
                items += per_user(&candidate);
                batch.pending.push(Pending { line, candidate });
            }
            Err(reason) => fail(summary, progress, line, reason),
        }
    }
    Ok(batch)
}

/// Imports `records` through `writer`. Lines are read in batches (as many
/// users as one write takes); each batch is looked up, checked against
/// the store and the batches not yet visible in it, and written. Up to
/// `in_flight` lookups and as many writes run at once; after each
/// committed batch (in file order) the checkpoint moves to its last line.
/// A store failure stops the run: the batches not committed are retried on
/// the next run, which starts after the checkpoint.
pub async fn run<R: Read>(
    records: Records<R>,
    writer: Arc<dyn ImportWriter>,
    opts: &ImportOptions,
    clock: &dyn crate::ports::Clock,
    progress: &mut dyn Progress,
) -> anyhow::Result<Summary> {
    let start = match &opts.checkpoint {
        Some(path) => Checkpoint::load(path)?,
        None => Checkpoint::default(),
    };
    let mut summary = Summary {
        resumed_after: start.line,
        checkpoint: start.line,
        dry_run: opts.dry_run,
        ..Summary::default()
    };
    let mut uncounted = start.foreign_uncounted;
    let mut records = records.skip_while(|r| matches!(r, Ok((line, _)) if *line <= start.line));
    let depth = opts.in_flight.max(1);
    let mut looking: VecDeque<Looking> = VecDeque::new();
    let mut writes: VecDeque<InFlight> = VecDeque::new();
    // The keys each dispatched batch claims, by batch number, while a
    // lookup sent before its commit may still be checked against it.
    let mut recent: VecDeque<(u64, Vec<(String, String)>)> = VecDeque::new();
    let (mut dispatched, mut committed) = (0u64, 0u64);
    let mut read_upto = start.line;
    let mut failure: Option<anyhow::Error> = None;
    let mut done = false;
    'run: loop {
        while !done && looking.len() < LOOKUPS_IN_FLIGHT {
            let mut batches = Vec::new();
            while !done && batches.len() < BATCHES_PER_LOOKUP {
                let batch = read_batch(
                    &mut records,
                    opts,
                    clock,
                    &mut summary,
                    progress,
                    read_upto,
                    &mut done,
                )?;
                read_upto = batch.last_line;
                batches.push(batch);
            }
            let keys: Vec<(String, String)> = batches
                .iter()
                .flat_map(|b| b.pending.iter())
                .map(|p| {
                    (
                        p.candidate.user.biz_id.clone(),
                        p.candidate.user.email.clone(),
                    )
                })
                .collect();
            let lookup = if keys.is_empty() {
                tokio::spawn(async { Ok(Vec::new()) })
            } else {
                let writer = writer.clone();
                tokio::spawn(async move { writer.lookup(&keys).await })
            };
            looking.push_back(Looking {
                batches,
                lookup,
                visible: committed,
            });
        }
        let Some(next) = looking.pop_front() else {
            break;
        };
        let mut stored = match next.lookup.await {
            Ok(Ok(stored)) => stored.into_iter(),
            Ok(Err(e)) => {
                failure = Some(e.into());
                break;
            }
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        };
        for batch in next.batches {
            let found: Vec<Stored> = stored.by_ref().take(batch.pending.len()).collect();
            let earlier: Vec<&(String, String)> = recent
                .iter()
                .filter(|(n, _)| *n >= next.visible)
                .flat_map(|(_, keys)| keys.iter())
                .collect();
            let checked = check(
                &batch,
                found,
                &earlier,
                writer.as_ref(),
                opts,
                clock,
                &mut summary,
                progress,
            )
            .await;
            let (changes, keys, counts) = match checked {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(e.into());
                    break 'run;
                }
            };
            let now = clock.now_ms();
            let write = if opts.dry_run || changes.is_empty() {
                tokio::spawn(async { Ok(()) })
            } else {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(changes, now).await })
            };
            writes.push_back(InFlight {
                write,
                last_line: batch.last_line,
                imported: counts.0,
                foreign: counts.1,
                invited: counts.2,
            });
            recent.push_back((dispatched, keys));
            dispatched += 1;
            while writes.len() >= depth {
                let Some(front) = writes.pop_front() else {
                    break;
                };
                if let Err(e) = commit(front, &mut summary, &mut uncounted, opts).await {
                    failure = Some(e);
                    break 'run;
                }
                committed += 1;
            }
            progress.update(&summary);
        }
        // Batches every pending lookup already sees in the store are dropped.
        let oldest = looking.iter().map(|l| l.visible).min().unwrap_or(committed);
        while recent.front().is_some_and(|(n, _)| *n < oldest) {
            recent.pop_front();
        }
    }
    // After a failure, the writes already sent still finish; the checkpoint
    // stops before the first one that failed.
    for l in looking {
        l.lookup.abort();
    }
    while let Some(front) = writes.pop_front() {
        if failure.is_some() {
            let _ = front.write.await;
        } else if let Err(e) = commit(front, &mut summary, &mut uncounted, opts).await {
            failure = Some(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !opts.dry_run && uncounted > 0 {
        writer.add_foreign(uncounted).await?;
        if let Some(path) = &opts.checkpoint {
            Checkpoint {
                line: summary.checkpoint,
                foreign_uncounted: 0,
            }
            .save(path)?;
        }
    }
    progress.update(&summary);
    Ok(summary)
}

fn fail(summary: &mut Summary, progress: &mut dyn Progress, line: u64, reason: String) {
    summary.failed += 1;
    progress.failed(&LineError { line, reason });
}

/// Waits for a batch's write; on success counts it and moves the checkpoint.
async fn commit(
    batch: InFlight,
    summary: &mut Summary,
    uncounted: &mut u64,
    opts: &ImportOptions,
) -> anyhow::Result<()> {
    batch.write.await??;
    summary.imported += batch.imported;
    summary.foreign += batch.foreign;
    summary.invited += batch.invited;
    summary.checkpoint = batch.last_line;
    if !opts.dry_run {
        *uncounted += batch.foreign;
        if let Some(path) = &opts.checkpoint {
            Checkpoint {
                line: batch.last_line,
                foreign_uncounted: *uncounted,
            }
            .save(path)?;
        }
    }
    Ok(())
}

/// The changes to write for `batch` given what its lookup found, the keys
/// they claim, and the counts (imported, foreign, invited) they add once
/// committed. Lines already there are counted as skipped; lines that
/// conflict with the store, with an earlier line of the batch or with a
/// batch not yet visible to the lookup (`earlier`) are failed.
#[allow(clippy::too_many_arguments)]
async fn check(
    batch: &Batch,
    mut stored: Vec<Stored>,
    earlier: &[&(String, String)],
    writer: &dyn ImportWriter,
    opts: &ImportOptions,
    clock: &dyn crate::ports::Clock,
    summary: &mut Summary,
    progress: &mut dyn Progress,
) -> PortResult<(Vec<AccountChange>, Vec<(String, String)>, (u64, u64, u64))> {
    let mut changes = Vec::new();
    let mut claimed: Vec<(String, String)> = Vec::new();
    let mut counts = (0, 0, 0);
    // Lines matched by address whose claim names a user: read that profile.
    let again: Vec<usize> = (0..stored.len())
        .filter(|&i| !batch.pending[i].candidate.explicit_id && stored[i].claim_biz_id.is_some())
        .collect();
    if !again.is_empty() {
        let owners: Vec<(String, String)> = again
            .iter()
            .map(|&i| {
                (
                    stored[i].claim_biz_id.clone().unwrap_or_default(),
                    batch.pending[i].candidate.user.email.clone(),
                )
            })
            .collect();
        for (&i, found) in again.iter().zip(writer.lookup(&owners).await?) {
            stored[i].profile_email = found.profile_email;
        }
    }
    for (p, stored) in batch.pending.iter().zip(stored) {
        let c = &p.candidate;
        let mut user = c.user.clone();
        let biz_id = match verdict(&user.biz_id, &user.email, c.explicit_id, &stored) {
            Verdict::Skip => {
                summary.skipped += 1;
                continue;
            }
            Verdict::Conflict(reason) => {
                fail(summary, progress, p.line, reason.to_owned());
                continue;
            }
            Verdict::Write(biz_id) => biz_id,
        };
        user.biz_id = biz_id;
        // Against the lines not yet visible in the store: the same user
        // twice is skipped, a clash is an error.
        let seen = earlier
            .iter()
            .copied()
            .chain(claimed.iter())
            .find(|(b, e)| *e == user.email || (*b == user.biz_id && c.explicit_id));
        match seen {
            Some((b, e)) if *e == user.email && (*b == user.biz_id || !c.explicit_id) => {
                summary.skipped += 1;
                continue;
            }
            Some((_, e)) if *e == user.email => {
                fail(
                    summary,
                    progress,
                    p.line,
                    "email: registered to another user".into(),
                );
                continue;
            }
            Some(_) => {
                fail(
                    summary,
                    progress,
                    p.line,
                    "bizId: belongs to a user with another email".into(),
                );
                continue;
            }
            None => {}
        }
        claimed.push((user.biz_id.clone(), user.email.clone()));
        counts.0 += 1;
        counts.1 += u64::from(c.foreign);
        changes.push(new_account(user, c.foreign, opts, clock, &mut counts.2));
    }
    Ok((changes, claimed, counts))
}

/// The change that creates `user`: the invite use case's, with its
/// invitation when it is pending and invitations were asked for.
fn new_account(
    user: User,
    foreign: bool,
    opts: &ImportOptions,
    clock: &dyn crate::ports::Clock,
    invited: &mut u64,
) -> AccountChange {
    let mut change = match &opts.invite {
        Some(config) if user.status == UserStatus::PendingPassword => {
            *invited += 1;
            crate::handlers::accounts::invitation_change(config, &user, clock.now_ms()).0
        }
        _ => AccountChange::default(),
    };
    change.user = Some((user, None));
    // A store that keeps the count in its transactions (the embedded one);
    // the DynamoDB writer adds it in bulk instead (`ImportWriter::add_foreign`).
    change.foreign_hash_delta = i64::from(foreign);
    change
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
