"""Importers for message exports, and the registry the pipeline chooses from."""

from __future__ import annotations

from docket.importers.base import Importer


def available() -> list[Importer]:
    """Every importer, in the order ties are broken."""
    from docket.importers.csv_mapped import MappedCsv
    from docket.importers.discord import Discord
    from docket.importers.email import Eml
    from docket.importers.email_mbox import Mbox
    from docket.importers.email_msg import OutlookMsg
    from docket.importers.evidence_file import EvidenceFile
    from docket.importers.meta import Instagram, Messenger
    from docket.importers.photo import Photo
    from docket.importers.signal import Signal
    from docket.importers.sms_backup_restore import SmsBackupRestore
    from docket.importers.telegram import Telegram
    from docket.importers.whatsapp import WhatsApp

    return [
        WhatsApp(),
        SmsBackupRestore(),
        Messenger(),
        Instagram(),
        Telegram(),
        Discord(),
        Signal(),
        Mbox(),
        Eml(),
        OutlookMsg(),
        Photo(),
        EvidenceFile(),
        MappedCsv(),
    ]
