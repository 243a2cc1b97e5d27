//! What a run measured: per route, throughput, latency percentiles and
//! outcome counts; as a text table or JSON.

// Counts and milliseconds as floats for statistics and axes: no loss
// that matters at these magnitudes.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::run::Sample;

#[derive(Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub users: usize,
    pub mix: String,
    pub elapsed_s: f64,
    pub requests: usize,
    pub throughput_rps: f64,
    /// Per reported route (forgot is split into known and unknown emails).
    pub routes: BTreeMap<&'static str, RouteReport>,
    /// `"<status> <code>"` -> count, over every route.
    pub outcomes: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct RouteReport {
    pub requests: usize,
    pub throughput_rps: f64,
    pub latency_ms: Latency,
    pub outcomes: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(mut ms: Vec<f64>) -> Latency {
        ms.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample with at least q of them at or below it.
        let rank = |q: f64| {
            let n = ms.len() as f64;
            let i = (q * n).ceil().max(1.0) as usize - 1;
            round3(
                ms.get(i.min(ms.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0.0),
            )
        };
        let mean = if ms.is_empty() {
            0.0
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        };
        Latency {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: round3(ms.last().copied().unwrap_or(0.0)),
            mean: round3(mean),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn outcome(s: &Sample) -> String {
    format!("{} {}", s.status, s.code)
}

impl Report {
    pub fn new(
        target: &str,
        users: usize,
        mix: &str,
        samples: &[Sample],
        elapsed: Duration,
    ) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut by_route: BTreeMap<&'static str, Vec<&Sample>> = BTreeMap::new();
        let mut outcomes = BTreeMap::new();
        for s in samples {
            by_route.entry(s.route).or_default().push(s);
            *outcomes.entry(outcome(s)).or_insert(0) += 1;
        }
        let routes = by_route
            .into_iter()
            .map(|(route, ss)| {
                let mut per = BTreeMap::new();
                for s in &ss {
                    *per.entry(outcome(s)).or_insert(0) += 1;
                }
                let ms = ss.iter().map(|s| s.latency.as_secs_f64() * 1e3).collect();
                let r = RouteReport {
                    requests: ss.len(),
                    throughput_rps: round3(ss.len() as f64 / secs),
                    latency_ms: Latency::of(ms),
                    outcomes: per,
                };
                (route, r)
            })
            .collect();
        Report {
            target: target.to_owned(),
            users,
            mix: mix.to_owned(),
            elapsed_s: round3(secs),
            requests: samples.len(),
            throughput_rps: round3(samples.len() as f64 / secs),
            routes,
            outcomes,
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "{} users, mix {}, {} requests in {:.2} s: {:.1} req/s\n",
            self.users, self.mix, self.requests, self.elapsed_s, self.throughput_rps
        );
        out.push_str(&format!(
            "{:<15} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}  outcomes\n",
            "route", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        ));
        for (route, r) in &self.routes {
            let l = &r.latency_ms;
            let outcomes: Vec<String> = r
                .outcomes
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect();
            out.push_str(&format!(
                "{route:<15} {:>6} {:>8.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {}\n",
                r.requests,
                r.throughput_rps,
                l.p50,
                l.p90,
                l.p99,
                l.max,
                outcomes.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Latency;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::of((1..=100).map(f64::from).rev().collect());
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(l.mean, 50.5);
        let one = Latency::of(vec![7.0]);
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
        let none = Latency::of(Vec::new());
        assert_eq!(none.max, 0.0);
    }
}
