-- Revoked tenant tokens, read by every gateway replica into a short-lived cache. A row with a
-- jti denies that one token; the row with jti '' denies every token of the tenant issued
-- before issued_before (one per tenant, only ever moved later). Plain types, a composite
-- primary key and no sequences: CockroachDB runs it as PostgreSQL does.
CREATE TABLE IF NOT EXISTS token_revocations (
    tenant        text        NOT NULL,
    jti           text        NOT NULL,
    issued_before timestamptz,
    revoked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, jti)
);
