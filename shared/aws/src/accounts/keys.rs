//! Item keys of the account items (see `docs/data-model.md`).

use crate::dynamo::hex;

/// The one partition of pending forgot requests, oldest first.
pub const FORGOT_PENDING_PK: &str = "FORGOT#PENDING";
/// Partition of the pending-delivery markers.
pub const OUTBOX_PENDING_PK: &str = "OUTBOX#PENDING";
pub(super) const PROFILE_SK: &str = "PROFILE";
pub(super) const EMAIL_SK: &str = "EMAIL";
pub(super) const INIT_SK: &str = "INIT";
pub(super) const RESET_SK: &str = "RESET";
pub(super) const OUTBOX_SK: &str = "OUTBOX";
pub(super) const RESET_MARKER: &str = "RESET#";
pub(super) const INIT_MARKER: &str = "INIT#";
/// The counter of users whose current hash is foreign (imported, not yet
/// replaced by Argon2id at sign-in): attribute [`FOREIGN_HASH_USERS_ATTR`]
/// (N), moved by `ADD` only: +n by an import, -1 per upgrade, change or reset
/// off a foreign hash (`AccountChange::foreign_hash_delta`).
pub const FOREIGN_HASH_STATS_PK: &str = "STATS#foreign-hash";
/// See [`FOREIGN_HASH_STATS_PK`].
pub const FOREIGN_HASH_STATS_SK: &str = "COUNT";
/// See [`FOREIGN_HASH_STATS_PK`].
pub const FOREIGN_HASH_USERS_ATTR: &str = "users";
/// The item the no-op condition check names; never written.
pub(super) const NOOP_PK: &str = "ACCOUNTS#NOOP";
pub(super) const NOOP_SK: &str = "NOOP";
/// The business id `user_by_email` reads when no account claims the address,
/// so that a known and an unknown address cost the same two reads. As long
/// as a real id (`ACC_USR_` and 12 upper-case hex digits) and no real id can
/// be it: `USER#ACC_USR_NO_SUCH_USER` is never written.
pub(super) const NO_SUCH_USER: &str = "ACC_USR_NO_SUCH_USER";

pub(super) fn user_pk(biz_id: &str) -> String {
    format!("USER#{biz_id}")
}

pub(super) fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// SHA-256 (hex) of a single-use secret: the table never holds the secret.
pub fn sha256_hex(secret: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

pub(super) fn init_pk(sid: &str) -> String {
    init_pk_of_sha(&sha256_hex(sid))
}

fn init_pk_of_sha(sid_sha256: &str) -> String {
    format!("INIT#{sid_sha256}")
}

pub(super) fn reset_pk(token_sha256: &str) -> String {
    format!("RESET#{token_sha256}")
}

/// Partition of a user's outstanding single-use links (reset tokens, init
/// sessions), kept apart from the profile so that issuing or revoking them
/// never writes a `USER#` item.
pub(super) fn links_pk(biz_id: &str) -> String {
    format!("LINKS#{biz_id}")
}

/// Reset markers sort by expiry, which is issue order: the oldest come first.
pub(super) fn reset_marker_sk(expires_at_ms: u64, token_sha256: &str) -> String {
    format!("{RESET_MARKER}{expires_at_ms:013}#{token_sha256}")
}

pub(super) fn init_marker_sk(sid_sha256: &str) -> String {
    format!("{INIT_MARKER}{sid_sha256}")
}

pub(super) fn outbox_pk(id: &str) -> String {
    format!("OUTBOX#{id}")
}

/// Sort key of a pending item (outbox marker, forgot request): oldest first.
pub(crate) fn pending_sk(created_at_ms: u64, id: &str) -> String {
    format!("{created_at_ms:013}#{id}")
}

/// One entry of a user's links partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LinkMarker {
    pub(super) sk: String,
    /// SHA-256 of the reset token or of the init sid.
    pub(super) sha: String,
}

impl LinkMarker {
    /// The single-use item the marker stands for: its partition and sort key.
    pub(super) fn target(&self) -> (String, &'static str) {
        if self.sk.starts_with(INIT_MARKER) {
            (init_pk_of_sha(&self.sha), INIT_SK)
        } else {
            (reset_pk(&self.sha), RESET_SK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_stored_layout() {
        assert_eq!(user_pk("b1"), "USER#b1");
        assert_eq!(email_pk("a@x.org"), "EMAIL#a@x.org");
        assert_eq!(init_pk("sid"), format!("INIT#{}", sha256_hex("sid")));
        assert_eq!(reset_pk("ab"), "RESET#ab");
        assert_eq!(links_pk("b1"), "LINKS#b1");
        assert_eq!(reset_marker_sk(42, "ab"), "RESET#0000000000042#ab");
        assert_eq!(init_marker_sk("cd"), "INIT#cd");
        assert_eq!(outbox_pk("m1"), "OUTBOX#m1");
        assert_eq!(pending_sk(7, "m1"), "0000000000007#m1");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_marker_names_the_item_it_stands_for() {
        let init = LinkMarker {
            sk: init_marker_sk("cd"),
            sha: "cd".into(),
        };
        assert_eq!(init.target(), ("INIT#cd".to_owned(), "INIT"));
        let reset = LinkMarker {
            sk: reset_marker_sk(5, "ab"),
            sha: "ab".into(),
        };
        assert_eq!(reset.target(), ("RESET#ab".to_owned(), "RESET"));
    }
}
