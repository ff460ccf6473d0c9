"""The properties escaper against the real `java.util.Properties.load(InputStream)`.

One JVM reads a whole corpus (hand-picked hard cases plus a hypothesis-generated set): every
rendered file must read back as exactly the keys and values given, and the Python reader the
managed-key guard uses must read raw text exactly as Java does.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pico_harness.java.fixtures import require_java
from pico_tls import javaprops
from pico_tls.builders import properties

DUMPER = """
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class PropsDump {
    public static void main(String[] args) throws Exception {
        Base64.Encoder b64 = Base64.getEncoder();
        for (String name : args) {
            Properties props = new Properties();
            try (InputStream in = new FileInputStream(name)) { props.load(in); }
            StringBuilder out = new StringBuilder();
            for (String key : new TreeSet<>(props.stringPropertyNames())) {
                byte[] value = props.getProperty(key).getBytes(StandardCharsets.UTF_8);
                out.append(b64.encodeToString(key.getBytes(StandardCharsets.UTF_8))).append(' ')
                   .append(b64.encodeToString(value)).append('\\n');
            }
            try (OutputStream w = new FileOutputStream(name + ".out")) {
                w.write(out.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
"""

HARD = [
    " leading",
    "trailing ",
    "  both  ",
    " ",
    "",
    "a=b",
    "a:b",
    "#comment",
    "!bang",
    "back\\slash\\",
    "\\u0041 not an escape",
    "x\npico.rcp.platform.host=evil",
    "x\r\npico.rcp.tls.keystore=evil",
    "x\rother=1",
    "tab\there",
    "\tlead tab",
    "form\ffeed",
    "grüße €",
    "emoji 😀 astral",
    "trailing backslash \\",
    "ctrl \x00\x01\x1f\x7f",
    "=leading equals",
    "key with spaces",
]


def _decode(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out[base64.b64decode(key).decode()] = base64.b64decode(value).decode()
    return out


@pytest.fixture(scope="module")
def props_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_java()
    out = tmp_path_factory.mktemp("propsdump")
    (out / "PropsDump.java").write_text(DUMPER)
    subprocess.run(["javac", "-d", str(out), str(out / "PropsDump.java")], check=True)
    return out


def java_load(classes: Path, texts: list[str], folder: Path) -> list[dict[str, str]]:
    files = []
    for index, text in enumerate(texts):
        path = folder / f"case{index}.properties"
        path.write_bytes(text.encode("latin-1"))
        files.append(str(path))
    subprocess.run(["java", "-cp", str(classes), "PropsDump", *files], check=True, timeout=120)
    return [_decode(Path(f + ".out").read_text(encoding="utf-8")) for f in files]


def generated_corpus() -> list[dict[str, str]]:
    corpus: list[dict[str, str]] = []
    alphabet = st.characters(exclude_categories=["Cs"])  # Java strings hold no lone surrogates
    tricky = st.sampled_from([*" \t\f\n\r=:#!\\u", "é", "😀", "\x00"])
    text = st.lists(st.one_of(alphabet, tricky), max_size=24).map("".join)

    @settings(
        max_examples=400, database=None, suppress_health_check=list(HealthCheck), deadline=None
    )
    @given(st.dictionaries(text.filter(bool), text, max_size=4))
    def collect(props: dict[str, str]) -> None:
        corpus.append(props)

    collect()
    return corpus


def test_rendered_files_read_back_exactly_in_java(props_dump: Path, tmp_path: Path) -> None:
    cases = [{value: value for value in HARD if value}] + [{"k": v} for v in HARD]
    cases += generated_corpus()
    texts = [properties.render(props, "header: with = and ! and é") for props in cases]
    assert all(text.isascii() for text in texts)
    loaded = java_load(props_dump, texts, tmp_path)
    mismatches = [(c, got) for c, got in zip(cases, loaded, strict=True) if c != got]
    assert not mismatches, mismatches[:3]
    assert len(cases) > 300


def test_the_guard_reader_reads_raw_text_as_java_does(props_dump: Path, tmp_path: Path) -> None:
    raws = [f"{value}=v" for value in HARD]
    raws += [
        "pico.rcp.platform.host\t",
        "  pico.rcp.tls\\u002ekeystore = x",
        "a\\\n   b=c",
        "# c\n! d\nk v",
        "k\\\\\nnext=1",
        "k\\\\\\\nnext=1",
    ]
    raws = [r for r in raws if all(ord(c) < 256 for c in r)]  # raw files are ISO-8859-1
    loaded = java_load(props_dump, raws, tmp_path)
    for raw, java in zip(raws, loaded, strict=True):
        assert javaprops.load(raw) == java, raw


def test_a_trailing_tab_is_read_as_the_managed_key() -> None:
    assert "pico.rcp.platform.host" in javaprops.keys_read_from("pico.rcp.platform.host\t")
    assert "pico.rcp.tls.keystore" in javaprops.keys_read_from("pico.rcp.tls\\u002ekeystore")
