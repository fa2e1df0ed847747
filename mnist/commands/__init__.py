"""The commands of ``python -m mnist``: one module each (``train``, ``evaluate``, ``predict``, ``show``),
plus :mod:`.common` (what they share). :mod:`mnist.cli` parses the arguments and calls them."""
