-- A partner's accounts page by page, oldest first, from an index rather than a sort of
-- all its rows; expired tokens found for retention without a scan.
CREATE INDEX accounts_partner_created ON accounts (partner_id, created_at, id);
CREATE INDEX tokens_expires ON tokens (expires_at);
