"""Templates shipped inside the package (read with importlib.resources); ``templates/`` at the
repository's top level is a link here."""
