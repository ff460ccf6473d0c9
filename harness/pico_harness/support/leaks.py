"""Leak check: every password and private key that existed at any time, searched in every form
in what the operator writes for people and tools.

`SecretRecorder` watches all Secrets of the cluster in the background (a `kubectl get -w`,
started again whenever it ends, which lists every Secret anew; each check also reads every
Secret) and keeps every password
(`keystore.password`, `key.password`) and every private key (any PEM `PRIVATE KEY` block) of
every version it sees. `needles` turns each into the forms a careless log line would carry:
a password as clear text and as standard and URL-safe base64 at all three byte alignments
(so it is found inside a larger base64 blob); a key by its private numbers (the rest of a key
encoding is public), in base64 at every alignment (so PEM and DER in any form, with line
breaks too: texts are also searched with whitespace and escaped line breaks removed), in hex
and in decimal. Every base64 run of a text is also decoded and searched (a logged Secret's
`data`, the base64 of a PEM).
`public_texts` collects the operator log, Events, custom resource status, ConfigMaps, pod specs
and workload pod templates, and custom resource metadata (a Secret's own metadata is as
private as its data: kubectl's last-applied annotation copies it there); `find_leaks` names
each hit.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PASSWORD_KEYS = frozenset({"keystore.password", "key.password"})
MIN_PASSWORD = 8  # shorter strings would match by chance
PEM_BLOCK = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S
)
_BREAKS = re.compile(r"\s+|\\[nr]")
WINDOW = 20  # characters of an encoded form that identify a secret (120 bits in base64)


@dataclass(frozen=True)
class Sensitive:
    kind: str  # "password" or "private key"
    value: bytes
    origin: str  # namespace/secret:key where it was first seen


@dataclass(frozen=True)
class Needles:
    clear: frozenset[str]  # searched in the text as written
    encoded: frozenset[str]  # searched with whitespace and escaped line breaks removed


@lru_cache(maxsize=4096)
def needles(item: Sensitive) -> Needles:
    """Substrings any of which in a public text means `item` leaked. A key is known by its
    private numbers only (the rest of its encoding is public: ASN.1 headers, the modulus or
    the public point, also in its certificate)."""
    if item.kind == "password":
        clear = {item.value.decode(errors="replace")}
        return Needles(frozenset(clear), frozenset(_shifted_base64(item.value)))
    clear, encoded = set(), set()
    for number in _private_numbers(item.value):
        raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
        encoded |= {w for text in _shifted_base64(raw) for w in _windows(text)}
        encoded |= _windows(raw.hex()) | _windows(raw.hex().upper())
        clear.add(str(number)[: WINDOW * 2])
    return Needles(frozenset(clear), frozenset(encoded))


def _shifted_base64(raw: bytes) -> Iterator[str]:
    """Base64 of `raw` as it appears inside a longer encoded blob, at each byte alignment:
    the characters that depend only on `raw`."""
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).decode()
            start = (shift * 4 + 2) // 3
            end = len(text) - (4 if (shift + len(raw)) % 3 else 0)
            if end - start >= MIN_PASSWORD:
                yield text[start:end]


def _windows(text: str) -> set[str]:
    """The WINDOW-long pieces of an encoded form at every 4th character (so any leaked
    piece of WINDOW + 3 characters holds one), or all of it when shorter."""
    if len(text) <= WINDOW:
        return {text}
    return {text[i : i + WINDOW] for i in range(0, len(text) - WINDOW + 1, 4)}


def _private_numbers(pem: bytes) -> list[int]:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return []
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [key.private_numbers().private_value]
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
    return []


def sensitive_in(secret: Mapping[str, Any]) -> Iterator[Sensitive]:
    meta = secret.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    for key, value in (secret.get("data") or {}).items():
        try:
            raw = base64.b64decode(value)
        except ValueError:
            continue
        if key in PASSWORD_KEYS and len(raw.strip()) >= MIN_PASSWORD:
            yield Sensitive("password", raw.strip(), f"{where}:{key}")
        for block in PEM_BLOCK.findall(raw):
            yield Sensitive("private key", block, f"{where}:{key}")


class SecretRecorder:
    """Every password and private key of every version of every Secret seen since start()."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.items: dict[bytes, Sensitive] = {}
        self.versions_seen = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="secret-recorder")

    def start(self) -> SecretRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None:
            self._process.terminate()
        self._thread.join(15)

    def record(self, secrets: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            for secret in secrets:
                self.versions_seen += 1
                for item in sensitive_in(secret):
                    self.items.setdefault(item.value, item)

    def catch_up(self) -> None:
        """Also read every Secret now (the watch may be a moment behind)."""
        self.record(self.cluster.get_json("secrets", "--all-namespaces")["items"])

    def snapshot(self) -> list[Sensitive]:
        with self._lock:
            return list(self.items.values())

    def _run(self) -> None:
        while not self._stopping.is_set():
            cmd = [self.cluster.kubectl_bin, f"--kubeconfig={self.cluster.kubeconfig}", "get"]
            cmd += ["secrets", "--all-namespaces", "--watch", "--output-watch-events=false"]
            self._process = subprocess.Popen(
                [*cmd, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            assert self._process.stdout is not None
            for obj in json_objects(self._process.stdout):
                self.record([obj])
            self._process.wait()
            self._stopping.wait(0.5)  # the watch ended (apiserver restart, expiry): again


def json_objects(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a stream of lines (kubectl -o json prints one after another)."""
    decoder = json.JSONDecoder()
    buffer = ""
    for line in lines:
        buffer += line
        while buffer.strip():
            try:
                obj, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                break
            buffer = buffer.lstrip()[end:]
            yield obj


def public_texts(cluster: Any, namespaces: Iterable[str], operator_log: str) -> dict[str, str]:
    """Where the operator writes for people and tools, by place."""
    texts = {"operator log": operator_log}
    crs = "platforms,executioncontainers,desktopclients"
    kinds = ("events", "configmaps", "pods", "statefulsets", "deployments", "replicasets")
    for ns in namespaces:
        custom = cluster.get_json(crs, "-n", ns)["items"]
        texts[f"{ns} status"] = json.dumps([cr.get("status") for cr in custom])
        texts[f"{ns} custom resource metadata"] = json.dumps([cr["metadata"] for cr in custom])
        for kind in kinds:
            items = cluster.get_json(kind, "-n", ns)["items"]
            texts[f"{ns} {kind}"] = json.dumps(items)
    return texts


class Text:
    """A public text prepared for search: as written (with every base64 run in it decoded
    appended), flattened, and the WINDOW-grams of the flattened form."""

    GRAMS_UP_TO = 400_000  # longer texts are scanned instead of indexed

    def __init__(self, text: str) -> None:
        flat = _BREAKS.sub("", text)
        decoded = [_decode(_BREAKS.sub("", run)) for run in _BASE64_RUN.findall(text)]
        self.raw = "\n".join([text, *decoded])
        self.flat = "\n".join([flat, *(_BREAKS.sub("", d) for d in decoded)])
        n = len(self.flat) - WINDOW + 1
        small = len(self.flat) <= self.GRAMS_UP_TO
        self.grams = {self.flat[i : i + WINDOW] for i in range(n)} if small else None

    def has(self, needles: Needles) -> bool:
        if any(c in self.raw for c in needles.clear):
            return True
        for n in needles.encoded:
            if self.grams is not None and len(n) == WINDOW:
                if n in self.grams:
                    return True
            elif n in self.flat:
                return True
        return False


# A base64 run, possibly broken into lines (raw or JSON-escaped line breaks).
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}(?:(?:\s|\\[nr])+[A-Za-z0-9+/_-]{4,})*={0,2}")


def _decode(run: str) -> str:
    """A base64 run decoded (standard or URL-safe), as Latin-1 so every byte survives."""
    body = run.rstrip("=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    padded = body + "=" * (-len(body) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/")).decode("latin-1")
    except ValueError:
        return ""


def find_leaks(items: Iterable[Sensitive], texts: Mapping[str, str]) -> list[str]:
    """`<kind> from <origin> in <place>` for each secret found in a text (never the secret)."""
    prepared = {where: Text(text) for where, text in texts.items()}
    leaks = []
    for item in items:
        forms = needles(item)
        leaks += [
            f"{item.kind} from {item.origin} in the {w}"
            for w, t in prepared.items()
            if t.has(forms)
        ]
    return leaks


class LeakCheck:
    """The check after each test: every secret recorded so far in the test's namespaces and in
    the operator log written since the last check; secrets first seen now also in the whole
    log (a secret can be logged before it is written)."""

    OVERLAP = 16_384

    def __init__(self, recorder: SecretRecorder) -> None:
        self.recorder = recorder
        self._log_checked = 0
        self._checked: set[bytes] = set()
        self.checks = 0
        self.places = 0

    def check(self, cluster: Any, namespaces: Iterable[str], log: str) -> list[str]:
        self.recorder.catch_up()
        items = self.recorder.snapshot()
        fresh = [i for i in items if i.value not in self._checked]
        texts = public_texts(cluster, namespaces, log[max(self._log_checked - self.OVERLAP, 0) :])
        leaks = find_leaks(items, texts)
        leaks += find_leaks(fresh, {"operator log (all of it)": log})
        self._log_checked = len(log)
        self._checked |= {i.value for i in items}
        self.checks += 1
        self.places += len(texts)
        return sorted(set(leaks))

    def summary(self) -> str:
        kinds = [i.kind for i in self.recorder.snapshot()]
        return (
            f"leak check: {self.checks} checks over {self.places} places; "
            f"{kinds.count('password')} passwords and {kinds.count('private key')} private keys "
            f"recorded from {self.recorder.versions_seen} Secret versions"
        )
