//! The reference server's storage: SQLite (embedded, the default) or PostgreSQL, through
//! sqlx's `Any` driver so that one set of portable SQL serves both.

use std::time::{SystemTime, UNIX_EPOCH};

use apierr_axum::store::Database;
use apierr_webhooks::Outbox;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyPool, Row};

use crate::events;

/// The schema, from `migrations/`, embedded at compile time. sqlx's migrator records what
/// it applied and, on PostgreSQL, holds an advisory lock while it runs, so two replicas
/// starting at once do not race.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SHA-256 digest of a secret, in hex: how client secrets, API keys and access tokens
/// are stored and looked up. A fast digest is enough for these: they are random strings
/// the server issues, not passwords a person chose (those would want a slow hash such as
/// Argon2). It also keeps whatever bytes a caller sends out of the SQL text comparison.
pub(crate) fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Whether `id` has the form of the ids this store makes (32 lower-case hex digits): any
/// other id names nothing, and is answered without asking the database.
pub(crate) fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The demo partners a new database starts with, so that the server can be tried at once:
/// (name, client id, client secret, API key, read-only, revoked).
pub const DEMO_PARTNERS: &[(&str, &str, &str, &str, bool, bool)] = &[
    ("Acme", "acme", "acme-secret", "acme-key", false, false),
    (
        "Viewer",
        "viewer",
        "viewer-secret",
        "viewer-key",
        true,
        false,
    ),
    (
        "Retired",
        "retired",
        "retired-secret",
        "retired-key",
        false,
        true,
    ),
];

/// A storage failure; the caller answers it as an internal error.
pub(crate) type Error = sqlx::Error;

/// The database.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
    /// The webhook outbox, in the same database and pool: an account's or child's event
    /// is written in the transaction that creates it.
    pub(crate) outbox: Outbox,
}

/// A partner of the API.
#[derive(Debug, Clone)]
pub struct Partner {
    /// Its id.
    pub id: String,
    /// Whether it may only read.
    pub read_only: bool,
    /// Whether its access has been revoked.
    pub revoked: bool,
}

/// An access token and its state.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The partner it was issued to.
    pub partner: Partner,
    /// When it expires, in Unix seconds.
    pub expires_at: i64,
    /// Whether it was revoked (the partner logged out).
    pub revoked: bool,
}

/// An account registered by a partner.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub(crate) struct Account {
    /// Its id: 32 lower-case hex digits, made by the server.
    pub id: String,
    /// The email, unique across the API, stored lower-case.
    pub email: String,
    /// The first name.
    pub first_name: String,
    /// The last name.
    pub last_name: String,
}

/// A child registered under an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub(crate) struct Child {
    /// Its id: 32 lower-case hex digits, made by the server.
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// The first name.
    pub first_name: String,
    /// The year of birth.
    pub birth_year: i64,
}

/// Where a page of a listing starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start<'a> {
    /// After this many rows (page numbers).
    Offset(i64),
    /// After the row with this id (a cursor), and then this many rows.
    After(&'a str, i64),
}

/// The outcome of an insert that may collide with a unique record.
#[derive(Debug)]
pub(crate) enum Inserted<T> {
    /// Stored.
    New(T),
    /// The same record exists already.
    Exists,
}

/// Unix seconds of a time.
pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix microseconds of a time: creation times order pages, and seconds are too coarse
/// for records created together.
pub(crate) fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The time of Unix microseconds.
fn time(micros: i64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// A new random id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new secret token (credentials, access tokens, portal links and sessions): a prefix
/// that says what it is, then two v4 UUIDs' 244 random bits in hex. Stored as a digest.
pub(crate) fn secret_token(prefix: &str) -> String {
    format!("{prefix}{}{}", new_id(), new_id())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A write that named a row another request has just deleted (a child of an account
/// being deleted, or an account deleted while a child was being added).
fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// How many times a delete that raced with an insert under it is tried again.
const DELETE_ATTEMPTS: usize = 3;

impl Store {
    /// The reference API's tables in `database` (the pool the safe-retry stores and the
    /// webhook outbox share), with pending migrations applied; with `seed_demo`, the demo
    /// partners, if this start is the one that creates the tables (never again after,
    /// so that a deleted demo partner stays deleted).
    pub(crate) async fn open(database: &Database, seed_demo: bool) -> Result<Store, Error> {
        let pool = database.pool().clone();
        let outbox = Outbox::new(pool.clone()).await?;
        let store = Store { pool, outbox };
        // Before the migrations: a database without the partners' table is new. (Two
        // replicas starting on one new database may both see it so; the demo rows are
        // inserted once whoever gets there first.)
        let new = sqlx::query("SELECT 1 FROM partners LIMIT 1")
            .fetch_optional(&store.pool)
            .await
            .is_err();
        store.migrate().await?;
        if seed_demo && new {
            store.seed_demo().await?;
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), Error> {
        // Under the lock of every schema change, so that replicas starting at once on a
        // new database apply each migration once (sqlx locks on PostgreSQL only).
        let mut lock = apierr_axum::store::SchemaLock::take(&self.pool).await?;
        match MIGRATOR.run_direct(lock.connection()).await {
            Ok(()) => {}
            // A migration this build does not have: a later release wrote the database.
            Err(sqlx::migrate::MigrateError::VersionMissing(found)) => {
                let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                return Err(sqlx::Error::Configuration(Box::new(
                    apierr_axum::store::SchemaTooNew {
                        component: "reference API".into(),
                        found,
                        known,
                    },
                )));
            }
            Err(e) => return Err(e.into()),
        }
        lock.release().await?;
        self.digest_plain_secrets().await
    }

    /// Replaces the plain secrets, keys and tokens of rows written before they were stored
    /// digested. Each row is updated only while still flagged plain, so two replicas
    /// doing this at once digest every row once.
    async fn digest_plain_secrets(&self) -> Result<(), Error> {
        let partners =
            sqlx::query("SELECT id, client_secret, api_key FROM partners WHERE secrets_hashed = 0")
                .fetch_all(&self.pool)
                .await?;
        for row in partners {
            let (id, secret, key): (String, String, String) = (
                row.try_get("id")?,
                row.try_get("client_secret")?,
                row.try_get("api_key")?,
            );
            sqlx::query(
                "UPDATE partners SET client_secret = $1, api_key = $2, secrets_hashed = 1
                 WHERE id = $3 AND secrets_hashed = 0",
            )
            .bind(digest(&secret))
            .bind(digest(&key))
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        let tokens = sqlx::query("SELECT token FROM tokens WHERE hashed = 0")
            .fetch_all(&self.pool)
            .await?;
        for row in tokens {
            let token: String = row.try_get("token")?;
            sqlx::query("UPDATE tokens SET token = $1, hashed = 1 WHERE token = $2 AND hashed = 0")
                .bind(digest(&token))
                .bind(token)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn seed_demo(&self) -> Result<(), Error> {
        for (name, client_id, secret, key, read_only, revoked) in DEMO_PARTNERS {
            let result = sqlx::query(
                "INSERT INTO partners
                 (id, name, client_id, client_secret, api_key, read_only, revoked, secrets_hashed, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)",
            )
            .bind(*client_id)
            .bind(*name)
            .bind(*client_id)
            .bind(digest(secret))
            .bind(digest(key))
            .bind(i64::from(*read_only))
            .bind(i64::from(*revoked))
            .bind(unix(SystemTime::now()))
            .execute(&self.pool)
            .await;
            match result {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The pool (partner management runs its own statements on it).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn partner(row: &sqlx::any::AnyRow) -> Result<Partner, Error> {
        Ok(Partner {
            id: row.try_get("id")?,
            read_only: row.try_get::<i64, _>("read_only")? != 0,
            revoked: row.try_get::<i64, _>("revoked")? != 0,
        })
    }

    /// The partner with these client credentials: its secret, or the one before its
    /// last rotation while that one's overlap lasts (at `now`, Unix seconds).
    pub(crate) async fn partner_by_client(
        &self,
        client_id: &str,
        secret: &str,
        now: i64,
    ) -> Result<Option<Partner>, Error> {
        sqlx::query(
            "SELECT id, read_only, revoked FROM partners WHERE client_id = $1
             AND (client_secret = $2 OR (previous_client_secret = $2 AND previous_client_secret_until > $3))",
        )
        .bind(client_id)
        .bind(digest(secret))
        .bind(now)
        .fetch_optional(&self.pool)
            .await?
            .map(|r| Store::partner(&r))
            .transpose()
    }

    /// The partner with this API key, or with it as the key before its last rotation
    /// while that one's overlap lasts (at `now`, Unix seconds).
    pub(crate) async fn partner_by_key(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<Partner>, Error> {
        let key = digest(key);
        sqlx::query(
            "SELECT id, read_only, revoked FROM partners WHERE api_key = $1
             UNION ALL
             SELECT id, read_only, revoked FROM partners
             WHERE previous_api_key = $1 AND previous_api_key_until > $2",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| Store::partner(&r))
        .transpose()
    }

    /// Issues a token to a partner.
    pub(crate) async fn issue_token(
        &self,
        partner: &str,
        expires_at: i64,
    ) -> Result<String, Error> {
        let token = secret_token("");
        sqlx::query(
            "INSERT INTO tokens (token, partner_id, expires_at, revoked, hashed)
             VALUES ($1, $2, $3, 0, 1)",
        )
        .bind(digest(&token))
        .bind(partner)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// A token and its partner.
    pub(crate) async fn token(&self, token: &str) -> Result<Option<Token>, Error> {
        sqlx::query(
            "SELECT p.id, p.read_only, p.revoked AS revoked, t.expires_at, t.revoked AS token_revoked
             FROM tokens t JOIN partners p ON p.id = t.partner_id WHERE t.token = $1",
        )
        .bind(digest(token))
        .fetch_optional(&self.pool)
        .await?
        .map(|r| {
            Ok(Token {
                partner: Store::partner(&r)?,
                expires_at: r.try_get("expires_at")?,
                revoked: r.try_get::<i64, _>("token_revoked")? != 0,
            })
        })
        .transpose()
    }

    /// Deletes the tokens that expired before `before` (Unix seconds), in batches: access
    /// tokens, and the partner portal's links and sessions; how many.
    pub(crate) async fn purge_tokens(&self, before: i64) -> Result<u64, Error> {
        const BATCH: i64 = 500;
        let mut purged = 0;
        for (table, key) in [
            ("tokens", "token"),
            ("portal_links", "digest"),
            ("portal_sessions", "digest"),
        ] {
            let statement = format!(
                "DELETE FROM {table} WHERE {key} IN
                 (SELECT {key} FROM {table} WHERE expires_at < $1 LIMIT $2)"
            );
            loop {
                let done = sqlx::query(&statement)
                    .bind(before)
                    .bind(BATCH)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                purged += done;
                if done < BATCH as u64 {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// Revokes a token; later use of it is an ended session.
    pub(crate) async fn revoke_token(&self, token: &str) -> Result<(), Error> {
        sqlx::query("UPDATE tokens SET revoked = 1 WHERE token = $1")
            .bind(digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Registers an account; an email in use already is [`Inserted::Exists`].
    pub(crate) async fn create_account(
        &self,
        partner: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
        now: i64,
    ) -> Result<Inserted<Account>, Error> {
        let account = Account {
            id: new_id(),
            email: email.to_lowercase(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
        };
        let mut tx = apierr_axum::store::begin_write(&self.pool).await?;
        let result = sqlx::query(
            "INSERT INTO accounts (id, partner_id, email, first_name, last_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&account.id)
        .bind(partner)
        .bind(&account.email)
        .bind(&account.first_name)
        .bind(&account.last_name)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(Inserted::Exists),
            Err(e) => return Err(e),
        }
        // The event is committed with the account, or neither is.
        self.outbox
            .enqueue(
                &mut tx,
                partner,
                events::ACCOUNT_CREATED,
                &json!(account),
                time(now),
            )
            .await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Inserted::New(account))
    }

    fn account_row(row: &sqlx::any::AnyRow) -> Result<Account, Error> {
        Ok(Account {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
        })
    }

    /// A partner's account.
    pub(crate) async fn account(&self, partner: &str, id: &str) -> Result<Option<Account>, Error> {
        sqlx::query("SELECT id, email, first_name, last_name FROM accounts WHERE partner_id = $1 AND id = $2")
            .bind(partner)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Store::account_row(&r))
            .transpose()
    }

    /// Up to `limit` of a partner's accounts, oldest first, from `from`; `None` when
    /// the cursor names no account of the partner's. Both forms walk the index of the
    /// partner's accounts by creation: a cursor page costs the same however far in it is.
    pub(crate) async fn accounts(
        &self,
        partner: &str,
        from: Start<'_>,
        limit: i64,
    ) -> Result<Option<Vec<Account>>, Error> {
        let rows =
            match from {
                Start::Offset(offset) => sqlx::query(
                    "SELECT id, email, first_name, last_name FROM accounts WHERE partner_id = $1
                     ORDER BY created_at, id LIMIT $2 OFFSET $3",
                )
                .bind(partner)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?,
                Start::After(id, offset) => {
                    let Some(at) = sqlx::query_scalar::<_, i64>(
                        "SELECT created_at FROM accounts WHERE partner_id = $1 AND id = $2",
                    )
                    .bind(partner)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    else {
                        return Ok(None);
                    };
                    sqlx::query(
                        "SELECT id, email, first_name, last_name FROM accounts
                     WHERE partner_id = $1 AND created_at >= $2 AND (created_at > $2 OR id > $3)
                     ORDER BY created_at, id LIMIT $4 OFFSET $5",
                    )
                    .bind(partner)
                    .bind(at)
                    .bind(id)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?
                }
            };
        rows.iter()
            .map(Store::account_row)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// How many accounts the partner has, counting no further than `up_to` (all of them
    /// with `None`), from the index.
    pub(crate) async fn count_accounts(
        &self,
        partner: &str,
        up_to: Option<i64>,
    ) -> Result<u64, Error> {
        let n: i64 = match up_to {
            Some(limit) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM accounts WHERE partner_id = $1 LIMIT $2) AS bounded",
                )
                .bind(partner)
                .bind(limit)
                .fetch_one(&self.pool)
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE partner_id = $1")
                    .bind(partner)
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Updates the given fields of a partner's account, and writes its
    /// [`events::ACCOUNT_UPDATED`] event in the same transaction: `None` when there is no
    /// such account, [`Inserted::Exists`] when the new email belongs to another account.
    pub(crate) async fn update_account(
        &self,
        partner: &str,
        id: &str,
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
        now: i64,
    ) -> Result<Option<Inserted<()>>, Error> {
        let mut tx = apierr_axum::store::begin_write(&self.pool).await?;
        let result = sqlx::query(
            "UPDATE accounts SET email = COALESCE($1, email), first_name = COALESCE($2, first_name),
             last_name = COALESCE($3, last_name) WHERE partner_id = $4 AND id = $5
             RETURNING id, email, first_name, last_name",
        )
        .bind(email.map(str::to_lowercase))
        .bind(first_name)
        .bind(last_name)
        .bind(partner)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await;
        let account = match result {
            Ok(None) => return Ok(None),
            Ok(Some(row)) => Store::account_row(&row)?,
            Err(e) if is_unique_violation(&e) => return Ok(Some(Inserted::Exists)),
            Err(e) => return Err(e),
        };
        self.outbox
            .enqueue(
                &mut tx,
                partner,
                events::ACCOUNT_UPDATED,
                &json!(account),
                time(now),
            )
            .await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Some(Inserted::New(())))
    }

    /// Deletes a partner's account and its children; whether there was one. A child
    /// registered between the two deletes makes the account's delete fail on its foreign
    /// key; the whole delete is then tried again.
    pub(crate) async fn delete_account(
        &self,
        partner: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, Error> {
        let mut attempt = 1;
        loop {
            match self.try_delete_account(partner, id, now).await {
                Err(e) if is_foreign_key_violation(&e) && attempt < DELETE_ATTEMPTS => {
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    async fn try_delete_account(&self, partner: &str, id: &str, now: i64) -> Result<bool, Error> {
        let mut tx = apierr_axum::store::begin_write(&self.pool).await?;
        let owned = sqlx::query("SELECT id FROM accounts WHERE partner_id = $1 AND id = $2")
            .bind(partner)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if owned {
            sqlx::query("DELETE FROM children WHERE account_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM accounts WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            self.outbox
                .enqueue(
                    &mut tx,
                    partner,
                    events::ACCOUNT_DELETED,
                    &json!(events::Deleted { id }),
                    time(now),
                )
                .await?;
        }
        tx.commit().await?;
        if owned {
            self.outbox.wake();
        }
        Ok(owned)
    }

    fn child(row: &sqlx::any::AnyRow) -> Result<Child, Error> {
        Ok(Child {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            first_name: row.try_get("first_name")?,
            birth_year: row.try_get("birth_year")?,
        })
    }

    async fn find_child(
        &self,
        account: &str,
        first_name: &str,
        birth_year: i64,
    ) -> Result<Option<Child>, Error> {
        sqlx::query(
            "SELECT id, account_id, first_name, birth_year FROM children
             WHERE account_id = $1 AND first_name = $2 AND birth_year = $3",
        )
        .bind(account)
        .bind(first_name)
        .bind(birth_year)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| Store::child(&r))
        .transpose()
    }

    /// Registers a child; the same child again gives the existing record and `false`.
    /// `None` when the account no longer exists (deleted since the caller looked).
    pub(crate) async fn register_child(
        &self,
        partner: &str,
        account: &str,
        first_name: &str,
        birth_year: i64,
        now: i64,
    ) -> Result<Option<(Child, bool)>, Error> {
        if let Some(existing) = self.find_child(account, first_name, birth_year).await? {
            return Ok(Some((existing, false)));
        }
        let child = Child {
            id: new_id(),
            account_id: account.to_owned(),
            first_name: first_name.to_owned(),
            birth_year,
        };
        let mut tx = apierr_axum::store::begin_write(&self.pool).await?;
        let result = sqlx::query(
            "INSERT INTO children (id, account_id, first_name, birth_year, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&child.id)
        .bind(account)
        .bind(first_name)
        .bind(birth_year)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if result.is_ok() {
            self.outbox
                .enqueue(
                    &mut tx,
                    partner,
                    events::CHILD_CREATED,
                    &json!(child),
                    time(now),
                )
                .await?;
            tx.commit().await?;
            self.outbox.wake();
        } else {
            drop(tx);
        }
        match result {
            Ok(_) => Ok(Some((child, true))),
            // A concurrent registration of the same child won the race.
            Err(e) if is_unique_violation(&e) => {
                match self.find_child(account, first_name, birth_year).await? {
                    Some(existing) => Ok(Some((existing, false))),
                    None => Err(e),
                }
            }
            // The account was deleted under us.
            Err(e) if is_foreign_key_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
