"""What every command shares: resolved settings, the passphrase source, and the open diary
(opened lazily, once, and closed when the command ends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from docket.api import Diary
from docket.cli import passphrase
from docket.config import Settings


@dataclass
class State:
    settings: Settings
    passphrase_file: Path | None
    _diary: Diary | None = field(default=None, repr=False)

    def diary(self) -> Diary:
        if self._diary is None:
            secret = passphrase.existing(self.passphrase_file)
            self._diary = Diary.open(self.settings.diary, secret)
        return self._diary

    def adopt(self, diary: Diary) -> None:
        self._diary = diary

    def close(self) -> None:
        if self._diary is not None:
            self._diary.close()
            self._diary = None


pass_state = click.make_pass_decorator(State)
