"""clock_state.case_id without a foreign key.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 13:20:00

Issue 12 ("the nightly at national scale"): on PostgreSQL the foreign key from ``clock_state`` to
``ehcp_case`` fires a trigger per inserted row, and a first night inserts every clock state (2.54M
at 200,000 cases): 17.1 s with the key, 8.9 s without (docs/performance.md §5). The table is the
nightly's derived record, written only for the case ids the night has just read from
``ehcp_case`` under the store's write lock, and cases are never deleted, so the key guarded
nothing the writer does not. SQLite rebuilds the table (batch mode); the rows are kept.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_clock_state_case_id_ehcp_case"


def upgrade() -> None:
    with op.batch_alter_table("clock_state") as batch:
        batch.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("clock_state") as batch:
        batch.create_foreign_key(FK, "ehcp_case", ["case_id"], ["id"])
