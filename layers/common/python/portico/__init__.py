"""Portico: identity, access and customer self-service for subscription billing."""
