"""The cache generation: a counter in the database that outlives any cache.

One row, bumped in the transaction of every change that can alter an active-model
answer. A cached answer records the generation it was built at; a reader that sees
a newer one rebuilds it, so an invalidation that Redis lost (an outage, a restart
from a snapshot) can never keep an old answer alive.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db

GENERATION_ROW = 1
# A second row: the generation of the last change to a token or an admin (cached tokens).
TOKENS_ROW = 2


class CacheGeneration(db.Model):
    __tablename__ = "cache_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
