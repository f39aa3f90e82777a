"""Operational reports and exports for the office and the áreas (never public)."""
