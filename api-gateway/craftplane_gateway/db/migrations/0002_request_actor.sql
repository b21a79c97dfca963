-- The gateway's own writes (create, PATCH, delete, start, stop, restart, console commands) go
-- into the timeline beside the operator's events, as type request.*; actor is who asked (the
-- token's subject). NULL for the operator's events. Plain ADD COLUMN: CockroachDB runs it
-- online too.
ALTER TABLE server_events ADD COLUMN actor text;
