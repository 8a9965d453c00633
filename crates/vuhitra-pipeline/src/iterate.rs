//! The loop of every mode that calls the model more than once: data
//! questions (model writes SQL, it is checked and run, errors go back),
//! and next dev mode and tool rounds. A step function does one round; the
//! loop bounds the rounds (MAX_ITERATIONS_PROD / MAX_ITERATIONS_DEV),
//! watches the cancellation token, and says why it stopped.

use std::future::Future;

use tokio_util::sync::CancellationToken;

/// What one step found.
#[derive(Debug, PartialEq)]
pub enum Step<T> {
    /// The work is done with this result.
    Done(T),
    /// Not yet: another round (the step has fed its feedback forward).
    Again,
}

/// Why the loop stopped.
#[derive(Debug, PartialEq)]
pub enum Stop<T, E> {
    Done(T),
    /// `max` steps ran and none was done.
    Limit,
    /// The token was cancelled; the step under way was dropped.
    Cancelled,
    /// A step failed in a way another round cannot mend (a model that
    /// cannot be reached, say).
    Error(E),
}

#[derive(Debug, PartialEq)]
pub struct Iterated<T, E> {
    pub stop: Stop<T, E>,
    /// Steps started, the cancelled one included.
    pub steps: u32,
}

impl<T, E> Iterated<T, E> {
    pub fn reason(&self) -> &'static str {
        match self.stop {
            Stop::Done(_) => "done",
            Stop::Limit => "limit",
            Stop::Cancelled => "cancelled",
            Stop::Error(_) => "error",
        }
    }
}

/// Runs `step(1)`, `step(2)`, … until one is done, fails, `max` have run,
/// or `cancel` fires (checked before each step and while it runs).
pub async fn iterate<T, E, F, Fut>(max: u32, cancel: &CancellationToken, mut step: F) -> Iterated<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Step<T>, E>>,
{
    let mut n = 0;
    while n < max {
        if cancel.is_cancelled() {
            return Iterated { stop: Stop::Cancelled, steps: n };
        }
        n += 1;
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Iterated { stop: Stop::Cancelled, steps: n },
            r = step(n) => r,
        };
        match outcome {
            Ok(Step::Done(v)) => return Iterated { stop: Stop::Done(v), steps: n },
            Ok(Step::Again) => {}
            Err(e) => return Iterated { stop: Stop::Error(e), steps: n },
        }
    }
    Iterated { stop: Stop::Limit, steps: n }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn stops_at_the_first_done_step() {
        let r: Iterated<u32, ()> = iterate(5, &CancellationToken::new(), |n| async move {
            Ok(if n == 3 { Step::Done(n * 10) } else { Step::Again })
        })
        .await;
        assert_eq!(r, Iterated { stop: Stop::Done(30), steps: 3 });
        assert_eq!(r.reason(), "done");
    }

    #[tokio::test]
    async fn stops_at_the_limit() {
        let mut seen = Vec::new();
        let r: Iterated<(), ()> = iterate(4, &CancellationToken::new(), |n| {
            seen.push(n);
            async { Ok(Step::Again) }
        })
        .await;
        assert_eq!(r, Iterated { stop: Stop::Limit, steps: 4 });
        assert_eq!(seen, [1, 2, 3, 4]);
        let none: Iterated<(), ()> = iterate(0, &CancellationToken::new(), |_| async { Ok(Step::Again) }).await;
        assert_eq!(none, Iterated { stop: Stop::Limit, steps: 0 });
    }

    #[tokio::test]
    async fn a_step_error_ends_the_loop() {
        let r: Iterated<(), &str> = iterate(5, &CancellationToken::new(), |n| async move {
            if n == 2 {
                Err("model unreachable")
            } else {
                Ok(Step::Again)
            }
        })
        .await;
        assert_eq!(r, Iterated { stop: Stop::Error("model unreachable"), steps: 2 });
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_mid_step_drops_the_step() {
        let token = CancellationToken::new();
        let canceller = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            canceller.cancel();
        });
        let finished = std::sync::atomic::AtomicBool::new(false);
        let r: Iterated<(), ()> = iterate(5, &token, |_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(Step::Again)
        })
        .await;
        assert_eq!(r, Iterated { stop: Stop::Cancelled, steps: 1 });
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst), "the step under way did not run on");
    }

    #[tokio::test]
    async fn an_already_cancelled_token_runs_no_step() {
        let token = CancellationToken::new();
        token.cancel();
        let r: Iterated<(), ()> = iterate(5, &token, |_| async { panic!("no step may start") }).await;
        assert_eq!(r, Iterated { stop: Stop::Cancelled, steps: 0 });
    }
}
