"""Reference tables the readers use (package data, shipped with refloop)."""
