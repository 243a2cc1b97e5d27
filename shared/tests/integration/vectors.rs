//! Reproduces every known-answer vector of `tests/data/vectors.json` (the SCv2 spec data).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use shared::channel::keyring::pkcs8_from_pem;
use shared::channel::wire::{
    confirmation_context, request_context, response_context, EnvelopeType, Header,
};
use shared::channel::{KeyExchangeError, ServerKey, SessionKey, WireError};

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/data/vectors.json")).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key_of(v: &Value) -> SessionKey {
    SessionKey::from_slice(&hex(v["key"].as_str().unwrap())).unwrap()
}

fn kind_of(v: &Value) -> EnvelopeType {
    match v["type"].as_u64().unwrap() {
        1 => EnvelopeType::Request,
        2 => EnvelopeType::Response,
        3 => EnvelopeType::KeyConfirmation,
        t => panic!("type {t}"),
    }
}

fn context_of(v: &Value) -> Vec<u8> {
    let sid = v["sessionId"].as_str().unwrap();
    match kind_of(v) {
        EnvelopeType::Request => request_context(
            sid,
            v["method"].as_str().unwrap(),
            v["route"].as_str().unwrap(),
        ),
        EnvelopeType::Response => {
            let n: [u8; 12] = hex(v["requestNonce"].as_str().unwrap()).try_into().unwrap();
            response_context(sid, &n)
        }
        EnvelopeType::KeyConfirmation => confirmation_context(sid),
    }
}

#[test]
fn every_envelope_vector_seals_byte_for_byte_and_opens() {
    let v = vectors();
    let envelopes = v["envelopes"].as_array().unwrap();
    assert_eq!(envelopes.len(), 4);
    for e in envelopes {
        let name = e["name"].as_str().unwrap();
        let header = Header {
            kind: kind_of(e),
            timestamp_ms: e["timestamp"].as_u64().unwrap(),
            nonce: hex(e["nonce"].as_str().unwrap()).try_into().unwrap(),
        };
        let plaintext = e["plaintext"].as_str().unwrap().as_bytes();
        let expected = STANDARD.decode(e["envelope"].as_str().unwrap()).unwrap();
        let sealed = key_of(e).seal(&header, &context_of(e), plaintext);
        assert_eq!(sealed, expected, "vector {name} differs");
        let (h, opened) = key_of(e)
            .open(&expected, kind_of(e), &context_of(e))
            .unwrap();
        assert_eq!(h, header, "{name}");
        assert_eq!(opened.as_slice(), plaintext, "{name}");
    }
}

#[test]
fn every_rejected_vector_fails_with_its_code() {
    let v = vectors();
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 12);
    for r in rejected {
        let name = r["name"].as_str().unwrap();
        let env = STANDARD.decode(r["envelope"].as_str().unwrap()).unwrap();
        let err = key_of(r)
            .open(&env, EnvelopeType::Request, &context_of(r))
            .unwrap_err();
        let code = match err {
            WireError::Malformed => "SC.MALFORMED",
            WireError::DecryptFailed => "SC.DECRYPT_FAILED",
        };
        assert_eq!(code, r["expect"].as_str().unwrap(), "vector {name}");
    }
}

#[test]
fn every_rsa_oaep_case_unwraps_or_fails_uniformly() {
    let v = vectors();
    let rsa = &v["rsaOaep"];
    let der = pkcs8_from_pem(rsa["privateKeyPkcs8Pem"].as_str().unwrap()).unwrap();
    let key = ServerKey::from_pkcs8("vector", &der, u64::MAX).unwrap();
    assert_eq!(
        STANDARD.encode(key.public_spki_der()),
        rsa["publicKeySpki"].as_str().unwrap()
    );
    let cases = rsa["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let ct = STANDARD
            .decode(c["encryptedKey"].as_str().unwrap())
            .unwrap();
        if c["valid"].as_bool().unwrap() {
            let k = key.unwrap_session_key(&ct).unwrap();
            assert_eq!(k.expose_bytes().to_vec(), hex(c["key"].as_str().unwrap()));
        } else {
            assert_eq!(c["expect"], "SC.KEY_EXCHANGE_FAILED");
            assert_eq!(
                key.unwrap_session_key(&ct).unwrap_err(),
                KeyExchangeError::Failed,
                "{}",
                c["name"]
            );
        }
    }
    // Garbage and truncated ciphertexts fail the same way.
    assert_eq!(
        key.unwrap_session_key(&[0u8; 384]).unwrap_err(),
        KeyExchangeError::Failed
    );
    let valid = STANDARD
        .decode(cases[0]["encryptedKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        key.unwrap_session_key(&valid[..200]).unwrap_err(),
        KeyExchangeError::Failed
    );
    assert_eq!(
        key.unwrap_session_key(&[]).unwrap_err(),
        KeyExchangeError::Failed
    );
}
