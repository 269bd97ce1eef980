from __future__ import annotations

from sqlalchemy import select

from bot.deployments.quarantine import QuarantineStore
from bot.storage.db import Database
from bot.storage.models import Action


def test_quarantine_add_lift_and_readd_with_audit(database: Database) -> None:
    store = QuarantineStore(database)
    store.add(
        repo="acme/gitops", deployment="chat", version="1.4.0", reason="ttft_p99 breached", by="gitops-bot"
    )
    assert store.versions(repo="acme/gitops", deployment="chat") == {"1.4.0"}
    assert store.versions(repo="acme/gitops", deployment="other") == frozenset()
    assert store.lift(repo="acme/gitops", deployment="chat", version="1.4.0", by="slack:U1/alice")
    assert not store.lift(repo="acme/gitops", deployment="chat", version="1.4.0", by="slack:U1/alice")
    assert store.versions(repo="acme/gitops", deployment="chat") == frozenset()
    store.add(repo="acme/gitops", deployment="chat", version="1.4.0", reason="again", by="gitops-bot")
    assert [q.reason for q in store.active(repo="acme/gitops", deployment="chat")] == ["again"]
    with database.sessions() as session:
        kinds = [(a.kind, a.actor) for a in session.execute(select(Action).order_by(Action.id)).scalars()]
    assert kinds == [
        ("quarantine.add", "gitops-bot"),
        ("quarantine.lift", "slack:U1/alice"),
        ("quarantine.add", "gitops-bot"),
    ]
