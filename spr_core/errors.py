"""The exceptions every layer raises for bad input, and the one that stops a training run.

``UserError`` is the one type the ``spr-or`` command line turns into a one-line message (exit 2);
everything else is a bug and keeps its traceback. The argument checks raise ``InvalidArgument``
(also a ValueError) or ``InvalidArgumentType`` (also a TypeError), so library callers that catch
ValueError / TypeError keep working.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (an argument, a config key, a file): the message names it and says
    what is allowed."""


class InvalidArgument(UserError, ValueError):
    """An argument outside its allowed range or set; the message names the argument."""


class InvalidArgumentType(UserError, TypeError):
    """An argument of the wrong type; the message names the argument and the types allowed."""


class MissingInput(UserError, FileNotFoundError):
    """A file or folder the user named (a dataset, a config, a checkpoint) is missing or incomplete."""


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or inf; the run stops and the last good checkpoint is kept (exit 3)."""
