//! Endpoint secrets sealed at rest under the operator's [`Keyring`]: a database backup
//! alone cannot sign webhooks. Each secret is bound to its endpoint's id (a sealed secret
//! copied to another endpoint does not open) and names the key that sealed it.

use std::borrow::Cow;
use std::sync::Arc;

use apierr_store::{Keyring, SealError};
use sqlx::Row;

use crate::Outbox;
use crate::endpoint::Secret;

/// The secrets of these states are kept (a deleted endpoint's are wiped).
const WITH_SECRETS: &str = "state <> 'deleted'";

impl Outbox {
    /// Seals the secrets this outbox writes under `keyring`, and opens the ones it reads
    /// with it. Call [`Outbox::check_keys`] at start-up, then [`Outbox::reseal`] to seal
    /// the secrets written before (the reference server does both).
    #[must_use]
    pub fn seal(mut self, keyring: Arc<Keyring>) -> Outbox {
        self.keyring = Some(keyring);
        self
    }

    /// A secret as its endpoint's row keeps it: sealed when there is a keyring.
    pub(crate) fn stored_secret<'a>(&self, endpoint: &str, secret: &'a Secret) -> Cow<'a, str> {
        match &self.keyring {
            Some(keyring) => Cow::Owned(keyring.seal_text(secret.expose(), endpoint.as_bytes())),
            None => Cow::Borrowed(secret.expose()),
        }
    }

    /// A secret from its endpoint's row: opened, or as it is if it was never sealed.
    pub(crate) fn open_secret(&self, endpoint: &str, stored: &str) -> Result<Secret, SealError> {
        match &self.keyring {
            Some(keyring) => keyring
                .open_text(stored, endpoint.as_bytes())
                .map(|s| Secret::stored(s.into_owned())),
            None => match Keyring::text_sealed_by(stored) {
                Some(id) => Err(SealError::UnknownKey(id.to_owned())),
                None => Ok(Secret::stored(stored.to_owned())),
            },
        }
    }

    /// The ids of the keys that sealed the stored secrets.
    pub async fn sealing_keys(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT substr(secret, 9, 16) AS id FROM apierr_webhook_endpoints
             WHERE {WITH_SECRETS} AND secret LIKE $1
             UNION
             SELECT DISTINCT substr(previous_secret, 9, 16) AS id FROM apierr_webhook_endpoints
             WHERE {WITH_SECRETS} AND previous_secret LIKE $1"
        ))
        .bind(Keyring::SEALED_TEXT_PATTERN)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| r.try_get("id")).collect()
    }

    /// Whether this outbox can open every stored secret: each was sealed by a key of its
    /// keyring (with no keyring, none may be sealed). A start-up check: a wrong or
    /// missing key is refused here, before any delivery, naming the key it needs.
    pub async fn check_keys(&self) -> Result<(), sqlx::Error> {
        for id in self.sealing_keys().await? {
            if !self.keyring.as_ref().is_some_and(|k| k.knows(&id)) {
                return Err(sqlx::Error::Configuration(Box::new(SealError::UnknownKey(
                    id,
                ))));
            }
        }
        Ok(())
    }

    /// Seals under the keyring's current key every stored secret that it did not seal
    /// (written in plain text before sealing, or sealed by a previous key); how many
    /// endpoints changed. Each row is replaced only if its secrets did not change
    /// meanwhile, so this runs beside servers and workers.
    pub async fn reseal(&self) -> Result<u64, sqlx::Error> {
        let Some(keyring) = &self.keyring else {
            return Ok(0);
        };
        let current = keyring.current_id();
        let under_current = |s: &str| Keyring::text_sealed_by(s) == Some(current.as_str());
        let rows = sqlx::query(&format!(
            "SELECT id, secret, previous_secret FROM apierr_webhook_endpoints WHERE {WITH_SECRETS}"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut done = 0;
        for row in &rows {
            let (id, secret, previous): (String, String, Option<String>) = (
                row.try_get("id")?,
                row.try_get("secret")?,
                row.try_get("previous_secret")?,
            );
            if under_current(&secret) && previous.as_deref().is_none_or(under_current) {
                continue;
            }
            let reseal = |stored: &str| {
                self.open_secret(&id, stored)
                    .map(|plain| keyring.seal_text(plain.expose(), id.as_bytes()))
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))
            };
            let new_secret = reseal(&secret)?;
            let new_previous = previous.as_deref().map(reseal).transpose()?;
            done += sqlx::query(
                "UPDATE apierr_webhook_endpoints SET secret = $1, previous_secret = $2
                 WHERE id = $3 AND secret = $4 AND COALESCE(previous_secret, '') = $5",
            )
            .bind(new_secret)
            .bind(new_previous)
            .bind(&id)
            .bind(&secret)
            .bind(previous.unwrap_or_default())
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(done)
    }
}
