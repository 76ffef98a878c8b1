//! Background loops, written once: "do this every interval until shutdown".
//!
//! Owns: the shutdown signal handed to every background task, and the interval loop. Depends on:
//! nothing else in the crate.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Resolves once the server starts shutting down. Cheap to clone; every task gets one.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new(rx: watch::Receiver<bool>) -> Shutdown {
        Shutdown(rx)
    }

    /// A signal that never fires (tests, benchmarks, command-line tools).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive for the life of the process: a dropped sender would read as
        // "closed", which `wait` treats as shutdown.
        std::mem::forget(tx);
        Shutdown(rx)
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown starts (or the sender is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

/// Runs `tick` now and then `interval()` after each tick completes, until shutdown. The interval
/// is read again after every tick, so a reload changes it. A tick in progress when shutdown
/// starts is dropped at its next await (ticks must be safe to stop there: store writes already
/// queued still commit).
pub async fn every<F, Fut>(mut shutdown: Shutdown, interval: impl Fn() -> Duration, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        if shutdown.is_set() {
            return;
        }
        tokio::select! {
            _ = tick() => {}
            _ = shutdown.wait() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(interval()) => {}
            _ = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn ticks_on_the_interval_and_stops_at_shutdown() {
        let (tx, rx) = watch::channel(false);
        let n = Arc::new(AtomicU32::new(0));
        let count = n.clone();
        let task = tokio::spawn(every(
            Shutdown::new(rx),
            || Duration::from_secs(10),
            move || {
                let c = count.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            },
        ));
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(n.load(Ordering::SeqCst), 3, "at 0, 10 and 20 s");
        tx.send_replace(true);
        task.await.expect("task");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(n.load(Ordering::SeqCst), 3, "nothing after shutdown");
    }
}
