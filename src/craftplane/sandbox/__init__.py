"""The local sandbox: a real control plane (kwok), NATS JetStream and PostgreSQL on loopback."""
