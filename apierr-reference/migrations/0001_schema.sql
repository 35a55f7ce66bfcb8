-- The reference server's schema, in SQL that SQLite and PostgreSQL both take: text ids,
-- integer flags, Unix-second expiries and Unix-microsecond creation times. `IF NOT EXISTS`
-- so that a database made before migrations were tracked by sqlx adopts them unharmed.
CREATE TABLE IF NOT EXISTS partners (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    api_key TEXT NOT NULL UNIQUE,
    read_only BIGINT NOT NULL,
    revoked BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS children (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    first_name TEXT NOT NULL,
    birth_year BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, first_name, birth_year)
);
