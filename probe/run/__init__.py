"""Orchestration: one probe under a deadline, batch, the demo, and this machine's own audit."""
