use forge_domain::{
    sessions::SessionId,
    users::{Permission, Role, User, UserId},
};

/// Where a request came from, for sessions and (later) the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientContext {
    /// The client's address, as resolved by the presentation layer (trusted proxies only).
    pub ip: Option<String>,
    /// The `User-Agent`, truncated to a sane length.
    pub user_agent: Option<String>,
    /// The request id, for correlation.
    pub request_id: Option<String>,
}

/// The authenticated party a use case acts for, as established by
/// [`AuthService::authenticate`](crate::auth::AuthService::authenticate).
///
/// It holds the user as loaded during authentication, so its role and state are current, not
/// whatever a token claimed when it was issued.
#[derive(Debug, Clone)]
pub struct Actor {
    user: User,
    session_id: Option<SessionId>,
    context: ClientContext,
}

impl Actor {
    /// An actor for `user` acting through the session `session_id` (none for API keys or for
    /// use cases invoked directly by an embedding service).
    #[must_use]
    pub const fn new(user: User, session_id: Option<SessionId>, context: ClientContext) -> Self {
        Self { user, session_id, context }
    }

    /// The actor's user id.
    #[must_use]
    pub const fn id(&self) -> UserId {
        self.user.id()
    }

    /// The actor's current global role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.user.role()
    }

    /// The actor's account as loaded when it authenticated.
    #[must_use]
    pub const fn user(&self) -> &User {
        &self.user
    }

    /// The session the actor authenticated with.
    #[must_use]
    pub const fn session_id(&self) -> Option<SessionId> {
        self.session_id
    }

    /// Where the request came from.
    #[must_use]
    pub const fn context(&self) -> &ClientContext {
        &self.context
    }

    /// Whether the actor's role grants `permission`.
    #[must_use]
    pub const fn can(&self, permission: Permission) -> bool {
        self.user.role().grants(permission)
    }

    /// Whether the actor is the user `id`.
    #[must_use]
    pub fn is(&self, id: UserId) -> bool {
        self.user.id() == id
    }
}
