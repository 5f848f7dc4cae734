"""Chat logic shared by the console and headless callers: one side's history and turns."""
