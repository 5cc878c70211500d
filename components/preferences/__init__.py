"""Preference pairs job (see __main__)."""
