"""Template source rules that a page would otherwise break silently."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Django's {# … #} comment ends on its own line; one spread over several lines is printed on the page.
OPEN_COMMENT = re.compile(r"\{#(?![^\n]*#\})")


def test_no_template_has_a_multi_line_short_comment():
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in [path.read_text(encoding="utf-8")]
        for match in OPEN_COMMENT.finditer(text)
    ]
    assert offenders == [], "use {% comment %}…{% endcomment %} for comments over several lines"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["villages:list", "households:list"])
def test_list_pages_show_no_template_comment(client, personas, name):
    client.force_login(personas.district_admin)
    page = client.get(reverse(name)).content.decode()
    assert "{#" not in page and "#}" not in page
    assert "Without JavaScript a plain GET form" not in page
