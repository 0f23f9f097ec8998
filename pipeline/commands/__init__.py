"""The command line, the only face of ClaimWatch: the `claimwatch` group and every command.

Commands are the one place that builds :class:`~pipeline.config.Settings` from the command line and
hands them to the stages; nothing outside this package imports from it.
"""

from pipeline.commands.main import main

__all__ = ["main"]
