"""Consentcrawl: opt-out-respecting, auditable web-crawl dataset pipeline."""

__version__ = "0.1.0"
