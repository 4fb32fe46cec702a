# Only for `python setup.py configgen`; everything else is in pyproject.toml.
from setuptools import setup

setup()
