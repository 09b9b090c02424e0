use forge_domain::{
    api_keys::ApiKeyId,
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
    api_key_id: Option<ApiKeyId>,
}

impl Actor {
    /// An actor for `user` acting through the session `session_id` (none for API keys or for
    /// use cases invoked directly by an embedding service).
    #[must_use]
    pub const fn new(user: User, session_id: Option<SessionId>, context: ClientContext) -> Self {
        Self { user, session_id, context, api_key_id: None }
    }

    /// The same actor, marked as authenticated by the API key `id` (such an actor has no
    /// session).
    #[must_use]
    pub const fn via_api_key(mut self, id: ApiKeyId) -> Self {
        self.api_key_id = Some(id);
        self
    }

    /// The API key the actor authenticated with, if it used one rather than a session.
    #[must_use]
    pub const fn api_key_id(&self) -> Option<ApiKeyId> {
        self.api_key_id
    }

    /// Whether the actor authenticated with an API key. Such an actor may use the API within
    /// the key's scopes, but not manage API keys or sessions: a leaked key must not be able to
    /// mint further keys or lock its owner out.
    #[must_use]
    pub const fn is_api_key(&self) -> bool {
        self.api_key_id.is_some()
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
