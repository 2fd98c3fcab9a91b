"""The one exception the CLI turns into exit status 2: bad input, stated plainly."""

from __future__ import annotations

__all__ = ["InputError", "ScenarioError"]


class InputError(ValueError):
    """Invalid user input: each problem names its source file (if any) and key path.

    Each problem is one line, `FILE: key.path: message`; the CLI prints it after
    `mashsim: error: ` and exits with status 2.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# The original name, kept so that existing `except ScenarioError` code and imports work:
# it is the same class, so either name catches every input problem.
ScenarioError = InputError
