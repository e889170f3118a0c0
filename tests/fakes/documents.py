"""A small folder of documents in both languages, for ingestion tests."""

from pathlib import Path

DOCS = {
    "en/vpn.md": "# VPN guide\n\n## Connecting\nOpen NorthConnect and enter vpn.northwind.example. "
    "Approve the MFA prompt on your phone.\n",
    "zh/leave.md": "# 年假制度\n\n## 天数\n正式员工每年有15天带薪年假。外包人员没有带薪年假。\n",
    "en/canteen.txt": "Canteen\n\nLunch is served from 11:30 to 13:30 on the 2nd floor.\n",
}


def make_folder(root: Path) -> Path:
    """Writes `DOCS` under `root/docs` and returns that folder."""
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "docs"
