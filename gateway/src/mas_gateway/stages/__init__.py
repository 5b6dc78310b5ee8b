"""The gateway's pipeline stages, one module each; `registry` builds them by name."""
