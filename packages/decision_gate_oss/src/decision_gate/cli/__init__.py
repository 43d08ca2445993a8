"""The `decision-gate` console script.

`main` is the only entry point: it runs the click app and turns every error
into one line on stderr and an exit code, so no user ever sees a traceback.
"""

from __future__ import annotations

import sys

import click

from decision_gate.core.errors import DecisionGateError

EXIT_ERROR = 2
EXIT_INTERNAL = 70


def main(argv: list[str] | None = None) -> None:
    from decision_gate.cli.app import cli
    from decision_gate.cli.render import error_console

    try:
        cli.main(args=argv, prog_name="decision-gate", standalone_mode=False)
    except click.exceptions.Abort:
        error_console.print("aborted", markup=False)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except DecisionGateError as error:
        error_console.print(f"error: {error}", markup=False)
        sys.exit(EXIT_ERROR)
    except OSError as error:
        error_console.print(f"error: {error.strerror or error}", markup=False)
        sys.exit(EXIT_ERROR)
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        error_console.print(
            f"internal error ({type(error).__name__}): {error}; please report this", markup=False
        )
        sys.exit(EXIT_INTERNAL)
