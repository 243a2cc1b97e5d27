//! The one normalization every password goes through before any rule or hash.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::config::MAX_INPUT_BYTES;

/// NFKC-normalizes raw input, or `None` when the raw input exceeds
/// [`MAX_INPUT_BYTES`] (in which case nothing is normalized or hashed).
pub(crate) fn normalize(raw: &str) -> Option<Zeroizing<String>> {
    if raw.len() > MAX_INPUT_BYTES {
        return None;
    }
    Some(Zeroizing::new(raw.nfkc().collect()))
}
