"""one model id per provider

Revision ID: 0006_unique_model_id
Revises: 0005_cache_generation
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_unique_model_id"
down_revision = "0005_cache_generation"
branch_labels = None
depends_on = None

SHOWN = 50  # duplicates listed in the error; the count says if there are more


def _duplicates(bind) -> list[tuple[str, str, str]]:
    """(provider slug, model id, the models' names) for every model id a provider has twice."""
    rows = bind.execute(
        sa.text(
            "SELECT p.slug, m.model_id, m.name FROM ai_model m "
            "JOIN provider p ON p.id = m.provider_id "
            "WHERE EXISTS (SELECT 1 FROM ai_model o WHERE o.provider_id = m.provider_id "
            "AND o.model_id = m.model_id AND o.id <> m.id) "
            "ORDER BY p.slug, m.model_id, m.name"
        )
    ).all()
    groups: dict[tuple[str, str], list[str]] = {}
    for slug, model_id, name in rows:
        groups.setdefault((slug, model_id), []).append(name)
    return [(slug, model_id, ", ".join(names)) for (slug, model_id), names in groups.items()]


def upgrade():
    duplicates = _duplicates(op.get_bind())
    if duplicates:
        lines = [
            f"  provider {slug!r}, model id {model_id!r}: models {names}"
            for slug, model_id, names in duplicates[:SHOWN]
        ]
        if len(duplicates) > SHOWN:
            lines.append(f"  … and {len(duplicates) - SHOWN} more")
        raise RuntimeError(
            "Cannot make model ids unique per provider: these providers register one model "
            "id more than once. Give each of those models its own model id (or delete the "
            "extra ones), then run the upgrade again.\n" + "\n".join(lines)
        )
    with op.batch_alter_table("ai_model", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_ai_model_provider_id_model_id"), ["provider_id", "model_id"]
        )


def downgrade():
    with op.batch_alter_table("ai_model", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ai_model_provider_id_model_id"), type_="unique")
