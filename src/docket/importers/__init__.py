"""Importers for message exports, and the registry the pipeline chooses from."""

from __future__ import annotations

from docket.importers.base import Importer


def available() -> list[Importer]:
    """Every importer, in the order ties are broken."""
    from docket.importers.sms_backup_restore import SmsBackupRestore
    from docket.importers.whatsapp import WhatsApp

    return [WhatsApp(), SmsBackupRestore()]
