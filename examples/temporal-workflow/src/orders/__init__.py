"""The example Temporal worker: workflows in ``orders.workflows``, the worker in ``__main__``."""
