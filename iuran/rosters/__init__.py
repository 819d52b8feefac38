"""Rosters: reading the files villages send (`read`), row rules (`validate`), rejection codes (`codes`)."""
