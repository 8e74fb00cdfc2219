"""albumgen: an album brief in, a finished album of tagged MP3s out."""
__version__ = "0.1.0"
