//! A database of a test's own: a SQLite file or a PostgreSQL schema.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use sqlx::{Connection, PgConnection};

use crate::names::{PREFIX, owner_ended, unique};

/// The PostgreSQL the tests use: `APIERR_TEST_POSTGRES_URL`, default the machine's
/// `postgres://postgres@127.0.0.1:5432/test` (trust auth).
pub fn postgres_url() -> String {
    std::env::var("APIERR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The SQL databases every database test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the temporary directory.
    Sqlite,
    /// A schema of its own in [`postgres_url`]'s database.
    Postgres,
}

/// Both backends, in the order tests run them.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A database no other test uses, removed when dropped: the SQLite file (with its WAL
/// and shared-memory files), or the PostgreSQL schema with everything in it.
///
/// Keep it alive for as long as anything uses [`url`](TestDatabase::url).
#[derive(Debug)]
pub struct TestDatabase {
    backend: Backend,
    url: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    File(PathBuf),
    Schema(String),
}

impl TestDatabase {
    /// A new, empty database on `backend`; `label` goes into its name. Fails the test,
    /// naming the service and the variable, when PostgreSQL does not answer.
    pub async fn new(backend: Backend, label: &str) -> TestDatabase {
        let name = unique(label);
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                TestDatabase {
                    backend,
                    url: format!("sqlite://{}", path.display()),
                    place: Place::File(path),
                }
            }
            Backend::Postgres => {
                let base = postgres_url();
                let mut conn = connect(&base).await;
                sweep(&mut conn).await;
                sqlx::query(&format!("CREATE SCHEMA {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {base}: CREATE SCHEMA: {e}"));
                let _ = conn.close().await;
                let join = if base.contains('?') { '&' } else { '?' };
                TestDatabase {
                    backend,
                    url: format!("{base}{join}options=-c%20search_path%3D{name}"),
                    place: Place::Schema(name),
                }
            }
        }
    }

    /// The database's URL, for any `connect` of apierr's.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.place {
            Place::File(path) => {
                for suffix in ["", "-wal", "-shm", ".key"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Place::Schema(name) => {
                let name = name.clone();
                crate::block_on_own_thread(async move {
                    let base = postgres_url();
                    let Ok(mut conn) = PgConnection::connect(&base).await else {
                        return;
                    };
                    // A pool of the test's that still holds a lock must not hang the test
                    // here; the next run's sweep drops what is left.
                    let _ = sqlx::query("SET lock_timeout = '5s'")
                        .execute(&mut conn)
                        .await;
                    if let Err(e) = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await
                    {
                        eprintln!("apierr-testkit: {name} is left for the next sweep: {e}");
                    }
                    let _ = conn.close().await;
                });
            }
        }
    }
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not answering at {url}: {e}\n\
             (scripts/test starts it; or set APIERR_TEST_POSTGRES_URL to one that runs)"
        )
    })
}

/// Drops, once per process, the schemas of test processes that have ended without
/// dropping theirs (killed, or a panic that skipped `Drop`).
async fn sweep(conn: &mut PgConnection) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_err() {
        return;
    }
    let pattern = format!("{PREFIX}\\_%");
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1",
    )
    .bind(pattern)
    .fetch_all(&mut *conn)
    .await
    else {
        return;
    };
    for name in names.into_iter().filter(|n| owner_ended(n)) {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&mut *conn)
            .await;
    }
}
