"""The browser page (``clients/web/``) served at ``/`` by the HTTP API: the HTML, its local
assets, nothing fetched from the internet, and the API routes still answering beside it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from synthtwin.engine.app.assets import crowd_assets
from synthtwin.net.http_api import WEB_DIR, create_app
from tests.test_js_client import ROOT, node_test

OWN_FILES = ("index.html", "style.css", *sorted(p.name for p in WEB_DIR.glob("*.js")))
VENDORED = ("vendor/uPlot.esm.js", "vendor/uPlot.min.css", "vendor/LICENSE")
SWAGGER = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE")


class _Assets(HTMLParser):
    """Every ``<script src>`` and ``<link href>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.urls.append(value)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # No simulation listens there: only the API calls that reach the ROUTER would wait.
    app = create_app("tcp://127.0.0.1:9", "tcp://127.0.0.1:10", crowd_assets(), timeout_s=0.2)
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def test_the_page_is_served_at_the_root(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>SynthTwin</title>" in page.text
    assert client.get("/index.html").text == page.text
    assert "WebRTC" in page.text  # the footer says the video view is not built yet


def test_every_script_and_stylesheet_is_local_and_served(client):
    parser = _Assets()
    parser.feed(client.get("/").text)
    assert "app.js" in parser.urls and "vendor/uPlot.min.css" in parser.urls
    for url in parser.urls:
        if url.startswith("data:"):
            continue
        assert "//" not in url, url
        answer = client.get("/" + url.lstrip("/"))
        assert answer.status_code == 200, url
        assert answer.content, url


@pytest.mark.parametrize("name", [name for name in OWN_FILES if name.endswith(".js")])
def test_each_module_imports_only_local_modules_that_are_served(client, name):
    """The page's modules import one another, the vendored uPlot and the JavaScript client
    (``./js/``, served from ``clients/js/src``), all from the page's own origin."""
    source = client.get("/" + name).text
    for target in re.findall(r"""^\s*import\s.*?from\s+["']([^"']+)["']""", source, re.M):
        assert target.startswith("./"), target
        assert client.get("/" + target[2:]).status_code == 200, target


@pytest.mark.parametrize("name", [name for name in OWN_FILES if name.endswith(".js")])
def test_no_module_writes_html_or_evaluates_text(name):
    """What the page shows is text (``textContent``), never markup: the CSP and data from the
    server stay harmless."""
    source = (WEB_DIR / name).read_text(encoding="utf-8")
    assert not re.search(r"\beval\(|new Function|innerHTML|outerHTML|insertAdjacentHTML", source)


@pytest.mark.parametrize("name", OWN_FILES)
def test_no_file_of_the_page_reaches_the_internet(name):
    text = (WEB_DIR / name).read_text(encoding="utf-8")
    assert not re.search(r"https?://", text, re.I), name


def test_the_vendored_chart_library_and_its_licence_are_there(client):
    for name in VENDORED:
        assert (WEB_DIR / name).is_file(), name
    assert "MIT License" in (WEB_DIR / "vendor/LICENSE").read_text(encoding="utf-8")
    assert client.get("/vendor/uPlot.esm.js").status_code == 200


def test_the_api_still_answers_beside_the_page(client):
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/stats" in paths and "/" not in paths
    assert client.get("/api/twins/-1").status_code == 422  # FastAPI's own validation
    assert client.get("/api/stats").status_code == 503  # reaches the (absent) simulation
    assert client.get("/no-such-file.js").status_code == 404


def test_docs_is_swagger_ui_from_local_files_only(client):
    """``/docs`` works offline: Swagger UI is vendored (Apache-2.0) and served beside the page."""
    docs = client.get("/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    assert not re.search(r"https?://", docs.text, re.I), "a CDN or other remote URL in /docs"
    parser = _Assets()
    parser.feed(docs.text)
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in parser.urls
    for url in parser.urls:
        if url.startswith("data:"):
            continue
        answer = client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 100_000, url
    licence = (WEB_DIR / "vendor/swagger-ui/LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence
    for name in SWAGGER:
        assert (WEB_DIR / "vendor/swagger-ui" / name).is_file(), name


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (.ci/setup --test)")
def test_simulated_time_and_labels_in_node_far_from_utc():
    """``tests/web_page.test.mjs``: the page's clock and labels, in a zone 5 h from UTC."""
    output = node_test(str(ROOT / "tests" / "web_page.test.mjs"), env={"TZ": "America/New_York"})
    assert "# fail 0" in output and "# pass 5" in output, output
