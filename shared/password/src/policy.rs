//! The pure (hash-free) password rules.

use serde_json::Value;
use zeroize::Zeroizing;

use crate::codes;
use crate::config::{ConfigError, PolicyConfig, ZXCVBN_SAFE_CHARS};
use crate::normalize::normalize;
use crate::types::PersonalInfo;
use crate::violation::Violation;

/// Result of the pure rules on one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Every failed rule, in rule order; empty when the candidate passes.
    pub violations: Vec<Violation>,
    /// zxcvbn score (0-4) when the strength rule ran; `None` also when the
    /// estimator failed (the candidate is then refused as `WEAK`).
    pub score: Option<u8>,
}

/// The validated rules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Policy {
    config: PolicyConfig,
}

impl Policy {
    /// Validates `config` and builds the policy.
    pub fn new(config: PolicyConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The rules in force.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Evaluates every hash-free rule on raw input (normalizing it first)
    /// and reports all failures. Raw input over 1 KiB yields only `TOO_LONG`.
    pub fn evaluate(&self, raw: &str, personal: &PersonalInfo) -> Evaluation {
        match normalize(raw) {
            Some(n) => self.evaluate_normalized(&n, personal),
            None => Evaluation {
                violations: vec![self.too_long()],
                score: None,
            },
        }
    }

    pub(crate) fn too_long(&self) -> Violation {
        Violation::new(codes::TOO_LONG).with("max", self.config.max_length)
    }

    pub(crate) fn evaluate_normalized(&self, pw: &str, personal: &PersonalInfo) -> Evaluation {
        let c = &self.config;
        let mut v = Vec::new();

        let len = pw.chars().count();
        if len < c.min_length {
            v.push(Violation::new(codes::TOO_SHORT).with("min", c.min_length));
        }
        if len > c.max_length {
            v.push(self.too_long());
        }

        if c.forbid_personal_info {
            personal_info(pw, personal, &mut v);
        }

        if c.max_repeats > 0 && longest_run(pw) > c.max_repeats {
            v.push(Violation::new(codes::TOO_MANY_REPEATS).with("max", c.max_repeats));
        }

        if c.required_classes > 0 && classes(pw) < c.required_classes {
            v.push(Violation::new(codes::LOW_COMPLEXITY).with("required", c.required_classes));
        }

        let mut score = None;
        if c.min_score > 0 {
            let (s, weak) = strength(pw, personal, c);
            score = s;
            if let Some(w) = weak {
                v.push(w);
            }
        }

        Evaluation {
            violations: v,
            score,
        }
    }
}

fn personal_info(pw: &str, personal: &PersonalInfo, out: &mut Vec<Violation>) {
    if personal.fragments().is_empty() {
        return;
    }
    let lower = Zeroizing::new(pw.to_lowercase());
    let mut contains: Vec<&'static str> = Vec::new();
    let mut reversed: Vec<&'static str> = Vec::new();
    for (field, frag) in personal.fragments() {
        if lower.contains(frag.as_str()) {
            if !contains.contains(field) {
                contains.push(field);
            }
            continue;
        }
        let rev: String = frag.chars().rev().collect();
        if rev != *frag && lower.contains(rev.as_str()) && !reversed.contains(field) {
            reversed.push(field);
        }
    }
    for f in contains {
        out.push(Violation::new(codes::CONTAINS_PERSONAL_INFO).with("field", f));
    }
    for f in reversed {
        out.push(Violation::new(codes::REVERSED_PERSONAL_INFO).with("field", f));
    }
}

/// Length of the longest run of one identical code point.
fn longest_run(pw: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut prev = None;
    for c in pw.chars() {
        if Some(c) == prev {
            run += 1;
        } else {
            run = 1;
            prev = Some(c);
        }
        best = best.max(run);
    }
    best
}

/// Number of character classes present: lowercase, uppercase, digit, other.
fn classes(pw: &str) -> usize {
    let (mut lo, mut up, mut di, mut ot) = (false, false, false, false);
    for c in pw.chars() {
        if c.is_lowercase() {
            lo = true;
        } else if c.is_uppercase() {
            up = true;
        } else if c.is_numeric() {
            di = true;
        } else {
            ot = true;
        }
    }
    [lo, up, di, ot].into_iter().filter(|b| *b).count()
}

/// zxcvbn runs its dictionary matcher once per l33t substitution combination,
/// which grows exponentially with the number of distinct l33t characters
/// (a 64-char random symbol string costs ~150 ms, 40 chars ~7 ms). The prefix given to
/// zxcvbn stops before the combination estimate exceeds this budget.
const MAX_L33T_COMBINATIONS: u32 = 4;

/// Byte length of the prefix handed to zxcvbn: at most `max_chars` code
/// points and within the l33t combination budget.
fn zxcvbn_prefix_len(pw: &str, max_chars: usize) -> usize {
    // Per letter, how many of its l33t characters have been seen.
    let mut per_letter = [0u32; 26];
    let mut seen: Vec<char> = Vec::new();
    for (n, (i, ch)) in pw.char_indices().enumerate() {
        if n == max_chars {
            return i;
        }
        if !seen.contains(&ch) && !l33t_letters(ch).is_empty() {
            let mut next = per_letter;
            for letter in l33t_letters(ch) {
                next[(*letter as u8 - b'a') as usize] += 1;
            }
            let combos: u32 = next.iter().map(|&k| k.max(1)).product();
            if combos > MAX_L33T_COMBINATIONS {
                return i;
            }
            per_letter = next;
            seen.push(ch);
        }
    }
    pw.len()
}

/// The letters zxcvbn's l33t table lets `ch` stand for.
fn l33t_letters(ch: char) -> &'static [char] {
    match ch {
        '4' | '@' => &['a'],
        '8' => &['b'],
        '(' | '{' | '[' | '<' => &['c'],
        '3' => &['e'],
        '6' | '9' => &['g'],
        '1' | '|' => &['i', 'l'],
        '!' => &['i'],
        '7' => &['l', 't'],
        '0' => &['o'],
        '$' | '5' => &['s'],
        '+' => &['t'],
        '%' => &['x'],
        '2' => &['z'],
        _ => &[],
    }
}

/// What the strength estimator is given of `pw`: a prefix of at most
/// `zxcvbnMaxChars` and never more than [`ZXCVBN_SAFE_CHARS`] code points,
/// within the l33t budget.
fn estimator_input<'a>(pw: &'a str, c: &PolicyConfig) -> &'a str {
    let max_chars = c.zxcvbn_max_chars.min(ZXCVBN_SAFE_CHARS);
    &pw[..zxcvbn_prefix_len(pw, max_chars)]
}

fn strength(
    pw: &str,
    personal: &PersonalInfo,
    c: &PolicyConfig,
) -> (Option<u8>, Option<Violation>) {
    // zxcvbn's cost grows quickly with length, and its arithmetic overflows
    // past ZXCVBN_SAFE_CHARS; the prefix is what a guesser attacks first
    // anyway, and the rest only adds entropy.
    let head = estimator_input(pw, c);
    let inputs: Vec<&str> = personal
        .fragments()
        .iter()
        .map(|(_, s)| s.as_str())
        .collect();
    // The bound above keeps zxcvbn from panicking; should it panic anyway,
    // the answer is still a verdict on this input (refused as weakest, with
    // no feedback and no score), never a failed request.
    let estimate = std::panic::catch_unwind(|| zxcvbn::zxcvbn(head, &inputs)).ok();
    let score = estimate.as_ref().map(|e| u8::from(e.score()));
    if let Some(score) = score.filter(|s| *s >= c.min_score) {
        return (Some(score), None);
    }
    let score = score.unwrap_or(0);
    let mut v = Violation::new(codes::WEAK)
        .with("score", score)
        .with("minScore", c.min_score);
    let mut suggestions = Vec::new();
    if let Some(fb) = estimate.as_ref().and_then(|e| e.feedback()) {
        if let Some(w) = fb.warning() {
            v = v.with("warning", codes::warning_code(w));
        }
        suggestions.extend(
            fb.suggestions()
                .iter()
                .map(|s| Value::from(codes::suggestion_code(*s))),
        );
    }
    (
        estimate.map(|_| score),
        Some(v.with("suggestions", suggestions)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxcvbn_prefix_is_bounded() {
        assert_eq!(zxcvbn_prefix_len("abc", 64), 3);
        assert_eq!(zxcvbn_prefix_len(&"界".repeat(100), 64), 64 * 3);
        assert_eq!(zxcvbn_prefix_len("p@ssw0rd!", 64), 9);
        let random = "x7#Kq9!mZ2@pL4$wR8^tY1&uI5*oP3(aS6)dF0_gH-jK=lZ+xC[vB]nM";
        let n = zxcvbn_prefix_len(random, 64);
        assert!(n > 8 && n < 30, "{n}");
    }

    /// NFKC-expanding input (U+FB01 becomes "fi") once made a 40-character
    /// keyboard path with 39 turns, whose estimate overflowed inside zxcvbn.
    #[test]
    fn expanding_ligatures_get_a_verdict() {
        let policy = Policy::new(PolicyConfig::default()).unwrap();
        for n in [20, 40, 64, 128] {
            let e = policy.evaluate(&"\u{FB01}".repeat(n), &PersonalInfo::default());
            assert!(!e.violations.is_empty(), "{n} ligatures must not pass");
            // A score: the estimator ran to the end, no caught panic.
            assert!(e.score.is_some(), "{n} ligatures: the estimator failed");
        }
    }

    /// Every prefix zxcvbn can be given stays within the overflow-safe bound.
    #[test]
    fn the_estimator_never_sees_more_than_the_safe_bound() {
        let c = PolicyConfig {
            zxcvbn_max_chars: 128,
            ..PolicyConfig::default()
        };
        assert!(
            Policy::new(c.clone()).is_err(),
            "config above the bound is refused"
        );
        for pw in ["fi".repeat(64), "qwertyuiop".repeat(12), "1".repeat(128)] {
            assert!(estimator_input(&pw, &c).chars().count() <= ZXCVBN_SAFE_CHARS);
            let default = estimator_input(&pw, &PolicyConfig::default());
            assert!(default.chars().count() <= ZXCVBN_SAFE_CHARS);
        }
    }

    #[test]
    fn runs_and_classes() {
        assert_eq!(longest_run(""), 0);
        assert_eq!(longest_run("abc"), 1);
        assert_eq!(longest_run("aab😀😀😀😀c"), 4);
        assert_eq!(classes("abc"), 1);
        assert_eq!(classes("aB3!"), 4);
        assert_eq!(classes("密码密码"), 1);
        assert_eq!(classes("a b"), 2);
    }
}
