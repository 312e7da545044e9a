"""Tests of ganvas.search: ganvas tune on SQLite and PostgreSQL."""
