"""Pseudonymous SEN2 case references, and the extract date of each import.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 09:00:00

* ``store_key``: secrets of this store alone; a pseudonym key is created here.
* ``person.pseudonym``: the keyed hash that stands for a UPN/ULN in case references.
* ``import_batch.extract_date``: the date the imported data was extracted (SEN2 ReferenceDate).

Cases already imported from SEN2 were named ``<UPN>/<n>``; they are renamed ``S2-<pseudonym>/<n>``
here, and so are their alerts (reference, key and the text of queued bodies), so the next night
neither re-alerts them under new keys nor keeps a UPN in the outbox. The pseudonym formula is a
frozen copy of ``ehcp_workflow.db.pseudonyms.pseudonym`` (migrations never import application code).
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pseudonym(key: bytes, person_ref: str) -> str:
    digest = hmac.new(key, person_ref.encode("utf-8"), hashlib.sha256).digest()
    return "S2-" + base64.b32encode(digest).decode("ascii")[:12]


def upgrade() -> None:
    op.create_table(
        "store_key",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_key")),
    )
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("pseudonym", sa.String(), nullable=True))
        batch.create_unique_constraint(op.f("uq_person_pseudonym"), ["pseudonym"])
    with op.batch_alter_table("import_batch") as batch:
        batch.add_column(sa.Column("extract_date", sa.Date(), nullable=True))

    conn = op.get_bind()
    value = secrets.token_hex(32)
    conn.execute(sa.text("INSERT INTO store_key (name, value) VALUES ('pseudonym', :v)"), {"v": value})
    key = bytes.fromhex(value)
    rows = conn.execute(
        sa.text(
            "SELECT c.id, c.case_ref, p.id, p.person_ref FROM ehcp_case c JOIN person p ON p.id = c.person_id"
        )
    ).all()
    people: dict[int, str] = {}
    renamed: dict[str, str] = {}
    cases: list[dict[str, object]] = []
    for case_id, case_ref, person_id, person_ref in rows:
        name = people.setdefault(person_id, _pseudonym(key, person_ref))
        if case_ref.startswith(person_ref + "/"):
            new = name + case_ref[len(person_ref) :]
            renamed[case_ref] = new
            cases.append({"b_id": case_id, "b_ref": new})
    if people:
        conn.execute(
            sa.text("UPDATE person SET pseudonym = :b_name WHERE id = :b_id"),
            [{"b_id": k, "b_name": v} for k, v in people.items()],
        )
    if cases:
        conn.execute(sa.text("UPDATE ehcp_case SET case_ref = :b_ref WHERE id = :b_id"), cases)
    old_refs = list(renamed)
    for start in range(0, len(old_refs), 5000):
        chunk = old_refs[start : start + 5000]
        stmt = sa.text(
            "SELECT id, case_ref, alert_key, subject, body FROM alert WHERE case_ref IN :refs"
        ).bindparams(sa.bindparam("refs", expanding=True))
        updates = []
        for alert_id, ref, alert_key, subject, body in conn.execute(stmt, {"refs": chunk}):
            new = renamed[ref]
            old_q, new_q = quote(ref, safe=""), quote(new, safe="")
            updates.append(
                {
                    "b_id": alert_id,
                    "b_ref": new,
                    "b_key": new_q + alert_key[len(old_q) :] if alert_key.startswith(old_q) else alert_key,
                    "b_subject": subject.replace(ref, new),
                    "b_body": body.replace(ref, new),
                }
            )
        if updates:
            conn.execute(
                sa.text(
                    "UPDATE alert SET case_ref = :b_ref, alert_key = :b_key, subject = :b_subject, "
                    "body = :b_body WHERE id = :b_id"
                ),
                updates,
            )


def downgrade() -> None:
    with op.batch_alter_table("import_batch") as batch:
        batch.drop_column("extract_date")
    with op.batch_alter_table("person") as batch:
        batch.drop_constraint(op.f("uq_person_pseudonym"), type_="unique")
        batch.drop_column("pseudonym")
    op.drop_table("store_key")
