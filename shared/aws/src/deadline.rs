//! The invocation deadline, and what a step of work may cost at worst under it.
//!
//! Lambda stops an invocation at its timeout wherever it is. The mail
//! functions claim an outbox message (`deliveredAtMs`) before sending it, so
//! a stop between the claim and the send would leave a message that every
//! retry and the sweep take for delivered. So a step starts only when its
//! worst case fits in the time left: every AWS call is bounded by
//! `AWS_OPERATION_TIMEOUT_MS`, retries included, so a step of `n` calls takes
//! at most `n` of those, plus [`MARGIN`] for the function's own work (the
//! answer to the runtime, the metric line). `docs/operations.md` sizes the
//! mail functions' batch and timeout from these counts.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Kept free before the deadline for everything that is not an AWS call.
pub const MARGIN: Duration = Duration::from_millis(500);

/// Calls of one outbox record at worst: read, claim, send, then the marker
/// delete (sent) or the claim's release (not sent).
pub const OUTBOX_RECORD_CALLS: u32 = 4;
/// Calls from the claim on: claim, send, release. Checked right before the
/// claim, so no claim is taken that could not be given back in time.
pub const CLAIM_CALLS: u32 = 3;
/// Calls of one forgot record at worst: the request read, the two reads of
/// the address lookup, the answer's transaction. The transaction is atomic:
/// a stop inside it loses nothing, the retry answers the request.
pub const FORGOT_RECORD_CALLS: u32 = 4;
/// Calls of one forgot answer of the sweep (the request is already read).
pub const FORGOT_ANSWER_CALLS: u32 = 3;

/// 2001-09-09 in Unix ms: every real deadline is later, every time-left
/// value an emulator might send (minutes) is far smaller.
pub const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// When the current invocation ends, if it does.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    call: Duration,
}

impl Budget {
    /// No deadline (tests, tools): every step fits.
    pub fn unbounded() -> Self {
        Budget {
            deadline: None,
            call: Duration::ZERO,
        }
    }

    /// The invocation ends at `deadline_ms` (Unix ms, as the runtime's
    /// `Context::deadline` gives it); one AWS call takes at most `call`.
    /// A value below [`EPOCH_MS_FLOOR`] is no Unix time: the local runtime
    /// emulator (`cargo lambda watch`) sends the time left there instead.
    pub fn until_epoch_ms(deadline_ms: u64, call: Duration) -> Self {
        if deadline_ms < EPOCH_MS_FLOOR {
            return Self::after(Duration::from_millis(deadline_ms), call);
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self::after(
            Duration::from_millis(deadline_ms.saturating_sub(now_ms)),
            call,
        )
    }

    /// The invocation ends `left` from now; one AWS call takes at most `call`.
    pub fn after(left: Duration, call: Duration) -> Self {
        Budget {
            deadline: Some(Instant::now() + left),
            call,
        }
    }

    /// Time left before the deadline, less [`MARGIN`]; `None` without a deadline.
    pub fn left(&self) -> Option<Duration> {
        self.deadline.map(|d| {
            d.saturating_duration_since(Instant::now())
                .saturating_sub(MARGIN)
        })
    }

    /// Whether a step of `calls` AWS calls finishes before the deadline at worst.
    pub fn allows(&self, calls: u32) -> bool {
        self.left().is_none_or(|left| self.call * calls <= left)
    }

    /// An error when not even one step of `calls` calls fits in a whole
    /// invocation: the function's timeout is too short for
    /// `AWS_OPERATION_TIMEOUT_MS`, and every record would be put off for
    /// ever. Checked as the invocation starts, so it fails (and alarms)
    /// instead.
    pub fn require(&self, calls: u32) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.allows(calls),
            "the function timeout is shorter than one record's worst case: {calls} AWS calls \
             of AWS_OPERATION_TIMEOUT_MS ({} ms) and {} ms",
            self.call.as_millis(),
            MARGIN.as_millis()
        );
        Ok(())
    }

    /// How long a call may run while `after` more calls must still fit
    /// behind it; `None` without a deadline.
    pub fn bound_of_call(&self, after: u32) -> Option<Duration> {
        self.left()
            .map(|left| left.saturating_sub(self.call * after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_starts_only_when_its_worst_case_fits() {
        let call = Duration::from_secs(3);
        assert!(Budget::unbounded().allows(u32::MAX));
        assert_eq!(Budget::unbounded().bound_of_call(3), None);
        let budget = Budget::after(Duration::from_secs(20), call);
        assert!(budget.allows(OUTBOX_RECORD_CALLS), "12 s of 19.5 s");
        assert!(!budget.allows(7), "21 s do not fit in 19.5 s");
        let short = Budget::after(Duration::from_secs(9), call);
        assert!(!short.allows(CLAIM_CALLS), "9 s less the margin < 9 s");
        assert!(short.allows(2));
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        assert!(
            !Budget::until_epoch_ms(now_ms - 1_000, call).allows(1),
            "a Unix deadline past"
        );
        assert!(Budget::until_epoch_ms(now_ms + 20_000, call).allows(OUTBOX_RECORD_CALLS));
        // cargo lambda watch sends the time left (600 000 ms), not a Unix time.
        let emulated = Budget::until_epoch_ms(600_000, call);
        assert!(emulated.allows(OUTBOX_RECORD_CALLS));
        assert!(emulated.require(OUTBOX_RECORD_CALLS).is_ok());
        let past = Budget::until_epoch_ms(0, call);
        assert!(!past.allows(1));
        assert!(past.require(1).is_err());
        assert!(budget.require(OUTBOX_RECORD_CALLS).is_ok());
        assert_eq!(past.bound_of_call(0), Some(Duration::ZERO));
    }
}
