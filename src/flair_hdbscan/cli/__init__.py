"""Command line of flair-hdbscan: a thin shell over the library, one module per command."""
