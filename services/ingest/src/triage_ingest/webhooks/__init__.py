"""The optional webhook receiver: platforms POST to ``/webhooks/{platform}``; a verified
body becomes a raw envelope on ``social.raw``."""
