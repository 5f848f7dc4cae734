"""Code shared by the tests. Imported only by conftest.py files, which hand it to tests as
fixtures: a test module never imports another test module or this package."""
