"""Offline-first fetching: mirror lookup, hash checks and downloads against a local HTTP server."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from geomap.catalog import load_catalog
from geomap.errors import FetchError, HashMismatchError
from geomap.fetching import fetch, verify

PAYLOAD = b"geomap test payload\n" * 500
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _catalog_file(tmp_path: Path, url: str, *, sha256: str | None = PAYLOAD_SHA) -> Path:
    entry = {"path": "test-set/payload.bin", "url": url, "format": "text", "size": len(PAYLOAD)}
    dataset = {
        "id": "test-set",
        "title": "Test set",
        "publisher": "geomap tests",
        "kind": "table",
        "countries": ["global"],
        "license": {"spdx": "CC0-1.0", "name": "CC0", "attribution": "none"},
        "citation": "test",
        "landing_page": "https://example.org",
        "files": [entry],
    }
    if sha256 is None:
        dataset["online_only"] = True
    else:
        entry["sha256"] = sha256
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"datasets": [dataset], "regions": []}), encoding="utf-8")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(folder))
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(tmp_path / "empty-mirror"))
    return folder


def _leftovers(folder: Path) -> list[Path]:
    """Files a download left in the cache (locks and the catalog's CRS memo are not its own)."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(".lock") and p.name != "catalog-crs.json"
    ]


def test_real_dataset_comes_from_the_mirror(data_root):
    paths = fetch("gem-global-active-faults-2017")
    assert [p.name for p in paths] == ["LICENSE.txt", "gem_active_faults.geojson.zip"]
    assert all(p.is_relative_to(data_root) for p in paths)


def test_verify_passes_on_the_whole_mirror(catalog):
    rows = verify(catalog=catalog)
    failed = [r for r in rows if r.failed]
    assert not failed, failed[:5]
    assert sum(r.status == "ok" for r in rows) >= 600
    online = {r.dataset_id for r in rows if r.status == "online-only"}
    assert "usgs-sgmc" in online


def test_good_download_lands_in_cache_and_is_reused(tmp_path, cache, httpserver):
    httpserver.expect_oneshot_request("/payload.bin").respond_with_data(PAYLOAD)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    (path,) = fetch("test-set", catalog=cat)
    assert path == cache / "test-set" / "payload.bin"
    assert path.read_bytes() == PAYLOAD
    httpserver.check_assertions()
    (again,) = fetch("test-set", catalog=cat)  # served from the cache: no second request
    assert again == path
    assert _leftovers(cache) == [path]


def test_hash_mismatch_keeps_nothing(tmp_path, cache, httpserver):
    tampered = PAYLOAD[:-8] + b"tampered"  # the catalogued size, other bytes
    httpserver.expect_request("/payload.bin").respond_with_data(tampered)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    with pytest.raises(HashMismatchError) as info:
        fetch("test-set", catalog=cat)
    message = str(info.value)
    assert "test-set/payload.bin" in message and PAYLOAD_SHA in message
    assert hashlib.sha256(tampered).hexdigest() in message
    assert _leftovers(cache) == []


def test_404_names_the_url_and_where_to_put_the_file(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data("gone", status=404)
    url = httpserver.url_for("/payload.bin")
    cat = load_catalog(_catalog_file(tmp_path, url))
    with pytest.raises(FetchError, match=f"HTTP 404 from {url}.*test-set/payload.bin"):
        fetch("test-set", catalog=cat)
    assert _leftovers(cache) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_with_no_copy_names_url_and_destination(tmp_path, cache):
    url = f"http://127.0.0.1:{_free_port()}/payload.bin"  # nothing listens there
    cat = load_catalog(_catalog_file(tmp_path, url))
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=cat)
    message = str(info.value)
    assert url in message and "<data dir>/test-set/payload.bin" in message
    assert "GEOMAP_DATA_DIR" in message
    assert _leftovers(cache) == []


@pytest.fixture
def dropping_server() -> Iterator[str]:
    """An HTTP server that announces the full length, sends a third, then drops the connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(PAYLOAD)}\r\n\r\n".encode()
                conn.sendall(head + PAYLOAD[: len(PAYLOAD) // 3])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/payload.bin"
    server.close()


def test_interrupted_download_leaves_no_partial_file_and_next_fetch_succeeds(
    tmp_path, cache, dropping_server, httpserver
):
    cat = load_catalog(_catalog_file(tmp_path, dropping_server))
    with pytest.raises(FetchError, match="interrupted|mismatch"):
        fetch("test-set", catalog=cat)
    assert _leftovers(cache) == []
    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD)
    (tmp_path / "good").mkdir()
    good = load_catalog(_catalog_file(tmp_path / "good", httpserver.url_for("/payload.bin")))
    (path,) = fetch("test-set", catalog=good)
    assert path.read_bytes() == PAYLOAD


def test_corrupt_mirror_copy_is_rejected_with_both_hashes(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "test-set").mkdir(parents=True)
    (mirror / "test-set" / "payload.bin").write_bytes(b"not the payload")
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(mirror))
    cat = load_catalog(_catalog_file(tmp_path, "https://example.invalid/payload.bin"))
    with pytest.raises(HashMismatchError) as info:
        fetch("test-set", catalog=cat, download=False)
    message = str(info.value)
    assert PAYLOAD_SHA in message and hashlib.sha256(b"not the payload").hexdigest() in message
    (row,) = verify(catalog=cat)
    assert row.status == "mismatch" and row.failed


def test_missing_file_without_download(tmp_path, cache):
    cat = load_catalog(_catalog_file(tmp_path, "https://example.invalid/payload.bin"))
    with pytest.raises(FetchError, match="not available locally"):
        fetch("test-set", catalog=cat, download=False)
    (row,) = verify(catalog=cat)
    assert row.status == "missing"


def test_online_only_hash_recorded_on_first_download(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin"), sha256=None))
    (row,) = verify(catalog=cat)
    assert row.status == "online-only" and not row.failed
    (path,) = fetch("test-set", catalog=cat)
    assert PAYLOAD_SHA in (cache / "recorded_hashes.json").read_text()
    path.write_bytes(b"changed later")
    with pytest.raises(HashMismatchError, match=PAYLOAD_SHA):
        fetch("test-set", catalog=cat)


def _fetch_in_child(catalog_path: str, cache_dir: str, queue: multiprocessing.Queue) -> None:
    import os

    os.environ["GEOMAP_CACHE_DIR"] = cache_dir
    from geomap.catalog import load_catalog as load
    from geomap.fetching import fetch as fetch_dataset

    try:
        (path,) = fetch_dataset("test-set", catalog=load(catalog_path))
        queue.put(Path(path).read_bytes() == PAYLOAD)
    except Exception as exc:  # reported to the parent
        queue.put(repr(exc))


def test_two_processes_fetching_at_once_both_succeed(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD)
    catalog_path = _catalog_file(tmp_path, httpserver.url_for("/payload.bin"))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_fetch_in_child, args=(str(catalog_path), str(cache), queue))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [queue.get(timeout=5) for _ in procs] == [True, True]
    assert _leftovers(cache) == [cache / "test-set" / "payload.bin"]


# ---- bounded downloads (issue 18): deadline, minimum rate, size cap, same-host redirects ----


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Start a one-connection-at-a-time HTTP server whose replies a test writes by hand."""
    servers: list[socket.socket] = []

    def start(reply: Callable[[socket.socket], None]) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    with contextlib.suppress(OSError):  # the client hung up (a refusal)
                        reply(conn)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/payload.bin"

    yield start
    for server in servers:
        server.close()


def _trickle(conn: socket.socket) -> None:
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(PAYLOAD)}\r\n\r\n".encode())
    for byte in PAYLOAD:  # one byte every 2 s: each read is well within the read timeout
        conn.sendall(bytes([byte]))
        time.sleep(2)


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")  # no length: until close
    block = b"x" * 65536
    while True:
        conn.sendall(block)


def test_a_trickling_server_fails_on_the_minimum_rate_in_bounded_time(
    tmp_path, cache, raw_server, monkeypatch
):
    monkeypatch.setenv("GEOMAP_DOWNLOAD_GRACE", "1")
    monkeypatch.setenv("GEOMAP_DOWNLOAD_MIN_RATE", "100")
    cat = load_catalog(_catalog_file(tmp_path, raw_server(_trickle)))
    began = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=cat)
    assert time.monotonic() - began < 15
    message = str(info.value)
    assert "too slow" in message and "GEOMAP_DOWNLOAD_MIN_RATE" in message
    assert _leftovers(cache) == []


def test_a_trickling_server_fails_on_the_total_deadline(tmp_path, cache, raw_server, monkeypatch):
    monkeypatch.setenv("GEOMAP_DOWNLOAD_DEADLINE", "3")
    monkeypatch.setenv("GEOMAP_DOWNLOAD_MIN_RATE", "1e-9")  # the rate alone would let it run
    cat = load_catalog(_catalog_file(tmp_path, raw_server(_trickle)))
    began = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=cat)
    assert time.monotonic() - began < 15
    message = str(info.value)
    assert "took more than 3 s" in message and "GEOMAP_DOWNLOAD_DEADLINE" in message
    assert _leftovers(cache) == []


def test_an_endless_body_is_cut_at_the_catalogued_size(tmp_path, cache, raw_server):
    cat = load_catalog(_catalog_file(tmp_path, raw_server(_endless)))
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=cat)
    assert f"more than the {len(PAYLOAD):,} bytes" in str(info.value)
    assert _leftovers(cache) == []


def test_an_announced_length_above_the_catalogued_size_is_refused(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD * 3)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    with pytest.raises(FetchError, match="announces"):
        fetch("test-set", catalog=cat)
    assert _leftovers(cache) == []


def test_a_redirect_to_another_host_is_not_followed(tmp_path, cache, httpserver):
    own = httpserver.url_for("/elsewhere.bin")
    swap = ("localhost", "127.0.0.1") if "//localhost:" in own else ("127.0.0.1", "localhost")
    other = own.replace(*swap)  # the same server under another host name
    httpserver.expect_request("/payload.bin").respond_with_data(
        "", status=302, headers={"Location": other}
    )
    httpserver.expect_request("/elsewhere.bin").respond_with_data(PAYLOAD)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=cat)
    assert "another host" in str(info.value) and other in str(info.value)
    assert [request.path for request, _ in httpserver.log] == ["/payload.bin"]
    assert _leftovers(cache) == []


def test_a_redirect_within_the_same_host_is_followed(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data(
        "", status=301, headers={"Location": "/moved/payload.bin"}
    )
    httpserver.expect_request("/moved/payload.bin").respond_with_data(PAYLOAD)
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    (path,) = fetch("test-set", catalog=cat)
    assert path.read_bytes() == PAYLOAD


def test_a_redirect_loop_is_refused(tmp_path, cache, httpserver):
    httpserver.expect_request("/payload.bin").respond_with_data(
        "", status=302, headers={"Location": "/payload.bin"}
    )
    cat = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        fetch("test-set", catalog=cat)


def test_the_resumable_official_download_follows_the_same_bounds(tmp_path, httpserver):
    from geomap.fetching_official import download_resumable

    own = httpserver.url_for("/elsewhere.bin")
    swap = ("localhost", "127.0.0.1") if "//localhost:" in own else ("127.0.0.1", "localhost")
    httpserver.expect_request("/official.zip").respond_with_data(
        "", status=302, headers={"Location": own.replace(*swap)}
    )
    part = tmp_path / "official.zip.part"
    with pytest.raises(FetchError, match="another host"):
        download_resumable(httpserver.url_for("/official.zip"), part)
    assert [request.path for request, _ in httpserver.log] == ["/official.zip"]
