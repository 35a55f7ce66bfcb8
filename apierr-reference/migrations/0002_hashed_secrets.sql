-- Client secrets, API keys and access tokens are stored as SHA-256 digests. Rows written
-- before this migration are digested by the server when it starts (SQLite has no SHA-256
-- function); these flags say which rows are done.
ALTER TABLE partners ADD COLUMN secrets_hashed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN hashed BIGINT NOT NULL DEFAULT 0;
