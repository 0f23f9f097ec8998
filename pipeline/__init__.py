"""ClaimWatch: a livestream-commerce compliance monitor."""

__version__ = "0.1.0"
