"""Example multi-agent systems built on MAS; run them from the repository root."""
