"""The ``likenessguard`` command line (Typer). Only this package exits the process."""
