use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// Ctrl-C as a [`CancellationToken`]: one listener per process, and one
/// token that every model call, sandbox run and child process of the
/// current piece of work watches. Once a token has been cancelled the next
/// [`Interrupt::token`] is a fresh one, so a REPL survives a Ctrl-C and the
/// next prompt starts clean.
#[derive(Clone)]
pub struct Interrupt {
    current: Arc<Mutex<CancellationToken>>,
}

impl Interrupt {
    /// Starts listening for Ctrl-C on `runtime`. From then on Ctrl-C no
    /// longer ends the process by itself: work that was given a token stops,
    /// and the command decides how to exit.
    pub fn listen(runtime: &tokio::runtime::Handle) -> Interrupt {
        let interrupt = Interrupt::detached();
        let current = interrupt.current.clone();
        runtime.spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                current.lock().expect("interrupt lock").cancel();
            }
        });
        interrupt
    }

    /// An interrupt that only [`Interrupt::cancel`] triggers (tests, and
    /// callers with a signal source of their own).
    pub fn detached() -> Interrupt {
        Interrupt { current: Arc::new(Mutex::new(CancellationToken::new())) }
    }

    /// The token for the next piece of work.
    pub fn token(&self) -> CancellationToken {
        let mut t = self.current.lock().expect("interrupt lock");
        if t.is_cancelled() {
            *t = CancellationToken::new();
        }
        t.clone()
    }

    /// What Ctrl-C does: cancels the current token.
    pub fn cancel(&self) {
        self.current.lock().expect("interrupt lock").cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_token_is_replaced_for_the_next_piece_of_work() {
        let i = Interrupt::detached();
        let first = i.token();
        let same = i.token();
        i.cancel();
        assert!(first.is_cancelled() && same.is_cancelled(), "every holder of the token sees the cancel");
        let next = i.token();
        assert!(!next.is_cancelled(), "the REPL's next prompt starts with a live token");
    }
}
