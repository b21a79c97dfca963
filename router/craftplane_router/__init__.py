"""craftplane-router: one game port for every server, routed by the handshake's hostname."""
