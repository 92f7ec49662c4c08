"""Backup and restore of everything a callsense installation holds: the database, the recordings, the keys."""
