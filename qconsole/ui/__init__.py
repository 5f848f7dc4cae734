"""The Textual console. It renders and dispatches; models, store, training and evaluation live
in the core packages and run in workers or subprocesses."""
