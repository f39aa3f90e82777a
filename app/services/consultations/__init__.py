"""Consultations (consultas): intake, lifecycle, thread, search and public tracking."""
