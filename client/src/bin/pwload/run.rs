//! The run itself: virtual users as concurrent tasks, each walking a
//! weighted schedule of routes until the request or time budget is spent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use client::Reply;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::BodyForm;

use crate::users::{Dev, VirtualUser};

pub const STATUS: &str = "/web/v1/system/auth/password/status";
pub const CHANGE: &str = "/web/v1/system/auth/password/change";
pub const FORGOT: &str = "/web/v1/system/auth/password/forgot";
pub const RESET: &str = "/web/v1/system/auth/password/reset";
/// The identity provider's sign-in check (plain JSON, local-api's `/_dev`).
pub const VERIFY: &str = "/_dev/verify-password";

/// A route a virtual user can exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Status,
    Change,
    /// Alternates a known and an unknown email, reported apart.
    Forgot,
    /// Asks for a reset link (untimed), then times the reset.
    Reset,
    /// Signs in as the identity provider does (`/_dev/verify-password`),
    /// with the right password or, every `--wrong-every`th time, a wrong one.
    Verify,
}

impl Route {
    fn parse(name: &str) -> Result<Route> {
        Ok(match name {
            "status" => Route::Status,
            "change" => Route::Change,
            "forgot" => Route::Forgot,
            "reset" => Route::Reset,
            "verify" => Route::Verify,
            other => bail!("unknown route {other:?}: status, change, forgot, reset or verify"),
        })
    }
}

/// `route[=weight],...`, e.g. `status=8,change=1`: a schedule in which each
/// route appears `weight` times, spread evenly (smooth weighted round robin),
/// so every user follows the same proportions without randomness.
pub fn schedule(mix: &str) -> Result<Vec<Route>> {
    let mut weighted = Vec::new();
    for part in mix.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => (n, w.parse::<u32>().context("weight")?),
            None => (part, 1),
        };
        if weight > 0 {
            weighted.push((Route::parse(name)?, i64::from(weight)));
        }
    }
    if weighted.is_empty() {
        bail!("the mix names no route");
    }
    let total: i64 = weighted.iter().map(|(_, w)| w).sum();
    let mut current = vec![0i64; weighted.len()];
    let mut out = Vec::new();
    for _ in 0..total {
        for (c, (_, w)) in current.iter_mut().zip(&weighted) {
            *c += w;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .unwrap_or((0, &0));
        current[best] -= total;
        out.push(weighted[best].0);
    }
    Ok(out)
}

/// One timed request: the route as reported, HTTP status and answer code
/// (status 0 for a transport failure), and its latency.
#[derive(Debug, Clone)]
pub struct Sample {
    pub route: &'static str,
    pub status: u16,
    pub code: String,
    pub latency: Duration,
}

/// When the run stops: after `requests` requests, after `duration`, or
/// whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
}

/// Seeds `users` virtual users, then runs them concurrently until the
/// budget is spent; on `verify`, every `wrong_every`th sign-in of each user
/// (0: none) sends a wrong password. Returns every sample and the measured
/// wall time.
pub async fn run(
    dev: &Dev,
    users: usize,
    mix: &[Route],
    budget: Budget,
    wrong_every: u32,
) -> Result<(Vec<Sample>, Duration)> {
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut seeded = Vec::with_capacity(users);
    for i in 0..users {
        seeded.push(VirtualUser::seed(dev, run_id, i, wrong_every).await?);
    }
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = budget.duration.map(|d| start + d);
    let tasks: Vec<_> = seeded
        .into_iter()
        .map(|vu| {
            let mix = mix.to_vec();
            let issued = issued.clone();
            tokio::spawn(user_loop(vu, mix, budget.requests, deadline, issued))
        })
        .collect();
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.context("virtual user")??);
    }
    Ok((samples, start.elapsed()))
}

async fn user_loop(
    mut vu: VirtualUser,
    mix: Vec<Route>,
    max_requests: Option<u64>,
    deadline: Option<Instant>,
    issued: Arc<AtomicU64>,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    // Users start at different points of the schedule, so a mix is mixed
    // at every moment, not only over the whole run.
    for route in mix.iter().cycle().skip(vu.index) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if max_requests.is_some_and(|max| issued.fetch_add(1, Ordering::Relaxed) >= max) {
            break;
        }
        samples.push(one(&mut vu, *route).await?);
    }
    Ok(samples)
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        h.insert(AUTHORIZATION, v);
    }
    h
}

async fn one(vu: &mut VirtualUser, route: Route) -> Result<Sample> {
    match route {
        Route::Status => {
            let headers = bearer(&vu.token);
            Ok(timed(vu, "status", STATUS, json!({}), headers).await.0)
        }
        Route::Change => {
            let new = vu.next_password();
            let body = json!({"currentPassword": vu.password, "newPassword": new});
            let headers = bearer(&vu.token);
            let (sample, ok) = timed(vu, "change", CHANGE, body, headers).await;
            if ok {
                vu.password_changed(new).await?;
            }
            Ok(sample)
        }
        Route::Forgot => {
            let (label, email) = if vu.next_forgot_is_known() {
                ("forgot-known", vu.email.clone())
            } else {
                ("forgot-unknown", format!("nobody-{}@example.com", vu.index))
            };
            let body = json!({"email": email});
            Ok(timed(vu, label, FORGOT, body, HeaderMap::new()).await.0)
        }
        Route::Reset => {
            let asked = json!({"email": vu.email});
            let r = call(vu, FORGOT, &asked, HeaderMap::new()).await;
            if !matches!(r, Ok(ref r) if r.status == 200) {
                bail!("the forgot request before a reset failed");
            }
            let token = vu.dev().reset_token(&vu.email).await?;
            let new = vu.next_password();
            let body = json!({"token": token, "newPassword": new});
            let (sample, ok) = timed(vu, "reset", RESET, body, HeaderMap::new()).await;
            if ok {
                vu.password_changed(new).await?;
            }
            Ok(sample)
        }
        Route::Verify => {
            let password = vu.next_verify_password();
            let body = json!({
                "email": vu.email,
                "password": password,
                "clientIp": vu.ip,
                "userAgent": "pwload",
            });
            let start = Instant::now();
            let reply = vu.dev().verify_password(&body).await;
            let latency = start.elapsed();
            let (status, code) = match reply {
                Ok((status, answer)) => (status, verify_code(&answer)),
                Err(_) => (0, "transport".into()),
            };
            Ok(Sample {
                route: "verify",
                status,
                code,
                latency,
            })
        }
    }
}

/// A verification's `result` (`ok`, `invalid`, `locked`), or the error's code.
fn verify_code(answer: &Value) -> String {
    let result = answer["result"].as_str();
    let error = answer["error"]["code"].as_str();
    result.or(error).unwrap_or("-").to_owned()
}

async fn call(
    vu: &VirtualUser,
    path: &str,
    body: &Value,
    headers: HeaderMap,
) -> Result<Reply, client::ClientError> {
    vu.client
        .call(&vu.session, "POST", path, body, BodyForm::Raw, headers)
        .await
}

/// Sends one sealed request and times it from sealing to the opened answer.
async fn timed(
    vu: &VirtualUser,
    label: &'static str,
    path: &str,
    body: Value,
    headers: HeaderMap,
) -> (Sample, bool) {
    let start = Instant::now();
    let reply = call(vu, path, &body, headers).await;
    let latency = start.elapsed();
    let (status, code) = match &reply {
        Ok(r) => (r.status, answer_code(r)),
        Err(e) => (0, transport_code(e)),
    };
    let ok = (200..300).contains(&status);
    let sample = Sample {
        route: label,
        status,
        code,
        latency,
    };
    (sample, ok)
}

/// The answer's code; for a policy refusal, its first rule.
fn answer_code(r: &Reply) -> String {
    let detail = r.body["details"][0]["code"].as_str();
    let code = r.body["code"].as_str();
    detail.or(code).unwrap_or("-").to_owned()
}

fn transport_code(e: &client::ClientError) -> String {
    match e {
        client::ClientError::Transport(_) => "transport".into(),
        client::ClientError::Api { code, .. } => code.clone(),
        client::ClientError::Protocol(what) => format!("protocol: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{schedule, Route};

    #[test]
    fn schedule_spreads_routes_by_weight() {
        let s = schedule("status=3,change=1").unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s.iter().filter(|r| **r == Route::Change).count(), 1);
        let s = schedule("status=1,change=1,forgot=1,reset=1,verify=1").unwrap();
        assert_eq!(
            s,
            [
                Route::Status,
                Route::Change,
                Route::Forgot,
                Route::Reset,
                Route::Verify
            ]
        );
        let s = schedule("change=2,status=2").unwrap();
        assert_ne!(s[0], s[1], "spread, not in blocks: {s:?}");
        assert!(schedule("").is_err());
        assert!(schedule("status=0").is_err());
        assert!(schedule("login").is_err());
        assert!(schedule("status=x").is_err());
    }
}
