//! Wycheproof vectors against the channel's own crypto calls:
//! `SessionKey::{seal_detached, open_detached}` (AES-256-GCM, under every
//! envelope) and `ServerKey::{oaep_decrypt, unwrap_session_key}` (RSA-OAEP
//! SHA-256 / MGF1-SHA-256, empty label, under session creation).
//!
//! Every valid case must be accepted with the right output, every invalid case
//! rejected. Cases outside the channel's parameters are counted as skipped, by
//! reason, and printed (`cargo test -p shared --test integration wycheproof -- --nocapture`).

use std::collections::BTreeMap;

use shared::channel::wire::{NONCE_LEN, TAG_LEN};
use shared::channel::{KeyExchangeError, ServerKey, SessionKey, WireError};
use wycheproof::{aead, rsa_oaep, HashFunction, TestResult};

/// Outcome counts of one suite; `failures` must end empty.
#[derive(Default)]
struct Tally {
    passed: usize,
    skipped: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    fn report(&self, suite: &str) {
        let skipped: usize = self.skipped.values().sum();
        println!("{suite}: {} passed, {skipped} skipped", self.passed);
        for (reason, n) in &self.skipped {
            println!("  skipped {n:>4}: {reason}");
        }
        assert!(
            self.failures.is_empty(),
            "{suite}: {} failing cases:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

#[test]
fn aes_256_gcm_seal_and_open_match_wycheproof() {
    let set = aead::TestSet::load(aead::TestName::AesGcm).expect("AES-GCM vectors load");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for case in &group.tests {
            let id = format!("aes_gcm tc{} ({:?})", case.tc_id, case.comment);
            if group.key_size != 256 {
                tally.skip(format!(
                    "key size {} bits (the session key is 256)",
                    group.key_size
                ));
                continue;
            }
            if group.nonce_size != NONCE_LEN * 8 {
                tally.skip(format!(
                    "nonce size {} bits (the envelope nonce is 96)",
                    group.nonce_size
                ));
                continue;
            }
            if group.tag_size != TAG_LEN * 8 {
                tally.skip(format!(
                    "tag size {} bits (the envelope tag is 128)",
                    group.tag_size
                ));
                continue;
            }
            let key = SessionKey::from_slice(&case.key).expect("32-byte key");
            let nonce: [u8; NONCE_LEN] = case.nonce.as_slice().try_into().expect("12-byte nonce");
            let mut sealed = [case.ct.as_slice(), case.tag.as_slice()].concat();
            let opened = key
                .open_detached(nonce, &case.aad, &mut sealed)
                .map(|p| p.to_vec());
            match case.result {
                TestResult::Valid | TestResult::Acceptable => {
                    if opened.as_deref() != Ok(case.pt.as_slice()) {
                        tally.failures.push(format!("{id}: valid case not opened"));
                        continue;
                    }
                    let mut body = case.pt.to_vec();
                    let tag = key.seal_detached(nonce, &case.aad, &mut body);
                    if body != case.ct.as_slice() || tag.as_slice() != case.tag.as_slice() {
                        tally.failures.push(format!("{id}: seal differs"));
                        continue;
                    }
                }
                TestResult::Invalid => {
                    if opened != Err(WireError::DecryptFailed) {
                        tally.failures.push(format!("{id}: invalid case accepted"));
                        continue;
                    }
                }
            }
            tally.passed += 1;
        }
    }
    tally.report("AES-256-GCM");
    assert!(tally.passed >= 60, "too few AES-256-GCM cases ran");
}

/// The sets with SHA-256 and MGF1-SHA-256 at each key size, and the mixed set.
const OAEP_SETS: [rsa_oaep::TestName; 4] = [
    rsa_oaep::TestName::Rsa2048Sha256Mgf1Sha256,
    rsa_oaep::TestName::Rsa3072Sha256Mgf1Sha256,
    rsa_oaep::TestName::Rsa4096Sha256Mgf1Sha256,
    rsa_oaep::TestName::RsaMisc,
];

#[test]
fn rsa_oaep_sha256_decrypt_matches_wycheproof() {
    let mut tally = Tally::default();
    let mut key_sizes_run = std::collections::BTreeSet::new();
    for name in OAEP_SETS {
        let set = rsa_oaep::TestSet::load(name).expect("RSA-OAEP vectors load");
        for group in &set.test_groups {
            let params = (group.hash, group.mgf_hash);
            if params != (HashFunction::Sha2_256, HashFunction::Sha2_256) {
                let reason = format!(
                    "{}/MGF1-{} (the channel uses SHA-256/MGF1-SHA-256)",
                    hash_name(group.hash),
                    hash_name(group.mgf_hash)
                );
                group.tests.iter().for_each(|_| tally.skip(reason.clone()));
                continue;
            }
            // The wrapper refuses keys below 3072 bits: that refusal is checked,
            // and the group's cases are counted as skipped.
            let key = match ServerKey::from_pkcs8("wycheproof", &group.pkcs8, u64::MAX) {
                Ok(key) => key,
                Err(_) if group.key_size < 3072 => {
                    for _ in &group.tests {
                        tally.skip(format!(
                            "{}-bit key (ServerKey refuses keys below 3072 bits)",
                            group.key_size
                        ));
                    }
                    continue;
                }
                Err(e) => panic!("{}-bit key refused: {e}", group.key_size),
            };
            assert!(
                group.key_size >= 3072,
                "a {}-bit key was accepted",
                group.key_size
            );
            key_sizes_run.insert(group.key_size);
            for case in &group.tests {
                let id = format!("{name:?} tc{} ({:?})", case.tc_id, case.comment);
                if !case.label.is_empty() {
                    tally.skip("non-empty label (the channel's label is empty)");
                    continue;
                }
                let plain = key.oaep_decrypt(&case.ct);
                let unwrapped = key.unwrap_session_key(&case.ct);
                let ok = match case.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        let opened =
                            plain.as_deref().map(|p| p.as_slice()) == Ok(case.pt.as_slice());
                        // The session key path accepts exactly the 32-byte plaintexts.
                        let session = match &unwrapped {
                            Ok(k) => case.pt.len() == 32 && k.expose_bytes() == case.pt.as_slice(),
                            Err(e) => case.pt.len() != 32 && *e == KeyExchangeError::Failed,
                        };
                        opened && session
                    }
                    TestResult::Invalid => {
                        plain.is_err() && unwrapped.err() == Some(KeyExchangeError::Failed)
                    }
                };
                if ok {
                    tally.passed += 1;
                } else {
                    tally
                        .failures
                        .push(format!("{id}: {:?} case got the wrong answer", case.result));
                }
            }
        }
    }
    tally.report("RSA-OAEP-SHA256");
    for size in [3072, 4096] {
        assert!(key_sizes_run.contains(&size), "no {size}-bit key was run");
    }
    assert!(tally.passed >= 60, "too few RSA-OAEP cases ran");
}

fn hash_name(h: HashFunction) -> String {
    format!("{h:?}")
        .replace("Sha2_", "SHA-")
        .replace("Sha1", "SHA-1")
}
