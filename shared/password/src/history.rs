//! Password history: the last N hashes, newest first.

use crate::types::PasswordHash;

/// Pushes `old` (the hash being replaced) to the front of `history` and keeps
/// at most `depth` entries. With `depth == 0` the history is emptied.
pub fn push_history(history: &mut Vec<PasswordHash>, old: PasswordHash, depth: usize) {
    history.insert(0, old);
    history.truncate(depth);
}
