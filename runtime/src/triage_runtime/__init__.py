"""What every social-triage service runs on: the Kafka connection and topic settings,
the delivery step (consume, decide, publish, commit), the HTTP runtime (/metrics,
/healthz, /readyz), structured logging, bounded JSON parsing and linear-time patterns.

The records themselves (what is on each topic) live in ``triage_schemas``; the
services' decisions live in the services. Nothing here knows a service's domain.
"""
