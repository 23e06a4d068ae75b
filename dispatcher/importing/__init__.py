"""Importers that turn files people have (CSV exports from shop systems) into records."""
