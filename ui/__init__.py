"""The interfaces: the Textual app and the command line. Depends on `assistant` only."""
