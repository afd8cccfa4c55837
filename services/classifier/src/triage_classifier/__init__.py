"""social-triage classifier service."""
