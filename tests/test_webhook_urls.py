"""Webhook tools may not call link-local or cloud metadata addresses unless the
manifest opts in, and the opt-in is personactl's own: never sent to the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import WriteFiles, run_inprocess
from e2e_support import Emulator, edit, emulator, pc

URLS = {
    "imds": "http://169.254.169.254/latest/meta-data/iam/",
    "decimal": "http://2852039166/latest",
    "mixed-radix": "http://0xa9.0376.43518/",
    "userinfo": "https://user:pw@169.254.1.1:8080/x",
    "ipv6": "http://[fe80::1%25eth0]/hook",
    "mapped": "http://[::ffff:169.254.169.254]/",
    "gcp": "http://Metadata.Google.Internal./computeMetadata/v1/",
    "alibaba": "http://100.100.100.200/latest/meta-data",
    "templated": "{{ base }}/latest",
    "public": "https://hooks.example.com/orders",
    "private": "http://10.0.0.7/orders",
}

ADVICE = (
    "point the webhook at a public host, or set lifecycle.allowLinkLocalUrl: true on this "
    "Tool if it must call there"
)


def tool(name: str, url: str, lifecycle: str = "") -> str:
    return (
        f"apiVersion: personactl/v1\nkind: Tool\nmetadata: {{name: {name}}}\nspec:\n"
        f"  type: SERVER_WEBHOOK\n  description: Call it.\n"
        f"  config: {{url: {json.dumps(url)}, method: POST}}\n{lifecycle}"
    )


def test_link_local_and_metadata_urls_are_refused(write: WriteFiles) -> None:
    files: dict[str, str | bytes] = {
        f"tools/{name}.yaml": tool(name, url) for name, url in URLS.items()
    }
    files["personactl.yaml"] = """
    apiVersion: personactl/v1
    kind: Project
    metadata: {name: p}
    spec:
      vars: {base: "http://169.254.170.2"}
    """
    root = write(files)
    r = run_inprocess(["validate"], root)
    link_local = "is a link-local address (169.254.0.0/16), where cloud metadata services live"
    assert r.lines == [
        f"tools/alibaba.yaml:7:17: spec.config.url: 100.100.100.200 is a cloud metadata "
        f"address; {ADVICE}",
        f"tools/decimal.yaml:7:17: spec.config.url: 2852039166 (169.254.169.254) {link_local}; "
        f"{ADVICE}",
        f"tools/gcp.yaml:7:17: spec.config.url: metadata.google.internal is a cloud metadata "
        f"host; {ADVICE}",
        f"tools/imds.yaml:7:17: spec.config.url: 169.254.169.254 {link_local}; {ADVICE}",
        f"tools/ipv6.yaml:7:17: spec.config.url: fe80::1%25eth0 (fe80::1) is a link-local "
        f"address (fe80::/10), where cloud metadata services live; {ADVICE}",
        f"tools/mapped.yaml:7:17: spec.config.url: ::ffff:169.254.169.254 (169.254.169.254) "
        f"{link_local}; {ADVICE}",
        f"tools/mixed-radix.yaml:7:17: spec.config.url: 0xa9.0376.43518 (169.254.169.254) "
        f"{link_local}; {ADVICE}",
        f"tools/templated.yaml:7:17: spec.config.url: 169.254.170.2 {link_local}; {ADVICE}",
        f"tools/userinfo.yaml:7:17: spec.config.url: 169.254.1.1 {link_local}; {ADVICE}",
        "9 errors in 9 files",
    ]


def test_the_opt_in_allows_it(write: WriteFiles) -> None:
    opt_in = "lifecycle: {allowLinkLocalUrl: true}\n"
    root = write({"tools/imds.yaml": tool("imds", URLS["imds"], opt_in)})
    r = run_inprocess(["validate"], root)
    assert (r.code, r.out) == (0, "1 file checked: no errors\n")


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def test_the_opt_in_is_never_sent_to_the_api(project: Path, emu: Emulator) -> None:
    orders = project / "tools" / "orders.yaml"
    edit(orders, '"{{ orders_api }}/v1/orders/lookup"', '"http://169.254.169.254/orders"')
    r = pc(project, "plan")
    assert r.code == 1
    assert r.err == (
        "error: tools/orders.yaml:10:10: spec.config.url: 169.254.169.254 is a link-local "
        "address (169.254.0.0/16), where cloud metadata services live; " + ADVICE + "\n"
    )
    assert emu.log == []
    orders.write_text(orders.read_text() + "lifecycle:\n  allowLinkLocalUrl: true\n")
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    (post,) = [w for w in emu.writes() if w.body and w.body.get("name") == "t-order-lookup"]
    assert (post.method, post.path) == ("POST", "/v1/tools")
    assert sorted(post.body) == ["config", "description", "disableInterruptions", "name", "type"]
    assert post.body["config"]["url"] == "http://169.254.169.254/orders"
    assert "allowLinkLocalUrl" not in json.dumps([w.body for w in emu.writes()])
