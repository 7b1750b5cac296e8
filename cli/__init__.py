"""The ``commlb`` command line (installed as ``commlb.cli``).  One module per command;
each parses options, calls the public API and renders.  No logic of its own."""
