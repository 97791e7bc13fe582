"""Shared pieces: global seeding and parameter initializers."""
