//! Partner management, for operators: add, list, show, revoke and rotate credentials
//! (`apierr partners …`, and [`Partners`] for a program of one's own).
//!
//! Credentials are shown once, when they are made, and stored as SHA-256 digests only.
//! A rotated API key or client secret stays valid beside the new one for an overlap
//! (24 hours by default, like webhook signing secrets) so that the partner can deploy the
//! new one; rotating again within the overlap ends the older one at once. Revocation
//! is immediate: the partner's key, secret and every access token it holds stop working
//! at the next request.

use std::fmt;
use std::time::{Duration, SystemTime};

use apierr_axum::Clock;
use apierr_axum::store::Database;
use serde::Serialize;
use sqlx::Row;

use crate::store::{Store, digest, new_id, secret_token, unix};

/// How long a rotated credential keeps working by default.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest overlap a rotation may keep (30 days): a credential meant to be replaced
/// should not live on for months.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a portal link is valid unless the operator says otherwise: long enough to
/// send it and open it, short enough that a link found later in a mailbox is dead.
pub const DEFAULT_PORTAL_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest a portal link may be valid (a day).
pub const MAX_PORTAL_LINK_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A sign-in link to the partner portal ([`Partners::portal_link`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalLink {
    /// The one-use token, shown this once.
    pub token: String,
    /// Unix seconds after which it no longer signs in.
    pub expires_at: i64,
}

/// The longest partner name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a partner operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PartnerError {
    /// No partner has this id.
    NotFound(String),
    /// The partner is revoked: its credentials are not rotated again.
    Revoked(String),
    /// The name is empty, too long or holds control characters.
    InvalidName(String),
    /// The overlap is longer than [`MAX_ROTATION_OVERLAP`].
    InvalidOverlap(Duration),
    /// A portal link's lifetime is zero or longer than [`MAX_PORTAL_LINK_TTL`].
    InvalidLinkTtl(Duration),
    /// The database failed.
    Database(sqlx::Error),
}

impl fmt::Display for PartnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartnerError::NotFound(id) => write!(f, "no partner has the id {id:?}"),
            PartnerError::Revoked(id) => write!(f, "partner {id} is revoked"),
            PartnerError::InvalidName(why) => write!(f, "the partner's name {why}"),
            PartnerError::InvalidOverlap(d) => write!(
                f,
                "an overlap of {} is longer than the {} a rotation may keep",
                humantime::format_duration(*d),
                humantime::format_duration(MAX_ROTATION_OVERLAP)
            ),
            PartnerError::InvalidLinkTtl(d) => write!(
                f,
                "a portal link valid for {} is not one from a second to {}",
                humantime::format_duration(*d),
                humantime::format_duration(MAX_PORTAL_LINK_TTL)
            ),
            PartnerError::Database(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for PartnerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PartnerError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for PartnerError {
    fn from(e: sqlx::Error) -> Self {
        PartnerError::Database(e)
    }
}

/// A partner as an operator sees it: never a credential, only when the rotated ones end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerRecord {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The client id of its OAuth client credentials.
    pub client_id: String,
    /// Whether it may only read.
    pub read_only: bool,
    /// Whether it is revoked.
    pub revoked: bool,
    /// When it was added (Unix seconds; `None` for partners older than this record).
    pub created_at: Option<i64>,
    /// When it was revoked (Unix seconds).
    pub revoked_at: Option<i64>,
    /// Until when the API key it had before its last rotation still works (Unix
    /// seconds), if that is still to come.
    pub previous_api_key_until: Option<i64>,
    /// Until when the client secret it had before its last rotation still works.
    pub previous_client_secret_until: Option<i64>,
}

/// What an operation that makes credentials returns: the partner, and the new
/// credentials in plain text, which exist nowhere else (the store keeps digests).
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// The partner, after the operation.
    pub partner: PartnerRecord,
    /// A new API key (`X-Api-Key`), if the operation made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A new client secret (with the partner's client id at `POST /oauth/token`), if
    /// the operation made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// The partners of an API's database.
#[derive(Clone)]
pub struct Partners {
    store: Store,
    clock: Clock,
}

impl fmt::Debug for Partners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partners")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, name, client_id, read_only, revoked, created_at, revoked_at,
     previous_api_key_until, previous_client_secret_until";

impl Partners {
    /// The partners of the API database at `url` (`sqlite://FILE` or `postgres://…`),
    /// with its tables made or migrated as `apierr serve` would, and no demo partner.
    pub async fn connect(url: &str) -> Result<Partners, PartnerError> {
        let database = Database::connect(url).await?;
        Partners::open(&database).await
    }

    /// The partners of an open database (see [`Partners::connect`]).
    pub async fn open(database: &Database) -> Result<Partners, PartnerError> {
        let store = Store::open(database, false).await?;
        Ok(Partners {
            store,
            clock: std::sync::Arc::new(SystemTime::now),
        })
    }

    /// Uses `clock` for creation and revocation times and rotation overlaps (tests
    /// inject their own).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Partners {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        unix((self.clock)())
    }

    fn record(&self, row: &sqlx::any::AnyRow) -> Result<PartnerRecord, sqlx::Error> {
        let now = self.now();
        let created_at: i64 = row.try_get("created_at")?;
        let pending = |until: Option<i64>| until.filter(|&t| t > now);
        Ok(PartnerRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            client_id: row.try_get("client_id")?,
            read_only: row.try_get::<i64, _>("read_only")? != 0,
            revoked: row.try_get::<i64, _>("revoked")? != 0,
            created_at: (created_at > 0).then_some(created_at),
            revoked_at: row.try_get("revoked_at")?,
            previous_api_key_until: pending(row.try_get("previous_api_key_until")?),
            previous_client_secret_until: pending(row.try_get("previous_client_secret_until")?),
        })
    }

    /// Adds a partner named `name`, with a new API key and client secret; `read_only`
    /// partners may only read (GET and HEAD).
    pub async fn add(&self, name: &str, read_only: bool) -> Result<Issued, PartnerError> {
        let name = check_name(name)?;
        let id = new_id();
        let api_key = secret_token("ak_");
        let client_secret = secret_token("cs_");
        sqlx::query(
            "INSERT INTO partners
             (id, name, client_id, client_secret, api_key, read_only, revoked, secrets_hashed, created_at)
             VALUES ($1, $2, $1, $3, $4, $5, 0, 1, $6)",
        )
        .bind(&id)
        .bind(name)
        .bind(digest(&client_secret))
        .bind(digest(&api_key))
        .bind(i64::from(read_only))
        .bind(self.now())
        .execute(self.store.pool())
        .await?;
        Ok(Issued {
            partner: self.show(&id).await?,
            api_key: Some(api_key),
            client_secret: Some(client_secret),
        })
    }

    /// Every partner, oldest first.
    pub async fn list(&self) -> Result<Vec<PartnerRecord>, PartnerError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM partners ORDER BY created_at, id"
        ))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| self.record(r))
            .collect::<Result<_, _>>()?)
    }

    /// The partner with this id.
    pub async fn show(&self, id: &str) -> Result<PartnerRecord, PartnerError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM partners WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or_else(|| PartnerError::NotFound(id.to_owned()))?;
        Ok(self.record(&row)?)
    }

    /// Revokes the partner: from its next request on, its API key, client secret and
    /// access tokens are refused (`key revoked`). Revoking a revoked partner changes
    /// nothing.
    pub async fn revoke(&self, id: &str) -> Result<PartnerRecord, PartnerError> {
        sqlx::query(
            "UPDATE partners SET revoked = 1, revoked_at = $1, previous_api_key = NULL,
             previous_client_secret = NULL WHERE id = $2 AND revoked = 0",
        )
        .bind(self.now())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        // Its tokens are refused through the partner's flag; marking them too keeps a
        // token from outliving a later mistake in that check.
        sqlx::query("UPDATE tokens SET revoked = 1 WHERE partner_id = $1")
            .bind(id)
            .execute(self.store.pool())
            .await?;
        self.show(id).await
    }

    /// A new API key; the current one keeps working for `overlap` (zero: it stops now).
    pub async fn rotate_key(&self, id: &str, overlap: Duration) -> Result<Issued, PartnerError> {
        let key = secret_token("ak_");
        self.rotate(id, overlap, "api_key", &key).await?;
        Ok(Issued {
            partner: self.show(id).await?,
            api_key: Some(key),
            client_secret: None,
        })
    }

    /// A new client secret; the current one keeps working for `overlap`. Access tokens
    /// already issued keep their own expiry.
    pub async fn rotate_secret(&self, id: &str, overlap: Duration) -> Result<Issued, PartnerError> {
        let secret = secret_token("cs_");
        self.rotate(id, overlap, "client_secret", &secret).await?;
        Ok(Issued {
            partner: self.show(id).await?,
            api_key: None,
            client_secret: Some(secret),
        })
    }

    /// A sign-in link to the partner portal for this partner: a one-use token, valid for
    /// `ttl` (at most [`MAX_PORTAL_LINK_TTL`]), to append to the server's
    /// `/portal/enter?link=`. Only its digest is stored; a revoked partner gets none.
    pub async fn portal_link(&self, id: &str, ttl: Duration) -> Result<PortalLink, PartnerError> {
        if ttl > MAX_PORTAL_LINK_TTL || ttl.is_zero() {
            return Err(PartnerError::InvalidLinkTtl(ttl));
        }
        if self.show(id).await?.revoked {
            return Err(PartnerError::Revoked(id.to_owned()));
        }
        let token = secret_token("pl_");
        let now = self.now();
        let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        sqlx::query(
            "INSERT INTO portal_links (digest, partner_id, expires_at, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(digest(&token))
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(PortalLink { token, expires_at })
    }

    /// Moves the current `column` to `previous_column` until now + `overlap` and stores
    /// the digest of `fresh` in its place, in one statement.
    async fn rotate(
        &self,
        id: &str,
        overlap: Duration,
        column: &str,
        fresh: &str,
    ) -> Result<(), PartnerError> {
        if overlap > MAX_ROTATION_OVERLAP {
            return Err(PartnerError::InvalidOverlap(overlap));
        }
        let existing = self.show(id).await?;
        if existing.revoked {
            return Err(PartnerError::Revoked(id.to_owned()));
        }
        let until = self
            .now()
            .saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
        let done = sqlx::query(&format!(
            "UPDATE partners SET previous_{column} = {column}, previous_{column}_until = $1,
             {column} = $2 WHERE id = $3 AND revoked = 0"
        ))
        .bind(until)
        .bind(digest(fresh))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        if done.rows_affected() == 0 {
            // Revoked since it was read.
            return Err(PartnerError::Revoked(id.to_owned()));
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<&str, PartnerError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(PartnerError::InvalidName("is empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PartnerError::InvalidName(format!(
            "is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(PartnerError::InvalidName("holds control characters".into()));
    }
    Ok(name)
}

/// A partner as lines of `name: value`, for `apierr partners show`; times in RFC 3339.
pub fn describe(p: &PartnerRecord) -> String {
    let time = |t: Option<i64>| {
        t.and_then(|t| u64::try_from(t).ok())
            .map(|t| {
                humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(t))
                    .to_string()
            })
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "id: {}\nname: {}\nclient_id: {}\nread_only: {}\nrevoked: {}\ncreated_at: {}\nrevoked_at: {}\nprevious_api_key_until: {}\nprevious_client_secret_until: {}\n",
        p.id,
        p.name.escape_debug(),
        p.client_id,
        p.read_only,
        p.revoked,
        time(p.created_at),
        time(p.revoked_at),
        time(p.previous_api_key_until),
        time(p.previous_client_secret_until),
    )
}
