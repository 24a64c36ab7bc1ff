"""The README is the front door to the manuals: every manual in docs/ is linked from it, and every relative link
in the README and the manuals leads to a file (and, with an anchor, to a heading) that exists."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"")


def _prose(page: Path) -> str:
    """A page without its fenced code blocks, which hold neither links nor headings (a `# comment` is not one)."""
    return re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", _prose(page), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def _relative_links(page: Path) -> list[str]:
    text = _prose(page)
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("<")]


def test_every_manual_is_linked_from_the_readme() -> None:
    linked = set(_relative_links(ROOT / "README.md"))
    manuals = {f"docs/{page.name}" for page in PAGES[1:]}
    assert manuals - linked == set(), "manuals the README does not link to"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    """Each relative link or image of the README and the manuals leads to a file, and an anchor to a heading of it."""
    broken = []
    for link in _relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists() or (anchor and target.suffix == ".md" and anchor not in _anchors(target)):
            broken.append(link)
    assert broken == [], f"{page.name}: links to nothing: {', '.join(broken)}"
