"""The diary's tables as SQLAlchemy Core objects, mirroring the newest migration.

``entry`` is the append-only log: every write adds one row and rows are never updated, except
that a recorded redaction purges an entry's ``record`` (its hash stays). Every other table is a
projection of the log kept for querying: the current version of each record, the identifier
register, and the content-addressed chunks that hold evidence files.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

entry = Table(
    "entry",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # leaf index, from 0
    Column("type", Text, nullable=False),
    Column("subject", Text, nullable=False),  # e.g. "incident/3"
    Column("recorded_at", Text, nullable=False),  # device clock, UTC, RFC 3339
    Column("corrects", Integer, nullable=True),  # seq of the entry this one changes
    Column("reason", Text, nullable=True),
    Column("salt", LargeBinary, nullable=False),  # 32 random bytes
    Column("record", Text, nullable=True),  # canonical JSON; NULL once redacted
    Column("leaf_hash", LargeBinary, nullable=False),  # SHA-256(0x00 || entry bytes)
    Column("redacted_by", Integer, nullable=True),  # seq of the redaction entry
)

person = Table(
    "person",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_seq", Integer, nullable=False),
    Column("current_seq", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("relationship", Text, nullable=False),
    Column("redacted", Boolean, nullable=False, default=False),
)

identifier = Table(
    "identifier",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("kind", Text, nullable=False),  # phone | email | handle | vehicle
    Column("platform", Text, nullable=False, default=""),
    Column("value", Text, nullable=False),
    UniqueConstraint("kind", "platform", "value", name="uq_identifier"),
)

incident = Table(
    "incident",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_seq", Integer, nullable=False),
    Column("current_seq", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("recorded_at", Text, nullable=False),  # when first written
    Column("occurred_start", Text, nullable=False),  # UTC, RFC 3339
    Column("occurred_end", Text, nullable=True),
    Column("category", Text, nullable=False),
    Column("channel", Text, nullable=True),
    Column("redacted", Boolean, nullable=False, default=False),
    # what the pattern analysis reads of the current record, so that it need not parse every
    # record (see records.incident_projection; verify checks them against the record)
    Column("date_only", Boolean, nullable=False, default=False),
    Column("private_place", Boolean, nullable=False, default=False),
    Column("people", Text, nullable=False, default="[]"),  # JSON: person ids, as recorded
    Column("targeted", Text, nullable=False, default="[]"),  # JSON: who was targeted
)

incident_person = Table(
    "incident_person",
    metadata,
    Column("incident_id", Integer, ForeignKey("incident.id"), nullable=False),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    PrimaryKeyConstraint("incident_id", "person_id"),
)

blob = Table(
    "blob",
    metadata,
    Column("sha256", LargeBinary, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("purged", Boolean, nullable=False, default=False),
)

blob_chunk = Table(
    "blob_chunk",
    metadata,
    Column("blob_sha256", LargeBinary, ForeignKey("blob.sha256"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("chunk_sha256", LargeBinary, ForeignKey("chunk.sha256"), nullable=False),
    PrimaryKeyConstraint("blob_sha256", "idx"),
)

chunk = Table(
    "chunk",
    metadata,
    Column("sha256", LargeBinary, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

attachment = Table(
    "attachment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_seq", Integer, nullable=False),
    Column("current_seq", Integer, nullable=False),
    Column("incident_id", Integer, ForeignKey("incident.id"), nullable=True),
    Column("sha256", LargeBinary, ForeignKey("blob.sha256"), nullable=False),
    Column("size", Integer, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("original_name", Text, nullable=False),
    Column("redacted", Boolean, nullable=False, default=False),
)

tree_tile = Table(
    "tree_tile",
    metadata,
    # tier * 2**48 + index; tier k holds tree levels 5k to 5k + 4 (see ledger/tiles.py)
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),  # up to 62 hashes, in completion order
)

checkpoint = Table(
    "checkpoint",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the signed note, verbatim
    Column("created_at", Text, nullable=False),  # device clock
)

timestamp = Table(
    "timestamp",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("checkpoint_size", Integer, ForeignKey("checkpoint.size"), nullable=False),
    Column("url", Text, nullable=False),
    Column("requested_at", Text, nullable=False),
    Column("nonce", Text, nullable=False),  # decimal; the request's nonce
    Column("request", LargeBinary, nullable=False),  # DER TimeStampReq, re-sent on retry
    Column("status", Text, nullable=False),  # queued | granted | failed
    Column("response", LargeBinary, nullable=True),  # DER TimeStampResp, verbatim
    Column("gen_time", Text, nullable=True),
    Column("tsa_root", Text, nullable=True),  # PEM the person gave to check it against
    Column("error", Text, nullable=True),
    Column("completed_at", Text, nullable=True),
)


# --- imported exports (migration 0004) -----------------------------------------------------

source = Table(
    "source",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_seq", Integer, nullable=False),  # the source.imported entry
    Column("sha256", LargeBinary, ForeignKey("blob.sha256"), nullable=False),  # the original
    Column("size", Integer, nullable=False),
    Column("name", Text, nullable=False),  # the file's name, without its folder
    Column("importer", Text, nullable=False),
    Column("importer_version", Text, nullable=False),
    Column("options", Text, nullable=False),  # canonical JSON: zone, region, me, person
    Column("imported_at", Text, nullable=False),
    Column("summary", Text, nullable=False),  # canonical JSON: counts and warnings
)

message = Table(
    "message",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("source.id"), nullable=False),
    Column("batch_seq", Integer, nullable=False),  # the messages.imported entry covering it
    Column("kind", Text, nullable=False),  # message | call | system
    Column("channel", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("thread", Text, nullable=True),
    Column("sender_raw", Text, nullable=True),
    Column("sender_kind", Text, nullable=True),  # identifier kind, "name" or "withheld"
    Column("sender_platform", Text, nullable=True),
    Column("sender_value", Text, nullable=True),  # normalised, to match the register
    Column("recipients", Text, nullable=False),  # canonical JSON list
    Column("sent_at", Text, nullable=True),  # RFC 3339 UTC
    Column("local_time", Text, nullable=False),  # the export's own timestamp text
    Column("time_note", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("call_type", Text, nullable=True),
    Column("duration_s", Integer, nullable=True),
    Column("line", Integer, nullable=True),
    Column("offset", Integer, nullable=True),
    Column("raw", Text, nullable=False),  # canonical JSON of the original fields
    Column("attachments", Text, nullable=False),  # canonical JSON list
    Column("dedupe", LargeBinary, nullable=False, unique=True),
    Column("leaf", LargeBinary, nullable=False),  # RFC 9162 leaf hash of the record
)

message_file = Table(
    "message_file",
    metadata,
    Column("message_id", Integer, ForeignKey("message.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("sha256", LargeBinary, ForeignKey("blob.sha256"), nullable=False),
    PrimaryKeyConstraint("message_id", "idx"),
)

# The language flags of imported messages and incident entries, worked out when they are
# written (see docket.flag_store): derived tables, checked by verify against the words.
message_flag = Table(
    "message_flag",
    metadata,
    Column("language", Text, nullable=False),
    Column("message_id", Integer, ForeignKey("message.id"), nullable=False),
    Column("ordinal", Integer, nullable=False),  # the match's place in the scan's order
    Column("flag", Text, nullable=False),
    Column("words", Text, nullable=False),  # as written in the message
    Column("sent_at", Text, nullable=True),  # the message's, so the analysis reads no message
    Column("sender_kind", Text, nullable=True),
    Column("sender_platform", Text, nullable=True),
    Column("sender_value", Text, nullable=True),
    PrimaryKeyConstraint("language", "message_id", "ordinal"),
)

incident_flag = Table(
    "incident_flag",
    metadata,
    Column("language", Text, nullable=False),
    Column("incident_id", Integer, ForeignKey("incident.id"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("flag", Text, nullable=False),
    Column("words", Text, nullable=False),
    PrimaryKeyConstraint("language", "incident_id", "ordinal"),
)

flag_scan = Table(
    "flag_scan",
    metadata,
    Column("what", Text, nullable=False),  # message | incident
    Column("language", Text, nullable=False),
    Column("version", Text, nullable=False),  # the lexicon's version the rows were made with
    Column("through", Integer, nullable=False),  # messages: every one up to this id looked at
    PrimaryKeyConstraint("what", "language"),
)


# Each sender's contacts 30 days at a time (in parts: one per write), worked out when messages
# are imported (see docket.contact_store): derived tables, checked by verify against the messages.
contact_span = Table(
    "contact_span",
    metadata,
    Column("sender_kind", Text, nullable=False),
    Column("sender_platform", Text, nullable=False),
    Column("sender_value", Text, nullable=False),
    Column("span", Integer, nullable=False),  # the 30 UTC days from day 30 x span since 1970
    Column("part", Integer, nullable=False),  # the last message id of the write that made it
    Column("first", Integer, nullable=False),  # the first contact's time
    Column("n", Integer, nullable=False),
    Column("secs", Text, nullable=False),  # comma-joined seconds since 1970
    Column("ids", Text, nullable=False),  # comma-joined message ids
    Column("codes", Text, nullable=False),  # a kind-and-direction digit each
    Column("channels", Text, nullable=False),  # comma-joined
    PrimaryKeyConstraint("sender_kind", "sender_platform", "sender_value", "span", "part"),
)

contact_odd = Table(
    "contact_odd",
    metadata,
    Column("sender_kind", Text, nullable=False),
    Column("sender_platform", Text, nullable=False),
    Column("sender_value", Text, nullable=False),
    Column("message_id", Integer, ForeignKey("message.id"), nullable=False),
    PrimaryKeyConstraint("sender_kind", "sender_platform", "sender_value", "message_id"),
)

contact_scan = Table(
    "contact_scan",
    metadata,
    Column("id", Integer, primary_key=True),  # one row, id 1
    Column("version", Text, nullable=False),  # contact_store.VERSION the rows were made with
    Column("through", Integer, nullable=False),  # every message up to this id is in them
)
