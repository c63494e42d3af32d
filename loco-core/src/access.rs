//! Access control on the engine: API tokens (created with a random secret shown once, stored as
//! a hash, revocable, optionally expiring), authenticating a secret into an [`Identity`], the
//! service registry, and rotating the key that seals secrets.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> loco_core::Result<()> {
//! use loco_core::identity::{Grant, NewToken};
//! let engine = loco_core::Engine::open_in_memory().await?;
//! let new = NewToken { name: "ci".into(), subject: "ci-bot".into(),
//!                      grants: vec![Grant::parse("deployer:staging")?], expires_at: None };
//! let (token, secret) = engine.create_token(new, "admin").await?;
//! assert!(secret.starts_with("loco_"));
//! assert_eq!(engine.authenticate(&secret).await?.subject, "ci-bot");
//! engine.revoke_token(&token.id).await?;
//! assert_eq!(engine.authenticate(&secret).await.unwrap_err().code(), "unauthenticated");
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use loco_types::identity::{Identity, NewToken, TOKEN_PREFIX, Token, token_hash};
use loco_types::model::Timestamp;
use loco_types::service::ServiceDefinition;
use loco_types::{Error, Result};

use crate::engine::Engine;
use crate::vault::Vault;

impl Engine {
    /// Creates an API token and returns it with its secret — the only time the secret is shown;
    /// only its SHA-256 is stored.
    pub async fn create_token(&self, new: NewToken, created_by: &str) -> Result<(Token, String)> {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let token = self.create_token_with_secret(new, created_by, &secret).await?;
        Ok((token, secret))
    }

    /// Registers a token whose secret the operator chose (`LOCO_ADMIN_TOKEN`): it must start
    /// with `loco_` and carry at least 32 more characters.
    pub async fn create_token_with_secret(&self, new: NewToken, created_by: &str, secret: &str) -> Result<Token> {
        let now = Timestamp::now();
        new.validate(now)?;
        let strong = secret.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
            rest.len() >= 32 && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        });
        if !strong {
            return Err(Error::invalid(
                "token",
                format!("must be '{TOKEN_PREFIX}' followed by at least 32 letters, digits, '-' or '_'"),
            ));
        }
        let token = Token {
            id: format!("tok_{}", ulid::Ulid::new()),
            name: new.name,
            subject: new.subject,
            grants: new.grants,
            created_by: created_by.to_owned(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
        };
        let token = self.store.create_token(token, token_hash(secret)).await?;
        tracing::info!(token_id = %token.id, subject = %token.subject, created_by, "API token created");
        Ok(token)
    }

    /// Every token (never their secrets), newest first.
    pub async fn tokens(&self) -> Result<Vec<Token>> {
        self.store.tokens().await
    }

    /// Revokes a token; it authenticates nothing from now on.
    pub async fn revoke_token(&self, id: &str) -> Result<Token> {
        let token = self.store.revoke_token(id).await?;
        self.revocations.send_modify(|n| *n += 1);
        tracing::info!(token_id = %token.id, "API token revoked");
        Ok(token)
    }

    /// The identity a token secret stands for, or `unauthenticated` when it is unknown, expired
    /// or revoked. The secret is never logged or echoed.
    pub async fn authenticate(&self, secret: &str) -> Result<Identity> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(Error::Unauthenticated { reason: "the token is malformed".to_owned() });
        }
        let token = self
            .store
            .token_by_hash(&token_hash(secret))
            .await?
            .ok_or_else(|| Error::Unauthenticated { reason: "the token is not known".to_owned() })?;
        token.identity_at(Timestamp::now())
    }

    /// Whether `identity` still authenticates: its token is neither revoked nor expired now
    /// (an identity without a token always does). Long-lived streams ask this periodically, so
    /// revoking a token also ends what it opened.
    pub async fn still_valid(&self, identity: &Identity) -> Result<bool> {
        let Some(id) = &identity.token_id else { return Ok(true) };
        let now = Timestamp::now();
        Ok(self.store.tokens().await?.iter().any(|t| t.id == *id && t.identity_at(now).is_ok()))
    }

    /// Changes whenever this engine revokes a token (another process's revocations are only
    /// seen by asking [`still_valid`](Self::still_valid)).
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Whether a token with this secret exists (valid or not).
    pub async fn has_token(&self, secret: &str) -> Result<bool> {
        Ok(self.store.token_by_hash(&token_hash(secret)).await?.is_some())
    }

    /// Registers (or replaces) a service local-platform rollouts may run by name.
    pub async fn register_service(&self, definition: ServiceDefinition, by: &str) -> Result<ServiceDefinition> {
        definition.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who registers the service"));
        }
        let definition = self.store.put_service(definition, by).await?;
        tracing::info!(service = %definition.name, by, "service registered");
        Ok(definition)
    }

    /// Every registered service, by name.
    pub async fn services(&self) -> Result<Vec<ServiceDefinition>> {
        self.store.services().await
    }

    /// One registered service (`not_found` when there is none).
    pub async fn service(&self, name: &str) -> Result<ServiceDefinition> {
        self.store.service(name).await
    }

    /// Removes a registered service; rollouts already started keep running it.
    pub async fn remove_service(&self, name: &str) -> Result<()> {
        self.store.remove_service(name).await
    }

    /// Re-seals every stored secret with `new` (values sealed with the current key are opened
    /// first) in one transaction, then seals with `new` from now on. Returns how many values were
    /// re-sealed. Persisting the new key (a key file, `LOCO_MASTER_KEY`) is the caller's part.
    pub async fn rotate_secrets_key(&self, new: Vault) -> Result<u64> {
        // The old key stays loaded, so a value sealed by a rollout started meanwhile still opens.
        let both = new.with_previous(&self.keys.vault()?);
        let sealing = both.clone();
        let reseal = Arc::new(move |value: &str| -> Result<String> {
            if Vault::is_sealed(value) { Ok(sealing.seal(&sealing.open(value)?)) } else { Ok(value.to_owned()) }
        });
        let count = self.store.reseal_secrets(reseal).await?;
        self.keys.replace(both);
        tracing::info!(resealed = count, "secrets re-sealed under a new key");
        Ok(count)
    }
}
