//! How each queue runs: concurrency, time limit, attempts and back-off.

use std::time::Duration;

use forge_application::jobs::Queue;

/// The settings of one named queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// How many of its jobs one worker process runs at the same time (at least 1).
    pub concurrency: usize,
    /// How long one attempt may run before it is cancelled and counted as failed.
    pub time_limit: Duration,
    /// Attempts in all, the first included (at least 1); a job that fails them all is dead.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one, up to `max_delay`,
    /// and a random part of it (the jitter) is left out so that retries do not come in waves.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            time_limit: Duration::from_secs(60),
            max_attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }
}

/// The settings of every queue, and how workers look for work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// The `default` queue.
    pub default: QueueSettings,
    /// The `mail` queue.
    pub mail: QueueSettings,
    /// The `exports` queue.
    pub exports: QueueSettings,
    /// The `maintenance` queue.
    pub maintenance: QueueSettings,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// How often a worker tells the database it is alive; a worker silent for two of these is
    /// taken for dead, and the jobs it was running are handed to another.
    pub heartbeat: Duration,
    /// This worker process's name, unique among the processes sharing the database (the queue
    /// name is appended for each queue's worker). A process restarted under the same name takes
    /// back at once the jobs it was running when it died.
    pub worker_name: String,
    /// How often the maintenance purges run (once per period for the whole cluster); `None`:
    /// never from this process.
    pub maintenance_every: Option<Duration>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            default: QueueSettings::default(),
            mail: QueueSettings { max_attempts: 8, ..QueueSettings::default() },
            exports: QueueSettings {
                concurrency: 1,
                time_limit: Duration::from_secs(3600),
                ..QueueSettings::default()
            },
            maintenance: QueueSettings {
                concurrency: 1,
                time_limit: Duration::from_secs(600),
                ..QueueSettings::default()
            },
            poll_interval: Duration::from_millis(500),
            heartbeat: Duration::from_secs(30),
            worker_name: format!("forge-{}", uuid::Uuid::new_v4().simple()),
            maintenance_every: Some(Duration::from_secs(3600)),
        }
    }
}

impl JobSettings {
    /// The settings of `queue`.
    #[must_use]
    pub const fn queue(&self, queue: Queue) -> &QueueSettings {
        match queue {
            Queue::Default => &self.default,
            Queue::Mail => &self.mail,
            Queue::Exports => &self.exports,
            Queue::Maintenance => &self.maintenance,
        }
    }

    /// The settings of `queue`, to change.
    pub const fn queue_mut(&mut self, queue: Queue) -> &mut QueueSettings {
        match queue {
            Queue::Default => &mut self.default,
            Queue::Mail => &mut self.mail,
            Queue::Exports => &mut self.exports,
            Queue::Maintenance => &mut self.maintenance,
        }
    }
}
