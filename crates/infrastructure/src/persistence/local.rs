//! PostgreSQL connections a thread keeps for itself, for the statements run on sqlx directly
//! ([`super::direct`]): the principal behind every authenticated request and a page of the users
//! list.
//!
//! A statement on a pooled connection costs two round trips: sqlx pings every connection given
//! back to its pool before it lets another task have it. It also wakes two threads when the
//! connection was opened on another thread's event loop (the answer arrives there and is handed
//! over). A connection kept by the thread that uses it costs neither: it is given back without a
//! ping, and its answers arrive on the thread waiting for them.
//!
//! Each thread keeps at most [`PER_THREAD`] of them per [`super::Database`], opened when first
//! needed; a statement that finds them all busy waits for one, in order, as it would for a
//! pooled connection (and as long: [`super::ACQUIRE_TIMEOUT`]). A connection idle for
//! [`super::PING_IF_IDLE_FOR`] or longer is pinged before it is used, as the pool's are; one that
//! fails a statement is closed, and the statement runs again on the request pool. The
//! connections of a `Database` that was closed or dropped are closed at the thread's next statement, and
//! the others when the thread ends.

#[cfg(feature = "postgres")]
pub(crate) use postgres::Lease;

/// How many connections a thread keeps at most, per database.
pub(crate) const PER_THREAD: usize = 2;

/// The identity of one database's local connections: each thread's set is found by it, and
/// dropped once no `Database` holds it or the database was closed.
#[derive(Debug, Default)]
pub(crate) struct LocalConnections {
    closed: std::sync::atomic::AtomicBool,
}

impl LocalConnections {
    /// No statement runs on them any more, and each thread closes its own at its next statement.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::{
        cell::RefCell,
        sync::{Arc, Mutex, PoisonError, Weak},
        time::Instant,
    };

    use sea_orm::sqlx::{
        self, Connection as _,
        postgres::{PgConnection, PgPool},
    };
    use tokio::sync::{OwnedSemaphorePermit, Semaphore};

    use super::{LocalConnections, PER_THREAD};
    use crate::persistence::{ACQUIRE_TIMEOUT, PING_IF_IDLE_FOR};

    /// One thread's connections to one database. Leases may be given back from another thread
    /// (a task of a multi-threaded runtime moves between threads), hence the lock, which is
    /// otherwise taken by one thread only.
    struct Shared {
        /// One per connection open or being opened: a statement waits its turn here, in order.
        permits: Arc<Semaphore>,
        idle: Mutex<Vec<(PgConnection, Instant)>>,
    }

    struct Set {
        owner: Weak<LocalConnections>,
        shared: Arc<Shared>,
    }

    thread_local! {
        static SETS: RefCell<Vec<Set>> = const { RefCell::new(Vec::new()) };
    }

    /// This thread's set for `owner`, after closing the sets of dropped databases.
    fn set_of(owner: &Arc<LocalConnections>) -> Arc<Shared> {
        SETS.with_borrow_mut(|sets| {
            sets.retain(|set| set.owner.upgrade().is_some_and(|owner| !owner.is_closed()));
            if let Some(set) = sets.iter().find(|set| std::ptr::eq(set.owner.as_ptr(), Arc::as_ptr(owner))) {
                return set.shared.clone();
            }
            let shared =
                Arc::new(Shared { permits: Arc::new(Semaphore::new(PER_THREAD)), idle: Mutex::new(Vec::new()) });
            sets.push(Set { owner: Arc::downgrade(owner), shared: shared.clone() });
            shared
        })
    }

    /// A connection taken from a thread's set. Give it back with [`Lease::give_back`] after a
    /// statement that succeeded; dropped otherwise, it is closed.
    pub(crate) struct Lease {
        shared: Arc<Shared>,
        connection: Option<PgConnection>,
        _permit: OwnedSemaphorePermit,
    }

    impl Lease {
        /// A connection of this thread's for `owner`, once one is free: an idle one, or a new one
        /// to the server `pool` connects to.
        ///
        /// # Errors
        /// [`sqlx::Error::PoolClosed`] after [`LocalConnections::close`];
        /// [`sqlx::Error::PoolTimedOut`] when none is free within the pool's acquire timeout;
        /// the error of connecting when a new connection cannot be opened.
        pub(crate) async fn take(owner: &Arc<LocalConnections>, pool: &PgPool) -> Result<Self, sqlx::Error> {
            if owner.is_closed() {
                return Err(sqlx::Error::PoolClosed);
            }
            let shared = set_of(owner);
            let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, shared.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
            let idle = shared.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let fresh = match idle {
                Some((connection, since)) if since.elapsed() < PING_IF_IDLE_FOR => Some(connection),
                Some((mut connection, _)) => connection.ping().await.is_ok().then_some(connection),
                None => None,
            };
            let connection = match fresh {
                Some(connection) => connection,
                None => PgConnection::connect_with(&pool.connect_options()).await?,
            };
            Ok(Self { shared, connection: Some(connection), _permit: permit })
        }

        /// The connection.
        pub(crate) fn connection(&mut self) -> Option<&mut PgConnection> {
            self.connection.as_mut()
        }

        /// Puts the connection back in its set, ready for the next statement.
        pub(crate) fn give_back(mut self) {
            if let Some(connection) = self.connection.take() {
                self.shared.idle.lock().unwrap_or_else(PoisonError::into_inner).push((connection, Instant::now()));
            }
        }
    }
}
