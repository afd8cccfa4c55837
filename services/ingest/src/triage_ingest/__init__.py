"""social-triage ingest service."""
