"""Failures a person can act on: each is one line, and says which exit code it ends with.

Library functions raise these; the CLI (pipeline/cli/main.py) prints the line and exits, so no
traceback reaches a person for a mistake they can fix.

    RagmillError            exit 1: something did not work (a service, the cluster, the data)
     +-- UsageError         exit 2: the command or a setting was wrong; fix it and run again
     +-- StackError         a service of the local stack failed to start or answer
     +-- BrokerUnavailable  Redis could not be reached, or was lost during a run
"""

from __future__ import annotations


class RagmillError(Exception):
    """A failure with a one-line message a person can act on."""

    exit_code = 1


class UsageError(RagmillError):
    """The command line or a setting asks for something ragmill cannot do."""

    exit_code = 2
