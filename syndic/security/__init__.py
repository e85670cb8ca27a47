"""Secrets: API keys, credential encryption, constant-time comparison."""
