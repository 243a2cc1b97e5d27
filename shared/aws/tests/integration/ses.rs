//! The SES mailer, recorded by the emulator.
//! Against the local AWS emulator (`aws_adapters::testing`).

use aws_adapters::testing::*;
use aws_adapters::{Email, Mailer, SesMailer};

#[tokio::test]
async fn ses_send_is_recorded_by_the_emulator() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("user"));
    let id = mailer
        .send(&Email {
            to: to.clone(),
            subject: "Reset your password".into(),
            text: "Your code is 123456".into(),
            html: Some("<p>Your code is <b>123456</b></p>".into()),
        })
        .await
        .unwrap();
    assert!(!id.is_empty());
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    let body = data.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let sent = json["ses"]["Message"].as_array().unwrap();
    let msg = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("message recorded by moto");
    assert_eq!(msg["source"], cfg.ses_from_address.as_str());
    assert_eq!(msg["destinations"]["ToAddresses"][0], to.as_str());
    assert_eq!(msg["subject"], "Reset your password");
}

#[tokio::test]
async fn ses_unverified_sender_is_an_error() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        "nobody@unverified.test",
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let res = mailer
        .send(&Email {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
        })
        .await;
    assert!(res.is_err());
}

#[tokio::test]
async fn ses_sends_outbox_messages_through_the_accounts_port() {
    use shared::ports::accounts::{MailKind, Mailer as OutboxMailer, OutboxMessage};
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("outbox"));
    let message = OutboxMessage {
        id: unique("m"),
        kind: MailKind::Reset,
        to: to.clone(),
        subject: "Reset".into(),
        text: "link".into(),
        html: "<a>link</a>".into(),
        link: "https://example.com/reset".into(),
        created_at_ms: now_ms(),
    };
    OutboxMailer::send(&mailer, &message).await.unwrap();
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    assert!(data.contains(&to));
}

// ------------------------------------------------ deadlines and metrics of the mail functions

mod mail_deadline {
    use std::sync::{Arc, Mutex, OnceLock};
    use std::thread::ThreadId;
    use std::time::Duration;

    use aws_adapters::deadline::{Budget, MARGIN, OUTBOX_RECORD_CALLS};
    use aws_adapters::sweep::{run_once, DeadLetters, SweepLimits};
    use aws_adapters::testing::*;
    use aws_adapters::{mail_fn, AwsClients, DynamoAccountStore, SesMailer};
    use aws_config::{BehaviorVersion, Region};
    use aws_lambda_events::dynamodb::Event;
    use aws_lambda_events::streams::DynamoDbEventResponse;
    use aws_sdk_dynamodb::config::Credentials;
    use serde_json::{json, Value};
    use shared::config::Config;
    use shared::ports::accounts::{AccountChange, AccountStore, MailKind, OutboxMessage};
    use shared::testing::conformance::accounts::{apply, email, message};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Every metric document of this binary from the moment a test here
    /// first calls this, with the thread that emitted it.
    fn captured() -> Arc<Mutex<Vec<(ThreadId, Value)>>> {
        type Lines = Arc<Mutex<Vec<(ThreadId, Value)>>>;
        static LINES: OnceLock<Lines> = OnceLock::new();
        LINES
            .get_or_init(|| {
                let lines = Arc::new(Mutex::new(Vec::new()));
                let sink = lines.clone();
                assert!(
                    shared::observe::install("PasswordApi", move |line| {
                        if let Ok(v) = serde_json::from_str(line) {
                            sink.lock().unwrap().push((std::thread::current().id(), v));
                        }
                    }),
                    "the only sink of this binary"
                );
                lines
            })
            .clone()
    }

    /// The documents of the calling test. The mail functions and the sweep
    /// emit inline, on the thread of the test that awaits them, so a test
    /// reads its own whatever the other tests of the binary send or sweep
    /// at the same time.
    fn own(captured: &Mutex<Vec<(ThreadId, Value)>>) -> Vec<Value> {
        let me = std::thread::current().id();
        captured
            .lock()
            .unwrap()
            .iter()
            .filter(|(thread, _)| *thread == me)
            .map(|(_, doc)| doc.clone())
            .collect()
    }

    /// What the SES stand-in does with `SendEmail` (every other call goes
    /// straight to the emulator).
    #[derive(Clone, Copy)]
    enum SendEmail {
        /// Forwarded to the emulator after this long.
        After(Duration),
        /// Never forwarded, never answered.
        Held,
    }

    /// One HTTP/1.1 request off `sock`: its head (with `Connection: close`)
    /// and body.
    async fn read_request(sock: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let mut lines: Vec<&str> = head
            .trim_end()
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .collect();
        lines.push("Connection: close");
        Some((format!("{}\r\n\r\n", lines.join("\r\n")), body))
    }

    /// A slow SES: a loopback HTTP server in front of the emulator that
    /// treats `SendEmail` (`POST /v2/email/outbound-emails`) as `mode` says.
    /// The adapter is the real one; only its endpoint is slow.
    async fn slow_ses(upstream: &str, mode: SendEmail) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = upstream.trim_start_matches("http://").to_owned();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Some((head, body)) = read_request(&mut sock).await else {
                        return;
                    };
                    if head.contains("/v2/email/outbound-emails") {
                        match mode {
                            SendEmail::After(delay) => tokio::time::sleep(delay).await,
                            SendEmail::Held => {
                                std::future::pending::<()>().await;
                            }
                        }
                    }
                    let mut up = TcpStream::connect(&upstream).await.unwrap();
                    up.write_all(head.as_bytes()).await.unwrap();
                    up.write_all(&body).await.unwrap();
                    let mut answer = Vec::new();
                    up.read_to_end(&mut answer).await.unwrap();
                    let _ = sock.write_all(&answer).await;
                });
            }
        });
        format!("http://{addr}")
    }

    /// The SES mailer of the emulator's sender behind `endpoint`, its calls
    /// bounded by `op_timeout_ms`.
    async fn mailer_at(endpoint: &str, op_timeout_ms: u64) -> SesMailer {
        let emu = emulator();
        let cfg = config("t", &emu.kms_key_id, &emu.sender, op_timeout_ms);
        let clients = clients_at(&cfg, endpoint).await;
        SesMailer::new(clients.ses.clone(), &cfg.ses_from_address)
    }

    /// A `KEYS_ONLY` stream record of the insertion of outbox message `id`.
    fn outbox_record(seq: usize, id: &str) -> Value {
        json!({
            "eventID": format!("ev-{seq}"),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024",
            "dynamodb": {
                "Keys": { "PK": { "S": format!("OUTBOX#{id}") }, "SK": { "S": "OUTBOX" } },
                "SequenceNumber": seq.to_string(),
                "SizeBytes": 128,
                "StreamViewType": "KEYS_ONLY"
            }
        })
    }

    fn batch(records: &[(usize, &OutboxMessage)]) -> Event {
        let records: Vec<Value> = records
            .iter()
            .map(|(seq, m)| outbox_record(*seq, &m.id))
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    fn failures(resp: &DynamoDbEventResponse) -> Vec<String> {
        resp.batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect()
    }

    /// Emails the emulator's SES recorded for each of `to`, from one read
    /// of its state (a large read on a busy emulator: done once per check).
    async fn sent_to(to: &[&str]) -> Vec<usize> {
        let data = http_get(&emulator().endpoint, "/moto-api/data.json").await;
        let body = data.split_once("\r\n\r\n").unwrap().1;
        let json: Value = serde_json::from_str(body).unwrap();
        let all = json["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        to.iter()
            .map(|to| {
                all.iter()
                    .filter(|m| m["destinations"]["ToAddresses"][0] == *to)
                    .count()
            })
            .collect()
    }

    /// `n` messages queued in a fresh table, oldest first.
    async fn queued(tag: &str, n: usize) -> (DynamoAccountStore, Vec<OutboxMessage>) {
        let (cfg, clients) = fresh(tag).await;
        let store = dynamo_account_store(&cfg, &clients).await;
        let now = now_ms();
        let messages: Vec<OutboxMessage> = (0..n)
            .map(|i| {
                message(
                    MailKind::Changed,
                    &email(),
                    "https://app.example.com/forgot",
                    now + i as u64,
                )
            })
            .collect();
        let change = AccountChange {
            outbox: messages.clone(),
            ..AccountChange::default()
        };
        assert_eq!(apply(&store, change, now).await, Ok(()));
        (store, messages)
    }

    /// Each message is sent exactly when it is marked delivered: no claim
    /// is held by a message that did not go out.
    async fn claimed_iff_sent(store: &DynamoAccountStore, messages: &[OutboxMessage]) -> usize {
        let mut sent = 0;
        let to: Vec<&str> = messages.iter().map(|m| m.to.as_str()).collect();
        let counts = sent_to(&to).await;
        for (m, count) in messages.iter().zip(counts) {
            let delivered = store
                .outbox_message(&m.id)
                .await
                .unwrap()
                .unwrap()
                .delivered_at_ms
                .is_some();
            assert!(count <= 1, "{} sent {count} times", m.id);
            assert_eq!(delivered, count == 1, "{}: claimed but not sent", m.id);
            sent += count;
        }
        sent
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_ses_past_the_deadline_loses_no_message() {
        let captured = captured();
        let emu = emulator();
        let (store, messages) = queued("slowses", 4).await;
        let records: Vec<(usize, &OutboxMessage)> = messages.iter().enumerate().collect();
        // SendEmail takes 1.5 s of its 3 s bound. The invocation has one
        // record's worst case and 1 s more: the first record fits, then the
        // slow send leaves too little for any other.
        let delay = Duration::from_millis(1_500);
        let call = Duration::from_secs(3);
        let slow = mailer_at(
            &slow_ses(&emu.endpoint, SendEmail::After(delay)).await,
            3_000,
        )
        .await;
        let left = call * OUTBOX_RECORD_CALLS + MARGIN + Duration::from_secs(1);
        let budget = Budget::after(left, call);
        // Lambda stops the invocation at its deadline, wherever it is.
        let resp = tokio::time::timeout(
            left,
            mail_fn::handle_within(&store, &slow, &Config::default(), batch(&records), &budget),
        )
        .await
        .expect("the invocation ends before its deadline");
        let failed = failures(&resp);
        assert!(!failed.is_empty(), "the deadline left records unstarted");
        let sent = claimed_iff_sent(&store, &messages).await;
        assert!(sent <= 1, "at most the first record fits: {sent}");
        // The unstarted records are exactly the ones after those sent, in order.
        let expected: Vec<String> = (sent..messages.len()).map(|s| s.to_string()).collect();
        assert_eq!(failed, expected);
        assert_eq!(
            store.pending_outbox().await.unwrap().len(),
            messages.len() - sent
        );
        let doc = own(&captured)
            .into_iter()
            .rev()
            .find(|d| d["Function"] == "send-mail" && d.get("MailSent").is_some())
            .expect("a mail document");
        assert_eq!(doc["MailFailed"], 0, "unstarted is not failed: {doc}");

        // The retry of what was reported (as Lambda retries from the first
        // failed sequence number) sends each of the rest once.
        let rest: Vec<(usize, &OutboxMessage)> = records[sent..].to_vec();
        let mailer = mailer_at(&emu.endpoint, EMULATOR_TIMEOUT_MS).await;
        let retried = mail_fn::handle(&store, &mailer, &Config::default(), batch(&rest)).await;
        assert!(failures(&retried).is_empty());
        assert_eq!(claimed_iff_sent(&store, &messages).await, messages.len());
        assert!(store.pending_outbox().await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_send_cut_off_by_the_deadline_gives_its_claim_back() {
        let _captured = captured();
        let emu = emulator();
        let (store, messages) = queued("heldses", 1).await;
        let records = [(7, &messages[0])];
        // SES never answers and its calls are bounded far past the deadline
        // (an operation timeout set too long): the send is cut off in time
        // to release the claim.
        let held = mailer_at(&slow_ses(&emu.endpoint, SendEmail::Held).await, 60_000).await;
        let call = Duration::from_secs(3);
        let left = call * OUTBOX_RECORD_CALLS + MARGIN + Duration::from_millis(500);
        let budget = Budget::after(left, call);
        // Lambda stops the invocation at its deadline, wherever it is.
        let invocation = tokio::time::timeout(
            left,
            mail_fn::handle_within(&store, &held, &Config::default(), batch(&records), &budget),
        )
        .await;
        // Stopped or not, no claim is left on the unsent message.
        assert_eq!(claimed_iff_sent(&store, &messages).await, 0);
        let resp = invocation.expect("the send is cut off before the deadline");
        assert_eq!(failures(&resp), vec!["7".to_owned()]);
        assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
        // The retry sends it once.
        let mailer = mailer_at(&emu.endpoint, EMULATOR_TIMEOUT_MS).await;
        let retried = mail_fn::handle(&store, &mailer, &Config::default(), batch(&records)).await;
        assert!(failures(&retried).is_empty());
        assert_eq!(claimed_iff_sent(&store, &messages).await, 1);
    }

    async fn dead_letters() -> (aws_sdk_sqs::Client, String, DeadLetters) {
        let emu = emulator();
        let cfg = config("t", &emu.kms_key_id, &emu.sender, EMULATOR_TIMEOUT_MS);
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(&emu.endpoint);
        let sqs = aws_sdk_sqs::Client::new(&AwsClients::sdk_config_with(&cfg, loader).await);
        let url = sqs
            .create_queue()
            .queue_name(unique("mail-dlq"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let dead_letters = DeadLetters::new(sqs.clone(), &url);
        (sqs, url, dead_letters)
    }

    /// The calling test's sweep documents in the capture.
    fn sweep_documents(captured: &Mutex<Vec<(ThreadId, Value)>>) -> Vec<Value> {
        own(captured)
            .into_iter()
            .filter(|d| d["Function"] == "sweep-mail")
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_reports_its_failures_and_keeps_to_the_deadline() {
        let captured = captured();
        let emu = emulator();
        let (store, messages) = queued("sweepemf", 2).await;
        let (sqs, url, dead_letters) = dead_letters().await;
        sqs.send_message()
            .queue_url(&url)
            .message_body("{}")
            .send()
            .await
            .unwrap();
        let config = Config::default();
        let before = sweep_documents(&captured).len();

        // SES refuses: one document, both failures in it, under the
        // dimensions the alarm watches.
        let broken = SesMailer::new(
            clients_at(&config_for_sender("nobody@unverified.test"), &emu.endpoint)
                .await
                .ses
                .clone(),
            "nobody@unverified.test",
        );
        let report = run_once(
            &store,
            &broken,
            &config,
            &dead_letters,
            &Budget::unbounded(),
        )
        .await
        .unwrap();
        assert_eq!((report.sent, report.failed), (0, 2), "{report:?}");
        let docs = sweep_documents(&captured);
        assert_eq!(docs.len(), before + 1, "one document per run");
        let doc = &docs[before];
        assert_eq!(
            (doc["MailSent"].clone(), doc["MailFailed"].clone()),
            (json!(0), json!(2))
        );
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert_eq!(names, ["MailSent", "MailFailed"]);
        assert_eq!(claimed_iff_sent(&store, &messages).await, 0);

        // Too little time left for one delivery: nothing is claimed, the
        // work and the dead letter are left for the next run.
        let mailer = mailer_at(&emu.endpoint, EMULATOR_TIMEOUT_MS).await;
        let late = Budget::after(Duration::ZERO, Duration::from_secs(3));
        let report = aws_adapters::sweep::sweep_until(
            &store,
            &mailer,
            &config,
            &dead_letters,
            SweepLimits::default(),
            &late,
        )
        .await
        .unwrap();
        assert_eq!((report.sent, report.failed), (0, 0), "{report:?}");
        assert!(report.left_for_next_run);
        assert_eq!(claimed_iff_sent(&store, &messages).await, 0);
        assert_eq!(store.pending_outbox().await.unwrap().len(), 2);

        // In time, the next run sends each once.
        let report = run_once(
            &store,
            &mailer,
            &config,
            &dead_letters,
            &Budget::unbounded(),
        )
        .await
        .unwrap();
        assert_eq!((report.sent, report.failed), (2, 0), "{report:?}");
        assert_eq!(claimed_iff_sent(&store, &messages).await, 2);
        let docs = sweep_documents(&captured);
        assert_eq!(docs.last().unwrap()["MailSent"], 2);
    }

    fn config_for_sender(sender: &str) -> aws_adapters::AwsConfig {
        let emu = emulator();
        config("t", &emu.kms_key_id, sender, EMULATOR_TIMEOUT_MS)
    }
}
