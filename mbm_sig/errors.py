"""One error hierarchy for the whole tool.

- :class:`InvalidInput`: the user's input is wrong (a file, a row, a recipe key, a
  parameter, a statement that is refused). Nothing was written. Exit status 2.
- :class:`Failure`: the input was fine but the work could not be done (a server that
  does not answer, a full disk, a missing program). Exit status 1.

Both derive from :class:`MbmSigError`, which carries the exit status; the command line
maps every one of them to one ``error:`` line and that status. Existing exception
classes of the rooms derive from one of the two (``InvalidInput`` is also a
``ValueError``, ``Failure`` a ``RuntimeError``, so older ``except`` clauses still hold).
"""

from __future__ import annotations


class MbmSigError(Exception):
    """Base of every error the tool reports to its user."""

    exit_code = 1

    def message(self) -> str:
        """The one line the command line prints after ``error:``."""
        return str(self.args[0]) if self.args else type(self).__name__


class InvalidInput(MbmSigError, ValueError):
    """Wrong input (file, row, field, key, parameter): exit status 2, nothing written."""

    exit_code = 2


class Failure(MbmSigError, RuntimeError):
    """The work could not be done (server, disk, missing program): exit status 1."""

    exit_code = 1


class CatalogueMissing(InvalidInput):
    """A command reads a catalogue that does not exist (the path or URL is named)."""


class ConnectionFailed(Failure):
    """The database server cannot be reached or refuses the connection."""


class UnknownName(InvalidInput, KeyError):
    """An unknown layer, field, source or sheet name (also a ``KeyError``)."""

    def __str__(self) -> str:           # KeyError would quote the message
        return self.message()
