//! The pipeline over the embedded store: writes, skips, conflicts, dry
//! run, checkpoint and resume, invitations.

use std::sync::Arc;

use super::*;
use crate::adapters::memory::accounts::MemoryAccountStore;
use crate::adapters::memory::ManualClock;
use crate::import::{FileFormat, StoreWriter};
use crate::ports::accounts::AccountStore;

const DJANGO: &str =
    "pbkdf2_sha256$1000$saltsalt12345678$xv6Re1W4vljxmU+typ7g7MIdrTFCwUGzCwt4PmVnYd8=";

fn pending(i: usize) -> String {
    format!(
        r#"{{"email":"u{i}@x.org","name":"U {i}","bizId":"id-{i}","status":"PendingPassword"}}"#
    )
}

fn opts(checkpoint: Option<PathBuf>) -> ImportOptions {
    ImportOptions {
        dry_run: false,
        invite: None,
        hashes: ImportHashOptions::default(),
        checkpoint,
        in_flight: 3,
    }
}

#[derive(Default)]
struct Errors(Vec<LineError>);

impl Progress for Errors {
    fn update(&mut self, _: &Summary) {}
    fn failed(&mut self, e: &LineError) {
        self.0.push(e.clone());
    }
}

async fn go(
    store: &Arc<MemoryAccountStore>,
    text: &str,
    opts: &ImportOptions,
) -> (Summary, Vec<LineError>) {
    let records = Records::new(text.as_bytes(), FileFormat::Jsonl).unwrap();
    let mut errors = Errors::default();
    let summary = run(
        records,
        Arc::new(StoreWriter::new(store.clone())),
        opts,
        &ManualClock::new(1_000),
        &mut errors,
    )
    .await
    .unwrap();
    (summary, errors.0)
}

#[tokio::test]
async fn imports_skips_what_is_there_and_reports_conflicts_by_line() {
    let store = Arc::new(MemoryAccountStore::default());
    let mut lines: Vec<String> = (0..30).map(pending).collect();
    lines.push(format!(
        r#"{{"email":"act@x.org","name":"A","status":"Active","passwordHash":"{DJANGO}"}}"#
    ));
    let text = lines.join("\n");
    let (s, errors) = go(&store, &text, &opts(None)).await;
    assert_eq!(
        (s.lines, s.imported, s.skipped, s.failed),
        (31, 31, 0, 0),
        "{errors:?}"
    );
    assert_eq!(s.foreign, 1);
    assert_eq!(store.foreign_hash_users().await.unwrap(), 1);
    let u = store.user("id-7").await.unwrap().unwrap();
    assert_eq!((u.email.as_str(), u.version), ("u7@x.org", 1));
    assert!(store
        .user_by_email("act@x.org")
        .await
        .unwrap()
        .unwrap()
        .password
        .is_some());

    // Again, with a clash on each side and a duplicate inside the file.
    let again = format!(
        "{text}\n{}\n{}\n{}\n{}",
        r#"{"email":"u1@x.org","name":"X","bizId":"other","status":"PendingPassword"}"#,
        r#"{"email":"new@x.org","name":"X","bizId":"id-2","status":"PendingPassword"}"#,
        r#"{"email":"dup@x.org","name":"D","bizId":"dup","status":"PendingPassword"}"#,
        r#"{"email":"dup@x.org","name":"D","bizId":"dup2","status":"PendingPassword"}"#,
    );
    let (s, errors) = go(&store, &again, &opts(None)).await;
    assert_eq!((s.imported, s.skipped, s.failed), (1, 31, 3));
    let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(
        got,
        [
            (32, "email: registered to another user"),
            (33, "bizId: belongs to a user with another email"),
            (35, "email: registered to another user"),
        ]
    );
    assert!(store.user("other").await.unwrap().is_none());
    assert!(store.user_by_email("new@x.org").await.unwrap().is_none());
    assert_eq!(
        store.foreign_hash_users().await.unwrap(),
        1,
        "skipped lines count nothing"
    );
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let store = Arc::new(MemoryAccountStore::default());
    go(&store, &pending(1), &opts(None)).await;
    let text = [pending(1), pending(2), "{}".into()].join("\n");
    let dir = std::env::temp_dir().join(format!("import-dry-{}", std::process::id()));
    let mut o = opts(Some(dir.clone()));
    o.dry_run = true;
    let (s, errors) = go(&store, &text, &o).await;
    assert_eq!((s.imported, s.skipped, s.failed), (1, 1, 1));
    assert_eq!(errors[0].line, 3);
    assert!(store.user("id-2").await.unwrap().is_none());
    assert!(!dir.exists(), "a dry run writes no checkpoint");
}

#[tokio::test]
async fn a_run_resumes_after_its_checkpoint() {
    let store = Arc::new(MemoryAccountStore::default());
    let path = std::env::temp_dir().join(format!("import-cp-{}", std::process::id()));
    // A previous run committed lines 1-20 (user 20 is not in the store:
    // it must not be written again, nor anything before it).
    Checkpoint {
        line: 20,
        foreign_uncounted: 0,
    }
    .save(&path)
    .unwrap();
    let text = (1..=40).map(pending).collect::<Vec<_>>().join("\n");
    let (s, _) = go(&store, &text, &opts(Some(path.clone()))).await;
    assert_eq!(
        (s.resumed_after, s.lines, s.imported, s.checkpoint),
        (20, 20, 20, 40)
    );
    assert!(store.user("id-20").await.unwrap().is_none());
    assert!(store.user("id-21").await.unwrap().is_some());
    assert_eq!(Checkpoint::load(&path).unwrap().line, 40);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn pending_users_are_invited_through_the_invite_use_case() {
    let store = Arc::new(MemoryAccountStore::default());
    let mut o = opts(None);
    o.invite = Some(Config::default());
    let text = [
        pending(1),
        r#"{"email":"d@x.org","name":"D","status":"Disabled"}"#.to_owned(),
    ]
    .join("\n");
    let (s, _) = go(&store, &text, &o).await;
    assert_eq!((s.imported, s.invited), (2, 1));
    let outbox = store.pending_outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, "u1@x.org");
}

#[test]
fn batches_never_split_a_user() {
    let mut change = AccountChange::default();
    assert_eq!(items_of(&change), 2);
    let (invite, _) = crate::handlers::accounts::invitation_change(
        &Config::default(),
        &crate::ports::accounts::User {
            biz_id: "b".into(),
            email: "a@x.org".into(),
            name: "A".into(),
            phone: None,
            locale: None,
            status: UserStatus::PendingPassword,
            password: None,
            history: Vec::new(),
            password_changed_at_ms: None,
            must_change: false,
            breached: false,
            created_at_ms: 0,
            version: 1,
        },
        0,
    );
    change = invite;
    assert_eq!(
        items_of(&change),
        6,
        "the room a batch keeps for an invitation"
    );
}

#[tokio::test]
async fn repeats_anywhere_in_the_file_are_caught_whatever_is_in_flight() {
    // A repeat of line 1 at every distance: inside its batch, in the same
    // lookup, in the next lookups, long after it was committed.
    for distance in [1, 5, 13, 49, 97, 200] {
        let store = Arc::new(MemoryAccountStore::default());
        let mut lines: Vec<String> = (0..250).map(pending).collect();
        lines.insert(
            distance,
            r#"{"email":"u0@x.org","name":"X","bizId":"other","status":"PendingPassword"}"#.into(),
        );
        lines.insert(distance + 1, pending(0));
        let (s, errors) = go(&store, &lines.join("\n"), &opts(None)).await;
        assert_eq!(
            (s.imported, s.skipped, s.failed),
            (250, 1, 1),
            "distance {distance}"
        );
        assert_eq!(errors[0].line, distance as u64 + 1, "distance {distance}");
        assert!(store.user("other").await.unwrap().is_none());
    }
}
