//! Who may do what with API keys. The use cases enforce these rules.

use forge_domain::{api_keys::ApiKey, users::Permission};

use crate::common::Actor;

/// May `actor` manage API keys at all? Only from a session: an actor authenticated by an API key
/// may not create, list or revoke keys.
#[must_use]
pub const fn can_manage(actor: &Actor) -> bool {
    !actor.is_api_key()
}

/// May `actor` read or revoke `key`? Its owner, and admins (who manage every account).
#[must_use]
pub fn can_access(actor: &Actor, key: &ApiKey) -> bool {
    can_manage(actor) && (actor.is(key.user_id()) || actor.can(Permission::ManageUsers))
}

#[cfg(test)]
mod tests {
    use forge_domain::{
        api_keys::{ApiKeyId, ApiKeyName, ApiKeyScopes, NewApiKey},
        sessions::TokenDigest,
        users::Role,
    };

    use super::*;
    use crate::test_support::{a_user, acting_as, now};

    fn key_of(user: &forge_domain::users::User) -> ApiKey {
        ApiKey::issue(
            NewApiKey {
                user_id: user.id(),
                name: ApiKeyName::parse("ci").unwrap(),
                scopes: ApiKeyScopes::all(),
                expires_at: None,
                secret: "sk_abcdefghijk".into(),
                digest: TokenDigest::new("d".into()),
            },
            now(),
        )
        .unwrap()
    }

    #[test]
    fn owners_and_admins_may_access_a_key_and_nobody_else() {
        let owner = a_user(Role::Member).build();
        let key = key_of(&owner);
        assert!(can_access(&acting_as(&owner), &key));
        assert!(can_access(&acting_as(&a_user(Role::Admin).build()), &key));
        assert!(!can_access(&acting_as(&a_user(Role::Manager).build()), &key));
        assert!(!can_access(&acting_as(&a_user(Role::Member).build()), &key));
    }

    #[test]
    fn nobody_manages_keys_with_a_key_not_even_an_admin() {
        let admin = a_user(Role::Admin).build();
        let actor = acting_as(&admin).via_api_key(ApiKeyId::generate());
        assert!(!can_manage(&actor));
        assert!(!can_access(&actor, &key_of(&admin)));
    }
}
