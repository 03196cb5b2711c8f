"""The one exception for bad user input to :mod:`collapselab.lm` (files, checkpoints, corpora)."""

from __future__ import annotations


class LMInputError(ValueError):
    """A model folder or corpus file that cannot be used; the message is one line naming the file.

    A subclass of ``ValueError`` so library callers can catch either; the CLI prints the message and
    exits 2.
    """
