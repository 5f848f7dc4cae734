"""Modal screens of the console: help, settings, marking, rewriting, review, pickers."""
