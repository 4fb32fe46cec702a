"""The Hatch build hook of ConfigGen: ``[tool.hatch.build.hooks.configgen]``."""
