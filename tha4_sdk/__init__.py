"""tha4-sdk: bring a single anime character image to life with THA4."""
__version__ = "0.1.0"
