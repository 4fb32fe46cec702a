"""The setuptools example: an inventory service."""
