"""The example service: its settings come from the generated ``configgen_config``."""
