"""The README's "Walking the code" names every top-level room of the SDK, the plugins and the bridges."""

from __future__ import annotations

from conftest import REPO


def test_the_walk_names_every_room() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    walk = readme[readme.index("## Walking the code"):readme.index("\n## ", readme.index("## Walking the code") + 3)]
    sdk = REPO / "tha4_sdk"
    rooms = [p.name + ("/" if p.is_dir() else "") for p in sdk.iterdir()
             if p.name != "__init__.py" and not p.name.startswith((".", "__")) and (p.suffix == ".py" or p.is_dir())]
    assert len(rooms) >= 20
    missing = [room for room in rooms if f"`{room}`" not in walk and f"`tha4_sdk/{room}`" not in walk]
    assert missing == []
    for room in ["plugins/tha4_plugins/", *(f"bridges/{p.name}/" for p in (REPO / "bridges").iterdir())]:
        assert f"`{room}`" in walk, room
