//! When the nightly rollup runs: a cron expression (minute hour day-of-month month day-of-week)
//! in a time zone, the date each run rolls up, and the back-off between retries. Pure
//! computation from a given instant, so it is tested with an injected clock; the long-running
//! loop of `livelake schedule` ([`run_schedule`]) takes its clock and its sleeps from a
//! [`Timer`], so it is tested without sleeping as well.
//!
//! The expression is parsed and evaluated by the `croner` crate: `*`, numbers, ranges `a-b`, lists
//! `a,b`, steps `*/n` and `a-b/n`; months `jan`–`dec` and weekdays `sun`–`sat` (0 or 7 = Sunday)
//! by name. When both day-of-month and day-of-week are restricted, a day matching either runs (as
//! in Vixie cron). Daylight saving, as in Vixie cron: a run whose local time a change skips runs
//! right after the gap, the same day (so no date is left without its rollup); a repeated hour runs
//! once (its first occurrence).

use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// The default schedule: every day at 03:00 UTC.
pub const DEFAULT_CRON: &str = "0 3 * * *";

/// The five fields, for error messages.
const FIELDS: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parse `expr` (five fields) for the IANA time zone `tz` (`UTC`, `Asia/Singapore`, …).
    pub fn parse(expr: &str, tz: &str) -> Result<CronSchedule, String> {
        let tz: Tz = tz.parse().map_err(|_| format!("unknown time zone {tz:?} (an IANA name, e.g. Europe/Berlin)"))?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("cron {expr:?}: five fields expected (minute hour day-of-month month day-of-week)"));
        }
        let cron: Cron = expr.parse().map_err(|e| {
            // Name the field at fault: the first that fails on its own, the others `*`.
            let field = (0..5).find(|&i| {
                let alone: Vec<&str> = (0..5).map(|j| if j == i { fields[i] } else { "*" }).collect();
                alone.join(" ").parse::<Cron>().is_err()
            });
            match field {
                Some(i) => format!("cron {expr:?}: {} {:?}: {e}", FIELDS[i], fields[i]),
                None => format!("cron {expr:?}: {e}"),
            }
        })?;
        Ok(CronSchedule { cron, tz })
    }

    /// The first run strictly after `after` (None if the expression never matches, e.g. 31 Feb).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.cron.find_next_occurrence(&after.with_timezone(&self.tz), false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// The UTC date a run at `run_at` rolls up: the day before the run's local date.
    pub fn rollup_date(&self, run_at: DateTime<Utc>) -> NaiveDate {
        run_at.with_timezone(&self.tz).date_naive() - ChronoDuration::days(1)
    }
}

/// Wait before retry number `attempt` (1, 2, …) of a failed run: doubling from `base`, at most
/// `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(max)
}

/// The time and the waiting of [`run_schedule`]: the system's, or a simulated one in tests.
pub trait Timer {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Wait `d`; false when the loop is asked to stop instead.
    fn sleep(&self, d: Duration) -> impl Future<Output = bool>;
}

/// How a failed run is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First wait; it doubles per retry.
    pub base: Duration,
    /// Longest wait.
    pub max: Duration,
}

/// One scheduled run: the date it rolled up, when it was due, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The UTC date rolled up.
    pub date: NaiveDate,
    /// When the run was due.
    pub due: DateTime<Utc>,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// The last attempt's result: its summary, or its error.
    pub result: Result<String, String>,
}

/// Run `job` for each due date of `schedule`, one run at a time, until `timer` says stop or
/// `max_runs` runs are done (None: forever). A failed attempt is retried with [`backoff`]; after
/// the last retry the date is given up (logged) until the next run. Runs never overlap: a run
/// that outlasts the next due instant makes that run start late, right after it, so no date is
/// skipped. Each run and attempt is logged.
pub async fn run_schedule<T, F, Fut>(
    schedule: &CronSchedule,
    retry: Retry,
    timer: &T,
    max_runs: Option<usize>,
    mut job: F,
) -> Vec<RunOutcome>
where
    T: Timer,
    F: FnMut(NaiveDate) -> Fut,
    Fut: Future<Output = Result<String, String>>,
{
    let mut outcomes = Vec::new();
    let mut after = timer.now();
    while max_runs.is_none_or(|m| outcomes.len() < m) {
        let Some(due) = schedule.next_after(after) else {
            tracing::warn!("the schedule has no further run");
            break;
        };
        after = due;
        let now = timer.now();
        if due > now {
            tracing::info!(next = %due, date = %schedule.rollup_date(due), "waiting for the next rollup");
            if !timer.sleep((due - now).to_std().unwrap_or_default()).await {
                break;
            }
        } else {
            tracing::warn!(due = %due, "the previous run outlasted this one's start: running it late");
        }
        let date = schedule.rollup_date(due);
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            tracing::info!(%date, attempt = attempts, "rollup run starting");
            match job(date).await {
                Ok(summary) => {
                    tracing::info!(%date, attempt = attempts, %summary, "rollup run succeeded");
                    break Ok(summary);
                }
                Err(e) if attempts > retry.retries => {
                    tracing::error!(%date, attempts, error = %e, "rollup run failed; giving up until the next run");
                    break Err(e);
                }
                Err(e) => {
                    let wait = backoff(attempts, retry.base, retry.max);
                    tracing::warn!(%date, attempt = attempts, error = %e, retry_in_secs = wait.as_secs(), "rollup run failed");
                    if !timer.sleep(wait).await {
                        outcomes.push(RunOutcome { date, due, attempts, result: Err(e) });
                        return outcomes;
                    }
                }
            }
        };
        outcomes.push(RunOutcome { date, due, attempts, result });
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, tz: &str, after: &str) -> String {
        CronSchedule::parse(expr, tz).unwrap().next_after(utc(after)).unwrap().to_rfc3339()
    }

    #[test]
    fn the_default_runs_daily_at_three_utc_for_the_day_before() {
        let clock = ManualClock::new(utc("2026-11-28T02:59:59Z").timestamp_millis());
        let s = CronSchedule::parse(DEFAULT_CRON, "UTC").unwrap();
        let now = DateTime::from_timestamp_millis(clock.now_ms()).unwrap();
        let run = s.next_after(now).unwrap();
        assert_eq!(run, utc("2026-11-28T03:00:00Z"));
        assert_eq!(s.rollup_date(run), NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        clock.advance(1_000);
        let now = DateTime::from_timestamp_millis(clock.now_ms()).unwrap();
        assert_eq!(s.next_after(now).unwrap(), utc("2026-11-29T03:00:00Z"), "strictly after the run instant");
    }

    #[test]
    fn fields_ranges_steps_names_and_zones() {
        // Every 15 minutes 09:00–17:45 Singapore time on weekdays.
        assert_eq!(
            next("*/15 9-17 * * mon-fri", "Asia/Singapore", "2026-11-27T09:50:00Z"),
            "2026-11-30T01:00:00+00:00"
        );
        assert_eq!(next("*/15 9-17 * * 1-5", "Asia/Singapore", "2026-11-30T01:00:00Z"), "2026-11-30T01:15:00+00:00");
        // Day of month OR day of week when both are restricted: the 1st, or any Sunday.
        assert_eq!(next("30 4 1 * 0", "UTC", "2026-11-27T00:00:00Z"), "2026-11-29T04:30:00+00:00");
        assert_eq!(next("30 4 1 * 7", "UTC", "2026-11-29T05:00:00Z"), "2026-12-01T04:30:00+00:00");
        // Months by name, lists.
        assert_eq!(next("0 0 1 jan,jul *", "UTC", "2026-11-27T00:00:00Z"), "2027-01-01T00:00:00+00:00");
        // Leap day.
        assert_eq!(next("0 12 29 2 *", "UTC", "2026-03-01T00:00:00Z"), "2028-02-29T12:00:00+00:00");
        assert!(CronSchedule::parse("0 0 31 2 *", "UTC").unwrap().next_after(utc("2026-01-01T00:00:00Z")).is_none());
    }

    #[test]
    fn daylight_saving_gaps_run_after_the_gap_and_repeats_run_once() {
        // Europe/Berlin: 2026-03-29 02:00 → 03:00 (02:30 does not exist); 2026-10-25 03:00 → 02:00.
        // The skipped 02:30 runs at 03:00 CEST the same day, so 2026-03-28 still gets its rollup.
        let gap = next("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z");
        assert_eq!(gap, "2026-03-29T01:00:00+00:00");
        let s = CronSchedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        assert_eq!(s.rollup_date(utc(&gap)), NaiveDate::from_ymd_opt(2026, 3, 28).unwrap());
        assert_eq!(next("30 2 * * *", "Europe/Berlin", &gap), "2026-03-30T00:30:00+00:00");
        let first = next("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z");
        assert_eq!(first, "2026-10-25T00:30:00+00:00");
        assert_eq!(next("30 2 * * *", "Europe/Berlin", &first), "2026-10-26T01:30:00+00:00", "not again at 01:30Z");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, tz, msg) in [
            ("0 3 * *", "UTC", "five fields"),
            ("61 3 * * *", "UTC", "minute"),
            ("0 25 * * *", "UTC", "hour"),
            ("0 3 0 * *", "UTC", "day of month"),
            ("0 3 * foo *", "UTC", "month"),
            ("0 3 * * 8", "UTC", "day of week"),
            ("*/0 3 * * *", "UTC", "minute \"*/0\": Component error: Step cannot be zero"),
            ("0 3 * * *", "Mars/Olympus", "time zone"),
        ] {
            let e = CronSchedule::parse(expr, tz).unwrap_err();
            assert!(e.contains(msg), "{expr}: {e}");
        }
    }

    #[test]
    fn retries_back_off_doubling_to_a_cap() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(600));
        let waits: Vec<u64> = (1..=7).map(|a| backoff(a, base, max).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
    }

    /// A simulated timer: sleeping moves the manual clock.
    #[derive(Debug)]
    struct Simulated(ManualClock, std::cell::RefCell<Vec<u64>>);

    impl Timer for Simulated {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp_millis(self.0.now_ms()).unwrap()
        }
        async fn sleep(&self, d: Duration) -> bool {
            self.1.borrow_mut().push(d.as_secs());
            self.0.advance(d.as_millis() as i64);
            true
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn the_loop_runs_each_date_once_and_retries_with_backoff() {
        let clock = ManualClock::new(utc("2026-11-28T02:00:00Z").timestamp_millis());
        let timer = Simulated(clock.clone(), Default::default());
        let schedule = CronSchedule::parse(DEFAULT_CRON, "UTC").unwrap();
        let retry = Retry { retries: 3, base: Duration::from_secs(60), max: Duration::from_secs(1800) };
        let calls = std::cell::RefCell::new(Vec::new());
        let out = block_on(run_schedule(&schedule, retry, &timer, Some(3), |date| {
            let at = DateTime::from_timestamp_millis(clock.now_ms()).unwrap();
            calls.borrow_mut().push((date.to_string(), at.to_rfc3339()));
            let n = calls.borrow().len();
            async move {
                match n {
                    1 | 2 => Err(format!("attempt {n} failed")),
                    // The second date's run fails for good.
                    4..=7 => Err("lake unreadable".to_string()),
                    _ => Ok("done".to_string()),
                }
            }
        }));
        let calls = calls.into_inner();
        assert_eq!(
            calls[..3],
            [
                ("2026-11-27".to_string(), "2026-11-28T03:00:00+00:00".to_string()),
                ("2026-11-27".to_string(), "2026-11-28T03:01:00+00:00".to_string()),
                ("2026-11-27".to_string(), "2026-11-28T03:03:00+00:00".to_string()),
            ]
        );
        assert_eq!(
            out.iter().map(|o| (o.date.to_string(), o.attempts)).collect::<Vec<_>>(),
            [("2026-11-27".to_string(), 3), ("2026-11-28".to_string(), 4), ("2026-11-29".to_string(), 1),]
        );
        assert!(out[1].result.is_err() && out[2].result.is_ok());
        // Waits: until 03:00, 60 s, 120 s; until the next 03:00; 60, 120, 240 s; until the next.
        assert_eq!(timer.1.borrow()[..3], [3600, 60, 120]);
        assert_eq!(timer.1.borrow()[4..7], [60, 120, 240]);
    }

    #[test]
    fn a_run_that_outlasts_the_next_start_delays_it_and_skips_no_date() {
        let clock = ManualClock::new(utc("2026-11-28T02:59:00Z").timestamp_millis());
        let timer = Simulated(clock.clone(), Default::default());
        let schedule = CronSchedule::parse(DEFAULT_CRON, "UTC").unwrap();
        let retry = Retry { retries: 0, base: Duration::from_secs(1), max: Duration::from_secs(1) };
        let started = std::cell::RefCell::new(Vec::new());
        let out = block_on(run_schedule(&schedule, retry, &timer, Some(2), |date| {
            started.borrow_mut().push(DateTime::from_timestamp_millis(clock.now_ms()).unwrap().to_rfc3339());
            clock.advance(25 * 3_600_000); // this run takes 25 hours
            async move { Ok(date.to_string()) }
        }));
        assert_eq!(out.iter().map(|o| o.date.to_string()).collect::<Vec<_>>(), ["2026-11-27", "2026-11-28"]);
        assert_eq!(
            started.into_inner(),
            ["2026-11-28T03:00:00+00:00", "2026-11-29T04:00:00+00:00"],
            "the second run starts when the first ends, never beside it"
        );
    }
}
