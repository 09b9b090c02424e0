//! What every persistence test starts from.

use chrono::{DateTime, Duration, Utc};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{Email, FullName, NewUser, PasswordHash, Role, User, UserParts, Username},
};
use forge_infrastructure::{Database, SeaProjectRepository, SeaSessionRepository, SeaUnitOfWork, SeaUserRepository};
use forge_migration::testing::TestDatabase;
use sea_orm::DatabaseConnection;

/// A migrated database of its own, a pool opened the way the server opens it, and the
/// adapters over that pool.
pub struct Harness {
    pub users: SeaUserRepository,
    pub sessions: SeaSessionRepository,
    pub projects: SeaProjectRepository,
    pub uow: SeaUnitOfWork,
    /// The pool the adapters use, opened the way the server opens it.
    pub database: Database,
    /// A connection of the test database's own, for raw SQL.
    pub conn: DatabaseConnection,
    // Last, so that it is dropped after every pool on it.
    pub db: TestDatabase,
}

impl Harness {
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        let database = Database::connect(db.url(), 10).await.unwrap();
        Self {
            users: SeaUserRepository::new(&database),
            sessions: SeaSessionRepository::new(&database),
            projects: SeaProjectRepository::new(&database),
            uow: SeaUnitOfWork::new(&database),
            conn: db.connection().clone(),
            database,
            db,
        }
    }
}

/// A fixed instant with a microsecond fraction, which both databases keep exactly.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap()
}

pub fn phc() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA".to_owned())
}

/// A member registered at `t0() + offset`.
pub fn user_at(email: &str, username: &str, offset: Duration) -> User {
    User::register(
        NewUser {
            email: Email::parse(email).unwrap(),
            username: Username::parse(username).unwrap(),
            full_name: None,
            role: Role::Member,
            password_hash: phc(),
            is_active: true,
            is_verified: false,
        },
        t0() + offset,
    )
}

pub fn user(email: &str, username: &str) -> User {
    user_at(email, username, Duration::zero())
}

/// `user` with some of its fields replaced.
pub struct Tweak {
    pub full_name: Option<&'static str>,
    pub role: Role,
    pub is_active: bool,
    pub is_verified: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Default for Tweak {
    fn default() -> Self {
        Self {
            full_name: None,
            role: Role::Member,
            is_active: true,
            is_verified: false,
            last_login_at: None,
            deleted_at: None,
        }
    }
}

pub fn tweaked(user: &User, tweak: Tweak) -> User {
    User::from_parts(UserParts {
        id: user.id(),
        email: user.email().clone(),
        username: user.username().clone(),
        full_name: tweak.full_name.map(|name| FullName::parse(name).unwrap()),
        role: tweak.role,
        password_hash: user.password_hash().clone(),
        is_active: tweak.is_active,
        is_verified: tweak.is_verified,
        created_at: user.created_at(),
        updated_at: user.updated_at(),
        last_login_at: tweak.last_login_at,
        deleted_at: tweak.deleted_at,
        version: user.version(),
    })
}

pub fn session_for(user: &User, at: DateTime<Utc>) -> Session {
    Session::open(user.id(), at, Duration::days(30), Some("203.0.113.7".to_owned()), Some("forge-tests/1.0".to_owned()))
}

pub fn refresh_token(session: SessionId, digest: &str, at: DateTime<Utc>) -> RefreshToken {
    RefreshToken {
        digest: TokenDigest::new(format!("{digest:0>64}")),
        session_id: session,
        issued_at: at,
        expires_at: at + Duration::days(7),
        used_at: None,
    }
}
