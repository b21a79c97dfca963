-- Craftplane gateway: the projection of the event stream.
-- PostgreSQL, kept within what CockroachDB supports: no LISTEN/NOTIFY, advisory locks,
-- PL/pgSQL, triggers or sequences used for ordering.

-- One row per MinecraftServer (per metadata.uid): what the cluster last said about it.
-- A re-created server (same namespace/name) has a new uid and so a row of its own.
CREATE TABLE servers (
    uid             text        PRIMARY KEY,
    tenant          text,                       -- NULL: namespace without a tenant label
    namespace       text        NOT NULL,
    name            text        NOT NULL,
    status          text        NOT NULL
        CHECK (status IN ('deploying', 'running', 'stopped', 'failed', 'terminating', 'deleted')),
    phase           text,                       -- CR status.phase; NULL before the first one
    generation      bigint,                     -- highest metadata.generation seen
    spec_generation bigint,                     -- generation that server_type/version describe
    address         text,
    port            integer,
    players_online  bigint,
    players_max     bigint,
    reason          text,
    message         text,
    server_type     text,
    version         text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,                -- set exactly when status = 'deleted'
    last_event_id   text,                       -- last event that changed the row
    last_event_time timestamptz,                -- time of the state (phase) the row shows
    last_revision   bigint,                     -- CR resourceVersion of that state
    last_stream_seq bigint                      -- stream sequence of last_event_id
);

CREATE INDEX servers_tenant_namespace_name ON servers (tenant, namespace, name, uid);
CREATE INDEX servers_tenant_status ON servers (tenant, status);
CREATE INDEX servers_namespace_name ON servers (namespace, name);

-- The append-only timeline: every server event once, whether or not it changed the row.
CREATE TABLE server_events (
    seq            bigserial   PRIMARY KEY,     -- the timeline's own key (pagination cursor)
    stream_seq     bigint,                      -- JetStream sequence; NULL when polled
    event_id       text        NOT NULL UNIQUE, -- a redelivered message never doubles a row
    uid            text        NOT NULL,
    tenant         text,
    namespace      text        NOT NULL,
    name           text        NOT NULL,
    type           text        NOT NULL,
    phase          text,
    status         text,
    generation     bigint,
    revision       text,
    players_online bigint,
    players_max    bigint,
    address        text,
    port           integer,
    reason         text,
    message        text,
    event_time     timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX server_events_uid_time ON server_events (uid, event_time, seq);
CREATE INDEX server_events_stream_seq ON server_events (stream_seq);

-- Messages that could not be projected; kept for inspection, never redelivered.
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    stream_seq  bigint,
    subject     text        NOT NULL,
    payload     bytea       NOT NULL,
    error       text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX dead_letters_stream_seq ON dead_letters (stream_seq);

-- Drift reconciliation: one row per sync.required published, completed by its sync.complete.
CREATE TABLE sync_log (
    id             bigserial   PRIMARY KEY,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    scope          text        NOT NULL,
    servers        integer     NOT NULL DEFAULT 0,
    correlation_id text        UNIQUE
);
