-- Partner management: a rotated API key or client secret stays valid beside the new one
-- until its `_until` time (Unix seconds); when each partner was created and revoked.
ALTER TABLE partners ADD COLUMN previous_api_key TEXT;
ALTER TABLE partners ADD COLUMN previous_api_key_until BIGINT;
ALTER TABLE partners ADD COLUMN previous_client_secret TEXT;
ALTER TABLE partners ADD COLUMN previous_client_secret_until BIGINT;
ALTER TABLE partners ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partners ADD COLUMN revoked_at BIGINT;
CREATE UNIQUE INDEX partners_previous_api_key ON partners (previous_api_key);
