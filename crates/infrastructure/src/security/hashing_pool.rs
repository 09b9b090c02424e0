//! A fixed set of threads for password hashing, fed by a bounded queue.
//!
//! argon2id is slow and memory-hard on purpose: every hash or verification fills about 19 MiB
//! and takes tens of milliseconds of one core. Run on tokio's blocking pool, each concurrent hash
//! gets a thread of its own and a fresh memory block, so a login storm grows the process by
//! gigabytes (the allocator keeps what the threads freed). Here a fixed number of threads each
//! own one memory block, reused from hash to hash (and given back to the system after a while
//! without work), and a queue of bounded length holds the work waiting for them. When the queue is full, new work is refused at once ([`PoolError::Busy`],
//! with an estimate of when there will be room) instead of piling up. The threads run at a lower
//! scheduling priority ([`HashingPriority`]: a higher nice value, or Linux's `SCHED_IDLE`), so that
//! hashing takes the CPU time request handling leaves rather than the other way round.
//!
//! What it must not do: block an async task (submitting never waits: the work is queued or
//! refused), run more hashes at once than it has threads, or spend a hash on a caller that has
//! gone away (work whose requester dropped its answer is skipped).

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::Block;
use forge_application::UnexpectedError;
use tokio::sync::oneshot;
use tracing::Span;

/// The shortest wait a refusal suggests.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The highest nice value Linux accepts (the lowest priority short of `SCHED_IDLE`).
pub const MAX_NICE: u8 = 19;

/// The nice value of hashing threads unless configured otherwise.
pub const DEFAULT_NICE: u8 = 10;

/// How hashing threads are scheduled beside request handling. Applied on Linux only, where both
/// the nice value and the policy belong to each thread; elsewhere they would apply to the whole
/// process, so the threads keep its priority there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashingPriority {
    /// The normal policy at this nice value (0 to [`MAX_NICE`]; 0: the same priority as request
    /// handling). The threads get a share of the CPU that shrinks as the value grows, however
    /// busy request handling is, so logins go on while the cores are saturated.
    Nice(u8),
    /// Linux's `SCHED_IDLE`: the threads run only on a core that nothing else wants, and yield it
    /// to any other task that wakes there when the kernel next reschedules. Request handling
    /// keeps more of the CPU beside a login storm; logins get only the CPU time it leaves, and
    /// almost none while it keeps every core busy. An unprivileged thread cannot leave this
    /// policy again.
    Idle,
}

impl Default for HashingPriority {
    fn default() -> Self {
        Self::Nice(DEFAULT_NICE)
    }
}

/// How long a hashing thread keeps its memory block without work, unless configured otherwise.
pub const DEFAULT_IDLE_RELEASE: Duration = Duration::from_secs(10);

/// The fewest blocks a thread reserves: just over 32 MiB of address space. glibc serves an
/// allocation that large from a mapping of its own and unmaps it when it is freed; a smaller one
/// it may carve from a thread arena after an earlier free of that size (its mmap threshold moves
/// up to 32 MiB), and an arena keeps freed memory. Only the blocks a hash uses are ever touched,
/// so the rest costs address space, not memory.
const MIN_RESERVED_BLOCKS: usize = (32 << 20) / Block::SIZE + 1;

/// How many threads hash, how much work may wait for them, and at what priority they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingPoolSettings {
    /// Threads, each running one hash at a time with its own memory block (at least 1).
    pub threads: usize,
    /// Hashes that may wait for a thread (at least 1); past that, work is refused.
    pub queue_capacity: usize,
    /// How the threads are scheduled beside request handling.
    pub priority: HashingPriority,
    /// How long a thread keeps its memory block with nothing to hash; `None`: for good.
    pub idle_release: Option<Duration>,
}

impl HashingPoolSettings {
    /// One thread per core, sixteen waiting hashes per thread, nice [`DEFAULT_NICE`], memory
    /// given back after [`DEFAULT_IDLE_RELEASE`] without work.
    #[must_use]
    pub fn for_this_machine() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self {
            threads,
            queue_capacity: 16 * threads,
            priority: HashingPriority::default(),
            idle_release: Some(DEFAULT_IDLE_RELEASE),
        }
    }
}

/// Why work was not done.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The queue is full: the work was refused before it started.
    #[error("the password-hashing queue is full ({capacity} hashes waiting)")]
    Busy {
        /// The capacity of the queue.
        capacity: usize,
        /// About how long until the work ahead has drained enough to take more.
        retry_after: Duration,
    },
    /// The pool is shutting down.
    #[error("the password-hashing pool has stopped")]
    Stopped,
    /// The work started but gave no answer (it panicked, or the pool stopped before running it).
    #[error("a password-hashing task ended without an answer")]
    Lost,
}

impl From<PoolError> for UnexpectedError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Busy { retry_after, .. } => {
                let retry_after = chrono::Duration::from_std(retry_after).unwrap_or(chrono::Duration::seconds(1));
                Self::busy(e, retry_after)
            }
            PoolError::Stopped | PoolError::Lost => Self::internal(e),
        }
    }
}

/// What the pool has done so far, for tests and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingPoolStats {
    /// Threads in the pool.
    pub threads: usize,
    /// Hashes that may wait.
    pub queue_capacity: usize,
    /// Hashes waiting now.
    pub queued: usize,
    /// Hashes running now, as counted by the threads themselves.
    pub in_flight: usize,
    /// The most hashes ever running at once, as counted by the threads themselves.
    pub peak_in_flight: usize,
    /// Hashes run to the end.
    pub completed: u64,
    /// Hashes refused because the queue was full.
    pub rejected: u64,
    /// Hashes skipped because their requester had gone away.
    pub abandoned: u64,
    /// Times a thread gave its memory block back after idling.
    pub releases: u64,
}

/// The memory a hashing thread keeps between hashes: argon2 blocks for the configured cost,
/// allocated on the thread's first hash and reused by every later one.
pub struct HashMemory {
    blocks: Vec<Block>,
    block_count: usize,
}

impl HashMemory {
    fn new(block_count: usize) -> Self {
        Self { blocks: Vec::new(), block_count }
    }

    fn holds_memory(&self) -> bool {
        self.blocks.capacity() > 0
    }

    /// Gives the blocks back to the allocator (and, see [`MIN_RESERVED_BLOCKS`], to the system).
    fn release(&mut self) {
        self.blocks = Vec::new();
    }

    /// Runs `f` over at least `needed` blocks. Up to the configured count they are the thread's
    /// own; a stored hash made with more memory than the configured cost gets blocks of its own
    /// for that one verification, freed afterwards, so the thread does not keep them.
    ///
    /// # Errors
    /// [`argon2::Error::OutOfMemory`] when the blocks cannot be allocated.
    pub fn with_blocks<R>(&mut self, needed: usize, f: impl FnOnce(&mut [Block]) -> R) -> Result<R, argon2::Error> {
        if needed > self.block_count {
            let mut scratch = allocate(needed)?;
            return Ok(f(&mut scratch));
        }
        if self.blocks.len() < self.block_count {
            self.blocks = allocate(self.block_count)?;
        }
        Ok(f(&mut self.blocks))
    }
}

fn allocate(count: usize) -> Result<Vec<Block>, argon2::Error> {
    let mut blocks = Vec::new();
    blocks.try_reserve_exact(count.max(MIN_RESERVED_BLOCKS)).map_err(|_| argon2::Error::OutOfMemory)?;
    blocks.resize(count, Block::new());
    Ok(blocks)
}

/// A fixed set of hashing threads and their bounded queue. Cheap to clone; the threads stop
/// once every clone is dropped and the queue has drained.
#[derive(Clone)]
pub struct HashingPool {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool").field("stats", &self.stats()).finish()
    }
}

/// Stops the threads when the last [`HashingPool`] goes.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.ready.notify_all();
    }
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    threads: usize,
    capacity: usize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    completed: AtomicU64,
    rejected: AtomicU64,
    abandoned: AtomicU64,
    releases: AtomicU64,
    /// A moving average of how long one hash takes, in microseconds, for `Retry-After`.
    mean_micros: AtomicU64,
}

struct Queue {
    tasks: VecDeque<Box<dyn Task>>,
    stopping: bool,
}

/// What a waiting thread got.
enum Next {
    Task(Box<dyn Task>),
    /// Nothing to do for the idle period.
    Idle,
    /// The pool stopped and its queue is empty.
    Stop,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // No code panics while holding the lock, and the queue is consistent between any two
        // statements, so a poisoned lock is still a usable one.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next task, waiting for one at most `idle` (for good with `None`).
    fn next(&self, idle: Option<Duration>) -> Next {
        let mut queue = self.lock();
        let deadline = idle.map(|idle| Instant::now() + idle);
        loop {
            if let Some(task) = queue.tasks.pop_front() {
                return Next::Task(task);
            }
            if queue.stopping {
                return Next::Stop;
            }
            queue = match deadline {
                None => self.ready.wait(queue).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return Next::Idle;
                    };
                    self.ready.wait_timeout(queue, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// About how long the work queued now needs before there is room: what is queued and
    /// running, spread over the threads, at the recent average hash time; at least a second
    /// (`Retry-After` counts whole seconds, and sooner would likely find the queue still full).
    fn estimated_wait(&self, queued: usize) -> Duration {
        let mean = Duration::from_micros(self.mean_micros.load(Ordering::Relaxed));
        let ahead = u32::try_from(queued + self.threads).unwrap_or(u32::MAX);
        let threads = u32::try_from(self.threads).unwrap_or(1).max(1);
        (mean.saturating_mul(ahead) / threads).max(MIN_RETRY_AFTER)
    }

    /// Counts a task that has finished (before its answer is sent, so that a requester holding
    /// the answer sees it counted).
    fn finish(&self, started: Instant) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.record_duration(started.elapsed());
        self.completed.fetch_add(1, Ordering::SeqCst);
    }

    fn record_duration(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mean = self.mean_micros.load(Ordering::Relaxed);
        // An exponential moving average over about eight hashes; a lost update between two
        // threads only makes the estimate a little staler.
        let next = if mean == 0 { sample } else { mean - mean / 8 + sample / 8 };
        self.mean_micros.store(next, Ordering::Relaxed);
    }
}

/// One piece of work with the channel its answer goes back on.
trait Task: Send {
    /// Whether the requester stopped waiting for the answer.
    fn abandoned(&self) -> bool;
    /// Runs the work with the thread's memory, calls `finished`, and sends the answer.
    fn run(self: Box<Self>, memory: &mut HashMemory, finished: &mut dyn FnMut());
}

struct Pending<F, T> {
    work: F,
    reply: oneshot::Sender<T>,
    span: Span,
}

impl<F, T> Task for Pending<F, T>
where
    F: FnOnce(&mut HashMemory) -> T + Send,
    T: Send,
{
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run(self: Box<Self>, memory: &mut HashMemory, finished: &mut dyn FnMut()) {
        let Self { work, reply, span } = *self;
        let answer = span.in_scope(|| work(memory));
        finished();
        // The requester may have gone away meanwhile; then nobody wants the answer.
        let _ = reply.send(answer);
    }
}

/// The answer to work the pool took, to await.
pub struct Ticket<T>(oneshot::Receiver<T>);

impl<T> Ticket<T> {
    /// Waits for the answer.
    ///
    /// # Errors
    /// [`PoolError::Lost`] when the work ended without one.
    pub async fn answer(self) -> Result<T, PoolError> {
        self.0.await.map_err(|_| PoolError::Lost)
    }
}

impl HashingPool {
    /// Starts the threads; each allocates `block_count` argon2 blocks on its first hash and
    /// keeps them.
    ///
    /// # Errors
    /// Settings out of range, or a thread the system would not start.
    pub fn start(settings: HashingPoolSettings, block_count: usize) -> Result<Self, std::io::Error> {
        let invalid = |reason: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason.to_owned());
        if settings.threads == 0 {
            return Err(invalid("a hashing pool needs at least one thread"));
        }
        if settings.queue_capacity == 0 {
            return Err(invalid("a hashing queue needs room for at least one hash"));
        }
        if matches!(settings.priority, HashingPriority::Nice(nice) if nice > MAX_NICE) {
            return Err(invalid("the nice value of hashing threads is at most 19"));
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { tasks: VecDeque::with_capacity(settings.queue_capacity), stopping: false }),
            ready: Condvar::new(),
            threads: settings.threads,
            capacity: settings.queue_capacity,
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            releases: AtomicU64::new(0),
            mean_micros: AtomicU64::new(0),
        });
        // Built before the threads, so that a failure to start one stops those already started.
        let handle = Arc::new(Handle { shared: shared.clone() });
        for index in 0..settings.threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("forge-hash-{index}"))
                // argon2 keeps its state in the heap blocks; the default 2 MiB stack is plenty
                // larger than it needs, and untouched stack pages cost nothing.
                .spawn(move || work(&shared, block_count, settings))?;
        }
        Ok(Self { handle })
    }

    /// Queues `work` for a hashing thread and returns the ticket for its answer, or refuses it
    /// at once when the queue is full. Runs inside the caller's tracing span.
    ///
    /// # Errors
    /// [`PoolError::Busy`] when the queue is full, [`PoolError::Stopped`] when the pool stops.
    pub fn submit<T, F>(&self, work: F) -> Result<Ticket<T>, PoolError>
    where
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = &self.handle.shared;
        let (reply, answer) = oneshot::channel();
        let task = Box::new(Pending { work, reply, span: Span::current() });
        let mut queue = shared.lock();
        if queue.stopping {
            return Err(PoolError::Stopped);
        }
        if queue.tasks.len() >= shared.capacity {
            let queued = queue.tasks.len();
            drop(queue);
            shared.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(PoolError::Busy { capacity: shared.capacity, retry_after: shared.estimated_wait(queued) });
        }
        queue.tasks.push_back(task);
        drop(queue);
        shared.ready.notify_one();
        Ok(Ticket(answer))
    }

    /// Queues `work` and waits for its answer.
    ///
    /// # Errors
    /// As [`HashingPool::submit`] and [`Ticket::answer`].
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit(work)?.answer().await
    }

    /// The number of threads.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.handle.shared.threads
    }

    /// What the pool has done so far.
    #[must_use]
    pub fn stats(&self) -> HashingPoolStats {
        let shared = &self.handle.shared;
        HashingPoolStats {
            threads: shared.threads,
            queue_capacity: shared.capacity,
            queued: shared.lock().tasks.len(),
            in_flight: shared.in_flight.load(Ordering::Relaxed),
            peak_in_flight: shared.peak_in_flight.load(Ordering::Relaxed),
            completed: shared.completed.load(Ordering::SeqCst),
            rejected: shared.rejected.load(Ordering::Relaxed),
            abandoned: shared.abandoned.load(Ordering::Relaxed),
            releases: shared.releases.load(Ordering::Relaxed),
        }
    }
}

/// The loop of one hashing thread.
fn work(shared: &Shared, block_count: usize, settings: HashingPoolSettings) {
    lower_priority(settings.priority);
    let mut memory = HashMemory::new(block_count);
    loop {
        // Wait with a deadline only while there is memory to give back after it.
        let idle = settings.idle_release.filter(|_| memory.holds_memory());
        let task = match shared.next(idle) {
            Next::Task(task) => task,
            Next::Idle => {
                memory.release();
                shared.releases.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Next::Stop => return,
        };
        if task.abandoned() {
            shared.abandoned.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let running = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak_in_flight.fetch_max(running, Ordering::SeqCst);
        let started = Instant::now();
        let mut counted = false;
        // A panic drops the task's reply channel (its requester sees `Lost`); the thread and its
        // memory go on serving the next task.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            task.run(&mut memory, &mut || {
                shared.finish(started);
                counted = true;
            });
        }));
        if outcome.is_err() {
            if !counted {
                shared.finish(started);
            }
            tracing::error!("a password-hashing task panicked; its request fails");
        }
    }
}

/// Lowers this thread's scheduling priority. A failure is logged and the thread hashes at the
/// priority it has: hashing still works, only less politely.
fn lower_priority(priority: HashingPriority) {
    #[cfg(target_os = "linux")]
    match priority {
        HashingPriority::Nice(0) => {}
        HashingPriority::Nice(nice) => {
            let tid = rustix::thread::gettid();
            if let Err(e) = rustix::process::setpriority_process(Some(tid), i32::from(nice)) {
                tracing::warn!(error = %e, nice, "could not lower the priority of a hashing thread");
            }
        }
        HashingPriority::Idle => {
            use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
            let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
            // After the policy, the crate also sets the nice value to 0, which an unprivileged
            // thread of a process started at a higher nice value may not do: what counts is the
            // policy the thread ends up with.
            let set = thread_priority::set_thread_priority_and_policy(
                thread_priority::thread_native_id(),
                ThreadPriority::Min,
                idle,
            );
            if thread_priority::thread_schedule_policy().ok() != Some(idle) {
                tracing::warn!(outcome = ?set, "could not move a hashing thread to SCHED_IDLE");
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    tracing::debug!(?priority, "hashing threads keep the process priority on this platform");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(threads: usize, queue_capacity: usize) -> HashingPoolSettings {
        HashingPoolSettings { threads, queue_capacity, priority: HashingPriority::Nice(0), idle_release: None }
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(HashingPool::start(settings(0, 1), 8).is_err());
        assert!(HashingPool::start(settings(1, 0), 8).is_err());
        assert!(
            HashingPool::start(HashingPoolSettings { priority: HashingPriority::Nice(20), ..settings(1, 1) }, 8)
                .is_err()
        );
    }

    #[test]
    fn the_default_has_a_thread_per_core() {
        let defaults = HashingPoolSettings::for_this_machine();
        assert!(defaults.threads >= 1);
        assert_eq!(defaults.queue_capacity, 16 * defaults.threads);
    }

    /// The nice value and the policy each hashing thread runs under, read on the thread itself.
    #[cfg(target_os = "linux")]
    async fn scheduling_of_threads(priority: HashingPriority) -> Vec<(i32, thread_priority::ThreadSchedulePolicy)> {
        let pool = HashingPool::start(HashingPoolSettings { priority, ..settings(2, 4) }, 8).unwrap();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        // Two tasks held until both have started: one on each thread.
        let (first, second) = (pool.submit(read_scheduling(hold.clone())), pool.submit(read_scheduling(hold)));
        let (first, second) = (first.unwrap(), second.unwrap());
        while pool.stats().in_flight < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        release.send(()).unwrap();
        release.send(()).unwrap();
        vec![first.answer().await.unwrap(), second.answer().await.unwrap()]
    }

    #[cfg(target_os = "linux")]
    fn read_scheduling(
        hold: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
    ) -> impl FnOnce(&mut HashMemory) -> (i32, thread_priority::ThreadSchedulePolicy) {
        move |_| {
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
            let policy = thread_priority::thread_schedule_policy().unwrap();
            hold.lock().unwrap().recv().unwrap();
            (nice, policy)
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn every_thread_runs_at_the_configured_nice_value_under_the_normal_policy() {
        use thread_priority::{NormalThreadSchedulePolicy::Other, ThreadSchedulePolicy::Normal};
        let ours = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(scheduling_of_threads(HashingPriority::Nice(7)).await, [(7, Normal(Other)); 2]);
        assert_eq!(scheduling_of_threads(HashingPriority::Nice(0)).await, [(ours, Normal(Other)); 2]);
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), ours, "the caller's own is left alone");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn every_thread_runs_under_sched_idle_when_asked() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy::Normal};
        let threads = scheduling_of_threads(HashingPriority::Idle).await;
        assert!(threads.iter().all(|(_, policy)| *policy == Normal(NormalThreadSchedulePolicy::Idle)), "{threads:?}");
        assert_eq!(thread_priority::thread_schedule_policy().unwrap(), Normal(NormalThreadSchedulePolicy::Other));
    }

    #[tokio::test]
    async fn a_thread_reuses_its_blocks_and_a_larger_need_gets_its_own() {
        let pool = HashingPool::start(settings(1, 4), 8).unwrap();
        let first = pool.run(|m| m.with_blocks(8, |b| (b.as_ptr() as usize, b.len())).unwrap()).await.unwrap();
        let second = pool.run(|m| m.with_blocks(4, |b| (b.as_ptr() as usize, b.len())).unwrap()).await.unwrap();
        assert_eq!(first, second, "the same blocks each time");
        let larger = pool.run(|m| m.with_blocks(16, |b| b.len()).unwrap()).await.unwrap();
        assert_eq!(larger, 16);
        let again = pool.run(|m| m.with_blocks(8, |b| b.as_ptr() as usize).unwrap()).await.unwrap();
        assert_eq!(again, first.0, "the larger blocks were not kept");
    }

    #[tokio::test]
    async fn an_idle_thread_gives_its_memory_back_and_allocates_it_again_when_needed() {
        let idle = HashingPoolSettings { idle_release: Some(Duration::from_millis(20)), ..settings(1, 4) };
        let pool = HashingPool::start(idle, 8).unwrap();
        assert_eq!(pool.run(|m| m.with_blocks(8, |b| b.len()).unwrap()).await.unwrap(), 8);
        for _ in 0..500 {
            if pool.stats().releases == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.stats().releases, 1, "released once, and not again while holding nothing");
        assert_eq!(pool.run(|m| m.with_blocks(8, |b| b.len()).unwrap()).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn a_panicking_task_fails_alone_and_the_thread_goes_on() {
        let pool = HashingPool::start(settings(1, 4), 8).unwrap();
        let lost = pool.run(|_| -> u8 { panic!("boom") }).await;
        assert!(matches!(lost, Err(PoolError::Lost)), "{lost:?}");
        assert_eq!(pool.run(|_| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_with_a_retry_estimate() {
        let pool = HashingPool::start(settings(1, 1), 8).unwrap();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel();
        let busy = pool
            .submit(move |_| {
                let _ = started.send(());
                let _ = hold.recv();
            })
            .unwrap();
        running.await.unwrap();
        let queued = pool.submit(|_| ()).unwrap();
        let refused = pool.submit(|_| ());
        assert!(matches!(refused, Err(PoolError::Busy { capacity: 1, .. })), "{:?}", refused.err());
        assert_eq!(pool.stats().rejected, 1);
        release.send(()).unwrap();
        busy.answer().await.unwrap();
        queued.answer().await.unwrap();
        assert_eq!(pool.stats().completed, 2);
    }

    #[tokio::test]
    async fn work_whose_requester_left_is_skipped() {
        let pool = HashingPool::start(settings(1, 4), 8).unwrap();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let blocker = pool
            .submit(move |_| {
                let _ = hold.recv();
            })
            .unwrap();
        drop(pool.submit(|_| ()).unwrap());
        release.send(()).unwrap();
        blocker.answer().await.unwrap();
        assert_eq!(pool.run(|_| ()).await.map(|()| pool.stats().abandoned).unwrap(), 1);
    }
}
