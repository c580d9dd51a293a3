"""Entities (companies, tokens, protocols, themes): definitions and finding them in text."""
