-- The address players join by says how far it reaches (status.address.reach: router,
-- loadBalancer, nodePort, or cluster = inside the cluster only), and the hostnames the router
-- routes to the server (status.hostnames, canonical first), comma-separated: a hostname holds
-- no comma, and a text column keeps the projection's one-array-per-column batch writes (an
-- array column would be flattened by unnest). NULL in both is "not said" (rows projected
-- before this, events from an older operator). One plain ALTER TABLE with nullable columns:
-- no rewrite, and CockroachDB runs it online as PostgreSQL does.
ALTER TABLE servers ADD COLUMN reach text DEFAULT NULL, ADD COLUMN hostnames text DEFAULT NULL;
