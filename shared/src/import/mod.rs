//! Bulk import of users from another system (`pwctl admin import`,
//! `local-api --import`; the file format is in `docs/migration.md`).
//!
//! - [`reader`]: JSON Lines or CSV, streamed one record at a time;
//! - [`record`]: a line's fields and their validation (the invite use
//!   case's rules; foreign hashes through `password::import_hash`);
//! - [`run`]: the pipeline (lookups beside the writes of earlier batches,
//!   checkpoint after each committed batch) and its port [`ImportWriter`];
//! - [`store`]: that port over any account store (the embedded one).

pub mod reader;
pub mod record;
pub mod run;
pub mod store;

pub use reader::{FileFormat, Records};
pub use record::RawRecord;
pub use run::{
    items_of, run, verdict, Checkpoint, ImportOptions, ImportWriter, LineError, Progress, Quiet,
    Stored, Summary, Verdict, DEFAULT_IN_FLIGHT, MAX_BATCH_ITEMS,
};
pub use store::StoreWriter;

/// The foreign-hash settings of a run from its flags: the four Firebase
/// parameters all or none, and whether legacy salted SHA is allowed.
pub fn hash_options(
    signer_key: Option<&str>,
    salt_separator: Option<&str>,
    rounds: Option<u32>,
    mem_cost: Option<u32>,
    allow_legacy: bool,
) -> Result<password::ImportHashOptions, String> {
    let firebase = match (signer_key, salt_separator, rounds, mem_cost) {
        (None, None, None, None) => None,
        (Some(key), Some(sep), Some(rounds), Some(mem)) => Some(
            password::FirebaseScryptParams::new(key, sep, rounds, mem)
                .map_err(|e| format!("Firebase parameters: {e}"))?,
        ),
        _ => {
            return Err("Firebase parameters: give the signer key, salt separator, \
                        rounds and mem cost together"
                .to_owned())
        }
    };
    Ok(password::ImportHashOptions {
        firebase,
        allow_legacy,
    })
}
