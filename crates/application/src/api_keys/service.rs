use std::sync::Arc;

use forge_domain::api_keys::{
    AccessIntent, ApiKey, ApiKeyId, ApiKeyName, ApiKeyScope, ApiKeyScopes, ApiKeyState, KEY_PREFIX, NewApiKey,
    parse_expiry,
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    ApiKeyChange,
    errors::{ApiKeyAuthError, ApiKeyError},
    policy,
    ports::{ApiKeyQuery, ApiKeyRepository},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    auth::ports::OpaqueTokens,
    common::{
        Actor, Changes, ClientContext, Clock, CommitError, FieldError, Fields, Page, Parsed, UnitOfWork,
        ValidationErrors,
    },
    users::ports::UserRepository,
};

/// The ports the API-keys capability needs.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct ApiKeyPorts {
    pub api_keys: Arc<dyn ApiKeyRepository>,
    pub users: Arc<dyn UserRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Makes the random part of new keys and digests presented ones.
    pub tokens: Arc<dyn OpaqueTokens>,
    pub clock: Arc<dyn Clock>,
}

/// A new key, as asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateApiKeyCommand {
    /// Raw name.
    pub name: String,
    /// Raw scope names; both scopes when absent.
    pub scopes: Option<Vec<String>>,
    /// Raw RFC 3339 expiry; never expires when absent.
    pub expires_at: Option<String>,
}

/// A key just issued, with the key itself: the only time it is ever available.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// The stored key.
    pub api_key: ApiKey,
    /// The key to hand to the client (`sk_…`).
    pub secret: SecretString,
}

/// API keys: management and authentication.
#[derive(Clone)]
pub struct ApiKeyService {
    ports: ApiKeyPorts,
}

impl ApiKeyService {
    /// Builds the service.
    #[must_use]
    pub const fn new(ports: ApiKeyPorts) -> Self {
        Self { ports }
    }

    /// Whether the actor may manage keys at all: lets a caller refuse before even parsing a
    /// request.
    ///
    /// # Errors
    /// [`ApiKeyError::ApiKeyNotAllowed`] for an actor authenticated by an API key.
    pub const fn authorize_manage(&self, actor: &Actor) -> Result<(), ApiKeyError> {
        if policy::can_manage(actor) { Ok(()) } else { Err(ApiKeyError::ApiKeyNotAllowed) }
    }

    /// A page of the actor's own keys that are not revoked.
    ///
    /// # Errors
    /// [`ApiKeyError::ApiKeyNotAllowed`]; [`ApiKeyError::Unexpected`] when storage fails.
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn list(&self, actor: &Actor, query: &ApiKeyQuery) -> Result<Page<ApiKey>, ApiKeyError> {
        self.authorize_manage(actor)?;
        Ok(self.ports.api_keys.list_for_user(actor.id(), query).await?)
    }

    /// One key: the actor's own, or anyone's for admins.
    ///
    /// # Errors
    /// [`ApiKeyError::NotFound`] for unknown, revoked and other users' keys alike;
    /// [`ApiKeyError::ApiKeyNotAllowed`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), api_key_id = %id))]
    pub async fn get(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, ApiKeyError> {
        self.authorize_manage(actor)?;
        self.load_accessible(actor, id).await
    }

    /// Issues a key for the actor. The key (`sk_` and 43 base64url characters) is returned once;
    /// only its digest and visible prefix are stored.
    ///
    /// # Errors
    /// [`ApiKeyError::Validation`] naming every bad field (`name`, `scopes`, `expires_at`);
    /// [`ApiKeyError::ApiKeyNotAllowed`]; [`ApiKeyError::Unexpected`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn create(&self, actor: &Actor, cmd: CreateApiKeyCommand) -> Result<CreatedApiKey, ApiKeyError> {
        self.authorize_manage(actor)?;
        let now = self.ports.clock.now();
        let name = Parsed::field("name", ApiKeyName::parse(&cmd.name));
        let scopes = match &cmd.scopes {
            None => Parsed::valid(ApiKeyScopes::all()),
            Some(names) => Parsed::field("scopes", ApiKeyScopes::parse(names.iter().map(String::as_str))),
        };
        let expires_at =
            Parsed::field("expires_at", cmd.expires_at.as_deref().map(|raw| parse_expiry(raw, now)).transpose());
        let (name, scopes, expires_at) = (name, scopes, expires_at).finish()?;

        let (random, _) = self.ports.tokens.generate();
        let secret = SecretString::from(format!("{KEY_PREFIX}{}", random.expose_secret()));
        let digest = self.ports.tokens.digest(secret.expose_secret());
        let new = NewApiKey {
            user_id: actor.id(),
            name,
            scopes,
            expires_at,
            secret: secret.expose_secret().to_owned(),
            digest,
        };
        let api_key = ApiKey::issue(new, now)
            .map_err(|e| ValidationErrors::new(vec![FieldError::from_violation("expires_at", &e)]))?;
        let audit = AuditRecord::new(
            AuditAction::ApiKeyCreated,
            AuditEntity::ApiKey,
            api_key.id(),
            Some(actor.id()),
            actor.context(),
            now,
        )
        .after(snapshot(&api_key));
        self.ports
            .unit_of_work
            .commit(Changes::new().with(ApiKeyChange::Insert(api_key.clone())).with(audit))
            .await
            .map_err(|e| ApiKeyError::Unexpected(e.into_unexpected()))?;
        tracing::info!(api_key_id = %api_key.id(), prefix = api_key.prefix(), "API key created");
        Ok(CreatedApiKey { api_key, secret })
    }

    /// Revokes a key: the actor's own, or anyone's for admins. It stops working on the very next
    /// request (keys are looked up on every request, nothing caches them).
    ///
    /// # Errors
    /// [`ApiKeyError::NotFound`] for unknown, already revoked and other users' keys alike;
    /// [`ApiKeyError::ApiKeyNotAllowed`]; [`ApiKeyError::Unexpected`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), api_key_id = %id))]
    pub async fn revoke(&self, actor: &Actor, id: ApiKeyId) -> Result<(), ApiKeyError> {
        self.authorize_manage(actor)?;
        let current = self.load_accessible(actor, id).await?;
        let now = self.ports.clock.now();
        let mut revoked = current.clone();
        revoked.revoke(now);
        let audit = AuditRecord::new(
            AuditAction::ApiKeyRevoked,
            AuditEntity::ApiKey,
            id,
            Some(actor.id()),
            actor.context(),
            now,
        )
        .before(snapshot(&current))
        .after(snapshot(&revoked));
        match self
            .ports
            .unit_of_work
            .commit(Changes::new().with(ApiKeyChange::Revoke { id, at: now }).with(audit))
            .await
        {
            Ok(()) => {
                tracing::info!(owner = %current.user_id(), "API key revoked");
                Ok(())
            }
            // Revoked by a concurrent request meanwhile.
            Err(CommitError::Stale) => Err(ApiKeyError::NotFound),
            Err(e) => Err(ApiKeyError::Unexpected(e.into_unexpected())),
        }
    }

    /// Turns a presented API key into the actor it stands for, for a request with `intent`.
    ///
    /// The key must be known, neither revoked nor expired, its owner must still exist and be
    /// able to act (checked now, so deleting or deactivating a user stops its keys at once), and
    /// its scopes must allow `intent`. Use is recorded in `last_used_at` at most once a minute
    /// per key; failing to record it does not refuse the request.
    ///
    /// # Errors
    /// [`ApiKeyAuthError`] saying why the key does not let the request through.
    #[tracing::instrument(skip_all, fields(api_key_id = tracing::field::Empty))]
    pub async fn authenticate_api_key(
        &self,
        raw: &str,
        intent: AccessIntent,
        context: ClientContext,
    ) -> Result<Actor, ApiKeyAuthError> {
        if !ApiKey::looks_like_key(raw) {
            return Err(ApiKeyAuthError::Invalid);
        }
        let digest = self.ports.tokens.digest(raw);
        let Some(api_key) = self.ports.api_keys.by_digest(&digest).await? else {
            return Err(ApiKeyAuthError::Invalid);
        };
        let now = self.ports.clock.now();
        api_key.ensure_usable(now).map_err(|state| match state {
            ApiKeyState::Revoked => ApiKeyAuthError::Revoked,
            ApiKeyState::Expired => ApiKeyAuthError::Expired,
        })?;
        let user = match self.ports.users.by_id(api_key.user_id()).await? {
            Some(user) if user.ensure_can_act().is_ok() => user,
            _ => return Err(ApiKeyAuthError::Invalid),
        };
        if !api_key.allows(intent) {
            return Err(ApiKeyAuthError::InsufficientScope(ApiKeyScope::needed_for(intent)));
        }
        if api_key.is_due_for_touch(now)
            && let Err(e) =
                self.ports.unit_of_work.commit(ApiKeyChange::Touch { id: api_key.id(), at: now }.into()).await
        {
            // Bookkeeping only: the key is valid, so the request goes on.
            tracing::warn!(api_key_id = %api_key.id(), error = %e, "recording the use of an API key failed");
        }
        tracing::Span::current().record("api_key_id", tracing::field::display(api_key.id()));
        Ok(Actor::new(user, None, context).via_api_key(api_key.id()))
    }

    async fn load_accessible(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, ApiKeyError> {
        match self.ports.api_keys.by_id(id).await? {
            Some(key) if !key.is_revoked() && policy::can_access(actor, &key) => Ok(key),
            _ => Err(ApiKeyError::NotFound),
        }
    }
}

/// What the audit trail records of a key: never the key or its digest.
fn snapshot(key: &ApiKey) -> Snapshot {
    Snapshot::new()
        .with("user_id", key.user_id().to_string())
        .with("name", key.name().as_ref())
        .with("prefix", key.prefix())
        .with("scopes", key.scopes().names())
        .with("expires_at", key.expires_at())
        .with("revoked_at", key.revoked_at())
}
