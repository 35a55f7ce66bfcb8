-- The partner portal: one-use sign-in links an operator makes (`apierr partners
-- portal-link`) and the browser sessions they open, each stored as the SHA-256 digest of
-- the token only the browser holds. Times in Unix seconds; expired rows are found for
-- retention through their index.
CREATE TABLE portal_links (
    digest TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_links_expires ON portal_links (expires_at);
CREATE TABLE portal_sessions (
    digest TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    csrf TEXT NOT NULL,
    -- What the last action came to, shown once on the next page (never a secret).
    flash TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
