"""social-triage router service."""
