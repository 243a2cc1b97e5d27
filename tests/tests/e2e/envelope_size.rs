//! The 64 KiB cap is on the decoded envelope in both transport forms: an
//! envelope of exactly 65,536 bytes is served, one byte more gets 413 before
//! any crypto, whether sent raw or as base64 (whose HTTP body is then up to
//! `ceil(65536 / 3) * 4` bytes).

use client::Client;
use e2e_tests::*;
use serde_json::Value;
use shared::channel::wire::MAX_ENVELOPE_LEN;
use shared::channel::BodyForm;

/// A forgot request sealed into an envelope of exactly `len` bytes (JSON padded with spaces).
async fn send(c: &Client, len: usize, form: BodyForm) -> client::Reply {
    let sess = c.handshake().await.unwrap();
    let json = br#"{"email":"nobody@example.com"}"#;
    let (_, small) = Client::seal_request(&sess, "POST", FORGOT, json);
    let overhead = small.len() - json.len();
    let mut padded = json.to_vec();
    padded.resize(len - overhead, b' ');
    let (header, envelope) = Client::seal_request(&sess, "POST", FORGOT, &padded);
    assert_eq!(envelope.len(), len);
    App::new(c, &sess)
        .send_sealed(FORGOT, header.nonce, &envelope, form)
        .await
}

#[tokio::test]
async fn the_cap_is_on_the_decoded_envelope_in_both_forms() {
    let s = Server::start().await;
    let base64_bound = MAX_ENVELOPE_LEN.div_ceil(3) * 4;
    assert_eq!(base64_bound, 87_384);
    for (i, form) in [BodyForm::Raw, BodyForm::Base64].into_iter().enumerate() {
        let c = s.client(&format!("198.51.100.{}", 120 + i));
        let r = send(&c, MAX_ENVELOPE_LEN, form).await;
        assert_eq!(r.status, 200, "{form:?} at the cap: {}", r.body);
        assert!(
            r.encrypted,
            "{form:?}: opened and answered under the session"
        );

        let r = send(&c, MAX_ENVELOPE_LEN + 1, form).await;
        assert_eq!(r.status, 413, "{form:?} over the cap: {}", r.body);
        assert_eq!(r.body["code"], Value::from("REQUEST.PAYLOAD_TOO_LARGE"));
        assert!(!r.encrypted);
    }
    // The oversized base64 body above is exactly as long as the accepted
    // one: only the decoded length tells them apart.
    assert_eq!((MAX_ENVELOPE_LEN + 1).div_ceil(3) * 4, base64_bound);
}
