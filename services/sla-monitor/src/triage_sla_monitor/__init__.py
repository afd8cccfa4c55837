"""social-triage sla-monitor service."""
