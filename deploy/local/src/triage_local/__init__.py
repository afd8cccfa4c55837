"""social-triage on one machine: `make run`."""
