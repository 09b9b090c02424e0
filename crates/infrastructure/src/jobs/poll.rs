//! How an idle worker looks for jobs: every poll interval, for as long as it runs.
//!
//! apalis's own interval strategy, on a tick, makes the next timer without polling it, so no
//! wake-up is armed: a worker whose fetch then found nothing slept until its next heartbeat (up
//! to `jobs.heartbeat_secs`, 30 s), and a job queued meanwhile waited that long. This strategy
//! polls the next timer at once, which arms it.

use std::{
    future::Future as _,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy};
use tokio::time::{Instant, Sleep};

/// Wakes the worker every `interval`.
#[derive(Debug)]
pub(crate) struct EveryInterval {
    interval: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl EveryInterval {
    pub(crate) fn new(interval: Duration) -> Self {
        Self { interval, sleep: Box::pin(tokio::time::sleep(interval)) }
    }
}

impl PollStrategy for EveryInterval {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _snapshot: &PollSnapshot) -> Poll<Option<()>> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep.as_mut().reset(Instant::now() + self.interval);
        // Pending (the interval has just begun): the waker is now registered for the next tick.
        let _ = self.sleep.as_mut().poll(cx);
        Poll::Ready(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use futures::task::{ArcWake, waker};

    use super::*;

    struct Count(AtomicUsize);

    impl ArcWake for Count {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_tick_arms_the_next_one() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = waker(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollSnapshot::default();
        let mut every = EveryInterval::new(Duration::from_millis(500));

        assert!(every.poll_drive(&mut cx, &snapshot).is_pending());
        for tick in 1..=4 {
            // Nothing polls the strategy between ticks (the worker sleeps): only the armed
            // timer wakes it.
            tokio::time::advance(Duration::from_millis(501)).await;
            assert_eq!(count.0.load(Ordering::SeqCst), tick, "tick {tick} woke the worker");
            assert!(every.poll_drive(&mut cx, &snapshot).is_ready());
        }
    }
}
