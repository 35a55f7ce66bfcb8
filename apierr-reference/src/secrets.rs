//! Secrets at rest: where the key that seals webhook signing secrets and stored
//! idempotent responses comes from, and `apierr keys generate | rotate`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use apierr_axum::store::{Backend, Database, Keyring, RedisStore, SqlStore};

use crate::ServeError;

/// The file name a quick-start key gets beside its SQLite database: `FILE.key`.
pub const KEY_FILE_SUFFIX: &str = ".key";

/// The environment variable that may hold the secret key itself (64 hex digits), for
/// platforms that inject secrets as variables.
pub const SECRET_KEY_ENV: &str = "APIERR_SECRET_KEY";

/// Where the key that seals secrets at rest comes from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum SecretKeys {
    /// These keys: the current one seals, every one opens.
    Given(Keyring),
    /// A key in a file beside the SQLite database (`FILE.key`, made with mode 0600 on
    /// the first start, and said so in the log): the embedded quick start's choice. A
    /// backup of the directory then holds the key too. Any other database needs a key
    /// given. The default.
    #[default]
    BesideDatabase,
    /// Not sealed: signing secrets are stored as they are, and anyone who reads the
    /// database (a backup, a replica, a support dump) can sign webhooks as the API.
    /// Secrets sealed before still need their key.
    Plaintext,
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretKeys::Given(keyring) => f.debug_tuple("Given").field(keyring).finish(),
            SecretKeys::BesideDatabase => f.write_str("BesideDatabase"),
            SecretKeys::Plaintext => f.write_str("Plaintext"),
        }
    }
}

/// What to do without a key: the message of every start that has none.
fn no_key(database: &str) -> ServeError {
    ServeError::Config(format!(
        "webhook signing secrets are sealed at rest, and {database} has no key beside it: \
         give --secret-key-file FILE (make one with `apierr keys generate FILE`) or \
         {SECRET_KEY_ENV}; --allow-plaintext-secrets stores them unsealed (anyone with a \
         backup can then sign webhooks)"
    ))
}

/// The SQLite file a URL names, if it names one (not `:memory:`).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Reads a key file: 64 hex digits. Warns when others may read it.
pub fn read_key_file(path: &Path) -> Result<[u8; apierr_axum::store::KEY_LEN], String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the secret key file {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %path.display(), "the secret key file may be read by other users (chmod 600 it)");
        }
    }
    Keyring::parse_key(&text).map_err(|e| format!("the secret key file {}: {e}", path.display()))
}

/// Writes a new random key to `path` (64 hex digits and a newline, mode 0600); an
/// existing file is never overwritten.
pub fn generate_key_file(path: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create the key file {}: {e}", path.display()))?;
    writeln!(file, "{}", Keyring::key_text(&Keyring::generate()))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))
}

/// The keyring of a start, from `keys` and the database URL, or `None` for
/// [`SecretKeys::Plaintext`].
pub(crate) fn keyring(keys: &SecretKeys, url: &str) -> Result<Option<Arc<Keyring>>, ServeError> {
    match keys {
        SecretKeys::Given(keyring) => Ok(Some(Arc::new(keyring.clone()))),
        SecretKeys::Plaintext => {
            tracing::warn!(
                "webhook signing secrets are stored unsealed (--allow-plaintext-secrets)"
            );
            Ok(None)
        }
        SecretKeys::BesideDatabase => {
            if url.starts_with("sqlite:") && url.contains(":memory:") {
                // The data ends with the process: so may its key.
                return Ok(Some(Arc::new(Keyring::new(&Keyring::generate()))));
            }
            let Some(file) = sqlite_file(url) else {
                return Err(no_key(&crate::config::redact_database_url(url)));
            };
            let mut path = file.into_os_string();
            path.push(KEY_FILE_SUFFIX);
            let path = PathBuf::from(path);
            if !path.exists() {
                generate_key_file(&path).map_err(ServeError::Config)?;
                tracing::warn!(
                    file = %path.display(),
                    "made the key that seals webhook secrets, beside the database: keep it, \
                     and back it up apart from the database"
                );
            }
            let key = read_key_file(&path).map_err(ServeError::Config)?;
            Ok(Some(Arc::new(Keyring::new(&key))))
        }
    }
}

/// What `apierr keys rotate` sealed again under the new key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Webhook endpoints whose secrets were sealed again.
    pub endpoints: u64,
    /// Stored idempotent responses sealed again (in the database, and in Redis when
    /// given).
    pub responses: u64,
}

/// `apierr keys rotate`: seals every secret and stored response of `database_url` (and
/// of Redis under `redis`'s URL and prefix, if given) that `keyring`'s current key did not
/// seal, opening them with its previous keys. Servers keep running meanwhile: give them
/// the new key as current and the old one as previous first, so that they open both;
/// once this is done, the old key can go.
pub async fn rotate_keys(
    database_url: &str,
    keyring: Keyring,
    redis: Option<(&str, &str)>,
) -> Result<Resealed, ServeError> {
    let database = Database::connect(database_url)
        .await
        .map_err(ServeError::Database)?;
    let keyring = Arc::new(keyring);
    let outbox = apierr_webhooks::Outbox::new(database.pool().clone())
        .await
        .map_err(ServeError::Database)?
        .seal(keyring.clone());
    outbox.check_keys().await.map_err(ServeError::Database)?;
    let endpoints = outbox.reseal().await.map_err(ServeError::Database)?;
    let mut responses = SqlStore::open(&database)
        .await
        .map_err(ServeError::Store)?
        .reseal(&keyring)
        .await
        .map_err(ServeError::Store)?;
    if let Some((url, prefix)) = redis {
        responses += RedisStore::connect_with_prefix(url, prefix)
            .await
            .map_err(ServeError::Store)?
            .reseal(&keyring)
            .await
            .map_err(ServeError::Store)?;
    }
    debug_assert!(matches!(
        database.backend(),
        Backend::Sqlite | Backend::Postgres
    ));
    Ok(Resealed {
        endpoints,
        responses,
    })
}
