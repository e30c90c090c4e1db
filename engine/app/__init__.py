"""The application: the ``twin`` command line, headless runs, serving and the bench report.

The one layer that may use every other one (``docs/architecture.md``).
"""
